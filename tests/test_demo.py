"""`conductor demo` end to end through the real command, and the growth pipeline it runs."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, Cli, make_env

from conductor.demo._data import CHANNELS, generate_demo_data
from conductor.demo._run import DEMO_APPROVER, GROWTH_PIPELINE, TIMINGS_FILE, prepare_pipeline
from conductor.report import TRUTH_FILE


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One demo run shared by the checks below (about 5 s)."""
    tmp = tmp_path_factory.mktemp("demo")
    cli = Cli(cwd=tmp, env=make_env(tmp))
    r = cli("demo", "--customers", "20000", "--seed", "7", "--out", "out", timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    run_dir = tmp / "out" / "run"
    return tmp, run_dir, r.stdout


def test_demo_runs_all_three_steps_and_writes_the_run_files(
    demo_run: tuple[Path, Path, str],
) -> None:
    tmp, run_dir, _ = demo_run
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "done"
    agents = {sid: st["agent"] for sid, st in result["steps"].items()}
    assert agents == {
        "journeys": "journey_analytics",
        "budget": "budget_allocation",
        "offers": "personalization",
    }
    for sid, st in result["steps"].items():
        assert st["status"] == "done", sid
        assert st["output"], sid
    assert (run_dir / "summary.md").is_file()
    assert (tmp / "out" / "data" / "truth.json").is_file()
    assert json.loads((tmp / "out" / TIMINGS_FILE).read_text())["seconds"]["total"] > 0
    # The copy of growth.yaml the demo ran points at the generated data.
    ran = (tmp / "out" / "growth.yaml").read_text()
    assert "data/events.parquet" in ran and "../demo-out" not in ran


def test_a_revision_happened_and_fixed_what_the_brand_found(
    demo_run: tuple[Path, Path, str],
) -> None:
    _, run_dir, stdout = demo_run
    result = json.loads((run_dir / "result.json").read_text())
    rounds = result["steps"]["offers"]["rounds"]
    decisions = [r["decision"] for r in rounds]
    assert decisions[0] == "revise" and decisions[-1] == "pass", decisions
    found = {v["rule"] for v in rounds[0]["verdict"]["violations"]}
    assert "disclaimer.missing" in found  # the win-back email mentions a discount
    kinds = {v["artifact_kind"] for v in rounds[0]["verdict"]["violations"]}
    assert "copy" in kinds
    # The revised messages carry what the review asked for, before the legal footer.
    offers = result["steps"]["offers"]["output"]
    winback = [m for m in offers["messages"] if m["id"].endswith("winback-discount-email")]
    assert winback
    for m in winback:
        assert "Exclusions apply. See acme.example/terms." in m["text"]
        assert m["text"].rstrip().endswith("https://acme.example/unsubscribe")
    assert "revise → pass" in stdout


def test_the_demo_approver_signed_off_the_budget(demo_run: tuple[Path, Path, str]) -> None:
    _, run_dir, stdout = demo_run
    result = json.loads((run_dir / "result.json").read_text())
    approval = result["steps"]["budget"]["approval"]
    assert approval["by"] == DEMO_APPROVER and approval["decision"] == "approve"
    audit = [
        (e["actor"], e.get("role"), e["detail"].get("decision"), e.get("step"))
        for e in result["audit"]
        if e["kind"] == "approval"
    ]
    assert audit == [(DEMO_APPROVER, "media_lead", "approve", "budget")]
    assert f"signs it off as '{DEMO_APPROVER}'" in stdout


def test_truth_check_numbers_are_sane(demo_run: tuple[Path, Path, str]) -> None:
    _, run_dir, stdout = demo_run
    check = json.loads((run_dir / TRUTH_FILE).read_text())
    result = json.loads((run_dir / "result.json").read_text())
    assert result["truth_check"] == check

    att = check["attribution"]
    assert set(att["channels"]) == set(CHANNELS)
    for c, row in att["channels"].items():
        assert row["abs_error"] == pytest.approx(abs(row["true"] - row["estimated"]), abs=1e-5)
        assert row["abs_error"] < 0.03, c
    assert sum(r["estimated"] for r in att["channels"].values()) == pytest.approx(1.0, abs=1e-4)
    assert att["mean_abs_error"] < 0.015

    bud = check["budget"]
    assert bud["uplift_share"] > 0.9
    assert bud["optimal_uplift"] > 0
    assert sum(r["recommended"] for r in bud["channels"].values()) == pytest.approx(
        bud["budget"], rel=1e-6
    )
    assert bud["constraints"]["max_change"] == pytest.approx(0.3)  # the Acme brand's rule
    assert bud["unconstrained_optimal_uplift"] >= bud["optimal_uplift"] - 1e-6

    per = check["personalization"]
    assert per["logging_value"] < per["policy_value"] <= per["oracle_value"]
    assert per["best_single_value"] < per["policy_value"]
    assert 0 < per["share_of_oracle_gain"] < 1
    assert per["contacted_without_consent"] == 0
    assert per["contacted_suppressed"] == 0
    assert check["ok"] is True and all(c["ok"] for c in check["checks"])
    assert "Truth check" in stdout


def test_nobody_suppressed_or_without_consent_gets_an_offer(
    demo_run: tuple[Path, Path, str],
) -> None:
    tmp, run_dir, _ = demo_run
    result = json.loads((run_dir / "result.json").read_text())
    assignments = Path(result["steps"]["offers"]["output"]["assignments_path"])
    assert assignments.is_file() and run_dir in assignments.parents
    con = duckdb.connect()
    bad = con.execute(
        f"""SELECT count(*) FROM read_parquet('{assignments}') a
            JOIN read_parquet('{tmp / "out" / "data" / "customers.parquet"}') c USING (customer_id)
            WHERE a.action IS NOT NULL AND a.action <> 'no_offer'
              AND (c.suppressed OR NOT c.consent_marketing OR c.age < 16)"""
    ).fetchone()
    assert bad == (0,)


def test_growth_pipeline_validates_against_generated_data(tmp_path: Path) -> None:
    """pipelines/growth.yaml as shipped, with freshly generated data where it looks."""
    (tmp_path / "pipelines").mkdir()
    shutil.copy(GROWTH_PIPELINE, tmp_path / "pipelines" / "growth.yaml")
    shutil.copytree(ROOT / "pipelines" / "brands", tmp_path / "pipelines" / "brands")
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    missing = cli("validate", "pipelines/growth.yaml")  # without its sample data
    assert missing.returncode == 2 and "events.parquet" in missing.stdout + missing.stderr
    data = tmp_path / "pipelines" / "data"
    generate_demo_data(data, customers=1000, seed=3, today=dt.date(2026, 11, 23))
    ok = cli("validate", "pipelines/growth.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # ... and the demo's copy, written anywhere, points at its own data folder.
    copy = prepare_pipeline(
        GROWTH_PIPELINE, data, tmp_path / "elsewhere" / "g.yaml", dt.date(2026, 11, 23)
    )
    assert cli("validate", str(copy)).returncode == 0
    plan = json.loads(cli("plan", str(copy), "--json").stdout)
    # "next quarter" resolves from the pinned date: the quarter after the data ends.
    assert plan["goal"]["horizon"]["start"] == "2027-01-01"


def test_bad_size_is_a_clear_error(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    r = cli("demo", "--customers", "5", "--out", "out")
    assert r.returncode == 2
    assert "cannot generate 5 customers" in r.stdout + r.stderr
    assert "--customers between 100" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
