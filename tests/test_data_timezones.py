"""Time zones in the data catalog: every timestamp a view gives is naive UTC, whatever
the machine's zone, the source's `timezone:` or what the CSV sniffer's sample saw."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conductor import DataCatalog, DataError, DataSource
from conductor.pipeline import load_pipeline

ROOT = Path(__file__).resolve().parent.parent


def _mixed_csv(path: Path, n: int = 100_050) -> None:
    """``n`` rows without an offset, then the first value with one, past the sample."""
    with path.open("w") as f:
        f.write("customer_id,timestamp\n")
        for i in range(n):
            f.write(f"c{i},2026-03-01T10:00:00\n")
        f.write("late,2026-03-02T10:00:00+02:00\n")
        f.write("zulu,2026-03-02T10:00:00Z\n")


def _times(catalog: DataCatalog) -> dict[str, object]:
    rows = catalog.cursor().execute(
        "SELECT customer_id, timestamp FROM events WHERE customer_id IN ('c0', 'late', 'zulu')"
    )
    return dict(rows.fetchall())


def test_an_offset_after_the_sniffers_sample_is_honoured(tmp_path: Path) -> None:
    _mixed_csv(tmp_path / "e.csv")
    catalog = DataCatalog({"events": DataSource(path=tmp_path / "e.csv")})
    assert catalog.columns("events")["timestamp"] == "TIMESTAMP"
    assert _times(catalog) == {
        "c0": dt.datetime(2026, 3, 1, 10, 0),
        "late": dt.datetime(2026, 3, 2, 8, 0),  # 10:00+02:00 is 08:00 UTC
        "zulu": dt.datetime(2026, 3, 2, 10, 0),
    }


def test_values_without_an_offset_are_read_in_the_sources_zone(tmp_path: Path) -> None:
    _mixed_csv(tmp_path / "e.csv", n=10)
    src = DataSource(path=tmp_path / "e.csv", timezone="Europe/Berlin")
    times = _times(DataCatalog({"events": src}))
    assert times["c0"] == dt.datetime(2026, 3, 1, 9, 0)  # 10:00 in Berlin (CET)
    assert times["late"] == dt.datetime(2026, 3, 2, 8, 0)  # an offset wins over the zone


def test_parquet_timestamps_come_out_as_naive_utc(tmp_path: Path) -> None:
    naive = pa.array([dt.datetime(2026, 7, 1, 12, 0)], pa.timestamp("us"))
    aware = pa.array([dt.datetime(2026, 7, 1, 12, 0)], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"n": naive, "a": aware}), tmp_path / "t.parquet")
    src = DataSource(path=tmp_path / "t.parquet", timezone="Europe/Berlin")
    catalog = DataCatalog({"t": src})
    assert catalog.columns("t") == {"n": "TIMESTAMP", "a": "TIMESTAMP"}
    row = catalog.cursor().execute("SELECT n, a FROM t").fetchone()
    # The naive value was Berlin wall-clock time (CEST, +02:00); the aware one an instant.
    assert row == (dt.datetime(2026, 7, 1, 10, 0), dt.datetime(2026, 7, 1, 12, 0))


def test_cursors_run_in_utc(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("x\n1\n")
    cur = DataCatalog({"e": DataSource(path=tmp_path / "e.csv")}).cursor()
    zone = cur.execute("SELECT current_setting('TimeZone')").fetchone()
    assert zone == ("UTC",)


def test_a_bad_value_in_a_timestamp_column_names_value_and_row(tmp_path: Path) -> None:
    rows = [f"c{i},2026-03-01T10:00:00" for i in range(5)] + ["c5,not a time"]
    (tmp_path / "e.csv").write_text("customer_id,timestamp\n" + "\n".join(rows) + "\n")
    # The sniffer sees the bad value and reads text; naming the column under
    # `timestamps:` (ISO 8601 by default) says it must be times.
    src = DataSource(path=tmp_path / "e.csv", timestamps={"timestamp": {}})
    with pytest.raises(DataError) as info:
        DataCatalog({"events": src}).columns("events")
    err = info.value
    assert err.code == "data.bad-value" and err.column == "timestamp"
    assert "'not a time'" in err.message and "row 6" in err.message


def test_an_unknown_zone_is_a_located_pipeline_error(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        textwrap.dedent(
            """\
            pipeline: p
            goal: {objective: grow_revenue, kpi: revenue}
            data:
              events: {path: e.csv, timezone: Europe/Berlni}
            steps:
              a: {agent: test_note}
            """
        )
    )
    from conductor.errors import PipelineInvalid

    with pytest.raises(PipelineInvalid) as info:
        load_pipeline(tmp_path / "p.yaml")
    text = str(info.value)
    assert "p.yaml:4:" in text and "unknown time zone 'Europe/Berlni'" in text


def test_results_do_not_depend_on_the_machines_zone(tmp_path: Path) -> None:
    # A fresh interpreter under TZ=Asia/Kolkata (+05:30): DuckDB would otherwise read
    # offset-free values and cast TIMESTAMPTZ in that zone.
    _mixed_csv(tmp_path / "e.csv")
    code = textwrap.dedent(
        f"""\
        from pathlib import Path
        from conductor import DataCatalog, DataSource
        cat = DataCatalog({{"events": DataSource(path=Path({str(tmp_path / "e.csv")!r}))}})
        cur = cat.cursor()
        print(cur.execute(
            "SELECT strftime(timestamp, '%H:%M') FROM events "
            "WHERE customer_id IN ('c0', 'late') ORDER BY customer_id"
        ).fetchall())
        print(cur.execute(
            "SELECT strftime(CAST(TIMESTAMPTZ '2026-03-02 10:00:00+02' AS TIMESTAMP), '%H:%M')"
        ).fetchall())
        """
    )
    env = {**os.environ, "TZ": "Asia/Kolkata", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[('10:00',), ('08:00',)]", "[('08:00',)]"]
