"""A goal explained for people: one row per field, with the text it was read from."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from conductor.goals._model import BusinessGoal, Constraint, Kpi, Target


def describe_goal(goal: BusinessGoal) -> list[tuple[str, str, str]]:
    """Rows ``(field, value, source)`` that explain a goal, for the CLI to print.

    ``source`` is the quoted text the value was parsed from, ``"default: <reason>"`` when
    the parser chose it, or ``"given"`` for structured fields.

    Args:
        goal: The goal to describe.

    Returns:
        One row per field that has a value or a default; one row per constraint.
    """
    currency = goal.budget.currency if goal.budget else ""

    def source(name: str) -> str:
        if name in goal.defaults:
            return f"default: {goal.defaults[name]}"
        span = goal.spans.get(name)
        return f"{span.text!r}" if span else "given"

    rows: list[tuple[str, str, str]] = [
        ("objective", goal.objective.value, source("objective")),
        ("kpi", goal.kpi.value, source("kpi")),
    ]
    if goal.target is not None:
        rows.append(("target", _describe_target(goal.target, goal.kpi, currency), source("target")))
    if goal.budget is not None:
        src = source("budget")
        if "budget.currency" in goal.defaults and not src.startswith("default"):
            src += f" (currency default: {goal.defaults['budget.currency']})"
        rows.append(("budget", str(goal.budget), src))
    if goal.horizon is not None:
        h = goal.horizon
        value = f"{h.start.isoformat()} to {h.end.isoformat()} ({h.days} days)"
        rows.append(("horizon", f"{h.label}: {value}" if h.label else value, source("horizon")))
    if goal.audience:
        rows.append(("audience", goal.audience, source("audience")))
    if goal.markets:
        rows.append(("markets", ", ".join(goal.markets), source("markets")))
    if goal.channels is not None or "channels" in goal.defaults:
        value = ", ".join(goal.channels) if goal.channels is not None else "any"
        rows.append(("channels", value, source("channels")))
    if goal.excluded_channels:
        rows.append(
            ("excluded_channels", ", ".join(goal.excluded_channels), source("excluded_channels"))
        )
    for c in goal.constraints:
        rows.append(
            (
                "constraint",
                describe_constraint(c, currency),
                f"{c.span.text!r}" if c.span else "given",
            )
        )
    return rows


def _money(value: float, currency: str) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {currency}".strip()


def _describe_target(t: Target, kpi: Kpi, currency: str) -> str:
    rate = kpi in (Kpi.RETENTION_RATE, Kpi.CHURN_RATE)
    money = kpi in (Kpi.REVENUE, Kpi.AOV, Kpi.CPA)

    def level(v: float) -> str:
        if rate:
            return f"{v * 100:g}%"
        return _money(v, currency) if money else _money(v, "")

    if t.kind == "relative":
        return f"{t.value * 100:+.4g}%"
    if t.kind == "points":
        return f"{t.value:+g} points"
    if t.kind == "ceiling":
        return f"at most {level(t.value)}"
    if t.kind == "floor":
        return f"at least {level(t.value)}"
    base = f" (from {level(t.baseline)})" if t.baseline is not None else ""
    return f"{level(t.value)}{base}"


def describe_constraint(c: Constraint, currency: str = "") -> str:
    """A constraint in words: ``at most 40% of the budget on search``.

    Args:
        c: The constraint.
        currency: The goal's currency, written after amounts of money.
    """
    on = f" on {c.channel}" if c.channel else ""
    return {
        "max_cpa": f"CPA at most {_money(c.value, currency)}{on}",
        "min_roas": f"ROAS at least {c.value:g}{on}",
        "max_channel_share": f"at most {c.value:.0%} of the budget{on}",
        "min_channel_spend": f"at least {_money(c.value, currency)}{on}",
        "max_channel_spend": f"at most {_money(c.value, currency)}{on}",
        "max_total_spend": f"total spend at most {_money(c.value, currency)}",
    }[c.kind]
