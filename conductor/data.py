"""Named data sources, read with DuckDB, checked against what each agent needs.

A pipeline names its sources (``events``, ``spend``, ...) as CSV or Parquet files; the
:class:`DataCatalog` exposes each one to agents as a DuckDB view of the same name, so
agents write plain SQL (``SELECT ... FROM events``) and never loop over rows in Python.
Each agent declares the columns it needs (:class:`DataNeed`); a missing source or column
is a :class:`~conductor.errors.DataError` naming the source, the file and the column,
raised before any agent runs.
"""

from __future__ import annotations

import os
import re
import threading
import zoneinfo
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from conductor._limits import data_path_problem, sql_file_problem
from conductor.errors import DataError

__all__ = [
    "ColumnType",
    "DataCatalog",
    "DataNeed",
    "DataSource",
    "NumberFormat",
    "TimestampParse",
    "finite_number",
    "quote_ident",
]

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
    goal_channels: bool = Field(
        default=False,
        description="The goal's channels (those its constraints and exclusions name too) "
        "must be in this source's `channel` column; `validate` reports one that is not.",
    )


TimeUnit = Literal["s", "ms", "us", "ns"]

_UNITS: tuple[str, ...] = ("s", "ms", "us", "ns")
# strptime directives that carry a time of day (or an offset): a format without any of
# them reads calendar days, which become DATEs.
_TIME_DIRECTIVES = re.compile(r"%[HIMSfgnpXcTRzZ]")


def _check_zone(tz: str) -> str:
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {tz!r}: use an IANA name such as UTC or Europe/Berlin"
        ) from None
    return tz


class TimestampParse(BaseModel):
    """How one column's values become timestamps (under a source's ``timestamps:``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: TimeUnit | None = Field(
        default=None,
        description="The values are epoch numbers in s, ms, us or ns (instants, so always UTC).",
    )
    format: str | None = Field(
        default=None,
        description=(
            "A strptime format such as '%m/%d/%Y %H:%M'; a format without a time of day "
            "(no %H, %M, %S, ...) gives DATEs."
        ),
    )
    timezone: str | None = Field(
        default=None,
        description="Zone of the values without an offset; the source's `timezone` by default.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> TimestampParse:
        if self.unit and self.format:
            raise ValueError("give `unit` (epoch numbers) or `format` (text), not both")
        if self.format is not None:
            con = duckdb.connect(":memory:")
            try:
                con.execute(f"SELECT try_strptime('', {_sql_str(self.format)})")
            except duckdb.Error as exc:
                raise ValueError(f"format {self.format!r}: {str(exc).splitlines()[0]}") from None
            finally:
                con.close()
        if self.timezone is not None:
            _check_zone(self.timezone)
        return self

    @property
    def gives_date(self) -> bool:
        """True when the values are calendar days (a format without a time of day)."""
        return self.format is not None and not _TIME_DIRECTIVES.search(self.format)


class NumberFormat(BaseModel):
    """How numbers are written in a source's text columns (under ``number:``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thousands: str = Field(
        default=",", description="Thousands separator: ',', '.', ' ', \"'\" or '' for none."
    )
    decimal: Literal[".", ","] = Field(default=".", description="Decimal mark.")
    columns: list[str] | None = Field(
        default=None,
        description=(
            "The columns to read this way (a value that does not parse is an error); by "
            "default every text column whose values all parse."
        ),
    )

    @model_validator(mode="after")
    def _separators(self) -> NumberFormat:
        if self.thousands not in {",", ".", " ", "'", ""}:
            raise ValueError("`thousands` must be ',', '.', ' ', \"'\" or '' (none)")
        if self.thousands == self.decimal:
            raise ValueError("`thousands` and `decimal` must differ")
        return self


