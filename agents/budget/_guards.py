"""Guards of the budget agent: refuse what would be silently wrong, flag what is doubtful.

Errors stop the run when the answer would be wrong without anyone seeing it: a week
exported twice doubles its spend, a goal KPI the agent cannot model would be swapped for
revenue. Caveats let the plan through but lead its warnings and its summary, because
they put the plan itself in doubt rather than one of its details: a budget far from
what the channels have been spending (the curves are extrapolated), or curves that
forecast held-out weeks no better than their average (the gain is not supported).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents.budget._schema import Validation
from conductor import DataError, Kpi, SpecError
from conductor.data import quote_ident

__all__ = [
    "GOAL_KPIS",
    "check_duplicate_rows",
    "current_mix_caveat",
    "holdout_caveat",
    "kpi_from_goal",
    "run_rate_caveat",
]

GOAL_KPIS: dict[Kpi, str] = {
    Kpi.REVENUE: "revenue",
    Kpi.ROAS: "revenue",
    Kpi.CONVERSIONS: "conversions",
    Kpi.CPA: "conversions",
}
"""Goal KPI -> the KPI column the budget agent models for it."""

LOW_PACE = 0.5  # budget / recent pace below this: a caveat
HIGH_PACE = 2.0  # ... above this: a caveat
_EXAMPLES = 3  # duplicated keys quoted in the message


def kpi_from_goal(kpi: Kpi, *, step: str, agent: str, said: str = "") -> str:
    """The KPI column to model for the goal's KPI.

    Raises:
        SpecError: ``budget.unsupported-kpi`` for a KPI the agent cannot maximise with
            spend (a rate such as retention or churn, an average such as AOV, reach).
    """
    column = GOAL_KPIS.get(kpi)
    if column is not None:
        return column
    quoted = f' ("{said}")' if said else ""
    raise SpecError(
        f"the goal's KPI is {kpi.value}{quoted}, which the budget agent cannot model: it "
        "splits spend to maximise a KPI that adds up over weeks and channels, revenue "
        "(also for a ROAS goal) or conversions (also for a CPA goal)",
        step=step,
        agent=agent,
        field="kpi",
        code="budget.unsupported-kpi",
        hint=(
            "say which outcome the media budget should drive in the step's `with:`, e.g. "
            "`with: {kpi: revenue}` (or `kpi: conversions`, or any numeric column of "
            "`outcomes`)"
        ),
    )


def check_duplicate_rows(
    con: Any, source: str, columns: Sequence[str], date_col: str, summed: Sequence[str]
) -> None:
    """Refuse rows that repeat every column but the numbers being summed.

    Rows of one week are added up (daily data, or a spend table split by campaign), so
    a repeated row is not an error the weekly totals would show: one week exported
    twice simply counts double. Rows that differ in any other column (a campaign, a
    region) are parts of one total and stay.

    Raises:
        DataError: ``data.duplicate-rows`` with the number of repeated keys and the first few.
    """
    keys = [c for c in columns if c not in set(summed)]
    if not keys or date_col not in keys:
        return
    exprs = [
        f"TRY_CAST({quote_ident(c)} AS DATE)" if c == date_col else quote_ident(c) for c in keys
    ]
    keys_sql = ", ".join(exprs)
    dup_sql = (
        f"SELECT {keys_sql}, count(*) AS n FROM {quote_ident(source)} "
        f"GROUP BY {keys_sql} HAVING count(*) > 1"
    )
    groups, rows = con.execute(f"SELECT count(*), coalesce(sum(n), 0) FROM ({dup_sql})").fetchone()
    if not groups:
        return
    first = con.execute(f"{dup_sql} ORDER BY {keys_sql} LIMIT {_EXAMPLES}").fetchall()
    what = f"({', '.join(keys)})" if len(keys) > 1 else keys[0]
    examples = ", ".join(
        " ".join(str(v) for v in r[:-1] if v is not None) + f" ({int(r[-1])} rows)" for r in first
    )
    raise DataError(
        f"{int(groups):,} {what} key(s) appear in more than one row ({int(rows) - int(groups):,} "
        f"extra row(s)), e.g. {examples}; rows of a week are added up, so a week exported "
        "twice would count double",
        source=source,
        column=date_col,
        code="data.duplicate-rows",
        hint=(
            "remove the repeated rows (an export appended twice, or two exports that "
            "overlap); rows that are genuine parts of one total need a column that tells "
            "them apart, such as the campaign"
        ),
    )


def run_rate_caveat(
    budget: float, recent_weekly: float, recent_weeks: int, horizon_weeks: float, currency: str
) -> str | None:
    """A caveat when the budget is far from the planned channels' recent pace.

    Args:
        budget: The money the plan may spend over the horizon.
        recent_weekly: The planned channels' mean weekly spend over the recent weeks.
        recent_weeks: How many recent weeks that mean covers.
        horizon_weeks: The plan's horizon.
        currency: ISO code, for the text.
    """
    pace = recent_weekly * horizon_weeks
    if pace <= 0 or budget <= 0:
        return None
    ratio = budget / pace
    if LOW_PACE <= ratio <= HIGH_PACE:
        return None
    if ratio < LOW_PACE:
        why = "far below the spend the response curves were fitted on"
    else:
        why = "far above the spend the response curves were fitted on (a yearly budget?)"
    weeks = f"{horizon_weeks:.3g}"
    return (
        f"your {budget:,.0f} {currency} over {weeks} weeks is {ratio:.0%} of the last "
        f"{recent_weeks} weeks' pace ({pace:,.0f} {currency} over the same {weeks} weeks): "
        f"{why}, so the plan extrapolates them; check the budget's amount and period"
    )


def holdout_caveat(holdout_r2: float | None, holdout_weeks: int) -> str | None:
    """A caveat when the curves forecast the held-out weeks worse than their average."""
    if holdout_r2 is None or holdout_weeks <= 0 or holdout_r2 >= 0:
        return None
    return (
        f"the response curves do not predict the {holdout_weeks} held-out weeks better than "
        f"their average (hold-out R² {holdout_r2:.2f}): the plan's gain over the current "
        "mix is not supported by the data; test the split (e.g. a geo or flighting test) "
        "before moving the budget"
    )


def current_mix_caveat(v: Validation, kpi: str) -> str:
    """Why the plan keeps the current mix: the media model lost to the baseline."""
    weeks = f"{v.folds} rolling test windows of {v.test_weeks} weeks"
    return (
        f"the plan keeps the current mix: out of sample ({weeks} from {v.first_test_week}) "
        f"the response model forecasts {kpi} no better than a baseline without media "
        f"(CRPS {v.media.crps:,.0f} against {v.baseline.crps:,.0f}, where 5% lower and a "
        f"lower squared error are needed; R² {v.media.r2:.2f} against "
        f"{v.baseline.r2:.2f}), so the data do not support moving money between channels "
        "and no gain is claimed; test the channels (e.g. a geo or go-dark test) to learn "
        "their effect (`cv_folds: 0` turns the check off)"
    )
