"""Business goals: the typed form of what the marketing lead asked for.

A goal is written in a pipeline either as free text (parsed by :func:`parse_goal`) or
as structured fields (validated directly into :class:`BusinessGoal`). Every parsed
field remembers the span of text it came from (``spans``), and every default the
parser chose is listed in ``defaults`` so it is never silent.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    pass

__all__ = [
    "GOAL_VALUE_FIELDS",
    "BusinessGoal",
    "Channel",
    "Constraint",
    "Horizon",
    "Kpi",
    "Money",
    "Objective",
    "Span",
    "Target",
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