class DataSource(BaseModel):
    """A named source as written in a pipeline's ``data:`` section.

    A source is a file (``path``) or a DuckDB query (``query``); the staging keys
    (``timestamps``, ``number``, ``values``, ``channel_from``, ``timezone``) then shape its
    columns before ``columns:`` renames them. Staging keys name the source's own columns.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | None = Field(
        default=None, description="CSV or Parquet file (or a glob of Parquet files)."
    )
    query: str | None = Field(
        default=None,
        description=(
            "A DuckDB SELECT instead of a file: over files (read_csv('x.csv'), relative "
            "to the pipeline file) and over other sources by name."
        ),
    )
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
    timestamps: dict[str, TimestampParse] = Field(
        default_factory=dict,
        description=(
            "Column -> how its values become timestamps: {unit: us} for epoch numbers, "
            "{format: '%m/%d/%Y'} for text, {} for ISO 8601 text."
        ),
    )
    number: NumberFormat | None = Field(
        default=None,
        description="How numbers are written in text, e.g. {thousands: ',', decimal: '.'}.",
    )
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description=(
            "Column -> {value in the file: value the agents see}; unmapped values are kept."
        ),
    )
    channel_from: str | None = Field(
        default=None,
        description="A SQL expression over the source's columns that becomes `channel`.",
    )
    timezone: str = Field(
        default="UTC",
        description="Zone of timestamps written without an offset; all are converted to UTC.",
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

    @field_validator("timestamps", mode="before")
    @classmethod
    def _timestamps(cls, v: Any) -> Any:
        # Shorthands: `event_timestamp: us` (a unit), `date: "%m/%d/%Y"` (a format), and a
        # bare `created_at:` (ISO 8601 text).
        if isinstance(v, Mapping):
            out: dict[Any, Any] = {}
            for col, spec in v.items():
                if spec is None:
                    spec = {}
                elif isinstance(spec, str):
                    spec = {"unit": spec} if spec in _UNITS else {"format": spec}
                out[col] = spec
            return out
        return v

    @field_validator("values", mode="before")
    @classmethod
    def _values(cls, v: Any) -> Any:
        # YAML reads `1: conversion` with an integer key; the data is compared as text.
        if isinstance(v, Mapping):
            return {
                col: (
                    {str(k): str(x) for k, x in m.items() if x is not None}
                    if isinstance(m, Mapping)
                    else m
                )
                for col, m in v.items()
            }
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        return _check_zone(v)

    @model_validator(mode="after")
    def _file_or_query(self) -> DataSource:
        no_query = self.query is None or not self.query.strip()
        if self.path is None and no_query:
            # Its own type, so the pipeline loader reports it as a missing key.
            raise PydanticCustomError(
                "missing_path", "give `path` (a file) or `query` (DuckDB SQL)"
            )
        if self.path is not None and not no_query:
            raise ValueError("give `path` (a file) or `query` (DuckDB SQL), not both")
        if self.query is not None and self.format is not None:
            raise ValueError("`format` is for files; a `query` reads its own files")
        if self.channel_from is not None and any(t.lower() == "channel" for t in self.columns):
            raise ValueError("give `channel` under `columns:` or as `channel_from:`, not both")
        return self

    @property
    def resolved_format(self) -> Literal["csv", "parquet"]:
        """The format, from ``format`` or the file extension."""
        if self.format:
            return self.format
        suffix = "".join(self.path.suffixes).lower() if self.path else ""
        return "parquet" if ".parquet" in suffix or suffix.endswith(".pq") else "csv"


def _renamed_star(name: str, src: DataSource, found: Sequence[str], file: Path | None) -> str:
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
                file=file,
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


def _sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# A time of day followed by an offset or Z: the value is an instant. (A bare date such as
# 2026-03-02 ends in "-02" too, hence the time of day in front.)
_OFFSET = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*(Z|z|UTC|[+-][0-9]{2}(:?[0-9]{2})?)$"
_CURRENCY = "$€£¥"
# Microseconds since the epoch of 0001-01-01 and of 9999-12-31 23:59:59.999999.
_US_MIN, _US_MAX = -62135596800000000, 253402300799999999


def _is_tz(duck_type: str) -> bool:
    t = duck_type.upper()
    return t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ"


def _is_naive_ts(duck_type: str) -> bool:
    t = duck_type.upper()
    return t.startswith("TIMESTAMP") and not _is_tz(t)


def _utc(naive: str, tz: str) -> str:
    """A naive timestamp taken as wall-clock time in ``tz``, as naive UTC."""
    return naive if tz == "UTC" else f"timezone('UTC', timezone({_sql_str(tz)}, {naive}))"


def _iso_sql(raw: str, duck_type: str, tz: str) -> str:
    """``raw`` as naive UTC: values with an offset are instants, others are in ``tz``.

    Each value is parsed on its own, so a column that mixes both is read right whatever
    the CSV sniffer's sample saw.
    """
    if _is_tz(duck_type):
        return f"timezone('UTC', {raw})"
    if _is_naive_ts(duck_type):
        return _utc(raw, tz)
    if duck_type.upper() == "DATE":
        return raw
    v = f"trim(CAST({raw} AS VARCHAR))"
    return (
        f"CASE WHEN regexp_matches({v}, {_sql_str(_OFFSET)}) "
        f"THEN timezone('UTC', TRY_CAST({v} AS TIMESTAMPTZ)) "
        f"ELSE {_utc(f'TRY_CAST({v} AS TIMESTAMP)', tz)} END"
    )


def _timestamp_sql(raw: str, duck_type: str, spec: TimestampParse, tz: str) -> str:
    """One column under ``timestamps:`` as naive UTC (or DATE for a date-only format)."""
    tz = spec.timezone or tz
    if spec.unit is not None:
        if spec.unit in ("s", "ms"):
            scale = "1000000" if spec.unit == "s" else "1000"
            us = f"TRY_CAST(round(TRY_CAST({raw} AS DOUBLE) * {scale}) AS BIGINT)"
        else:
            us = f"TRY_CAST({raw} AS BIGINT)"
            us = f"({us} // 1000)" if spec.unit == "ns" else us
        return f"CASE WHEN {us} BETWEEN {_US_MIN} AND {_US_MAX} THEN make_timestamp({us}) END"
    if spec.format is not None:
        parsed = f"try_strptime(trim(CAST({raw} AS VARCHAR)), {_sql_str(spec.format)})"
        if spec.gives_date:
            return f"CAST({parsed} AS DATE)"  # a calendar day: no zone applies
        if re.search(r"%[zZ]", spec.format):
            return f"timezone('UTC', {parsed})"
        return _utc(parsed, tz)
    return _iso_sql(raw, duck_type, tz)


def _regex_char(c: str) -> str:
    return "\\" + c if c in r".^$*+?()[]{}|\/" else c


def _number_sql(raw: str, fmt: NumberFormat) -> str:
    """Text such as "8,597.76" or "$8,597.76" as a DOUBLE (NULL when it does not parse)."""
    t, d = _regex_char(fmt.thousands), _regex_char(fmt.decimal)
    cur = "[" + _CURRENCY + "]"
    grouped = f"[0-9]{{1,3}}({t}[0-9]{{3}})+|" if fmt.thousands else ""
    # Thousands separators must group digits by three, so "02.03.2026" is not a number.
    pattern = f"^[+-]?\\s*{cur}?\\s*[+-]?({grouped}[0-9]*)({d}[0-9]+)?\\s*{cur}?$"
    v = f"trim(CAST({raw} AS VARCHAR))"
    clean = f"regexp_replace({v}, {_sql_str('[' + _CURRENCY + ' ]')}, '', 'g')"
    if fmt.thousands:
        clean = f"replace({clean}, {_sql_str(fmt.thousands)}, '')"
    if fmt.decimal == ",":
        clean = f"replace({clean}, ',', '.')"
    return (
        f"CASE WHEN regexp_matches({v}, {_sql_str(pattern)}) THEN TRY_CAST({clean} AS DOUBLE) END"
    )


def _values_sql(expr: str, mapping: Mapping[str, str]) -> str:
    v = f"CAST({expr} AS VARCHAR)"
    whens = " ".join(f"WHEN {_sql_str(k)} THEN {_sql_str(x)}" for k, x in mapping.items())
    return f"CASE {v} {whens} ELSE {v} END"


def _blank(expr: str) -> str:
    return f"({expr} IS NULL OR trim(CAST({expr} AS VARCHAR)) = '')"


class _Check(NamedTuple):
    """A converted column whose every non-blank value must convert (checked on one scan)."""

    column: str
    raw: str
    converted: str
    what: str
    hint: str


_DUCKDB_ENV = {
    # environment variable -> (DuckDB setting, example for the hint)
    "CONDUCTOR_DUCKDB_MEMORY_LIMIT": ("memory_limit", "8GB"),
    "CONDUCTOR_DUCKDB_TEMP_DIRECTORY": ("temp_directory", "/data/conductor-spill"),
    "CONDUCTOR_DUCKDB_THREADS": ("threads", "4"),
}


def duckdb_resource_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """DuckDB ``SET`` clauses for the memory limit, spill folder and threads.

    Read from ``CONDUCTOR_DUCKDB_MEMORY_LIMIT`` (e.g. ``8GB``; DuckDB's default is 80%
    of RAM), ``CONDUCTOR_DUCKDB_TEMP_DIRECTORY`` (where sorts, joins and aggregates
    spill when they outgrow the limit; DuckDB's default for an in-memory database is
    ``.tmp`` in the working folder) and ``CONDUCTOR_DUCKDB_THREADS``. Each value is
    checked by DuckDB itself, so a wrong one is refused here with the variable's name,
    not later in the middle of a step.

    Raises:
        DataError: A value DuckDB does not accept (code ``data.bad-duckdb-setting``).
    """
    env = os.environ if environ is None else environ
    out: list[str] = []
    probe = None
    try:
        for var, (setting, example) in _DUCKDB_ENV.items():
            value = env.get(var, "").strip()
            if not value:
                continue
            clause = f"{setting}={_sql_str(value)}"
            if setting == "temp_directory":
                Path(value).expanduser().mkdir(parents=True, exist_ok=True)
            probe = probe or duckdb.connect(":memory:")
            try:
                probe.execute(f"SET {clause}")
            except duckdb.Error as exc:
                raise DataError(
                    f"{var}={value!r}: {_first_line(exc)}",
                    code="data.bad-duckdb-setting",
                    hint=f"set {var} to a value like {example}, or unset it for DuckDB's default",
                ) from None
            out.append(clause)
    except OSError as exc:
        raise DataError(
            f"CONDUCTOR_DUCKDB_TEMP_DIRECTORY: cannot create the folder: {exc.strerror}",
            code="data.bad-duckdb-setting",
            hint="point it at a writable folder with room to spill (several GB)",
        ) from None
    finally:
        if probe is not None:
            probe.close()
    return out


def resource_error(exc: BaseException) -> DataError | None:
    """DuckDB running out of memory or spill space, as a :class:`DataError` that says
    which setting to change; None for any other exception."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return DataError(
            f"DuckDB ran out of memory: {_first_line(exc)}",
            code="data.out-of-memory",
            hint=(
                "raise CONDUCTOR_DUCKDB_MEMORY_LIMIT (e.g. 16GB), or point "
                "CONDUCTOR_DUCKDB_TEMP_DIRECTORY at a folder with room so DuckDB can spill"
            ),
        )
    if isinstance(exc, duckdb.IOException) and "space" in str(exc).lower():
        return DataError(
            f"DuckDB could not spill to disk: {_first_line(exc)}",
            code="data.out-of-disk",
            hint="point CONDUCTOR_DUCKDB_TEMP_DIRECTORY at a folder on a disk with more room",
        )
    return None


