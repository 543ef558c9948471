"""Read the `spend` and `outcomes` sources into a weekly history, with DuckDB SQL.

Long form: `spend(date, channel, spend)` plus `outcomes(date, <kpi>...)`, or the KPI as a
column of the long table itself, repeated on every row of its date (read once per date).
Wide form: one table with `date`, one spend column per channel and the KPI column(s) (the
KPI may also come from `outcomes`). Daily or weekly rows are summed into Monday-starting
weeks.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agents.budget._curves import FloatArray
from agents.budget._guards import check_duplicate_rows
from agents.budget._model import History
from conductor import DataError, canonical_channel, channel_name, normalise_channel_key
from conductor.data import finite_number, quote_ident

_KPI_NAMES = {
    "revenue", "conversions", "sales", "orders", "leads", "signups", "installs", "kpi",
    "cpa", "roas", "retention_rate", "churn_rate", "aov", "reach", "profit", "visits",
    "sessions", "customers", "units",
}  # fmt: skip
_SPEND_AFFIX = re.compile(r"^(spend_)(.+)$|^(.+?)(_spend)$")


def norm_channel(name: str) -> str:
    """A channel name in the form names are compared in (``Paid Search`` is ``paid_search``)."""
    return normalise_channel_key(name)


def channel_matcher(channels: Sequence[str]) -> Callable[[str], str | None]:
    """Name -> the data's channel it means, or None.

    The same normalised name first; else, through its canonical channel, the one data
    channel that shares it (a goal's ``paid_search`` is the data's ``search``).
    """
    known = set(channels)
    by_canon: dict[str, list[str]] = {}
    for d in channels:
        if (canon := canonical_channel(d)) is not None:
            by_canon.setdefault(canon, []).append(d)

    def match(name: str) -> str | None:
        n = norm_channel(name)
        if n in known:
            return n
        canon = canonical_channel(n)
        hits = by_canon.get(canon, []) if canon is not None else []
        return hits[0] if len(hits) == 1 else None

    return match


def _cols(con: Any, source: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE {quote_ident(source)}").fetchall()
    return {str(r[0]): str(r[1]).upper() for r in rows}


def _numeric(t: str) -> bool:
    return t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                         "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL"))  # fmt: skip


def _find(cols: dict[str, str], name: str) -> str | None:
    for c in cols:
        if c.lower() == name.lower():
            return c
    return None


def load_history(
    con: Any, kpi: str, has_outcomes: bool, taxonomy: dict[str, str] | None = None
) -> tuple[History, list[str]]:
    """Weekly spend per channel and the KPI, checked for bad values and gaps.

    Args:
        con: A DuckDB cursor with the `spend` (and maybe `outcomes`) views.
        kpi: KPI column to model.
        has_outcomes: Whether the `outcomes` source exists.
        taxonomy: The pipeline's channel taxonomy: spellings it lists are read as their
            channel (two spellings of one channel are summed), others normalised.

    Returns:
        The history and notes for the user (e.g. partial weeks dropped).

    Raises:
        DataError: Negative or missing spend, bad dates, missing weeks, no KPI column,
            repeated rows.
    """
    notes: list[str] = []
    cols = _cols(con, "spend")
    date_col = _find(cols, "date")
    if date_col is None:
        raise DataError("required column is missing", source="spend", column="date",
                        code="data.missing-column", hint=f"the table has: {', '.join(cols)}")  # fmt: skip
    long_sql, kpi_in_spend, summed, repeated = _long_spend_sql(
        con, cols, date_col, kpi, has_outcomes
    )
    _check_dates(con, "spend", date_col)
    check_duplicate_rows(con, "spend", list(cols), date_col, summed)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _budget_long AS {long_sql}")
    _check_spend_values(con)
    weeks, channels_raw, spend = _weekly_spend(con, notes, taxonomy or {})
    kpi_by_week = _load_kpi(con, kpi, has_outcomes, kpi_in_spend, date_col, repeated)
    missing = [w for w in weeks if w not in kpi_by_week]
    if missing:
        src = "outcomes" if has_outcomes and kpi_in_spend is None else "spend"
        raise DataError(
            f"no {kpi} for {len(missing)} week(s) that have spend, e.g. "
            + ", ".join(str(w) for w in missing[:5]),
            source=src, column=kpi, code="data.missing-weeks",
            hint=f"give {kpi} for every week of the spend history",
        )  # fmt: skip
    y = np.array([kpi_by_week[w] for w in weeks], dtype=np.float64)
    return History(weeks=weeks, channels=channels_raw, spend=spend, kpi=y), notes


def _long_spend_sql(
    con: Any, cols: dict[str, str], date_col: str, kpi: str, has_outcomes: bool
) -> tuple[str, str | None, list[str], bool]:
    """SQL reading `spend` as (d, ch, s, raw) rows, long or wide, the KPI column
    `spend` itself holds (None if none), the columns summed per week, and whether that
    KPI is repeated on every row of a date (long form) rather than given once."""
    ch_col, sp_col = _find(cols, "channel"), _find(cols, "spend")
    if ch_col and sp_col:
        long_sql = (
            f"SELECT TRY_CAST({quote_ident(date_col)} AS DATE) AS d, "
            f"CAST({quote_ident(ch_col)} AS VARCHAR) AS ch, "
            f"{finite_number(quote_ident(sp_col))} AS s, "
            f"CAST({quote_ident(sp_col)} AS VARCHAR) AS raw FROM spend"
        )
        # Exports that join the KPI onto the spend rows repeat it on every channel's row
        # of a date: it is read once per date (see _kpi_rows), never summed over channels.
        kpi_col = _find(cols, kpi)
        if kpi_col is not None and not _numeric(cols[kpi_col]):
            kpi_col = None
        return long_sql, kpi_col, [sp_col, *([kpi_col] if kpi_col else [])], True
    spend_cols = _wide_spend_columns(cols, date_col, kpi, con if has_outcomes else None)
    if not spend_cols:
        raise DataError(
            "no spend columns found: expected `channel` and `spend` columns (long form) "
            "or one numeric spend column per channel (wide form)",
            source="spend",
            code="data.no-spend-columns",
            hint="see docs/data.md: spend(date, channel, spend), or date + spend_<channel>",
        )
    long_sql = " UNION ALL ".join(
        f"SELECT TRY_CAST({quote_ident(date_col)} AS DATE) AS d, "
        f"'{ch.replace(chr(39), chr(39) * 2)}' AS ch, "
        f"{finite_number(quote_ident(col))} AS s, "
        f"CAST({quote_ident(col)} AS VARCHAR) AS raw FROM spend"
        for ch, col in spend_cols.items()
    )
    kpi_col = _find(cols, kpi)
    return long_sql, kpi_col, [*spend_cols.values(), *([kpi_col] if kpi_col else [])], False


def _check_spend_values(con: Any) -> None:
    """Refuse missing, non-finite or negative spend in `_budget_long`."""
    bad = con.execute(
        "SELECT ch, min(d), count(*) FROM _budget_long WHERE s IS NULL GROUP BY ch ORDER BY ch"
    ).fetchall()
    if bad:
        ch, first, n = bad[0]
        raise DataError(
            f"{n} spend value(s) for channel {ch!r} are missing or not finite numbers "
            f"(first on {first})",
            source="spend", column="spend", code="data.bad-spend",
            hint="write 0 for weeks without spend",
        )  # fmt: skip
    neg = con.execute(
        "SELECT ch, min(d), count(*), min(s) FROM _budget_long WHERE s < 0 GROUP BY ch ORDER BY ch"
    ).fetchall()
    if neg:
        desc = "; ".join(f"{c}: {n} row(s), first on {d}, lowest {v:,.2f}" for c, d, n, v in neg)
        raise DataError(
            f"negative spend: {desc}", source="spend", column="spend", code="data.negative-spend",
            hint="spend must be >= 0; record refunds or credits as lower spend in the same week",
        )  # fmt: skip


def _weekly_spend(
    con: Any, notes: list[str], taxonomy: dict[str, str]
) -> tuple[list[dt.date], list[str], FloatArray]:
    """The weeks, channels and weekly spend of `_budget_long`; daily data loses its
    partial edge weeks (noted) and must cover every day of the others."""
    weekly = con.execute(
        "SELECT date_trunc('week', d)::DATE AS w, ch, sum(s), count(DISTINCT d) "
        "FROM _budget_long GROUP BY ALL ORDER BY w, ch"
    ).fetchall()
    days = dict(
        con.execute(
            "SELECT date_trunc('week', d)::DATE, count(DISTINCT d) FROM _budget_long GROUP BY 1"
        ).fetchall()
    )
    daily = max(days.values(), default=1) > 1
    names = {r[1]: channel_name(r[1], taxonomy) for r in weekly}
    channels_raw = sorted(set(names.values()))
    weeks = sorted(days)
    if daily and weeks:
        partial_edges = [w for w in (weeks[0], weeks[-1]) if days[w] < 7]
        if partial_edges:
            notes.append(
                "dropped partial week(s) at the edges of the daily spend data: "
                + ", ".join(str(w) for w in partial_edges)
            )
        weeks = [w for w in weeks if w not in partial_edges]
        holes = [w for w in weeks if days[w] < 7]
        if holes:
            raise DataError(
                f"{len(holes)} week(s) have days without any spend rows, e.g. "
                + ", ".join(str(w) for w in holes[:5]),
                source="spend", column="date", code="data.missing-days",
                hint="add rows with spend 0 for days without spend",
            )  # fmt: skip
    _check_gaps(weeks, "spend")
    idx = {w: i for i, w in enumerate(weeks)}
    cidx = {c: i for i, c in enumerate(channels_raw)}
    spend = np.zeros((len(weeks), len(channels_raw)))
    for w, ch, s, _ in weekly:
        if w in idx:
            spend[idx[w], cidx[names[ch]]] += float(s)
    return weeks, channels_raw, spend


def _check_gaps(weeks: list[dt.date], source: str) -> None:
    gaps = [
        weeks[i - 1] + dt.timedelta(weeks=1)
        for i in range(1, len(weeks))
        if (weeks[i] - weeks[i - 1]).days != 7
    ]
    if gaps:
        raise DataError(
            "missing weeks in the history: no rows for the week(s) starting "
            + ", ".join(str(g) for g in gaps[:5])
            + (f" and {len(gaps) - 5} more gap(s)" if len(gaps) > 5 else ""),
            source=source, column="date", code="data.missing-weeks",
            hint="add the missing weeks (spend 0 if nothing was spent)",
        )  # fmt: skip


def _wide_spend_columns(
    cols: dict[str, str], date_col: str, kpi: str, con: Any | None
) -> dict[str, str]:
    """Channel -> column for a wide table (spend_<channel> / <channel>_spend preferred)."""
    numeric = {c: t for c, t in cols.items() if c != date_col and _numeric(t)}
    affixed: dict[str, str] = {}
    for c in numeric:
        m = _SPEND_AFFIX.match(c.lower())
        if m:
            affixed[norm_channel(m.group(2) or m.group(3))] = c
    if affixed:
        return affixed
    outcome_cols = set()
    if con is not None:
        outcome_cols = {c.lower() for c in _cols(con, "outcomes")}
    skip = _KPI_NAMES | {kpi.lower()} | outcome_cols
    return {norm_channel(c): c for c in numeric if c.lower() not in skip}


def _load_kpi(
    con: Any,
    kpi: str,
    has_outcomes: bool,
    kpi_in_spend: str | None,
    spend_date: str,
    repeated: bool = False,
) -> dict[dt.date, float]:
    if kpi_in_spend is not None and not has_outcomes:
        source, date_col, col = "spend", spend_date, kpi_in_spend
    elif has_outcomes:
        cols = _cols(con, "outcomes")
        date_col_o = _find(cols, "date")
        col_o = _find(cols, kpi)
        if date_col_o is None:
            raise DataError("required column is missing", source="outcomes", column="date",
                            code="data.missing-column", hint=f"the table has: {', '.join(cols)}")  # fmt: skip
        if col_o is None:
            if kpi_in_spend is not None:
                source, date_col, col = "spend", spend_date, kpi_in_spend
            else:
                close = difflib.get_close_matches(kpi, list(cols), n=1)
                raise DataError(
                    f"no column for the KPI {kpi!r}", source="outcomes", column=kpi,
                    code="data.missing-column",
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + "set `kpi:` in the step's `with:` to one of: "
                    + ", ".join(c for c in cols if c != date_col_o),
                )  # fmt: skip
        else:
            source, date_col, col = "outcomes", date_col_o, col_o
    else:
        raise DataError(
            f"no outcomes to model: the pipeline has no `outcomes` source and `spend` has no "
            f"{kpi!r} column",
            source="outcomes", code="data.missing-source",
            hint=f"add `outcomes: path/to/outcomes.csv` (date, {kpi}) under `data:`",
        )  # fmt: skip
    _check_dates(con, source, date_col)
    if source == "outcomes":  # a KPI in `spend` was checked with the spend
        check_duplicate_rows(con, source, list(_cols(con, source)), date_col, [col])
    table = quote_ident(source)
    if source == "spend" and repeated:
        table = _once_per_date(con, date_col, col)
    rows = con.execute(
        f"SELECT date_trunc('week', TRY_CAST({quote_ident(date_col)} AS DATE))::DATE AS w, "
        f"sum({finite_number(quote_ident(col))}), "
        f"count(*) FILTER (WHERE {finite_number(quote_ident(col))} IS NULL) "
        f"FROM {table} GROUP BY ALL"
    ).fetchall()
    out: dict[dt.date, float] = {}
    for w, total, nulls in rows:
        if nulls:
            raise DataError(
                f"{nulls} value(s) of {col!r} are missing or not finite numbers in the week of {w}",
                source=source, column=col, code="data.bad-kpi",
                hint="fill in the KPI for every date",
            )  # fmt: skip
        out[w] = float(total)
    return out


def _once_per_date(con: Any, date_col: str, col: str) -> str:
    """A subquery with the long spend table's KPI once per date.

    The KPI repeated on every channel's row must be one value per date: rows that
    disagree are two different numbers for one date, and no choice between them is safe.

    Raises:
        DataError: ``data.kpi-disagrees`` naming the first dates whose rows disagree.
    """
    d, v = quote_ident(date_col), finite_number(quote_ident(col))
    per_date = (
        f"SELECT TRY_CAST({d} AS DATE) AS {d}, count(DISTINCT {v}) AS n, min({v}) AS lo, "
        f"max({v}) AS hi, count(*) FILTER (WHERE {v} IS NULL) AS nulls, "
        f"any_value({v}) AS {quote_ident(col)} FROM spend GROUP BY 1"
    )
    bad = con.execute(
        f"SELECT {d}, lo, hi, count(*) OVER () FROM ({per_date}) WHERE n > 1 ORDER BY 1 LIMIT 3"
    ).fetchall()
    if bad:
        examples = "; ".join(f"{r[0]}: {r[1]:,.2f} to {r[2]:,.2f}" for r in bad)
        raise DataError(
            f"the {col!r} column of `spend` repeats the KPI on every channel's row, but its "
            f"rows disagree within {int(bad[0][3]):,} date(s), e.g. {examples}",
            source="spend", column=col, code="data.kpi-disagrees",
            hint=f"give one {col} per date (the same on every row of the date), or move "
            f"{col} to an `outcomes` source (date, {col})",
        )  # fmt: skip
    # A date whose rows all lack the KPI keeps a NULL, which the caller reports.
    return f"(SELECT {d}, CASE WHEN nulls > 0 THEN NULL ELSE {quote_ident(col)} END AS {quote_ident(col)} FROM ({per_date}))"


def _check_dates(con: Any, table: str, date_col: str) -> None:
    """One clear error for rows whose date is missing or unreadable, with an example."""
    d = quote_ident(date_col)
    n, sample = con.execute(
        f"SELECT count(*), min(trim(CAST({d} AS VARCHAR))) FROM {quote_ident(table)} "
        f"WHERE TRY_CAST({d} AS DATE) IS NULL"
    ).fetchone()
    if n:
        example = f"e.g. {sample!r}" if sample else "the date is empty"
        raise DataError(
            f"{n:,} row(s) have a missing or unreadable date ({example})",
            source=table, column=date_col, code="data.bad-date",
            hint="use ISO dates like 2026-03-02",
        )  # fmt: skip
