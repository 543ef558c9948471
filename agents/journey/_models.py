"""The journey agent's typed spec and output."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from conductor import AgentOutput, Insight, TaskSpec

__all__ = [
    "HEURISTIC_MODELS",
    "AttributionModel",
    "ChannelStats",
    "ConversionTiming",
    "DropOff",
    "Funnel",
    "FunnelSplit",
    "FunnelStage",
    "JourneyReport",
    "JourneySpec",
    "MarkovDetail",
    "ModelCredits",
    "PathStat",
]

AttributionModel = Literal[
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "markov_1",
    "markov_2",
    "markov_3",
]
HEURISTIC_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
)


class JourneySpec(TaskSpec):
    """What the journey analytics step should compute.

    Every field has a default, so ``with:`` may be empty; ``plan()`` fills ``channels``
    and ``credit_metric`` from the goal when it states them.
    """

    attribution: list[AttributionModel] | None = Field(
        default=None,
        min_length=1,
        description=(
            "Attribution models to run: first_touch, last_touch, linear, time_decay, "
            "position_based (40/20/40), markov (order `markov_order`) or markov_1..markov_3. "
            "Default: the five rule-based models and markov."
        ),
    )
    markov_order: int = Field(
        default=1,
        ge=1,
        le=3,
        description="Order of the Markov chain for `markov`: states are the last k channels.",
    )
    half_life_days: float = Field(
        default=7.0,
        gt=0,
        le=3650,
        description="Time-decay model: a touch this many days before the conversion counts half.",
    )
    lookback_days: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Only touches this many days before the conversion (or, for a journey without one, "
            "before its last touch) count. None keeps every touch."
        ),
    )
    funnel_stages: list[str] | None = Field(
        default=None,
        description=(
            "Funnel stages in order (event_type values such as visit, add_to_cart, checkout); "
            "'conversion' is always the last stage. None orders the data's stage types by "
            "how early they happen in journeys."
        ),
    )
    channels: list[str] | None = Field(
        default=None,
        description=(
            "Channels to analyse (matched ignoring case, spaces and hyphens). None keeps every "
            "channel in the data."
        ),
    )
    unlisted_channels: Literal["group", "drop"] = Field(
        default="group",
        description=(
            "With `channels`: 'group' counts touches on other channels as one channel 'other' "
            "(journeys stay whole), 'drop' removes those touches."
        ),
    )
    credit_metric: Literal["conversions", "revenue"] = Field(
        default="conversions",
        description="Which credits the insights and summary talk about (both are computed).",
    )
    top_paths: int = Field(
        default=10,
        ge=1,
        le=200,
        description="How many converting and non-converting paths to list.",
    )
    long_journey_touches: int = Field(
        default=1000,
        ge=10,
        description=(
            "Journeys with more touches than this are kept but reported in a warning "
            "(often bots or tracking loops)."
        ),
    )
    write_tables: bool = Field(
        default=True,
        description="Write the aggregated path table to the step folder as paths.parquet.",
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_markov(cls, data: Any) -> Any:
        # "markov" is shorthand for the configured order; resolve it here so the spec
        # (and its hash) names exactly the chains that will be solved.
        if not isinstance(data, dict) or not data.get("attribution"):
            return data
        models = data["attribution"]
        if isinstance(models, str):
            models = [models]
        order = data.get("markov_order", 1)
        out: list[Any] = []
        for m in models:
            name = f"markov_{order}" if m == "markov" and isinstance(order, int) else m
            if name not in out:
                out.append(name)
        return {**data, "attribution": out}

    @field_validator("funnel_stages", "channels")
    @classmethod
    def _non_empty_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [v.strip() for v in value]
        if not cleaned or any(not v for v in cleaned):
            raise ValueError("give at least one name, and no empty names")
        if len({v.lower() for v in cleaned}) != len(cleaned):
            raise ValueError("names must be unique")
        return cleaned

    def models(self) -> list[str]:
        """The attribution models to run, with ``markov`` resolved to its order."""
        if self.attribution is None:
            return [*HEURISTIC_MODELS, f"markov_{self.markov_order}"]
        return [f"markov_{self.markov_order}" if m == "markov" else m for m in self.attribution]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunnelStage(_Out):
    """One funnel stage: journeys that reached it and the rates into it."""

    stage: str = Field(description="Stage name (an event_type, or 'conversion').")
    journeys: int = Field(description="Journeys with this stage and every earlier stage.")
    step_rate: float | None = Field(
        description="Share of the previous stage's journeys that reached this one (None first)."
    )
    step_low: float | None = Field(description="Wilson 95% lower bound of `step_rate`.")
    step_high: float | None = Field(description="Wilson 95% upper bound of `step_rate`.")
    overall_rate: float | None = Field(
        description="Share of the first stage's journeys that reached this one."
    )
    overall_low: float | None = Field(description="Wilson 95% lower bound of `overall_rate`.")
    overall_high: float | None = Field(description="Wilson 95% upper bound of `overall_rate`.")


class DropOff(_Out):
    """The funnel step that loses the largest share of journeys."""

    from_stage: str = Field(description="Stage the journeys were at.")
    to_stage: str = Field(description="Stage they did not reach.")
    lost: int = Field(description="Journeys lost between the two stages.")
    continue_rate: float = Field(description="Share that continued (the step rate).")
    continue_low: float = Field(description="Wilson 95% lower bound of `continue_rate`.")
    continue_high: float = Field(description="Wilson 95% upper bound of `continue_rate`.")


class FunnelSplit(_Out):
    """The funnel for journeys whose first touch was on one channel."""

    channel: str = Field(description="First-touch channel ('(none)' for journeys without touches).")
    stages: list[FunnelStage] = Field(description="The funnel for these journeys.")


class Funnel(_Out):
    """Funnel counts and rates, overall and by first-touch channel."""

    stages: list[FunnelStage] = Field(description="Stages in order, 'conversion' last.")
    biggest_drop_off: DropOff | None = Field(
        description="Step with the lowest continue rate (None with fewer than two stages)."
    )
    by_first_touch: list[FunnelSplit] = Field(description="The funnel per first-touch channel.")


class PathStat(_Out):
    """A touch sequence and how journeys that followed it ended."""

    path: list[str] = Field(
        description="Channels in time order; long paths show their start and end around '…'."
    )
    length: int = Field(description="Number of touches in the path.")
    journeys: int = Field(description="Journeys with exactly this path.")
    conversions: int = Field(description="Conversions those journeys ended in.")
    conversion_rate: float = Field(description="Converting journeys / journeys for this path.")


class ConversionTiming(_Out):
    """Path length and time to convert of converting journeys, by first-touch channel."""

    channel: str = Field(description="First-touch channel, or '(all)'.")
    converting_journeys: int = Field(description="Converting journeys with at least one touch.")
    path_length_median: float = Field(description="Median touches per converting journey.")
    path_length_p90: float = Field(description="90th percentile of touches per journey.")
    days_to_convert_median: float = Field(description="Median days from first touch to conversion.")
    days_to_convert_p90: float = Field(description="90th percentile of days to convert.")


class ChannelStats(_Out):
    """How one channel shows up in journeys."""

    channel: str = Field(description="Channel name.")
    touches: int = Field(description="Touches on the channel (after lookback and filters).")
    journeys: int = Field(description="Journeys with at least one touch on it.")
    converting_journeys: int = Field(description="Converting journeys with a touch on it.")
    first_touch_conversions: int = Field(description="Conversions it opened (first touch).")
    last_touch_conversions: int = Field(description="Conversions it closed (last touch).")
    assisted_conversions: int = Field(
        description="Conversions where it appears before the last touch."
    )


class ModelCredits(_Out):
    """One attribution model's credits."""

    model: str = Field(description="first_touch, last_touch, linear, time_decay, ... markov_k.")
    conversions: dict[str, float] = Field(
        description="Channel -> credited conversions; sums to `attributed_conversions`."
    )
    revenue: dict[str, float] = Field(
        description="Channel -> credited revenue; sums to `attributed_revenue`."
    )


