"""The truth check of ``conductor demo``: how close the agents got to the generator's truth.

:mod:`conductor.demo._data` draws the demo retailer's data from known models and writes
those models as ``truth.json``. The helpers here score an answer against them (attribution
shares, a budget split, a personalization policy), and :func:`truth_check` puts the three
together into the ``truth_check.json`` document the demo writes beside its run (keys in
``docs/demo.md``). Agents never see any of this: it is how a user learns whether to
trust them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from conductor.demo._data import DemoTruth
from conductor.errors import ConductorError, DataError

__all__ = [
    "ATTRIBUTION_LIMIT",
    "UPLIFT_LIMIT",
    "attribution_check",
    "attribution_error",
    "budget_check",
    "contacted_without_consent",
    "personalization_check",
    "policy_value",
    "true_policy_value",
    "truth_check",
    "uplift_share",
]

_NO_ACTION = "no_offer"


def attribution_error(truth: DemoTruth, credits: Mapping[str, float]) -> dict[str, float]:
    """Per-channel absolute error of an attribution's credit shares against the truth.

    Credits may be conversions or revenue (any scale): both are turned into shares.
    Channels missing from ``credits`` count as zero; unknown channels are included with
    a true share of zero.

    Raises:
        ConductorError: The credits do not add up to a positive total.
    """
    total = float(sum(credits.values()))
    if not math.isfinite(total) or total <= 0:
        raise ConductorError(
            "the attribution credits do not add up to a positive total",
            code="demo.bad-credits",
            hint="pass each channel's credited conversions (or revenue)",
        )
    names = list(truth.journey.shares) + [c for c in credits if c not in truth.journey.shares]
    return {
        n: float(abs(credits.get(n, 0.0) / total - truth.journey.shares.get(n, 0.0))) for n in names
    }


def uplift_share(
    truth: DemoTruth,
    allocation: Mapping[str, float],
    budget: float,
    weeks: float,
    *,
    max_share: Mapping[str, float] | None = None,
    excluded: Sequence[str] = (),
    max_change: float | None = None,
) -> float:
    """Share of the true optimal uplift (over the current mix) an allocation achieves.

    Both the allocation and the optimum are evaluated on the true curves at steady state,
    spend spread evenly over ``weeks``. 1.0 means as good as the true optimum, 0.0 no
    better than keeping the current mix, negative worse than it. Pass the same caps the
    agent had to respect so the optimum it is compared with respects them too. When
    nothing within the caps beats the current mix, the result is 1.0 for an allocation
    that reaches the capped optimum and 0.0 otherwise.

    Args:
        truth: The demo truth.
        allocation: Channel -> spend over the whole horizon.
        budget: Total budget over the horizon.
        weeks: Horizon length in weeks.
        max_share: Channel -> maximum budget share (``"*"`` for all channels).
        excluded: Channels that may get nothing.
        max_change: Largest relative change per channel against the current mix.
    """
    plan = truth.budget.optimal_plan(
        budget, weeks, max_share=max_share, excluded=excluded, max_change=max_change
    )
    got = truth.budget.weekly_revenue({c: v / weeks for c, v in allocation.items()}) * weeks
    if plan.uplift <= 1e-9 * max(plan.revenue, 1.0):
        # Under these caps nothing beats the current mix, so there is no uplift to share:
        # full marks for reaching the (capped) optimum, none otherwise.
        return 1.0 if got >= plan.revenue * (1 - 1e-6) else 0.0
    return (got - plan.current_revenue) / plan.uplift


_NO_ACTION_VALUES = ("", "none", "suppressed", "holdout", "control")


def _check_assignments(
    truth: DemoTruth, con: duckdb.DuckDBPyConnection, no_action: Sequence[str]
) -> None:
    known = set(truth.policy.actions) | set(no_action)
    unknown = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT action FROM assign WHERE action IS NOT NULL LIMIT 50"
        ).fetchall()
        if r[0] not in known
    ]
    if unknown:
        raise DataError(
            f"unknown actions in the assignments: {', '.join(unknown[:5])}",
            code="demo.unknown-action",
            hint=f"actions must be one of: {', '.join(truth.policy.actions)}",
        )
    dup = con.execute(
        "SELECT customer_id FROM assign GROUP BY 1 HAVING count(*) > 1 LIMIT 1"
    ).fetchall()
    if dup:
        raise DataError(
            f"customer {dup[0][0]} has more than one assignment",
            code="demo.duplicate-assignment",
            hint="write one row per customer",
        )


def _rewards_sql(truth: DemoTruth, out_dir: Path) -> str:
    path = out_dir / truth.policy.reward_table
    if not path.exists():
        raise DataError(
            "the true reward table is missing from the demo data folder",
            file=path,
            code="demo.no-truth",
            hint="regenerate the data with `conductor demo`",
        )
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def _value(
    truth: DemoTruth, out_dir: Path, con: duckdb.DuckDBPyConnection, no_action: Sequence[str]
) -> float:
    _check_assignments(truth, con, no_action)
    cases = " ".join(
        f"WHEN '{a}' THEN r.\"p_{a}\"" for a in truth.policy.actions if a != _NO_ACTION
    )
    row = con.execute(
        f"""SELECT avg(CASE a.action {cases} ELSE r."p_{_NO_ACTION}" END)
            FROM {_rewards_sql(truth, out_dir)} r LEFT JOIN assign a
              ON a.customer_id = r.customer_id
            WHERE r.consent_marketing"""
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def _open_assignments(
    path: Path, customer_column: str, action_column: str
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    cust = '"' + customer_column.replace('"', '""') + '"'
    act = '"' + action_column.replace('"', '""') + '"'
    src = "read_parquet('" + str(path).replace("'", "''") + "')"
    try:
        con.execute(
            f"CREATE VIEW assign AS SELECT CAST({cust} AS VARCHAR) AS customer_id, "
            f"CAST({act} AS VARCHAR) AS action FROM {src}"
        )
        con.execute("SELECT count(*) FROM assign").fetchall()
    except duckdb.Error as exc:
        con.close()
        raise DataError(
            f"cannot read the assignments: {str(exc).splitlines()[0]}",
            file=path,
            code="demo.bad-assignments",
            hint=f"expected Parquet with columns {customer_column!r} and {action_column!r}",
        ) from None
    return con


def policy_value(
    truth: DemoTruth,
    out_dir: Path,
    assignments_parquet: Path,
    *,
    customer_column: str = "customer_id",
    action_column: str = "action",
    no_action: Sequence[str] = _NO_ACTION_VALUES,
) -> float:
    """True expected reward per eligible customer of a policy's assignments file.

    The population is every customer with marketing consent (the same population as the
    truth's oracle, logging and best-single values). Customers missing from the file, or
    given null or one of the ``no_action`` values, count as ``no_offer``.

    Args:
        truth: The demo truth.
        out_dir: The demo data folder (holds the per-customer reward probabilities).
        assignments_parquet: Parquet with one row per customer and the chosen action.
        customer_column: Column holding the customer id.
        action_column: Column holding the action id.
        no_action: Values meaning "nothing sent".

    Raises:
        DataError: The file cannot be read, lacks the columns, repeats a customer or names
            an unknown action.
    """
    con = _open_assignments(assignments_parquet, customer_column, action_column)
    try:
        return _value(truth, out_dir, con, no_action)
    finally:
        con.close()


def true_policy_value(
    truth: DemoTruth,
    out_dir: Path,
    assignments: Mapping[str, str | None],
    *,
    no_action: Sequence[str] = _NO_ACTION_VALUES,
) -> float:
    """True expected reward per eligible customer of ``customer_id -> action``.

    Same rules as :func:`policy_value`.
    """
    table = pa.table(
        {
            "customer_id": pa.array(list(assignments.keys()), pa.string()),
            "action": pa.array(list(assignments.values()), pa.string()),
        }
    )
    con = duckdb.connect(":memory:")
    try:
        con.register("assign", table)
        return _value(truth, out_dir, con, no_action)
    finally:
        con.close()


def contacted_without_consent(
    truth: DemoTruth,
    out_dir: Path,
    assignments_parquet: Path,
    *,
    customer_column: str = "customer_id",
    action_column: str = "action",
    no_action: Sequence[str] = _NO_ACTION_VALUES,
) -> int:
    """How many customers without marketing consent were assigned an action (should be 0).

    ``no_offer``, null and the ``no_action`` values do not count as contact.

    Raises:
        DataError: As for :func:`policy_value`.
    """
    con = _open_assignments(assignments_parquet, customer_column, action_column)
    try:
        _check_assignments(truth, con, no_action)
        quiet = ", ".join("'" + v.replace("'", "''") + "'" for v in (*no_action, _NO_ACTION))
        row = con.execute(
            f"""SELECT count(*) FROM assign a JOIN {_rewards_sql(truth, out_dir)} r
                  ON a.customer_id = r.customer_id
                WHERE NOT r.consent_marketing AND a.action IS NOT NULL
                  AND a.action NOT IN ({quiet})"""
        ).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


# ---------------------------------------------------------------------------------------
# The demo's truth check document
# ---------------------------------------------------------------------------------------

ATTRIBUTION_LIMIT = 0.03
"""Largest acceptable mean absolute error of attribution shares (3 percentage points)."""
UPLIFT_LIMIT = 0.9
"""Smallest acceptable share of the true optimal uplift a budget plan should reach."""


def _r(x: float, digits: int = 6) -> float:
    return round(float(x), digits)


def attribution_check(
    truth: DemoTruth, credits: Mapping[str, float], *, step: str, model: str
) -> dict[str, Any]:
    """Per-channel true and estimated credit shares, their errors and the mean error."""
    errors = attribution_error(truth, credits)
    total = float(sum(credits.values()))
    channels = {
        c: {
            "true": _r(truth.journey.shares.get(c, 0.0)),
            "estimated": _r(credits.get(c, 0.0) / total),
            "abs_error": _r(err),
        }
        for c, err in errors.items()
    }
    mean = sum(errors.values()) / len(errors)
    return {
        "step": step,
        "model": model,
        "channels": channels,
        "mean_abs_error": _r(mean),
        "max_abs_error": _r(max(errors.values())),
    }


def _caps(spec: Mapping[str, Any]) -> dict[str, float]:
    caps: dict[str, float] = {}
    for source in (spec.get("brand_max_share") or {}, spec.get("max_share") or {}):
        for k, v in source.items():
            caps[k] = min(float(v), caps.get(k, 1.0))
    return caps


def _estimate(value: Any) -> float | None:
    """A number, or the ``value`` of an estimate with an interval."""
    if isinstance(value, Mapping):
        value = value.get("value")
    return _r(float(value), 2) if isinstance(value, int | float) else None


def budget_check(
    truth: DemoTruth, plan: Mapping[str, Any], spec: Mapping[str, Any], *, step: str
) -> dict[str, Any]:
    """The plan against the true optimum under the same constraints, on the true curves.

    Args:
        truth: The demo truth.
        plan: The budget step's output (``BudgetPlan`` as JSON).
        spec: The budget step's spec (``BudgetSpec`` as JSON): its caps, exclusions and
            maximum change are imposed on the true optimum too.
        step: The step id.
    """
    budget = float(plan["budget"])
    weeks = float(plan["horizon_weeks"])
    allocation = {str(c["channel"]): float(c["amount"]) for c in plan["channels"]}
    known = set(truth.budget.curves)
    excluded = sorted(
        {*(spec.get("excluded_channels") or []), *(spec.get("banned_channels") or [])} & known
    )
    caps = _caps(spec)
    max_change = spec.get("max_change")
    best = truth.budget.optimal_plan(
        budget, weeks, max_share=caps, excluded=excluded, max_change=max_change
    )
    free = truth.budget.optimal_plan(budget, weeks)
    got = truth.budget.weekly_revenue({c: v / weeks for c, v in allocation.items()}) * weeks
    share = uplift_share(
        truth, allocation, budget, weeks, max_share=caps, excluded=excluded, max_change=max_change
    )
    return {
        "step": step,
        "currency": plan.get("currency"),
        "budget": _r(budget, 2),
        "weeks": _r(weeks, 4),
        "constraints": {"max_share": caps, "max_change": max_change, "excluded": excluded},
        "channels": {
            c: {
                "current": _r(best.current_allocation.get(c, 0.0), 2),
                "recommended": _r(allocation.get(c, 0.0), 2),
                "true_optimal": _r(best.allocation.get(c, 0.0), 2),
            }
            for c in truth.budget.curves
        },
        "current_revenue": _r(best.current_revenue, 2),
        "recommended_revenue": _r(got, 2),
        "optimal_revenue": _r(best.revenue, 2),
        "optimal_uplift": _r(best.uplift, 2),
        "achieved_uplift": _r(got - best.current_revenue, 2),
        "uplift_share": _r(share, 4),
        "agent_expected_uplift": _estimate(plan.get("uplift")),
        "unconstrained_optimal_uplift": _r(free.uplift, 2),
    }


def personalization_check(
    truth: DemoTruth, data_dir: Path, plan: Mapping[str, Any], *, step: str
) -> dict[str, Any]:
    """The policy's true value against the logging policy, the best single action and the oracle."""
    path = Path(str(plan["assignments_path"]))
    value = policy_value(truth, data_dir, path)
    learned = policy_value(truth, data_dir, path, action_column="policy_action")
    pol = truth.policy
    gap = pol.oracle_value - pol.logging_value
    return {
        "step": step,
        "metric": "expected purchase rate per customer with marketing consent",
        "eligible_customers": pol.eligible_customers,
        "policy_value": _r(value),
        "learned_policy_value": _r(learned),
        "logging_value": _r(pol.logging_value),
        "best_single_action": pol.best_single_action,
        "best_single_value": _r(pol.best_single_value),
        "oracle_value": _r(pol.oracle_value),
        "share_of_oracle_gain": _r((value - pol.logging_value) / gap, 4) if gap > 0 else None,
        "contacted_without_consent": contacted_without_consent(truth, data_dir, path),
        "contacted_suppressed": _contacted_suppressed(data_dir, path),
    }


def _contacted_suppressed(data_dir: Path, assignments: Path) -> int:
    def lit(p: Path) -> str:
        return "'" + str(p).replace("'", "''") + "'"

    con = duckdb.connect(":memory:")
    try:
        row = con.execute(
            f"""SELECT count(*) FROM read_parquet({lit(assignments)}) a
                JOIN read_parquet({lit(data_dir / "customers.parquet")}) c
                  ON a.customer_id = c.customer_id
                WHERE c.suppressed AND a.action IS NOT NULL AND a.action <> '{_NO_ACTION}'"""
        ).fetchone()
    except duckdb.Error as exc:
        raise DataError(
            f"cannot check the suppressed customers: {str(exc).splitlines()[0]}",
            file=assignments,
            code="demo.bad-assignments",
            hint="regenerate the demo data and run the demo again",
        ) from None
    finally:
        con.close()
    return int(row[0]) if row else 0


def truth_check(
    truth: DemoTruth,
    data_dir: Path,
    *,
    plans: Mapping[str, Mapping[str, Any]],
    outputs: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The ``truth_check.json`` document for a finished demo run.

    Args:
        truth: The generator's truth.
        data_dir: The demo data folder (holds the true reward table).
        plans: Step id -> ``{"agent": ..., "spec": ...}`` as in the run state.
        outputs: Step id -> the step's output as JSON.

    Returns:
        ``version``, ``data``, ``attribution``, ``budget``, ``personalization`` (each
        None when the pipeline has no such step), ``checks`` (name, ok, detail) and ``ok``.
    """
    by_agent = {str(p["agent"]): sid for sid, p in plans.items() if sid in outputs}
    doc: dict[str, Any] = {
        "version": 1,
        "data": {
            "customers": truth.customers,
            "seed": truth.seed,
            "today": truth.today.isoformat(),
            "folder": str(data_dir),
        },
        "attribution": None,
        "budget": None,
        "personalization": None,
    }
    checks: list[dict[str, Any]] = []
    sid = by_agent.get("journey_analytics")
    if sid is not None:
        models = outputs[sid].get("attribution") or []
        chosen = next((m for m in models if str(m["model"]).startswith("markov")), None)
        chosen = chosen or (models[0] if models else None)
        if chosen is not None:
            att = attribution_check(
                truth, chosen["conversions"], step=sid, model=str(chosen["model"])
            )
            doc["attribution"] = att
            checks.append(
                {
                    "name": "attribution",
                    "ok": att["mean_abs_error"] <= ATTRIBUTION_LIMIT,
                    "detail": f"{att['model']} credit shares are "
                    f"{att['mean_abs_error'] * 100:.1f} percentage points off the true removal "
                    f"effects on average (limit {ATTRIBUTION_LIMIT * 100:.0f})",
                }
            )
    sid = by_agent.get("budget_allocation")
    if sid is not None:
        bud = budget_check(truth, outputs[sid], plans[sid]["spec"], step=sid)
        doc["budget"] = bud
        checks.append(
            {
                "name": "budget",
                "ok": bud["uplift_share"] >= UPLIFT_LIMIT,
                "detail": f"the plan reaches {bud['uplift_share']:.0%} of the true optimal "
                f"uplift under the same constraints (limit {UPLIFT_LIMIT:.0%})",
            }
        )
    sid = by_agent.get("personalization")
    if sid is not None:
        per = personalization_check(truth, data_dir, outputs[sid], step=sid)
        doc["personalization"] = per
        checks.append(
            {
                "name": "personalization",
                "ok": per["policy_value"] > per["logging_value"],
                "detail": f"true value {per['policy_value']:.4f} per consented customer vs "
                f"{per['logging_value']:.4f} for today's policy and "
                f"{per['oracle_value']:.4f} for the oracle",
            }
        )
        quiet = per["contacted_without_consent"] == 0 and per["contacted_suppressed"] == 0
        checks.append(
            {
                "name": "consent",
                "ok": quiet,
                "detail": "nobody without consent or on the suppression list was contacted"
                if quiet
                else f"{per['contacted_without_consent']} without consent and "
                f"{per['contacted_suppressed']} suppressed customers were contacted",
            }
        )
    doc["checks"] = checks
    doc["ok"] = all(c["ok"] for c in checks)
    return doc
