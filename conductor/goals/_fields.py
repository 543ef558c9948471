"""A structured goal's fields, written the friendly way, read into typed values.

Used by :func:`conductor.goals.goal_from_mapping` for a pipeline's ``goal:`` mapping:
``budget: "$250k"``, ``horizon: "Q3 2027"`` or ``{start, end}``, ``target: "+12%"``,
``channels: [Google Ads, Meta]``, ``constraints: ["CPA under $40"]``. Each value goes
through the same grammar as goal text; a value that cannot be read is a
``goal.invalid-field`` error naming the field, with an example.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from conductor.errors import GoalError
from conductor.goals._channels import canonical_channel
from conductor.goals._model import (
    Channel,
    Constraint,
    Horizon,
    Kpi,
    Money,
    Objective,
    Target,
)

_KPI_WORDS: dict[str, str] = {
    "revenue": "revenue",
    "conversions": "conversions",
    "cpa": "CPA",
    "roas": "ROAS",
    "retention_rate": "retention",
    "churn_rate": "churn",
    "aov": "AOV",
    "reach": "reach",
}


def _field_error(key: str, value: Any, problem: str, example: str) -> GoalError:
    return GoalError(
        f"goal field {key!r}: {problem} (got {value!r})",
        code="goal.invalid-field",
        hint=f"write e.g. {key}: {example}",
    )


@dataclass(frozen=True)
class _Context:
    """What a field reader may need besides its own value."""

    fields: Mapping[str, Any]  # the fields read so far (a target reads its KPI)
    currency: Any  # the goal's currency, for a bare-number budget
    today: dt.date


def _coerce_field(
    key: str, value: Any, fields: Mapping[str, Any], currency: Any, today: dt.date
) -> Any:
    """Read one structured goal field, accepting the friendly forms documented."""
    if value is None:
        if key in ("objective", "kpi"):
            raise _field_error(key, value, "must not be empty", "revenue")
        return [] if key in ("markets", "excluded_channels", "constraints") else None
    reader = _READERS.get(key)
    if reader is None:
        return value
    return reader(key, value, _Context(fields=fields, currency=currency, today=today))


def _read_currency(key: str, value: Any, ctx: _Context) -> str:
    from conductor.goals import _lexicon as lex

    code = str(value).strip().upper()
    code = lex.CURRENCY_SYMBOLS.get(code.lower(), code)
    if not (len(code) == 3 and code.isalpha()):
        raise _field_error(key, value, "is not an ISO 4217 currency code", "EUR")
    return code


def _read_objective(key: str, value: Any, ctx: _Context) -> str:
    from conductor.goals import _lexicon as lex

    text = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if text in Objective.__members__.values() or text in {o.value for o in Objective}:
        return text
    if text.replace("_", " ") in lex.OBJECTIVE_PHRASES:
        return lex.OBJECTIVE_PHRASES[text.replace("_", " ")]
    raise _field_error(key, value, "is not an objective", " | ".join(o.value for o in Objective))


def _read_kpi(key: str, value: Any, ctx: _Context) -> str:
    from conductor.goals import _lexicon as lex

    text = str(value).strip().lower()
    if text in {k.value for k in Kpi}:
        return text
    if text in lex.KPIS:
        return lex.KPIS[text][0]
    raise _field_error(key, value, "is not a KPI", " | ".join(k.value for k in Kpi))


def _read_channels(key: str, value: Any, ctx: _Context) -> list[str]:
    items = str(value).split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _field_error(key, value, "must be a list of channels", "[Google Ads, email]")
    out: list[str] = []
    for item in items:
        channel = canonical_channel(str(item))
        if channel is None:
            raise _field_error(
                key, item, "is not a channel", "[" + ", ".join(c.value for c in Channel) + "]"
            )
        if channel not in out:
            out.append(channel)
    return out


def _read_markets(key: str, value: Any, ctx: _Context) -> list[str]:
    from conductor.goals import _lexicon as lex

    items = str(value).split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _field_error(key, value, "must be a list of countries or regions", "[DE, FR]")
    markets: list[str] = []
    for item in items:
        name = str(item).strip()
        known = lex.MARKETS.get(name.lower()) or lex.MARKET_CODES_UPPER.get(name.upper())
        code = known or (name.upper() if len(name) == 2 and name.isalpha() else name)
        if not code:
            raise _field_error(key, item, "is empty", "[Germany, FR]")
        if code not in markets:
            markets.append(code)
    return markets


def _read_budget(key: str, value: Any, ctx: _Context) -> Any:
    from conductor.goals import _parser as gp

    default_cur = ctx.currency or "USD"
    if isinstance(value, bool):
        raise _field_error(key, value, "is not an amount", '"$250k"')
    if isinstance(value, int | float):
        return _validated(Money, key, {"amount": value, "currency": default_cur}, '"$250k"')
    if isinstance(value, str):
        ex = gp.extract(f"budget {value}", ctx.today)
        money = ex.fields.get("budget")
        if not isinstance(money, Money) or ex.warnings or ex.errors:
            raise _field_error(key, value, "cannot be read as an amount", '"$250k"')
        if not ex.currency_explicit:
            money = Money(amount=money.amount, currency=str(default_cur))
        return money
    return _validated(Money, key, value, "{amount: 250000, currency: EUR}")


def _read_horizon(key: str, value: Any, ctx: _Context) -> Any:
    from conductor.goals import _parser as gp

    if isinstance(value, str):
        return gp.parse_horizon_text(value, ctx.today)
    if isinstance(value, Mapping):
        data = dict(value)
        for edge in ("start", "end"):
            if isinstance(data.get(edge), str):
                data[edge] = _horizon_edge(edge, data[edge], ctx.today)
        return _validated(Horizon, key, data, '"Q3 2027"')
    return _validated(Horizon, key, value, '"Q3 2027"')


def _read_target(key: str, value: Any, ctx: _Context) -> Any:
    from conductor.goals import _parser as gp

    if isinstance(value, str | int | float) and not isinstance(value, bool):
        kpi = str(ctx.fields.get("kpi") or "")
        word = _KPI_WORDS.get(kpi, "revenue")
        ex = gp.extract(f"{word} {value}", ctx.today)
        target = ex.fields.get("target")
        if not isinstance(target, Target):
            raise _field_error(key, value, "cannot be read as a target", '"+12%"')
        return target
    return _validated(Target, key, value, "{kind: relative, value: 0.12}")


def _read_constraints(key: str, value: Any, ctx: _Context) -> list[Constraint]:
    from conductor.goals import _parser as gp

    items = value if isinstance(value, list | tuple) else [value]
    constraints: list[Constraint] = []
    for item in items:
        if isinstance(item, str):
            ex = gp.extract(item, ctx.today)
            found = ex.fields.get("constraints") or []
            if not found:
                raise _field_error(key, item, "cannot be read as a rule", '["CPA under $40"]')
            constraints.extend(found)
        elif isinstance(item, Mapping) and isinstance(item.get("channel"), str):
            channel = _read_channels("channels", [item["channel"]], ctx)[0]
            constraints.append(
                _validated(Constraint, key, {**item, "channel": channel}, "[CPA under $40]")
            )
        else:
            constraints.append(_validated(Constraint, key, item, '["CPA under $40"]'))
    return constraints


def _read_audience(key: str, value: Any, ctx: _Context) -> str | None:
    if not isinstance(value, str):
        raise _field_error(key, value, "must be text", '"lapsed customers in Germany"')
    return value.strip() or None


# One reader per field kind; a field without one (e.g. ``text``) passes through as given.
_READERS: dict[str, Callable[[str, Any, _Context], Any]] = {
    "currency": _read_currency,
    "objective": _read_objective,
    "kpi": _read_kpi,
    "channels": _read_channels,
    "excluded_channels": _read_channels,
    "markets": _read_markets,
    "budget": _read_budget,
    "horizon": _read_horizon,
    "target": _read_target,
    "constraints": _read_constraints,
    "audience": _read_audience,
}


def _horizon_edge(edge: str, text: str, today: dt.date) -> dt.date:
    """One end of a structured horizon: an ISO date or a period ("end of March 2027")."""
    from conductor.goals import _parser as gp

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        period = gp.parse_horizon_text(text, today)
    except GoalError:
        # "end of March 2027" reads as a period once it is given a preposition.
        period = gp.parse_horizon_text(f"by {text}", today)
    return period.start if edge == "start" else period.end


def _validated(model: type[BaseModel], key: str, value: Any, example: str) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        problem = f"{where}: {first['msg']}" if where else first["msg"]
        raise _field_error(key, value, problem, example) from None
