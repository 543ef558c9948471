"""The data catalog's column checks: what a need accepts and what it reports."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from conductor import DataCatalog, DataNeed, DataSource


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
