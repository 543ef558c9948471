"""The data catalog's column checks: what a need accepts and what it reports."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from conductor import DataCatalog, DataError, DataNeed, DataSource


def _catalog(tmp_path: Path, table: pa.Table) -> DataCatalog:
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    return DataCatalog({"t": DataSource(path=path)})


def test_all_null_optional_column_is_accepted(tmp_path: Path) -> None:
    table = pa.table({"id": ["a", "b"], "score": pa.nulls(2)})
    need = DataNeed(columns={"id": "string"}, optional_columns={"score": "number"})
    assert _catalog(tmp_path, table).check("t", need) == []


def test_wrong_type_and_missing_column_are_both_reported(tmp_path: Path) -> None:
    table = pa.table({"id": ["a"], "score": ["high"]})
    need = DataNeed(
        columns={"id": "string", "spend": "number"}, optional_columns={"score": "number"}
    )
    errors = _catalog(tmp_path, table).check("t", need)
    assert sorted(e.code for e in errors) == ["data.bad-type", "data.missing-column"]
    missing = next(e for e in errors if e.code == "data.missing-column")
    assert missing.column == "spend" and "id, score" in (missing.hint or "")


def test_columns_maps_the_files_names_to_the_contracts(tmp_path: Path) -> None:
    # The file has its own names, and a stray column already called `timestamp`.
    path = tmp_path / "e.parquet"
    pq.write_table(
        pa.table({"User": ["a"], "event_time": ["2026-01-02"], "timestamp": ["junk"]}), path
    )
    src = DataSource(path=path, columns={"customer_id": "user", "timestamp": "event_time"})
    cat = DataCatalog({"events": src})
    assert list(cat.columns("events")) == ["customer_id", "timestamp"]
    need = DataNeed(columns={"customer_id": "string", "timestamp": "timestamp"})
    assert cat.check("events", need) == []
    rows = cat.cursor().execute("SELECT customer_id, timestamp FROM events").fetchall()
    assert rows == [("a", "2026-01-02")]


def test_a_mapped_column_the_file_lacks_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"user": ["a"]}), path)
    cat = DataCatalog({"events": DataSource(path=path, columns={"customer_id": "uid"})})
    with pytest.raises(DataError) as info:
        cat.columns("events")
    e = info.value
    assert (e.code, e.column) == ("data.missing-column", "uid")
    assert "given for 'customer_id'" in e.message and "the file has: user" in e.hint


def test_a_column_given_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="given for both 'channel' and 'event_type'"):
        DataSource(path=Path("e.csv"), columns={"channel": "src", "event_type": "SRC"})


def test_a_missing_column_hint_names_the_mapping(tmp_path: Path) -> None:
    errors = _catalog(tmp_path, pa.table({"uid": ["a"]})).check(
        "t", DataNeed(columns={"customer_id": "string"})
    )
    assert "`columns: {customer_id: YOUR_COLUMN}`" in (errors[0].hint or "")
