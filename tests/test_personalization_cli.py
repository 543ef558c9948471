"""The personalization agent inside a pipeline, through the real `conductor` command.

Its messages (``Copy``) and audiences (``Audience``) go through the Acme brand's review:
the first draft of the win-back email lacks the discount terms the brand requires, the
review sends it back, and ``revise()`` adds them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, Cli, make_env

from conductor.demo import generate_demo_data

PIPELINE = ROOT / "tests" / "pipelines" / "personalization" / "offers.yaml"
BRAND = ROOT / "pipelines" / "brands" / "acme.yaml"
SEGMENTS = ["About to sleep", "At risk", "Can't lose them", "Hibernating"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("offers")
    shutil.copy(PIPELINE, tmp / "offers.yaml")
    shutil.copy(BRAND, tmp / "acme.yaml")
    generate_demo_data(tmp / "data", customers=3000, seed=5, today=dt.date(2026, 11, 23))
    return tmp


@pytest.fixture(scope="module")
def ran(folder: Path) -> tuple[Cli, dict[str, object], str]:
    cli = Cli(cwd=folder, env=make_env(folder))
    r = cli("run", "offers.yaml", "--run-id", "offers-1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads((folder / ".conductor" / "runs" / "offers-1" / "result.json").read_text())
    return cli, result, r.stdout + r.stderr


def test_validate_and_plan(folder: Path) -> None:
    cli = Cli(cwd=folder, env=make_env(folder))
    v = cli("validate", "offers.yaml")
    assert v.returncode == 0, v.stdout + v.stderr
    plan = json.loads(cli("plan", "offers.yaml", "--json").stdout)
    step = plan["steps"]["offers"]
    assert step["agent"] == "personalization"
    spec, prov = step["spec"], step["provenance"]
    assert spec["target_segments"] == SEGMENTS  # "lapsed customers" in the goal
    assert prov["target_segments"]["source"] == "goal"
    assert spec["channels"] == ["email", "sms"]
    assert spec["fairness_groups"] == ["gender", "age_band"]
    assert prov["fairness_groups"] == {"source": "brand", "detail": "audience.fairness_groups"}
    assert spec["control_share"] == 0.1 and prov["control_share"]["source"] == "parameter"


def test_run_produces_a_personalization_plan(ran: tuple[Cli, dict[str, object], str]) -> None:
    _, result, _ = ran
    assert result["status"] == "done"
    step = result["steps"]["offers"]  # type: ignore[index]
    out = step["output"]
    for key in ("segments", "actions", "policy", "evaluation", "fairness", "messages", "audiences"):
        assert out[key], key
    # Only the goal's channels (and "send nothing") are ever assigned.
    assigned = {a["id"] for a in out["actions"] if a["assigned"]}
    allowed = {"winback_discount_email", "loyalty_points_email", "free_shipping_sms", "no_offer"}
    assert "winback_discount_email" in assigned and assigned <= allowed
    assert out["policy"]["out_of_audience"] > 0  # non-lapsed customers get nothing
    assert "health_interest (sensitive (brand))" in out["policy"]["dropped_attributes"]


def test_copy_and_audiences_go_through_brand_review(
    ran: tuple[Cli, dict[str, object], str],
) -> None:
    _, result, stdout = ran
    step = result["steps"]["offers"]  # type: ignore[index]
    out = step["output"]
    rounds = step["rounds"]
    assert rounds[0]["decision"] == "revise"
    assert rounds[-1]["decision"] == "pass"
    first = rounds[0]["verdict"]
    flagged = {(v["artifact_kind"], v["rule"]) for v in first["violations"]}
    assert ("copy", "disclaimer.missing") in flagged
    # Every message and every audience was checked, in every round.
    n_artifacts = len(out["messages"]) + len(out["audiences"])
    assert all(r["verdict"]["checked"] >= n_artifacts for r in rounds)
    for aud in out["audiences"]:
        assert aud["consent_checked"] is True
        assert aud["min_age"] == 16  # the brand's minimum age, enforced on the data
        assert "health_interest" not in aud["attributes_used"]
        assert aud["fairness_gap"] <= 0.1  # what the brand allows, after the revision
    fixed = [m for m in out["messages"] if "winback" in m["id"]]
    assert fixed
    for m in fixed:
        assert "Exclusions apply. See acme.example/terms." in m["text"]
        assert m["text"].rstrip().endswith("https://acme.example/unsubscribe")
    assert "brand review round 1: 0 finding(s) → pass" in stdout


def test_assignments_are_parquet_in_the_run_folder(
    folder: Path, ran: tuple[Cli, dict[str, object], str]
) -> None:
    _, result, _ = ran
    out = result["steps"]["offers"]["output"]  # type: ignore[index]
    run_dir = folder / ".conductor" / "runs" / "offers-1"
    for key in ("assignments_path", "suppression_path", "segments_path"):
        path = Path(out[key])
        assert path.is_file() and run_dir in path.parents, key
    table = pq.read_table(out["assignments_path"])
    assert {"customer_id", "segment", "group", "action", "propensity"} <= set(table.column_names)
    assert set(table.column("segment").to_pylist()) <= set(SEGMENTS)
    con = duckdb.connect()
    bad = con.execute(
        f"""SELECT count(*) FROM read_parquet('{out["assignments_path"]}') a
            JOIN read_parquet('{folder / "data" / "customers.parquet"}') c USING (customer_id)
            WHERE a.action IS NOT NULL AND (c.suppressed OR NOT c.consent_marketing)"""
    ).fetchone()
    assert bad == (0,)
    # The per-customer table is not inlined into the run state.
    assert len(json.dumps(out)) < 200_000


def test_audit_records_the_verdicts(ran: tuple[Cli, dict[str, object], str]) -> None:
    cli, result, _ = ran
    runs = json.loads(cli("audit", "--run", "offers-1", "--json").stdout)
    assert [r["run_id"] for r in runs] == ["offers-1"]
    (step,) = runs[0]["steps"]
    assert step["step"] == "offers" and step["agent"] == "personalization"
    assert step["rounds"] == 2 and step["decision"] == "pass"
    first = result["steps"]["offers"]["rounds"][0]["verdict"]["violations"]  # type: ignore[index]
    assert step["findings"] == len(first)


def test_unknown_actions_in_the_log_are_a_clear_error(folder: Path, tmp_path: Path) -> None:
    work = tmp_path / "bad"
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns(".conductor"))
    log = pq.read_table(work / "data" / "exposures.parquet")
    actions = log.column("action").to_pylist()
    actions[0] = "mystery_coupon"
    log = log.set_column(log.schema.get_field_index("action"), "action", pa.array(actions))
    pq.write_table(log, work / "data" / "exposures.parquet")
    cli = Cli(cwd=work, env=make_env(work))
    r = cli("run", "offers.yaml")
    assert r.returncode == 1
    text = r.stdout + r.stderr
    assert "mystery_coupon" in text and "not in the catalogue" in text
    assert "Traceback" not in text
