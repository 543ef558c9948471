"""Reading the exposures log: what was sent before, the reward it earned, its propensity.

The log is checked in DuckDB (empty, unknown actions, bad rewards or propensities) before
any row is read, then read once, joined to the customers' row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.personalization._models import PersonalizationSpec
from conductor import DataError
from conductor.data import finite_number, quote_ident


@dataclass
class _Log:
    idx: NDArray[np.int64]
    action: NDArray[np.int64]
    reward: NDArray[np.float64]
    propensity: NDArray[np.float64] | None
    dropped_unknown_customers: int
    dropped_unknown_actions: int


def _load_log(
    con: Any,
    cols: dict[str, str],
    action_ids: list[str],
    spec: PersonalizationSpec,
    warnings: list[str],
) -> _Log:
    lower = {c.lower(): c for c in cols}
    for need in ("customer_id", "action", "reward"):
        if need not in lower:
            raise DataError(
                "required column is missing",
                source="exposures",
                column=need,
                code="data.missing-column",
                hint=f"the log has: {', '.join(cols)}",
            )
    act, rew = quote_ident(lower["action"]), quote_ident(lower["reward"])
    prop = quote_ident(lower["propensity"]) if "propensity" in lower else None
    (total,) = con.execute("SELECT count(*) FROM exposures").fetchone()
    if total == 0:
        raise DataError(
            "the exposures log is empty: there is no history to learn from",
            source="exposures",
            code="personalization.empty-log",
            hint="export past sends with their outcome (customer_id, timestamp, action, reward)",
        )
    n_unknown = _unknown_actions(con, act, action_ids, spec, warnings)
    _check_rewards(con, rew)
    if prop is not None:
        _check_propensities(con, prop)
    idx, a, r, p, n_unknown_cust = _read_log(
        con, lower.get("timestamp"), act, rew, prop, action_ids, warnings
    )
    return _Log(idx, a, r, p, n_unknown_cust, n_unknown)


def _unknown_actions(
    con: Any, act: str, action_ids: list[str], spec: PersonalizationSpec, warnings: list[str]
) -> int:
    """Log rows whose action is not in the catalogue: an error, or dropped with a warning."""
    unknown = con.execute(
        f"SELECT coalesce({act}::VARCHAR, '(missing)') AS a, count(*) FROM exposures "
        f"WHERE {act} IS NULL OR NOT list_contains(?::VARCHAR[], {act}::VARCHAR) "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
        [action_ids],
    ).fetchall()
    n_unknown = sum(int(c) for _, c in unknown)
    if unknown and spec.unknown_actions == "error":
        shown = ", ".join(f"{a!r} ({c} rows)" for a, c in unknown[:5])
        raise DataError(
            f"the exposures log has actions that are not in the catalogue: {shown}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""),
            source="exposures",
            column="action",
            code="personalization.unknown-action",
            hint="add them to the actions catalogue, or set `unknown_actions: drop` to ignore "
            "those rows",
        )
    if unknown:
        warnings.append(f"{n_unknown} log row(s) with actions outside the catalogue were dropped")
    return n_unknown


def _check_rewards(con: Any, rew: str) -> None:
    (bad_reward,) = con.execute(
        f"SELECT count(*) FROM exposures WHERE {finite_number(rew)} IS NULL"
    ).fetchone()
    if bad_reward:
        raise DataError(
            f"{bad_reward} log row(s) have a missing or non-numeric (or non-finite) reward",
            source="exposures",
            column="reward",
            code="personalization.bad-reward",
            hint="reward is 0/1 (converted or not) or a value such as revenue; never empty",
        )


def _check_propensities(con: Any, prop: str) -> None:
    bad = con.execute(
        f"SELECT count(*), min(coalesce(TRY_CAST({prop} AS DOUBLE), NULL)), max(coalesce(TRY_CAST({prop} AS DOUBLE), NULL)) "
        f"FROM exposures WHERE NOT coalesce(TRY_CAST({prop} AS DOUBLE) > 0 AND "
        f"coalesce(TRY_CAST({prop} AS DOUBLE), NULL) <= 1, false)"
    ).fetchone()
    if bad[0]:
        raise DataError(
            f"{bad[0]} log row(s) have a propensity outside (0, 1] or missing "
            f"(seen from {bad[1]} to {bad[2]})",
            source="exposures",
            column="propensity",
            code="personalization.bad-propensity",
            hint="propensity is the probability the old policy chose that action: > 0 and "
            "<= 1; drop the column if it is not known",
        )


def _read_log(
    con: Any,
    ts: str | None,
    act: str,
    rew: str,
    prop: str | None,
    action_ids: list[str],
    warnings: list[str],
) -> tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64] | None, int
]:
    """The usable rows (customer row, action, reward, propensity) in a stable order, and
    how many rows were for unknown customers."""
    ts_order = f"coalesce(TRY_CAST(e.{quote_ident(ts)} AS TIMESTAMP), NULL), " if ts else ""
    order = f"e.customer_id::VARCHAR, {ts_order}a, r"
    data = con.execute(
        f"""
        WITH c AS (
            SELECT customer_id::VARCHAR AS customer_id,
                   row_number() OVER (ORDER BY customer_id::VARCHAR) - 1 AS idx
            FROM customers
        )
        SELECT c.idx AS idx,
               list_position(?::VARCHAR[], e.{act}::VARCHAR) - 1 AS a,
               coalesce(TRY_CAST(e.{rew} AS DOUBLE), NULL) AS r
               {f", coalesce(TRY_CAST(e.{prop} AS DOUBLE), NULL) AS p" if prop else ""}
        FROM exposures e LEFT JOIN c ON e.customer_id::VARCHAR = c.customer_id
        WHERE list_contains(?::VARCHAR[], e.{act}::VARCHAR)
        ORDER BY {order}
        """,
        [action_ids, action_ids],
    ).fetchnumpy()
    idx_raw = data["idx"]
    known = ~np.ma.getmaskarray(idx_raw)
    n_unknown_cust = int((~known).sum())
    if n_unknown_cust:
        warnings.append(
            f"{n_unknown_cust} log row(s) are for customers missing from the customers table "
            "and were left out"
        )
    if not known.any():
        raise DataError(
            "no exposure matches a customer of the customers table",
            source="exposures",
            column="customer_id",
            code="personalization.empty-log",
            hint="check both files use the same customer ids",
        )
    idx = np.ma.getdata(idx_raw)[known].astype(np.int64)
    a = np.ma.getdata(data["a"])[known].astype(np.int64)
    r = np.ma.getdata(data["r"])[known].astype(np.float64)
    p = np.ma.getdata(data["p"])[known].astype(np.float64) if prop else None
    if idx.size < 10:
        raise DataError(
            f"only {idx.size} usable exposure row(s): too few to learn from",
            source="exposures",
            code="personalization.too-few-exposures",
            hint="provide at least a few hundred past sends per action",
        )
    return idx, a, r, p, n_unknown_cust
