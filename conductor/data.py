"""Named data sources, read with DuckDB, checked against what each agent needs.

A pipeline names its sources (``events``, ``spend``, ...) as CSV or Parquet files; the
:class:`DataCatalog` exposes each one to agents as a DuckDB view of the same name, so
agents write plain SQL (``SELECT ... FROM events``) and never loop over rows in Python.
Each agent declares the columns it needs (:class:`DataNeed`); a missing source or column
is a :class:`~conductor.errors.DataError` naming the source, the file and the column,
raised before any agent runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator

from conductor._limits import data_path_problem
from conductor.errors import DataError

__all__ = ["ColumnType", "DataCatalog", "DataNeed", "DataSource", "finite_number", "quote_ident"]

ColumnType = Literal["string", "number", "integer", "timestamp", "date", "bool", "any"]

_NUMERIC: tuple[str, ...] = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
)
_NUMERIC += ("UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")


def _accepts(kind: ColumnType, duck_type: str) -> bool:
    t = duck_type.upper()
    if kind == "any" or t in {'"NULL"', "NULL"}:
        # An all-empty column (e.g. a CSV column nobody filled in) has no type yet: the
        # agent sees NULLs and handles them like any other missing value.
        return True
    if kind == "string":
        return True  # anything can be read as text (ids are often stored as integers)
    if kind == "integer":
        return t.startswith(_NUMERIC[:9])
    if kind == "number":
        return t.startswith(_NUMERIC)
    if kind in ("timestamp", "date"):
        # Strings are accepted here and parsed by the agent, which reports bad rows.
        return t.startswith(("TIMESTAMP", "DATE", "VARCHAR"))
    if kind == "bool":
        return t.startswith(("BOOLEAN", "VARCHAR")) or t.startswith(_NUMERIC[:9])
    return False


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def finite_number(expr: str) -> str:
    """SQL for ``expr`` (e.g. a quoted column) read as a DOUBLE, NULL where it is not a
    finite number.

    DuckDB reads "nan", "inf" and "-inf" as doubles; agents treat them like any other
    value that is not a number (missing), so they never reach a model or a sum.
    """
    # coalesce(..., NULL) keeps DuckDB from pushing the cast into its CSV reader, which
    # would then raise on a value it cannot convert instead of giving NULL.
    v = f"coalesce(TRY_CAST({expr} AS DOUBLE), NULL)"
    return f"CASE WHEN isfinite({v}) THEN {v} END"


class DataNeed(BaseModel):
    """What an agent needs from one named data source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, ColumnType] = Field(
        default_factory=dict, description="Required columns and the type family each must have."
    )
    optional_columns: dict[str, ColumnType] = Field(
        default_factory=dict, description="Columns used when present (type-checked if present)."
    )
    required: bool = Field(
        default=True, description="False when the agent can work without this source."
    )
    description: str = Field(default="", description="What the agent uses it for.")


