"""The budget agent inside a pipeline, through the real ``conductor`` command.

Its ``Allocation`` goes through the Acme brand's budget rules (max share, max change) and
then waits at the media lead's approval gate; approving it from another process ends the
run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, Cli, make_env
from test_budget import write

PIPELINE = ROOT / "tests" / "pipelines" / "budget" / "media.yaml"
BRAND = ROOT / "pipelines" / "brands" / "acme.yaml"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("media")
    shutil.copy(PIPELINE, tmp / "media.yaml")
    shutil.copy(BRAND, tmp / "acme.yaml")
    write(tmp)
    return tmp


def test_validate_and_plan_show_the_spec(folder: Path) -> None:
    cli = Cli(cwd=folder, env=make_env(folder))
    v = cli("validate", "media.yaml")
    assert v.returncode == 0, v.stdout + v.stderr
    plan = json.loads(cli("plan", "media.yaml", "--json").stdout)
    step = plan["steps"]["budget"]
    spec, prov = step["spec"], step["provenance"]
    assert step["agent"] == "budget_allocation"
    assert spec["budget"] == 130000 and spec["currency"] == "USD"
    assert prov["budget"]["source"] == "goal"
    assert spec["channels"] == ["paid_search", "social", "email"]  # the data says "search"
    assert spec["max_change"] == 0.3 and prov["max_change"]["source"] == "brand"
    assert spec["brand_max_share"]["*"] == 0.45
    assert spec["period"] == "Q3 2025" and spec["horizon_weeks"] == pytest.approx(13.14, abs=0.01)


def test_run_waits_for_the_media_lead_then_finishes(folder: Path) -> None:
    cli = Cli(cwd=folder, env=make_env(folder))
    r = cli("run", "media.yaml", "--run-id", "media-1")
    assert r.returncode == 3, r.stdout[-3000:] + r.stderr[-3000:]
    assert "conductor approve media-1 budget --as NAME" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr

    wrong = cli("approve", "media-1", "budget", "--as", "mallory")
    assert wrong.returncode == 2 and "may not sign off" in wrong.stderr

    ok = cli("approve", "media-1", "budget", "--as", "rosa", "--comment", "fine")
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    run_dir = folder / ".conductor" / "runs" / "media-1"
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "done"
    step = result["steps"]["budget"]
    assert step["approval"]["by"] == "rosa" and step["approval"]["role"] == "media_lead"

    out = step["output"]
    alloc = out["allocation"]
    assert alloc["currency"] == "USD"
    assert sum(alloc["amounts"].values()) == pytest.approx(130000, abs=0.05)
    total = sum(alloc["amounts"].values())
    for ch, amount in alloc["amounts"].items():
        assert amount / total <= 0.45 + 1e-6, ch  # the brand's max share
        before = alloc["previous"][ch]
        assert abs(amount - before) <= 0.3 * before + 0.01, ch  # the brand's max change

    # The allocation went through brand review before the gate: a verdict in the audit.
    verdicts = [e for e in result["audit"] if e["kind"] == "verdict" and e["step"] == "budget"]
    assert verdicts, "no brand verdict recorded for the budget step"
    assert [v["detail"]["decision"] for v in verdicts] == ["pass"], verdicts
    assert out["insights"] and out["diagnostics"]["r2"] > 0.5
    assert (run_dir / "summary.md").read_text().count("budget") >= 1


def test_bad_data_is_a_clear_error(folder: Path, tmp_path: Path) -> None:
    shutil.copy(folder / "media.yaml", tmp_path / "media.yaml")
    shutil.copy(folder / "acme.yaml", tmp_path / "acme.yaml")
    shutil.copy(folder / "outcomes.csv", tmp_path / "outcomes.csv")
    rows = (folder / "spend.csv").read_text().splitlines()
    head, first, *rest = rows
    date, channel, _ = first.split(",")
    (tmp_path / "spend.csv").write_text("\n".join([head, f"{date},{channel},-50", *rest]) + "\n")
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    r = cli("run", "media.yaml", "--run-id", "neg")
    assert r.returncode not in (0, 3)
    text = r.stdout + r.stderr
    assert "Traceback" not in text
    assert "negative" in text.lower() and "spend" in text


def test_infeasible_minimums_say_which_clash_once(folder: Path, tmp_path: Path) -> None:
    for name in ("acme.yaml", "outcomes.csv", "spend.csv"):
        shutil.copy(folder / name, tmp_path / name)
    (tmp_path / "media.yaml").write_text(
        (folder / "media.yaml")
        .read_text()
        .replace("bootstrap: 8", "bootstrap: 0\n      min_spend: {search: 100000, social: 100000}")
    )
    r = Cli(cwd=tmp_path, env=make_env(tmp_path))("run", "media.yaml", "--run-id", "inf")
    text = r.stdout + r.stderr
    assert r.returncode == 1 and "Traceback" not in text
    # The agent's error already names the step: the run's last line does not repeat it.
    assert "Run inf failed: step 'budget', agent 'budget_allocation': infeasible" in text
    assert "search 100,000 (min_spend 100,000 USD)" in text
    assert "step budget: step 'budget'" not in text