class MarkovDetail(_Out):
    """The fitted absorbing Markov chain and its exact removal effects."""

    order: int = Field(description="Chain order: states are the last `order` channels.")
    states: int = Field(description="Transient states, including the start state.")
    transitions: int = Field(description="Distinct observed transitions (edges).")
    conversion_probability: float = Field(
        description="P(a journey ends in conversion), solved from the chain."
    )
    revenue_per_journey: float = Field(description="Expected revenue per journey from the chain.")
    removal_effects: dict[str, float] = Field(
        description="Channel -> 1 - P(conversion without it) / P(conversion)."
    )
    revenue_removal_effects: dict[str, float] = Field(
        description="Channel -> 1 - expected revenue without it / expected revenue."
    )


class JourneyReport(AgentOutput):
    """Funnels, paths and attribution for the `events` source (aggregates only)."""

    period_start: dt.datetime | None = Field(description="Earliest event time (UTC).")
    period_end: dt.datetime | None = Field(description="Latest event time (UTC).")
    events: int = Field(description="Events read (rows with a timestamp).")
    customers: int = Field(description="Distinct customers.")
    journeys: int = Field(description="Journeys (each ends in a conversion or the data's end).")
    converting_journeys: int = Field(description="Journeys ending in a conversion.")
    touches: int = Field(description="Touches used in the journeys (after lookback and filters).")
    conversions: int = Field(description="Conversion events.")
    attributed_conversions: int = Field(
        description="Conversions whose journey has at least one touch: every model's total."
    )
    unattributed_conversions: int = Field(
        description="Conversions with no touch in their journey (credited to no channel)."
    )
    revenue: float | None = Field(description="Conversion revenue (None without a revenue column).")
    attributed_revenue: float | None = Field(
        description="Revenue of attributed conversions: every model's revenue total."
    )
    channels: list[str] = Field(description="Channels analysed, sorted.")
    channel_stats: list[ChannelStats] = Field(description="Per-channel journey statistics.")
    funnel: Funnel = Field(description="Funnel overall and by first-touch channel.")
    top_converting_paths: list[PathStat] = Field(description="Paths with the most conversions.")
    top_non_converting_paths: list[PathStat] = Field(
        description="Paths with the most journeys that did not convert."
    )
    timing: list[ConversionTiming] = Field(
        description="Path length and days to convert, overall ('(all)') and by first touch."
    )
    attribution: list[ModelCredits] = Field(description="Credits per model, in spec order.")
    markov: list[MarkovDetail] = Field(description="Chain details for each Markov model run.")
    insights: list[Insight] = Field(description="Findings with the numbers they cite.")
    files: dict[str, str] = Field(
        default_factory=dict, description="Name -> path of tables written to the step folder."
    )

    def credits(
        self, model: str, metric: Literal["conversions", "revenue"] = "conversions"
    ) -> dict[str, float]:
        """One model's credits by channel.

        Args:
            model: Model name as in ``attribution`` (``markov`` means the first Markov model).
            metric: ``conversions`` or ``revenue``.

        Raises:
            KeyError: The model was not run.
        """
        for m in self.attribution:
            if m.model == model or (model == "markov" and m.model.startswith("markov_")):
                return dict(m.conversions if metric == "conversions" else m.revenue)
        raise KeyError(model)

    def artifacts(self) -> Iterable[Insight]:
        """The insights, for brand rules and the report."""
        return list(self.insights)

    def summary(self) -> str:
        """One or two lines: volume, the top Markov (or first model) channel, the drop-off."""
        line = (
            f"{self.conversions:,} conversions from {self.journeys:,} journeys "
            f"across {len(self.channels)} channel(s)"
        )
        if self.attribution and self.attributed_conversions > 0:
            chosen = next((m for m in self.attribution if m.model.startswith("markov_")), None)
            chosen = chosen or self.attribution[0]
            # A grouped 'other' bucket is not a channel anyone can act on.
            named = {k: v for k, v in chosen.conversions.items() if k != "other"}
            top, credit = max((named or chosen.conversions).items(), key=lambda kv: (kv[1], kv[0]))
            share = credit / self.attributed_conversions
            line += f"; {chosen.model} credits {top} with {share:.0%}"
        drop = self.funnel.biggest_drop_off
        if drop is not None:
            line += (
                f"\nbiggest funnel drop-off: {drop.from_stage} -> {drop.to_stage} "
                f"({drop.continue_rate:.1%} continue)"
            )
        return line