class DataSource(BaseModel):
    """A named source as written in a pipeline's ``data:`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="CSV or Parquet file (or a glob of Parquet files).")
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="File format; guessed from the extension when omitted."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Your columns under the names the agents read: contract name -> the file's "
            "column, e.g. {timestamp: event_time, channel: utm_source}."
        ),
    )

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, str]) -> dict[str, str]:
        for target, theirs in v.items():
            if not target.strip() or not theirs.strip():
                raise ValueError("column names must not be empty")
        seen: dict[str, str] = {}
        for target, theirs in v.items():
            if theirs.lower() in seen:
                raise ValueError(
                    f"column {theirs!r} is given for both {seen[theirs.lower()]!r} and {target!r}"
                )
            seen[theirs.lower()] = target
        return v

    @property
    def resolved_format(self) -> Literal["csv", "parquet"]:
        """The format, from ``format`` or the file extension."""
        if self.format:
            return self.format
        suffix = "".join(self.path.suffixes).lower()
        return "parquet" if ".parquet" in suffix or suffix.endswith(".pq") else "csv"


def _renamed_star(name: str, src: DataSource, found: Sequence[str]) -> str:
    """``* EXCLUDE (...) RENAME (...)``: the file's columns under the contract's names.

    A column the file already has under a contract name that is mapped from another
    column is dropped, so the view has one column of each name.
    """
    by_lower = {c.lower(): c for c in found}
    renames, drops = [], []
    for target, theirs in src.columns.items():
        actual = by_lower.get(theirs.lower())
        if actual is None:
            raise DataError(
                f"column {theirs!r} (given for {target!r} under `columns:`) is not in the file",
                source=name,
                column=theirs,
                file=src.path,
                code="data.missing-column",
                hint=f"the file has: {', '.join(found)}",
            )
        if actual.lower() == target.lower():
            continue
        renames.append(f"{quote_ident(actual)} AS {quote_ident(target)}")
        clash = by_lower.get(target.lower())
        if clash is not None and clash.lower() not in {t.lower() for t in src.columns.values()}:
            drops.append(quote_ident(clash))
    star = "*"
    if drops:
        star += f" EXCLUDE ({', '.join(drops)})"
    if renames:
        star += f" RENAME ({', '.join(renames)})"
    return star


class DataCatalog:
    """The run's data sources as DuckDB views, one per name.

    Args:
        sources: Name -> source (paths should already be absolute).
        connection: A DuckDB connection to use (a new in-memory one by default).
        channels: The pipeline's channel taxonomy (``channels:``): spelling in the data
            -> channel. Agents read a data channel's name with
            ``conductor.channel_name(raw, catalog.channels)``.
    """

    def __init__(
        self,
        sources: Mapping[str, DataSource],
        connection: duckdb.DuckDBPyConnection | None = None,
        *,
        channels: Mapping[str, str] | None = None,
    ) -> None:
        self.sources = dict(sources)
        self.channels: dict[str, str] = dict(channels or {})
        self._con = connection or duckdb.connect(":memory:")
        self._lock = threading.Lock()
        self._registered: set[str] = set()
        self._columns: dict[str, dict[str, str]] = {}

    def _register(self, name: str) -> None:
        with self._lock:
            if name in self._registered:
                return
            src = self.sources.get(name)
            if src is None:
                raise DataError(
                    "no such data source",
                    source=name,
                    code="data.unknown-source",
                    hint=f"add it under `data:` in the pipeline, e.g. `{name}: data/{name}.csv`",
                )
            if problem := data_path_problem(src.path):  # a FIFO would hang the reader
                raise DataError(problem[1], source=name, file=src.path, code=problem[0])
            if not any(src.path.parent.glob(src.path.name)):
                raise DataError(
                    "file not found",
                    source=name,
                    file=src.path,
                    code="data.file-not-found",
                    hint="paths in `data:` are relative to the pipeline file",
                )
            path = str(src.path).replace("'", "''")
            reader = (
                f"read_parquet('{path}')"
                if src.resolved_format == "parquet"
                else f"read_csv('{path}', auto_detect=true, sample_size=100000)"
            )
            try:
                star = "*"
                if src.columns:
                    found = self._con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
                    star = _renamed_star(name, src, [str(row[0]) for row in found])
                self._con.execute(
                    f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT {star} FROM {reader}"
                )
                desc = self._con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()
            except duckdb.Error as exc:
                raise DataError(
                    f"cannot read the file: {str(exc).splitlines()[0]}",
                    source=name,
                    file=src.path,
                    code="data.unreadable",
                    hint="check the file is valid CSV (with a header row) or Parquet",
                ) from None
            self._columns[name] = {row[0]: str(row[1]) for row in desc}
            self._registered.add(name)

    def has(self, name: str) -> bool:
        """True when the pipeline names this source."""
        return name in self.sources

    def columns(self, name: str) -> dict[str, str]:
        """Column name -> DuckDB type of a source."""
        self._register(name)
        return dict(self._columns[name])

    def path(self, name: str) -> Path:
        """The file behind a source."""
        if name not in self.sources:
            self._register(name)  # raises the clear error
        return self.sources[name].path

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread (DuckDB connections are not shared across threads).

        Every registered source is a view of the same name in it.
        """
        for name in self.sources:
            try:
                self._register(name)
            except DataError:
                continue  # unreadable sources fail when (and only if) an agent uses them
        return self._con.cursor()

    def check(self, name: str, need: DataNeed) -> list[DataError]:
        """Every problem with one source against one need (empty list when fine)."""
        if name not in self.sources:
            if not need.required:
                return []
            return [
                DataError(
                    "the pipeline has no data source with this name",
                    source=name,
                    code="data.missing-source",
                    hint=f"add `{name}: path/to/{name}.parquet` under `data:`",
                )
            ]
        try:
            cols = self.columns(name)
        except DataError as exc:
            return [exc]
        errors: list[DataError] = []
        lower = {c.lower(): c for c in cols}
        for col, kind in need.columns.items():
            actual = cols.get(col) or (
                cols.get(lower[col.lower()]) if col.lower() in lower else None
            )
            if actual is None:
                errors.append(
                    DataError(
                        "required column is missing",
                        source=name,
                        file=self.sources[name].path,
                        column=col,
                        code="data.missing-column",
                        hint=f"the file has: {', '.join(cols)}; if one of them is it, name it "
                        f"under the source: `columns: {{{col}: YOUR_COLUMN}}`",
                    )
                )
            elif not _accepts(kind, actual):
                errors.append(
                    DataError(
                        f"column has type {actual}, expected {kind}",
                        source=name,
                        file=self.sources[name].path,
                        column=col,
                        code="data.bad-type",
                    )
                )
        for col, kind in need.optional_columns.items():
            actual = cols.get(col)
            if actual is not None and not _accepts(kind, actual):
                errors.append(
                    DataError(
                        f"column has type {actual}, expected {kind}",
                        source=name,
                        file=self.sources[name].path,
                        column=col,
                        code="data.bad-type",
                    )
                )
        return errors

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()