class DataCatalog:
    """The run's data sources as DuckDB views, one per name.

    Every connection the catalog uses runs in UTC (``SET TimeZone='UTC'``), and every
    timestamp a view gives is naive UTC, whatever the machine's zone.

    Args:
        sources: Name -> source (paths should already be absolute).
        connection: A DuckDB connection to use (a new in-memory one by default).
        channels: The pipeline's channel taxonomy (``channels:``): spelling in the data
            -> channel. Agents read a data channel's name with
            ``conductor.channel_name(raw, catalog.channels)``.
        base_dir: Folder that relative paths in a source's ``query`` resolve from.
        pipeline_file: The pipeline file, named in errors about query sources.
    """

    def __init__(
        self,
        sources: Mapping[str, DataSource],
        connection: duckdb.DuckDBPyConnection | None = None,
        *,
        channels: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        pipeline_file: Path | None = None,
    ) -> None:
        self.sources = dict(sources)
        self.channels: dict[str, str] = dict(channels or {})
        self._con = connection or duckdb.connect(":memory:")
        # TIMESTAMPTZ values print, cast and truncate in the session's zone, which is the
        # machine's by default: pin it so results never depend on where a run happens.
        # GLOBAL too, so every cursor (a session of its own) gets them: a view over
        # read_csv('data/x.csv') is bound again in the session that reads it.
        settings = ["TimeZone='UTC'", *duckdb_resource_settings()]
        if base_dir is not None:
            settings.append(f"file_search_path={_sql_str(str(base_dir))}")
        for setting in settings:
            self._con.execute(f"SET GLOBAL {setting}")
            self._con.execute(f"SET {setting}")
        self._pipeline_file = pipeline_file
        # Re-entrant: a query source registers the sources it reads first.
        self._lock = threading.RLock()
        self._registering: list[str] = []
        self._registered: set[str] = set()
        self._columns: dict[str, dict[str, str]] = {}
        self._nulls: dict[str, dict[str, str]] = {}

    def _file(self, name: str) -> Path | None:
        src = self.sources[name]
        return src.path if src.path is not None else self._pipeline_file

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
            if name in self._registering:
                loop = [*self._registering[self._registering.index(name) :], name]
                raise DataError(
                    f"the queries read each other in a circle: {' -> '.join(loop)}",
                    source=name,
                    file=self._pipeline_file,
                    code="data.query-cycle",
                    hint="a source's `query` may read other sources, but not itself through them",
                )
            self._registering.append(name)
            try:
                self._create_view(name, src)
            finally:
                self._registering.pop()
            self._registered.add(name)

    def _reader(self, name: str, src: DataSource) -> tuple[str, dict[str, str], dict[str, str]]:
        """The raw relation's SQL, its columns and types, and the columns read as text to
        be parsed value by value, with the type the CSV sniffer gave them."""
        if src.query is not None:
            return self._query_reader(name, src)
        assert src.path is not None
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
        path = _sql_str(str(src.path))
        try:
            if src.resolved_format == "parquet":
                reader = f"read_parquet({path})"
                return reader, self._describe(reader), {}
            base = f"read_csv({path}, auto_detect=true, sample_size=100000"
            sniffed = self._describe(base + ")")
            by_lower = {c.lower(): c for c in sniffed}
            # The sniffer types a column from a sample: a timestamp column whose offsets
            # appear only after it would be read with them dropped. Read timestamps (and
            # the columns staging parses) as text, and parse each value.
            text = {c for c, t in sniffed.items() if t.upper().startswith("TIMESTAMP")}
            named = list(self._staged_keys(src))
            text |= {by_lower[k.lower()] for k in named if k.lower() in by_lower}
            if src.number is not None and src.number.columns is None and src.number.decimal == ",":
                # With a decimal comma, "1.000" is a thousand, which the sniffer read as 1.0.
                text |= {c for c, t in sniffed.items() if t.upper().startswith(_NUMERIC[9:])}
            if text:
                types = ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in sorted(text))
                reader = f"{base}, types={{{types}}})"
                return (
                    reader,
                    {**sniffed, **dict.fromkeys(text, "VARCHAR")},
                    {c: sniffed[c] for c in text},
                )
            return base + ")", sniffed, {}
        except duckdb.Error as exc:
            raise DataError(
                f"cannot read the file: {_first_line(exc)}",
                source=name,
                file=src.path,
                code="data.unreadable",
                hint="check the file is valid CSV (with a header row) or Parquet",
            ) from None

    @staticmethod
    def _staged_keys(src: DataSource) -> list[str]:
        """The columns ``timestamps:`` and ``number.columns`` parse from text (file names
        or contract names)."""
        keys = [*src.timestamps]
        if src.number is not None and src.number.columns:
            keys += src.number.columns
        back = {t.lower(): theirs for t, theirs in src.columns.items()}
        return [back.get(k.lower(), k) for k in keys]

    def _query_reader(
        self, name: str, src: DataSource
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        assert src.query is not None
        sql = src.query.strip().rstrip(";").strip()
        base = self._pipeline_file.parent if self._pipeline_file is not None else Path.cwd()
        if problem := sql_file_problem(sql, base):  # a FIFO would hang DuckDB
            raise DataError(problem[1], source=name, file=self._pipeline_file, code=problem[0])
        by_lower = {n.lower(): n for n in self.sources}
        try:
            read = self._con.get_table_names(sql)
        except duckdb.Error as exc:
            raise self._query_error(name, exc) from None
        for table in sorted(read):
            dep = by_lower.get(table.lower())
            if dep is not None:
                self._register(dep)  # may raise data.query-cycle
        reader = f"({sql})"
        try:
            return reader, self._describe(reader), {}
        except duckdb.Error as exc:
            raise self._query_error(name, exc) from None

    def _query_error(self, name: str, exc: BaseException, what: str = "query") -> DataError:
        return DataError(
            f"the {what} fails in DuckDB: {_first_line(exc)}",
            source=name,
            file=self._pipeline_file,
            code="data.bad-query",
            hint="`query:` is DuckDB SQL over files (read_csv('x.csv'), relative to the "
            "pipeline file) and over other sources by name; `channel_from:` is an "
            "expression over the source's columns",
        )

    def _describe(self, relation: str) -> dict[str, str]:
        rows = self._con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def _create_view(self, name: str, src: DataSource) -> None:
        reader, raw, sniffed = self._reader(name, src)
        select, checks = self._staging(name, src, reader, raw, sniffed)
        inner = f"(SELECT {', '.join(select)} FROM {reader})"
        staged = list(raw)
        if src.channel_from is not None:
            staged = [c for c in staged if c.lower() != "channel"] + ["channel"]
        star = _renamed_star(name, src, staged, self._file(name)) if src.columns else "*"
        sql = f"SELECT {star} FROM {inner}"
        nulls = self._nulls.get(name)
        if nulls:
            repl = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(c)}" for c, t in nulls.items())
            sql = f"SELECT * REPLACE ({repl}) FROM ({sql})"
        try:
            self._con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {sql}")
            cols = self._describe(quote_ident(name))
        except duckdb.Error as exc:
            if src.channel_from is not None:
                try:
                    self._con.execute(
                        f"DESCRIBE SELECT ({src.channel_from}) AS channel FROM {inner}"
                    )
                except duckdb.Error as bad:
                    raise self._query_error(name, bad, "`channel_from` expression") from None
            if src.query is not None:
                raise self._query_error(name, exc) from None
            raise DataError(
                f"cannot read the file: {_first_line(exc)}",
                source=name,
                file=src.path,
                code="data.unreadable",
                hint="check the file is valid CSV (with a header row) or Parquet",
            ) from None
        self._check_values(name, reader, checks)
        self._columns[name] = cols

    def _staging(
        self,
        name: str,
        src: DataSource,
        reader: str,
        raw: Mapping[str, str],
        sniffed: Mapping[str, str],
    ) -> tuple[list[str], list[_Check]]:
        """The staged SELECT list over the raw columns, and the conversions to verify.

        ``sniffed``: the columns read as text to be parsed here, with the type the CSV
        sniffer saw (a timestamp seen in a sample is parsed value by value).
        """
        mixed = {c for c, t in sniffed.items() if t.upper().startswith("TIMESTAMP")}
        by_lower = {c.lower(): c for c in raw}
        back = {t.lower(): theirs for t, theirs in src.columns.items()}

        def column(key: str, where: str) -> str:
            actual = by_lower.get(key.lower()) or by_lower.get(back.get(key.lower(), "").lower())
            if actual is None:
                raise DataError(
                    f"column {key!r} (under `{where}:`) is not in the source",
                    source=name,
                    column=key,
                    file=self._file(name),
                    code="data.missing-column",
                    hint=f"the source has: {', '.join(raw)}",
                )
            return actual

        ts = {column(k, "timestamps"): spec for k, spec in src.timestamps.items()}
        vals = {column(k, "values"): m for k, m in src.values.items()}
        fmt = src.number
        numbers: set[str] = set()
        if fmt is not None and fmt.columns is not None:
            numbers = {column(k, "number.columns") for k in fmt.columns}
        elif fmt is not None:
            text = [c for c, t in raw.items() if t.upper() == "VARCHAR" and c not in ts]
            # Columns the sniffer read as numbers (with a decimal comma) must all parse.
            forced = {
                c for c, t in sniffed.items() if t.upper().startswith(_NUMERIC[9:]) and c not in ts
            }
            text = [c for c in text if c not in forced]
            numbers = self._number_like(reader, text, fmt) | forced
        exprs: dict[str, str] = {}
        checks: list[_Check] = []
        for col, duck_type in raw.items():
            q = quote_ident(col)
            # `values:` maps the text as written first, so `{Y: 1, N: 0}` can feed
            # `number:` and `{purchase: conversion}` any later rule.
            base = _values_sql(q, vals[col]) if col in vals else q
            if col in vals:
                duck_type = "VARCHAR"
            expr = base
            if col in ts:
                spec = ts[col]
                expr = _timestamp_sql(base, duck_type, spec, src.timezone)
                how = (
                    f"epoch {spec.unit}"
                    if spec.unit
                    else f"format {spec.format!r}"
                    if spec.format
                    else "ISO 8601"
                )
                checks.append(
                    _Check(
                        col,
                        q,
                        expr,
                        f"a timestamp ({how})",
                        "fix the value or the column's entry under `timestamps:`",
                    )
                )
            elif col in mixed or _is_tz(duck_type) or _is_naive_ts(duck_type):
                expr = _iso_sql(base, duck_type, src.timezone)
                if col in mixed:
                    checks.append(
                        _Check(
                            col,
                            q,
                            expr,
                            "a timestamp",
                            "use ISO 8601 such as 2026-03-01T14:30:00Z, or say how the "
                            "column is written under `timestamps:`",
                        )
                    )
            if col in numbers and col not in ts:
                expr = _number_sql(base, fmt) if fmt is not None else expr
                checks.append(
                    _Check(
                        col,
                        q,
                        expr,
                        "a number",
                        f"write numbers like 8{fmt.thousands if fmt else ''}597"
                        f"{fmt.decimal if fmt else '.'}76, or fix `number:`",
                    )
                )
            exprs[col] = expr
        select = [
            f"{e} AS {quote_ident(c)}"
            for c, e in exprs.items()
            if not (src.channel_from is not None and c.lower() == "channel")
        ]
        if src.channel_from is not None:
            select.append(f"({src.channel_from}) AS channel")
        return select, checks

    def _number_like(self, reader: str, text: list[str], fmt: NumberFormat) -> set[str]:
        """The text columns whose every non-blank value parses as a number in ``fmt``."""
        if not text:
            return set()
        parts = []
        for c in text:
            q = quote_ident(c)
            parts.append(
                f"count(*) FILTER (WHERE NOT {_blank(q)}), "
                f"count(*) FILTER (WHERE NOT {_blank(q)} AND ({_number_sql(q, fmt)}) IS NULL)"
            )
        row = self._con.execute(f"SELECT {', '.join(parts)} FROM {reader}").fetchone()
        assert row is not None
        return {c for i, c in enumerate(text) if row[2 * i] and not row[2 * i + 1]}

    def _check_values(self, name: str, reader: str, checks: Sequence[_Check]) -> None:
        """Raise ``data.bad-value`` for the first value a conversion could not read."""
        if not checks:
            return
        cols, aggs = [], []
        for i, c in enumerate(checks):
            cols.append(f"({c.raw}) AS r{i}, ({c.converted}) AS v{i}")
            bad = f"NOT {_blank(f'r{i}')} AND v{i} IS NULL"
            aggs.append(f"min(rn) FILTER (WHERE {bad}), arg_min(r{i}, rn) FILTER (WHERE {bad})")
        sql = (
            f"SELECT {', '.join(aggs)} FROM "
            f"(SELECT row_number() OVER () AS rn, {', '.join(cols)} FROM {reader})"
        )
        try:
            row = self._con.execute(sql).fetchone()
        except duckdb.Error as exc:
            raise self._query_error(name, exc) from None
        assert row is not None
        for i, c in enumerate(checks):
            if row[2 * i] is not None:
                raise DataError(
                    f"value {str(row[2 * i + 1])!r} in row {row[2 * i]:,} cannot be read as "
                    f"{c.what}",
                    source=name,
                    column=c.column,
                    file=self._file(name),
                    code="data.bad-value",
                    hint=c.hint + " (rows count from 1 after the header)",
                )

    def has(self, name: str) -> bool:
        """True when the pipeline names this source."""
        return name in self.sources

    def columns(self, name: str) -> dict[str, str]:
        """Column name -> DuckDB type of a source."""
        self._register(name)
        return dict(self._columns[name])

    def path(self, name: str) -> Path:
        """The file behind a source (the pipeline file for a ``query`` source).

        Raises:
            DataError: ``data.not-a-file`` for a query source of a catalog built without
                a pipeline file.
        """
        if name not in self.sources:
            self._register(name)  # raises the clear error
        path = self._file(name)
        if path is None:
            raise DataError(
                "this source is a query, not a file",
                source=name,
                code="data.not-a-file",
                hint="build the catalog with `pipeline_file=` (Pipeline.catalog() does)",
            )
        return path

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread (DuckDB connections are not shared across threads).

        Every registered source is a view of the same name in it.
        """
        for name in self.sources:
            try:
                self._register(name)
            except DataError:
                continue  # unreadable sources fail when (and only if) an agent uses them
        cur = self._con.cursor()
        cur.execute("SET TimeZone='UTC'")
        return cur

    def preview(self, name: str, rows: int = 5) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The first ``rows`` rows of a source as the agents see them: names and rows."""
        self._register(name)
        rel = self._con.execute(f"SELECT * FROM {quote_ident(name)} LIMIT {int(rows)}")
        names = [d[0] for d in rel.description or []]
        return names, [tuple(r) for r in rel.fetchall()]

    def _all_blank(self, name: str, column: str) -> bool:
        q = quote_ident(column)
        row = self._con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {quote_ident(name)} "
            f"WHERE NOT {_blank(q)} LIMIT 1)"
        ).fetchone()
        return row is not None and row[0] == 0

    def _as_null(self, name: str, column: str, kind: ColumnType) -> bool:
        """An all-blank text column needed as a number is NULLs of that type, not an error
        (empty means missing): re-create the view with it typed. True when it did."""
        if kind not in ("number", "integer") or self._columns[name][column].upper() != "VARCHAR":
            return False
        if not self._all_blank(name, column):
            return False
        with self._lock:
            self._nulls.setdefault(name, {})[column] = "DOUBLE" if kind == "number" else "BIGINT"
            self._registered.discard(name)
            self._register(name)
        return True

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
        file = self._file(name)
        wanted = [(c, k, True) for c, k in need.columns.items()]
        wanted += [(c, k, False) for c, k in need.optional_columns.items()]
        for col, kind, required in wanted:
            found = col if col in cols else lower.get(col.lower())
            if found is None:
                if required:
                    errors.append(
                        DataError(
                            "required column is missing",
                            source=name,
                            file=file,
                            column=col,
                            code="data.missing-column",
                            hint=f"the file has: {', '.join(cols)}; if one of them is it, name "
                            f"it under the source: `columns: {{{col}: YOUR_COLUMN}}`",
                        )
                    )
                continue
            actual = cols[found]
            if not _accepts(kind, actual) and not self._as_null(name, found, kind):
                errors.append(
                    DataError(
                        f"column has type {actual}, expected {kind}",
                        source=name,
                        file=file,
                        column=col,
                        code="data.bad-type",
                        hint="numbers written like 8,597.76 or $8,597.76: say so with "
                        "`number: {thousands: ',', decimal: '.'}` under the source"
                        if kind in ("number", "integer") and actual.upper() == "VARCHAR"
                        else "",
                    )
                )
        return errors

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()
