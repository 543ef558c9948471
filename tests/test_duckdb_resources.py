"""DuckDB's memory limit, spill folder and threads come from the environment, and a
step that outgrows them says which setting to change instead of "a bug in the agent"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agents.journey import JourneyAnalyticsAgent, JourneyReport, JourneySpec
from conductor import BusinessGoal, DataCatalog, DataError, DataSource, Inputs, RunContext
from conductor.data import duckdb_resource_settings, resource_error

ENV = (
    "CONDUCTOR_DUCKDB_MEMORY_LIMIT",
    "CONDUCTOR_DUCKDB_TEMP_DIRECTORY",
    "CONDUCTOR_DUCKDB_THREADS",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV:
        monkeypatch.delenv(var, raising=False)


def test_settings_from_the_environment_reach_every_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "spill" / "deeper"
    monkeypatch.setenv("CONDUCTOR_DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("CONDUCTOR_DUCKDB_TEMP_DIRECTORY", str(spill))
    monkeypatch.setenv("CONDUCTOR_DUCKDB_THREADS", "1")
    catalog = DataCatalog({})
    try:
        limit, temp, threads = (
            catalog.cursor()
            .execute(
                "SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
                "current_setting('threads')"
            )
            .fetchone()
        )
    finally:
        catalog.close()
    assert limit in ("488.2 MiB", "512.0 MiB", "512MB")
    assert temp == str(spill) and spill.is_dir()  # created, so DuckDB can spill there
    assert threads == 1


def test_unset_means_duckdbs_defaults() -> None:
    assert duckdb_resource_settings({}) == []
    assert duckdb_resource_settings({"CONDUCTOR_DUCKDB_THREADS": "  "}) == []


@pytest.mark.parametrize(
    ("var", "value"),
    [("CONDUCTOR_DUCKDB_MEMORY_LIMIT", "lots"), ("CONDUCTOR_DUCKDB_THREADS", "two")],
)
def test_a_bad_value_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(DataError) as err:
        duckdb_resource_settings({var: value})
    assert err.value.code == "data.bad-duckdb-setting"
    assert var in str(err.value) and repr(value) in str(err.value)
    assert err.value.hint is not None and var in err.value.hint


def test_a_temp_directory_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError) as err:
        duckdb_resource_settings({"CONDUCTOR_DUCKDB_TEMP_DIRECTORY": str(blocker / "spill")})
    assert err.value.code == "data.bad-duckdb-setting"


def _events(path: Path, n: int) -> Path:
    rng = np.random.default_rng(1)
    cust = rng.integers(0, n // 3, n)
    kind = rng.choice(np.array(["touch", "visit", "conversion"]), n, p=[0.6, 0.3, 0.1])
    ch = np.where(kind == "touch", rng.choice(np.array(["a", "b", "c", "d"]), n), "")
    start = dt.datetime(2026, 1, 1).timestamp() * 1e6
    ts = (start + rng.integers(0, 90 * 86_400 * 10**6, n)).astype("int64")
    table = pa.table(
        {
            "customer_id": pa.array(np.char.add("cust-", cust.astype(str)).astype(object)),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "channel": pa.array(ch.astype(object), pa.string()),
            "event_type": pa.array(kind.astype(object), pa.string()),
            "revenue": pa.array(np.full(n, 10.0), mask=kind != "conversion"),
        }
    )
    pq.write_table(table, path)
    return path


def _journeys(
    events: Path, out: Path, con: duckdb.DuckDBPyConnection | None = None
) -> JourneyReport:
    catalog = DataCatalog({"events": DataSource(path=events)}, connection=con)
    ctx = RunContext(
        run_id="t",
        step="journeys",
        agent="journey_analytics",
        goal=BusinessGoal(objective="grow_revenue", kpi="revenue"),
        out_dir=out,
    )
    try:
        return JourneyAnalyticsAgent().run(
            JourneySpec(write_tables=False), Inputs(upstream={}, catalog=catalog), ctx
        )
    finally:
        catalog.close()


def test_journeys_spill_under_a_tight_limit_and_give_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events(tmp_path / "events.parquet", 1_500_000)
    free = _journeys(events, tmp_path / "free")
    monkeypatch.setenv("CONDUCTOR_DUCKDB_MEMORY_LIMIT", "80MB")
    monkeypatch.setenv("CONDUCTOR_DUCKDB_THREADS", "2")
    # The limit binds: with spilling switched off the same step runs out of memory...
    con = duckdb.connect(":memory:")
    con.execute("SET GLOBAL temp_directory=''")
    monkeypatch.setenv("CONDUCTOR_DUCKDB_TEMP_DIRECTORY", "")
    with pytest.raises(duckdb.OutOfMemoryException) as oom:
        _journeys(events, tmp_path / "nospill", con)
    mapped = resource_error(oom.value)
    assert mapped is not None and mapped.code == "data.out-of-memory"
    assert mapped.hint is not None and "CONDUCTOR_DUCKDB_TEMP_DIRECTORY" in mapped.hint
    # ...and with a spill folder it finishes with the unlimited run's answer.
    monkeypatch.setenv("CONDUCTOR_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    tight = _journeys(events, tmp_path / "tight")
    assert tight.journeys == free.journeys
    assert tight.credits("markov") == pytest.approx(free.credits("markov"), rel=1e-12)
    assert tight.credits("markov", "revenue") == pytest.approx(
        free.credits("markov", "revenue"), rel=1e-12
    )


def test_other_exceptions_are_not_resource_errors() -> None:
    assert resource_error(ValueError("x")) is None
    assert resource_error(duckdb.IOException("file is locked")) is None
    disk = resource_error(duckdb.IOException("No space left on device"))
    assert disk is not None and disk.code == "data.out-of-disk"
