"""Business goals: the typed form of what the marketing lead asked for.

A goal is written in a pipeline either as free text (parsed by :func:`parse_goal`) or
as structured fields (validated directly into :class:`BusinessGoal`). Every parsed
field remembers the span of text it came from (``spans``), and every default the
parser chose is listed in ``defaults`` so it is never silent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from conductor.errors import GoalError

if TYPE_CHECKING:
    from conductor._goal_parser import Extraction

__all__ = [
    "BusinessGoal",
    "Channel",
    "Constraint",
    "Horizon",
    "Kpi",
    "Money",
    "Objective",
    "Span",
    "Target",
    "canonical_channel",
    "describe_goal",
    "goal_from_mapping",
    "parse_goal",
    "parse_goal_partial",
]


class Objective(StrEnum):
    """What the business wants to happen."""

    GROW_REVENUE = "grow_revenue"
    ACQUIRE = "acquire"
    RETAIN = "retain"
    CONVERT = "convert"
    AWARENESS = "awareness"
    EFFICIENCY = "efficiency"


class Kpi(StrEnum):
    """The number that measures success."""

    REVENUE = "revenue"
    CONVERSIONS = "conversions"
    CPA = "cpa"
    ROAS = "roas"
    RETENTION_RATE = "retention_rate"
    CHURN_RATE = "churn_rate"
    AOV = "aov"
    REACH = "reach"


class Channel(StrEnum):
    """Canonical marketing channels (synonyms such as 'SEM' map onto these)."""

    PAID_SEARCH = "paid_search"
    ORGANIC_SEARCH = "organic_search"
    SOCIAL = "social"
    EMAIL = "email"
    DISPLAY = "display"
    VIDEO = "video"
    TV = "tv"
    RADIO = "radio"
    AFFILIATE = "affiliate"
    SMS = "sms"
    PUSH = "push"
    TIKTOK = "tiktok"
    DIRECT_MAIL = "direct_mail"
    OOH = "ooh"
    PODCAST = "podcast"


def canonical_channel(name: str) -> Channel | None:
    """The canonical channel a name or synonym stands for ('Google Ads' -> paid_search).

    Agents use it to match the goal's channels to the channel names in their data, which
    may use a synonym ('search' in a spend file, paid_search in the goal). Underscores
    read as spaces ('google_ads'); normalise other separators first.

    Returns:
        The channel, or None when the name is not a known channel or synonym.
    """
    from conductor import _goal_lexicon as lex

    key = str(name).strip().lower()
    value = lex.CHANNELS.get(key) or lex.CHANNELS.get(key.replace("_", " "))
    return Channel(value) if value else None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Span(_Frozen):
    """Where in the goal text a value came from (character offsets, end exclusive)."""

    start: int = Field(ge=0, description="Offset of the first character.")
    end: int = Field(ge=0, description="Offset one past the last character.")
    text: str = Field(description="The text itself.")


class Money(_Frozen):
    """An amount of money."""

    amount: float = Field(ge=0, description="The amount, in units of `currency`.")
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD, EUR, GBP."
    )

    def __str__(self) -> str:
        return f"{self.amount:,.0f} {self.currency}"


class Target(_Frozen):
    """How far the KPI should move.

    ``relative``: +0.12 means +12 %. ``absolute``: reach ``value`` (optionally from
    ``baseline``). ``points``: change a rate by ``value`` percentage points (e.g. -2 for
    "reduce churn 2 points"). ``ceiling`` / ``floor``: keep the KPI at most / at least
    ``value`` (e.g. CPA under $40).
    """

    kind: Literal["relative", "absolute", "points", "ceiling", "floor"] = Field(
        description="How to read `value`."
    )
    value: float = Field(description="The number; its meaning depends on `kind`.")
    baseline: float | None = Field(
        default=None, description="Starting value, when the goal states one ('from 4,000')."
    )


class Horizon(_Frozen):
    """The period the goal is for (both dates inclusive)."""

    start: dt.date = Field(description="First day.")
    end: dt.date = Field(description="Last day.")
    label: str | None = Field(default=None, description="How it was said, e.g. 'Q3 2027'.")

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end < self.start:
            raise ValueError(f"horizon ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def days(self) -> int:
        """Length in days, inclusive."""
        return (self.end - self.start).days + 1

    @property
    def weeks(self) -> float:
        """Length in weeks."""
        return self.days / 7.0


class Constraint(_Frozen):
    """A rule the plan must respect.

    Kinds: ``max_cpa`` / ``min_roas`` (value), ``max_channel_share`` (channel, value as a
    share 0..1), ``min_channel_spend`` / ``max_channel_spend`` (channel, value as money in
    the goal's currency), ``max_total_spend`` (value).
    """

    kind: Literal[
        "max_cpa",
        "min_roas",
        "max_channel_share",
        "min_channel_spend",
        "max_channel_spend",
        "max_total_spend",
    ] = Field(description="Which rule.")
    value: float = Field(description="The bound.")
    channel: str | None = Field(default=None, description="Channel it applies to, if any.")
    span: Span | None = Field(default=None, description="Where in the goal text it was said.")


# The BusinessGoal fields that carry the goal's meaning (the rest is bookkeeping:
# text, spans, defaults, warnings), in the order people read them.
GOAL_VALUE_FIELDS: tuple[str, ...] = (
    "objective",
    "kpi",
    "target",
    "budget",
    "horizon",
    "audience",
    "markets",
    "channels",
    "excluded_channels",
    "constraints",
)


class BusinessGoal(_Frozen):
    """The typed business goal every step's spec is derived from."""

    objective: Objective = Field(description="What the business wants to happen.")
    kpi: Kpi = Field(description="The number that measures success.")
    target: Target | None = Field(default=None, description="How far the KPI should move.")
    budget: Money | None = Field(default=None, description="Money available for the horizon.")
    horizon: Horizon | None = Field(default=None, description="The period the goal is for.")
    audience: str | None = Field(default=None, description="Who the goal is about, in words.")
    markets: list[str] = Field(default_factory=list, description="Countries or regions.")
    channels: list[str] | None = Field(
        default=None, description="Channels to use; None means any the data knows."
    )
    excluded_channels: list[str] = Field(
        default_factory=list, description="Channels that must not be used."
    )
    constraints: list[Constraint] = Field(default_factory=list, description="Typed rules.")
    source_text: str | None = Field(
        default=None, description="The words the goal was parsed from, kept for audit."
    )
    spans: dict[str, Span] = Field(
        default_factory=dict, description="Field name -> the text span it was parsed from."
    )
    defaults: dict[str, str] = Field(
        default_factory=dict,
        description="Field name -> why the parser chose a default (never silent).",
    )
    warnings: list[str] = Field(
        default_factory=list, description="Contradictions or doubts found while parsing."
    )

    def constraint(self, kind: str, channel: str | None = None) -> Constraint | None:
        """The first constraint of a kind (and channel), if any."""
        for c in self.constraints:
            if c.kind == kind and (channel is None or c.channel == channel):
                return c
        return None


# --------------------------------------------------------------------------- parsing API

GOAL_EXAMPLE = "Grow revenue 12% in Q3 2027 with a $250k budget, keep CPA under $40, no TikTok"

_UNPARSED_HINT = (
    "say what should move and by how much, e.g. "
    f"{GOAL_EXAMPLE!r}; see docs/goals.md for what the parser understands"
)

# Fields of BusinessGoal a structured goal may give, plus `text` and `currency`.
_MAPPING_KEYS = frozenset(BusinessGoal.model_fields) | {"text", "currency"}

_DEFAULT_KPI: dict[str, str] = {
    "acquire": "conversions",
    "retain": "retention_rate",
    "awareness": "reach",
    "convert": "conversions",
    "grow_revenue": "revenue",
    "efficiency": "cpa",
}
_DEFAULT_OBJECTIVE: dict[str, str] = {
    "revenue": "grow_revenue",
    "conversions": "convert",
    "cpa": "efficiency",
    "roas": "efficiency",
    "retention_rate": "retain",
    "churn_rate": "retain",
    "aov": "grow_revenue",
    "reach": "awareness",
}


def parse_goal(text: str, *, today: dt.date | None = None) -> BusinessGoal:
    """Turn a goal written in plain words into a :class:`BusinessGoal`, with no LLM.

    Every parsed field records the text it came from in ``goal.spans``; every default
    the parser chose is explained in ``goal.defaults``; doubts go to ``goal.warnings``.
    Sentences that address the parser ("ignore previous instructions ...") are ignored
    and reported as warnings: goal text is data, never instructions.

    Args:
        text: The goal, e.g. ``"Grow revenue 12% in Q3 with $250k, no TikTok"``.
        today: The date relative periods ("Q3", "next 6 weeks") are resolved against;
            defaults to ``datetime.date.today()``.

    Returns:
        The typed goal.

    Raises:
        GoalError: ``goal.unparsed`` when no objective or KPI can be found,
            ``goal.contradiction`` when the goal contradicts itself, and
            ``goal.invalid-horizon`` / ``goal.invalid-value`` / ``goal.too-long`` for
            impossible dates, values or text.
    """
    from conductor import _goal_parser as gp

    if not isinstance(text, str):
        raise GoalError(
            f"a goal must be text, not {type(text).__name__}",
            code="goal.unparsed",
            hint=_UNPARSED_HINT,
        )
    day = today or dt.date.today()
    ex = gp.extract(text, day)
    return _finalise(ex, dict(ex.fields), dict(ex.spans), day, text)


def parse_goal_partial(
    text: str, *, today: dt.date | None = None
) -> tuple[dict[str, Any], dict[str, Span]]:
    """Whatever goal fields the deterministic grammar can find, without raising.

    Meant for the LLM path: the model fills what is missing, while every number stated
    in the text comes from here. No defaults are applied. Contradictions and other
    errors :func:`parse_goal` would raise are returned as warnings (prefixed with their
    code) instead.

    Args:
        text: The goal text.
        today: Date for resolving relative periods; defaults to today.

    Returns:
        ``(fields, spans)``: ``fields`` holds values ready for
        ``BusinessGoal.model_validate`` (plus ``source_text``, and ``warnings`` when there
        are any); ``spans`` maps each parsed field to its text span.
    """
    from conductor import _goal_parser as gp

    if not isinstance(text, str):
        return {"warnings": [f"goal.unparsed: a goal must be text, not {type(text).__name__}"]}, {}
    day = today or dt.date.today()
    ex = gp.extract(text, day)
    fields = dict(ex.fields)
    rate_notes: list[str] = []
    _total_rates(ex, fields, rate_notes, ())
    errors, doubts = gp.check(fields, text)
    warnings = list(ex.warnings) + doubts + rate_notes
    warnings += [f"{e.code}: {e.message}" for e in [*ex.errors, *errors]]
    fields["source_text"] = text
    if warnings:
        fields["warnings"] = list(dict.fromkeys(warnings))
    return fields, dict(ex.spans)


def goal_from_mapping(data: Mapping[str, Any], *, today: dt.date | None = None) -> BusinessGoal:
    """Build a goal from structured fields, e.g. a pipeline's ``goal:`` mapping.

    ``text`` may give the goal in words; the other keys override what the text says.
    Values may be written the friendly way: ``budget: "$250k"``, ``horizon: "Q3 2027"``,
    ``target: "+12%"``, ``channels: [Google Ads, Meta]``, ``constraints: ["CPA under $40"]``.

    Args:
        data: Field name -> value. Keys are ``BusinessGoal`` fields plus ``text`` and
            ``currency`` (the currency of a bare-number budget).
        today: Date for resolving relative periods; defaults to today.

    Returns:
        The typed goal.

    Raises:
        GoalError: naming the field when a value cannot be read (``goal.invalid-field``),
            a key is unknown (``goal.unknown-field``), or the goal has no objective or
            KPI, or contradicts itself (same codes as :func:`parse_goal`).
    """
    from conductor import _goal_parser as gp
    from conductor._goal_fields import _coerce_field

    if not isinstance(data, Mapping):
        raise GoalError(
            f"a structured goal must be a mapping of fields, not {type(data).__name__}",
            code="goal.invalid-field",
            hint=f"write e.g. {{text: {GOAL_EXAMPLE!r}}} or {{objective: grow_revenue, kpi: revenue}}",
        )
    unknown = sorted(str(k) for k in data if k not in _MAPPING_KEYS)
    if unknown:
        raise GoalError(
            f"unknown goal field {unknown[0]!r}",
            code="goal.unknown-field",
            hint="known fields: " + ", ".join(sorted(_MAPPING_KEYS)),
        )
    day = today or dt.date.today()
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise GoalError(
            "goal field 'text' must be text",
            code="goal.invalid-field",
            hint=f"write e.g. text: {GOAL_EXAMPLE!r}",
        )
    ex = gp.extract(text or "", day)
    fields = dict(ex.fields)
    spans = dict(ex.spans)
    given: set[str] = set()
    order = [k for k in ("kpi", "objective") if k in data] + [
        k for k in data if k not in ("kpi", "objective", "text", "currency")
    ]
    currency = (
        _coerce_field("currency", data["currency"], fields, None, day)
        if "currency" in data
        else None
    )
    for key in order:
        value = _coerce_field(key, data[key], fields, currency, day)
        fields[key] = value
        spans.pop(key, None)
        given.add(key)
        if key == "budget" and isinstance(value, Money):
            ex.currency_explicit = True
    if currency and "budget" not in data and isinstance(fields.get("budget"), Money):
        fields["budget"] = Money(amount=fields["budget"].amount, currency=currency)
        ex.currency_explicit = True
    return _finalise(ex, fields, spans, day, text, given=given)


def _periods(horizon: Horizon, unit: str) -> float:
    """How many days / weeks / months / quarters / years the horizon spans."""
    after = horizon.end + dt.timedelta(days=1)
    # Whole calendar months ("Q2", "the next 6 months" from the 26th to the 25th) count as
    # such; any other span in average months.
    months = (
        (after.year - horizon.start.year) * 12 + after.month - horizon.start.month
        if after.day == horizon.start.day
        else horizon.days / (365.25 / 12)
    )
    per_unit = {"day": horizon.days, "week": horizon.weeks, "month": months, "quarter": months / 3}
    return float(per_unit.get(unit, months / 12))


def _times(value: Target | Money | Constraint, n: float) -> tuple[Any, str, str]:
    """A per-period value as its total over ``n`` periods: (total, the rate, the total)."""
    if isinstance(value, Target):
        base = None if value.baseline is None else value.baseline * n
        total = Target(kind="absolute", value=value.value * n, baseline=base)
        return total, _money(value.value, ""), f"a target of {_money(total.value, '')}"
    if isinstance(value, Money):
        total_m = Money(amount=value.amount * n, currency=value.currency)
        text = f"a budget of {_money(total_m.amount, total_m.currency)}"
        return total_m, _money(value.amount, ""), text
    total_c = value.model_copy(update={"value": value.value * n})
    return total_c, _money(value.value, ""), _money(total_c.value, "")


def _total_rates(
    ex: Extraction, fields: dict[str, Any], warnings: list[str], given: Collection[str]
) -> None:
    """Total a target, budget or spending cap stated per period ('500 a month') over the
    horizon, in ``fields``.

    Fields in ``given`` (stated as structured fields) are left alone; without a horizon
    a rate cannot be totalled, and a warning says so.
    """
    target = fields.get("target")
    rates: list[tuple[str, int | None, tuple[str, str]]] = []
    absolute = isinstance(target, Target) and target.kind == "absolute"
    if ex.target_per and "target" not in given and absolute:
        rates.append(("target", None, ex.target_per))
    if ex.budget_per and "budget" not in given and isinstance(fields.get("budget"), Money):
        rates.append(("budget", None, ex.budget_per))
    constraints = list(fields.get("constraints") or [])
    if "constraints" not in given:
        rates += [
            ("constraints", i, per) for i, per in ex.constraint_per.items() if i < len(constraints)
        ]
    horizon = fields.get("horizon")
    for key, i, (unit, said) in rates:
        if not isinstance(horizon, Horizon):
            warnings.append(f"{said!r} is a rate, but no period is stated to total it over")
            continue
        n = _periods(horizon, unit)
        total, rate, total_text = _times(fields[key] if i is None else constraints[i], n)
        if i is None:
            fields[key] = total
        else:
            span = total.span
            if span is not None and said.startswith(span.text):  # quote "... a month" too
                total = total.model_copy(
                    update={"span": Span(start=span.start, end=span.start + len(said), text=said)}
                )
            constraints[i] = total
            fields["constraints"] = constraints
        label = horizon.label or f"{horizon.start} to {horizon.end}"
        note = f"{said!r} is a rate: read as {rate} per {unit} over {label} ({n:.3g} {unit}s)"
        # A cap that is also the budget ("don't spend more than $50k a month") is said once.
        if not any(w.startswith(note) for w in warnings):
            warnings.append(f"{note}, {total_text} in total")


def _finalise(
    ex: Extraction,
    fields: dict[str, Any],
    spans: dict[str, Span],
    today: dt.date,
    text: str | None,
    *,
    given: set[str] | frozenset[str] = frozenset(),
) -> BusinessGoal:
    """Check, apply stated defaults, and build the goal (raising the first problem)."""
    from conductor import _goal_parser as gp

    for key in ("spans", "defaults", "warnings", "source_text"):
        if key in given:
            continue
        fields.pop(key, None)
    defaults: dict[str, str] = dict(fields.pop("defaults", None) or {})
    warnings: list[str] = list(fields.pop("warnings", None) or [])
    if fields.get("horizon") is None and "horizon" not in given:
        q = (today.month - 1) // 3 + 1
        year, q = (today.year + 1, 1) if q == 4 else (today.year, q + 1)
        start = dt.date(year, 3 * q - 2, 1)
        end = dt.date(year + (1 if q == 4 else 0), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(1)
        fields["horizon"] = Horizon(start=start, end=end, label=f"Q{q} {year}")
        defaults["horizon"] = f"no period stated; the next quarter, Q{q} {year}, was assumed"
    # Rates are totals before the checks compare amounts ("$90k a month" is no cap below a
    # $250k quarter).
    rate_notes: list[str] = []
    _total_rates(ex, fields, rate_notes, given)
    errors, doubts = gp.check(fields, text)
    problems = [*ex.errors, *errors]
    if problems:
        first = problems[0]
        if len(problems) > 1:
            more = "; ".join(p.message for p in problems[1:])
            first = GoalError(
                f"{first.message} (also: {more})", text=text, code=first.code, hint=first.hint
            )
        raise first
    warnings += [w for w in [*ex.warnings, *doubts, *rate_notes] if w not in warnings]
    objective, kpi = fields.get("objective"), fields.get("kpi")
    if objective is None and kpi is None:
        said = f" in {text!r}" if text else ""
        raise GoalError(
            f"no objective or KPI found{said}",
            text=text,
            missing=["objective", "kpi"],
            code="goal.unparsed",
            hint=_UNPARSED_HINT,
        )
    if kpi is None:
        fields["kpi"] = _DEFAULT_KPI[str(objective)]
        defaults["kpi"] = f"no KPI named; {fields['kpi']} measures a {objective} goal"
    if objective is None:
        fields["objective"] = _DEFAULT_OBJECTIVE[str(fields["kpi"])]
        defaults["objective"] = f"no objective named; {fields['kpi']} implies {fields['objective']}"
    budget = fields.get("budget")
    if isinstance(budget, Money) and not ex.currency_explicit:
        if ex.currency_hint is not None and ex.currency_hint[0] == budget.currency:
            defaults["budget.currency"] = (
                f"no currency on the budget; {budget.currency} taken from {ex.currency_hint[1]!r}"
            )
        else:
            defaults["budget.currency"] = "no currency stated; USD assumed"
    if ex.budget_from_cap and "budget" not in given:
        defaults["budget"] = "no budget stated; the total spending cap is used as the budget"
    if fields.get("channels") is None and "channels" not in given:
        excluded = fields.get("excluded_channels") or []
        defaults["channels"] = (
            f"no channels named; any channel in the data except {', '.join(excluded)}"
            if excluded
            else "no channels named; any channel in the data may be used"
        )
    try:
        return BusinessGoal.model_validate(
            {
                **fields,
                "source_text": fields.get("source_text", text),
                "spans": fields.get("spans", spans),
                "defaults": defaults,
                "warnings": warnings,
            }
        )
    except ValidationError as exc:
        detail = exc.errors()[0]
        where = ".".join(str(p) for p in detail["loc"]) or "goal"
        raise GoalError(
            f"goal field {where!r}: {detail['msg']}",
            text=text,
            code="goal.invalid-field",
            hint="see docs/goals.md for the accepted values",
        ) from None


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
                _describe_constraint(c, currency),
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


def _describe_constraint(c: Constraint, currency: str) -> str:
    on = f" on {c.channel}" if c.channel else ""
    return {
        "max_cpa": f"CPA at most {_money(c.value, currency)}{on}",
        "min_roas": f"ROAS at least {c.value:g}{on}",
        "max_channel_share": f"at most {c.value:.0%} of the budget{on}",
        "min_channel_spend": f"at least {_money(c.value, currency)}{on}",
        "max_channel_spend": f"at most {_money(c.value, currency)}{on}",
        "max_total_spend": f"total spend at most {_money(c.value, currency)}",
    }[c.kind]
