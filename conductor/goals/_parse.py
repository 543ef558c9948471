"""The goal-reading API: plain words or structured fields in, a checked :class:`BusinessGoal` out.

The grammar itself lives in :mod:`conductor.goals._parser`; this module validates its
extraction into the typed goal, totals per-period rates over the horizon and explains
every default it chose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from conductor.errors import GoalError
from conductor.logging import redact_data, redact_text

if TYPE_CHECKING:
    from conductor.goals._parser import Extraction

from conductor.goals._describe import _money
from conductor.goals._model import BusinessGoal, Constraint, Horizon, Money, Span, Target
from conductor.goals._unused import unused_warnings

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
    from conductor.goals import _parser as gp

    if not isinstance(text, str):
        raise GoalError(
            f"a goal must be text, not {type(text).__name__}",
            code="goal.unparsed",
            hint=_UNPARSED_HINT,
        )
    day = today or dt.date.today()
    text, removed = _without_personal_data(text)
    ex = gp.extract(_blank_placeholders(text), day)
    if removed:
        ex.warn(removed)
    return _finalise(ex, dict(ex.fields), dict(ex.spans), day, text)


_PLACEHOLDERS = {
    "[EMAIL]": "an email address",
    "[PHONE]": "a phone number",
    "[CARD]": "a card number",
    "[IBAN]": "a bank account number (IBAN)",
    "[NATIONAL-ID]": "a national id number",
}


def _blank_placeholders(text: str) -> str:
    """The text the grammar reads: each placeholder blanked (same length, so spans still
    point into the stored text), so '[EMAIL]' is not read as the email channel."""
    for mark in _PLACEHOLDERS:
        text = text.replace(mark, " " * len(mark))
    return text


def _without_personal_data(text: str) -> tuple[str, str]:
    """The goal text with emails, phone and card numbers replaced (as the run log does),
    and a warning naming what was removed ('' when nothing was).

    The goal is stored in the run, its files and the audit: personal data has no place
    there, and a phone number must not be read as an amount either.
    """
    clean = redact_text(text)
    if clean == text:
        return text, ""
    kinds = [name for mark, name in _PLACEHOLDERS.items() if clean.count(mark) > text.count(mark)]
    return clean, (
        f"personal data removed from the goal ({', '.join(kinds)}): it is never stored or "
        "read as a value"
    )


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
    from conductor.goals import _parser as gp

    if not isinstance(text, str):
        return {"warnings": [f"goal.unparsed: a goal must be text, not {type(text).__name__}"]}, {}
    day = today or dt.date.today()
    text, removed = _without_personal_data(text)
    ex = gp.extract(_blank_placeholders(text), day)
    if removed:
        ex.warn(removed)
    fields = dict(ex.fields)
    rate_notes: list[str] = []
    _total_rates(ex, fields, rate_notes, ())
    errors, doubts = gp.check(fields, text)
    warnings = list(ex.warnings) + doubts + rate_notes
    warnings += [f"{e.code}: {e.message}" for e in [*ex.errors, *errors]]
    kpi = fields.get("kpi")
    warnings += unused_warnings(text, ex.unused, str(kpi) if kpi else None)
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
    from conductor.goals import _parser as gp
    from conductor.goals._fields import _coerce_field

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
    data = redact_data(dict(data))
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
    from conductor.goals import _parser as gp

    if today.year >= dt.MAXYEAR:  # "next quarter" and every default period would overflow
        raise GoalError(
            f"the planning date {today.isoformat()} is too late: no period after it exists",
            code="goal.invalid-horizon",
            hint="pin `today:` (or --today) to a real date",
        )

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
    if text:
        kpi_source = "given" if "kpi" in given else "default" if "kpi" in defaults else "read"
        unused = unused_warnings(
            text, ex.unused, str(fields["kpi"]), kpi_source=kpi_source, given=given
        )
        warnings += [w for w in unused if w not in warnings]
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
