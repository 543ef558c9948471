"""The journey agent inside a pipeline, through the real ``conductor`` command."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, Cli, make_env

from conductor.demo import generate_demo_data

PIPELINE = ROOT / "tests" / "pipelines" / "journey" / "journeys.yaml"
GOAL_CHANNELS = ["paid_search", "social", "email", "display"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("journeys")
    shutil.copy(PIPELINE, tmp / "journeys.yaml")
    generate_demo_data(tmp / "data", customers=3000, seed=11, today=dt.date(2026, 11, 23))
    return tmp


def test_validate_and_plan_show_the_spec(folder: Path) -> None:
    cli = Cli(cwd=folder, env=make_env(folder))
    v = cli("validate", "journeys.yaml")
    assert v.returncode == 0, v.stdout + v.stderr
    plan = json.loads(cli("plan", "journeys.yaml", "--json").stdout)
    step = plan["steps"]["journeys"]
    spec, prov = step["spec"], step["provenance"]
    assert step["agent"] == "journey_analytics"
    assert spec["attribution"] == ["last_touch", "linear", "markov_1"]
    assert prov["attribution"]["source"] == "parameter"
    assert spec["channels"] == GOAL_CHANNELS and prov["channels"]["source"] == "goal"
    assert spec["credit_metric"] == "revenue" and prov["credit_metric"]["source"] == "goal"
    assert spec["lookback_days"] == 30
    text = cli("plan", "journeys.yaml")
    assert text.returncode == 0 and "journey_analytics" in text.stdout


def test_run_writes_the_report_and_insights(folder: Path) -> None:
    cli = Cli(cwd=folder, env=make_env(folder))
    r = cli("run", "journeys.yaml", "--run-id", "j-1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run_dir = folder / ".conductor" / "runs" / "j-1"
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "done"
    out = result["steps"]["journeys"]["output"]

    # The demo data's affiliate touches are not in the goal: grouped as 'other'.
    assert out["channels"] == [*sorted(GOAL_CHANNELS), "other"]
    ((conversions,),) = duckdb.sql(
        f"SELECT count(*) FROM '{folder / 'data' / 'events.parquet'}'"
        " WHERE event_type = 'conversion'"
    ).fetchall()
    assert out["conversions"] == conversions
    models = {m["model"]: m for m in out["attribution"]}
    assert list(models) == ["last_touch", "linear", "markov_1"]
    for m in models.values():  # every model hands out all the attributed revenue
        total = sum(m["revenue"].values())
        assert total == pytest.approx(out["attributed_revenue"], rel=1e-9)
    assert out["insights"] and all(i["evidence"] for i in out["insights"])
    # The insights went through the brand-free review and are in the summary.
    summary = (run_dir / "summary.md").read_text()
    assert "journeys" in summary


def test_missing_column_is_one_clear_error(folder: Path, tmp_path: Path) -> None:
    shutil.copy(folder / "journeys.yaml", tmp_path / "journeys.yaml")
    (tmp_path / "data").mkdir()
    src = folder / "data" / "events.parquet"
    duckdb.sql(
        f"COPY (SELECT * EXCLUDE (channel) FROM '{src}') TO '{tmp_path / 'data' / 'events.parquet'}'"
    )
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    v = cli("validate", "journeys.yaml")
    r = cli("run", "journeys.yaml", "--run-id", "broken")
    for res in (v, r):
        text = res.stdout + res.stderr
        assert res.returncode not in (0, 3), text
        assert "Traceback" not in text
        assert "channel" in text and "events" in text


def test_the_files_own_column_names_are_mapped_under_columns(folder: Path, tmp_path: Path) -> None:
    # A tracking export with its own names: mapped in the pipeline, same answer.
    duckdb.sql(
        f"COPY (SELECT customer_id AS visitor, timestamp AS ts, channel AS utm_source, "
        f"event_type AS kind, revenue FROM '{folder / 'data' / 'events.parquet'}') "
        f"TO '{tmp_path / 'export.csv'}' (HEADER)"
    )
    text = PIPELINE.read_text().replace(
        "  events: data/events.parquet\n",
        "  events:\n    path: export.csv\n    columns: {customer_id: visitor, timestamp: ts,"
        " channel: utm_source, event_type: kind}\n",
    )
    (tmp_path / "journeys.yaml").write_text(text)
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    assert cli("validate", "journeys.yaml").returncode == 0
    r = cli("run", "journeys.yaml", "--run-id", "mapped")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads((tmp_path / ".conductor" / "runs" / "mapped" / "result.json").read_text())
    mine = out["steps"]["journeys"]["output"]
    ((conversions,),) = duckdb.sql(
        f"SELECT count(*) FROM '{folder / 'data' / 'events.parquet'}'"
        " WHERE event_type = 'conversion'"
    ).fetchall()
    assert mine["conversions"] == conversions > 0
    assert mine["channels"] == [*sorted(GOAL_CHANNELS), "other"]


def test_duckdb_limits_come_from_the_environment(folder: Path) -> None:
    env = make_env(folder)
    bad = Cli(cwd=folder, env={**env, "CONDUCTOR_DUCKDB_MEMORY_LIMIT": "lots"})
    r = bad("run", "journeys.yaml", "--run-id", "j-bad-limit")
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr[-3000:]
    assert "CONDUCTOR_DUCKDB_MEMORY_LIMIT='lots'" in r.stderr
    assert "data.bad-duckdb-setting" in r.stderr and "Traceback" not in r.stderr
    spill = folder / "spill"
    ok = Cli(
        cwd=folder,
        env={
            **env,
            "CONDUCTOR_DUCKDB_MEMORY_LIMIT": "1GB",
            "CONDUCTOR_DUCKDB_TEMP_DIRECTORY": str(spill),
            "CONDUCTOR_DUCKDB_THREADS": "1",
        },
    )
    r = ok("run", "journeys.yaml", "--run-id", "j-limits")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert spill.is_dir()
    result = json.loads((folder / ".conductor" / "runs" / "j-limits" / "result.json").read_text())
    assert result["status"] == "done"
