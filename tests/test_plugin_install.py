"""A third-party agent package, installed by pip, is found by entry point and runs in a
pipeline: no change to Conductor, no import hook, nothing but ``pip install``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Cli, make_env

PIPELINE = """\
pipeline: weekdays
goal: {objective: grow_revenue, kpi: revenue}
data: {events: events.csv}
steps:
  best_day: {agent: weekday_insight, with: {min_events: 2}}
"""

# 2027-03-06 and 2027-03-13 are Saturdays, 2027-03-08 a Monday.
EVENTS = """\
customer_id,timestamp,event_type,channel
c1,2027-03-06 10:00:00,conversion,email
c2,2027-03-06 11:00:00,conversion,social
c3,2027-03-13 12:00:00,conversion,email
c4,2027-03-08 09:00:00,conversion,search
c5,2027-03-08 09:30:00,conversion,search
c6,2027-03-08 10:00:00,touch,search
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/acme_plugin installed by pip into a folder of its own."""
    work = tmp_path_factory.mktemp("plugin")
    src = work / "acme_plugin"
    shutil.copytree(
        ROOT / "examples" / "acme_plugin", src, ignore=shutil.ignore_patterns("*.egg-info")
    )
    target = work / "site"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return target


def _cli(tmp_path: Path, site: Path | None) -> Cli:
    env = make_env(tmp_path)
    env.pop("CONDUCTOR_PLUGINS")  # only entry points: no import hook
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    return Cli(cwd=tmp_path, env=env)


def test_installed_package_provides_the_agent_by_entry_point(site: Path) -> None:
    dist = next(site.glob("acme_conductor_agents-*.dist-info"))
    entry_points = (dist / "entry_points.txt").read_text()
    assert "[conductor.agents]" in entry_points
    assert "weekday_insight = acme_agents.weekday:WeekdayInsightAgent" in entry_points


def test_installed_agent_runs_inside_a_pipeline(tmp_path: Path, site: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    (tmp_path / "events.csv").write_text(EVENTS)
    cli = _cli(tmp_path, site)
    where = subprocess.run(
        [sys.executable, "-c", "import acme_agents; print(acme_agents.__file__)"],
        env=cli.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(site)), "the pip-installed copy must be used"

    listed = cli("agents", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "weekday_insight" in {a["name"] for a in json.loads(listed.stdout)}

    assert cli("validate", "p.yaml").returncode == 0
    r = cli("run", "p.yaml", "--run-id", "plugin-run")
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads((tmp_path / ".conductor/runs/plugin-run/result.json").read_text())
    out = result["steps"]["best_day"]["output"]
    # min_events=2 drops nothing here; Saturday has 3 conversions, Monday 2.
    assert out["counts"] == {"Saturday": 3, "Monday": 2}
    assert out["best"] == "Saturday"


def test_without_the_package_the_agent_is_unknown(tmp_path: Path) -> None:
    cli = _cli(tmp_path, None)
    probe = subprocess.run(
        [sys.executable, "-c", "import acme_agents"], env=cli.env, capture_output=True
    )
    if probe.returncode == 0:
        pytest.skip("this environment already has the example plugin installed (make install)")
    (tmp_path / "p.yaml").write_text(PIPELINE)
    (tmp_path / "events.csv").write_text(EVENTS)
    r = cli("validate", "p.yaml")
    assert r.returncode == 2
    assert "weekday_insight" in r.stdout + r.stderr
