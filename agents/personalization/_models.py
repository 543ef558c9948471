"""The personalization agent's typed spec and output."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from conductor import AgentOutput, Audience, Copy, Insight, TaskSpec

__all__ = [
    "ActionDef",
    "ActionSummary",
    "ChannelConsent",
    "Estimate",
    "ExcludedFeature",
    "FairnessReport",
    "FairnessRow",
    "FeatureSelection",
    "MessageAssignment",
    "PersonalizationPlan",
    "PersonalizationSpec",
    "PolicyEvaluation",
    "PolicySummary",
    "SegmentSummary",
    "gain_text",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionDef(_Model):
    """One entry of the actions catalogue: what can be sent to a customer."""

    id: str = Field(description="Stable action id, as it appears in the exposures log.")
    channel: str = Field(
        description="Channel it is sent on (email, sms, push, ...); 'none' for a hold-back "
        "action that sends nothing (it is learned and chosen like any other, with no message)."
    )
    offer: str = Field(description="The offer in words, e.g. '15% off your next order'.")
    template: str | None = Field(
        default=None,
        description="Jinja2 source of the message body; the channel's default template if omitted.",
    )
    subject: str | None = Field(
        default=None, description="Jinja2 source of the email subject line (email only)."
    )

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                f"action id {value!r} must start with a letter or digit and use only "
                "letters, digits, '_', '.', ':' or '-'"
            )
        return value

    @field_validator("channel")
    @classmethod
    def _lower_channel(cls, value: str) -> str:
        value = value.strip().lower()
        if not value:
            raise ValueError(
                "channel must not be empty (use 'none' for an action that sends nothing)"
            )
        return value

    @property
    def sends(self) -> bool:
        """False for the 'none' channel: the action sends nothing and has no message."""
        return self.channel != "none"


class FeatureSelection(_Model):
    """The step's say on the model's features: an explicit list, and/or columns to leave out."""

    include: list[str] | None = Field(
        default=None, description="Only these customer columns (None = every usable one)."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Customer columns never used, even when usable."
    )


class PersonalizationSpec(TaskSpec):
    """What the personalization step should do: who to consider, what it may send, how to learn."""

    actions: list[ActionDef] = Field(
        default_factory=list,
        description="The actions catalogue (id, channel, offer, template), inline.",
    )
    actions_file: str | None = Field(
        default=None,
        description="CSV with columns id, channel, offer[, template, subject]; added to "
        "`actions`. A relative path is read from the pipeline file's folder (the working "
        "directory where the framework does not say where that is).",
    )
    channels: list[str] | None = Field(
        default=None, description="Only actions on these channels may be chosen (None = any)."
    )
    excluded_channels: list[str] = Field(
        default_factory=list, description="Actions on these channels are never chosen."
    )
    audience: str | None = Field(
        default=None, description="Who the goal is about, in words (kept for the audit trail)."
    )
    target_segments: list[str] | None = Field(
        default=None,
        description="Only customers in these segments get an action (None = every segment).",
    )
    exploration: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="Share of treated customers given a uniformly random action (keeps learning).",
    )
    control_share: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="Share of eligible customers held out at random with no action (measurement).",
    )
    thompson_samples: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Posterior draws the policy mixes over (1 = greedy on the posterior mean).",
    )
    model: Literal["auto", "logistic", "linear"] = Field(
        default="auto",
        description="Reward model per action; auto = logistic for 0/1 rewards, else linear.",
    )
    prior_precision: float = Field(
        default=1.0, gt=0, description="Ridge / Gaussian-prior precision on the model weights."
    )
    max_weight: float = Field(
        default=20.0,
        ge=1.0,
        description="Importance weights (target / logging propensity) are clipped at this value.",
    )
    holdout_share: float = Field(
        default=0.3,
        gt=0.0,
        lt=1.0,
        description="Share of the exposures log kept aside to evaluate the policy offline.",
    )
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1.0, description="Confidence level of the evaluation intervals."
    )
    unknown_actions: Literal["error", "drop"] = Field(
        default="error",
        description="What to do with log rows whose action is not in the catalogue.",
    )
    missing_exclusion_column: Literal["error", "warn"] = Field(
        default="error",
        description="A brand exclusion whose column the data lacks: stop (error) or skip "
        "that rule with a warning (warn).",
    )
    segment_method: Literal["rfm", "kmeans"] = Field(
        default="rfm", description="Quantile RFM cells, or k-means with named centroids."
    )
    segment_count: int = Field(
        default=6, ge=2, le=30, description="Number of k-means segments (kmeans only)."
    )
    rfm_bins: int = Field(
        default=3, ge=2, le=5, description="Quantile bins per RFM dimension (rfm only)."
    )
    features: FeatureSelection = Field(
        default_factory=FeatureSelection,
        description="Which customer columns the model may use: `{include: [...]}` (an "
        "explicit list; a plain list means the same) and/or `{exclude: [...]}`. Default: "
        "every usable column except contact details, consent and opt-out columns and ids.",
    )
    consent: dict[str, str] = Field(
        default_factory=dict,
        description="Channel -> the customers column holding that channel's consent, e.g. "
        '{sms: "SMS Opt-In", email: email_ok}; `marketing` names the general flag. '
        "Channels not named are found by name (consent_sms, sms_opt_in, ...).",
    )
    general_consent_covers: list[str] = Field(
        default_factory=lambda: ["email"],
        description="Channels for which the general flag (consent_marketing) alone is "
        "consent, when the channel has no consent column of its own.",
    )
    opt_out: list[str] | None = Field(
        default=None,
        description="Customers columns whose yes means 'do not contact' (None = found by "
        "name: do_not_contact, unsubscribed, suppressed, sms_opt_out, ...; [] = none).",
    )
    exclude_features: list[str] = Field(
        default_factory=list,
        description="Customer columns never used as features, even when usable (revise() adds "
        "the columns behind a group the brand's fairness review flagged).",
    )
    fairness_groups: list[str] = Field(
        default_factory=list, description="Customer columns to compare action rates across."
    )
    fairness_threshold: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Largest acceptable gap in action rates (0..1)."
    )
    as_of: str | None = Field(
        default=None,
        description="Reference date for recency (ISO date); default = the latest event.",
    )
    sends_per_week: float = Field(
        default=1.0,
        gt=0,
        description="How often the chosen message is sent to a customer per week (declared on "
        "the audiences, so the brand's contact cap can be checked).",
    )
    message_variants: int = Field(
        default=3, ge=1, le=10, description="Copy variants asked of the LLM per segment and action."
    )
    llm_pairs: int = Field(
        default=10,
        ge=0,
        le=200,
        description="LLM drafts variants for at most this many (segment, action) pairs, largest first.",
    )
    reward_label: str = Field(
        default="conversion", description="What the reward measures (for reports)."
    )
    seed: int | None = Field(default=None, description="Random seed (default: the run's seed).")

    @field_validator("features", mode="before")
    @classmethod
    def _features_list(cls, value: object) -> object:
        """A plain list is an explicit include list; None is the default."""
        if value is None:
            return {}
        if isinstance(value, list | tuple):
            return {"include": list(value)}
        return value

    @field_validator("general_consent_covers")
    @classmethod
    def _lower_channels(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]

    @field_validator("consent")
    @classmethod
    def _lower_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _has_catalogue(self) -> PersonalizationSpec:
        if not self.actions and not self.actions_file:
            raise ValueError(
                "the actions catalogue is empty: give `actions` (a list of "
                "{id, channel, offer, template}) or `actions_file` (a CSV)"
            )
        ids = [a.id for a in self.actions]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate action id(s) in the catalogue: {', '.join(dup)}")
        return self


class Estimate(_Model):
    """One off-policy estimate of a policy's value per customer, with its interval."""

    policy: str = Field(description="new, logging, best_single, or a lift such as new-logging.")
    estimator: Literal["ips", "snips", "dr"] = Field(description="Which estimator.")
    value: float = Field(description="Estimated mean reward per customer.")
    std_error: float = Field(description="Standard error (CLT / delta method).")
    ci_low: float = Field(description="Lower end of the confidence interval.")
    ci_high: float = Field(description="Upper end of the confidence interval.")
    interval: Literal["normal", "clopper-pearson", "korn-graubard", "mover"] = Field(
        default="normal",
        description="How the interval was computed: normal (CLT), clopper-pearson (exact, "
        "for the logging policy's rate), korn-graubard (Clopper-Pearson on the estimate's "
        "effective sample size), mover (a lift combining two bounded intervals).",
    )
    clipped: bool = Field(
        default=False,
        description="True when the raw estimate fell outside what the reward allows "
        "(e.g. below 0 for a 0/1 reward) and was clipped to the nearest bound.",
    )
    unclipped_value: float | None = Field(
        default=None, description="The raw estimate before clipping (only when clipped)."
    )


class PolicyEvaluation(_Model):
    """Offline evaluation of the learned policy on held-out log rows."""

    n: int = Field(description="Held-out log rows the estimates are computed on.")
    confidence: float = Field(description="Confidence level of the intervals.")
    propensities: Literal["logged", "estimated"] = Field(
        description="Whether logging propensities came from the log or were estimated."
    )
    estimates: list[Estimate] = Field(description="Every policy x estimator value.")
    effective_sample_size: float = Field(
        description="Kish effective sample size of the new policy's importance weights."
    )
    clipped_share: float = Field(description="Share of importance weights clipped at max_weight.")
    better_than_logging: bool = Field(
        description="True when the DR lift over the logging policy is above zero with confidence."
    )
    conclusion: str = Field(description="One sentence for the marketer.")
    bounds: list[float | None] | None = Field(
        default=None,
        description="What a mean reward can be, [low, high] (high None: no upper bound); "
        "every value and interval is kept within it. None: unbounded rewards.",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="How the values were kept possible: the interval methods, any clipping.",
    )

    def get(self, policy: str, estimator: str) -> Estimate:
        """The estimate of one policy by one estimator.

        Raises:
            KeyError: when there is no such estimate.
        """
        for e in self.estimates:
            if e.policy == policy and e.estimator == estimator:
                return e
        raise KeyError(f"{policy}/{estimator}")


class SegmentSummary(_Model):
    """A segment a marketer can read: its name, size and what defines it."""

    name: str = Field(description="Readable name, e.g. 'Champions' or 'Recent, high-spend'.")
    method: Literal["rfm", "kmeans", "all"] = Field(description="How it was built.")
    definition: str = Field(description="What puts a customer in it, in words.")
    size: int = Field(description="Customers in it (all, including suppressed).")
    eligible: int = Field(description="Customers in it who may be contacted.")
    treated: int = Field(description="Customers in it who get an action.")
    contacted: int = Field(
        description="Customers in it whose action sends a message (not a 'none' action)."
    )
    traits: dict[str, float] = Field(description="Mean of each defining feature in the segment.")
    top_action: str | None = Field(description="The action most often chosen in it.")
    expected_reward: float | None = Field(
        description="Mean expected reward of the chosen actions in it."
    )


class ActionSummary(_Model):
    """One catalogue action: what the log says about it and how often it is now chosen."""

    id: str = Field(description="Action id.")
    channel: str = Field(description="Channel.")
    offer: str = Field(description="Offer in words.")
    logged: int = Field(description="Times it appears in the exposures log.")
    logged_mean_reward: float | None = Field(description="Mean logged reward (not causal).")
    assigned: int = Field(description="Customers it is assigned to now.")
    share: float = Field(description="Share of treated customers assigned to it.")
    eligible: bool = Field(description="False when the step's channel rules exclude it.")


class ExcludedFeature(_Model):
    """A customer column the model does not use, and why."""

    column: str = Field(description="The customers column.")
    reason: str = Field(
        description="Why: contact detail (name), consent column (sms), identifier, "
        "sensitive (brand), ..."
    )


class ChannelConsent(_Model):
    """Where one channel's consent came from, and how many customers have it."""

    channel: str = Field(description="The channel.")
    columns: list[str] = Field(description="Its own consent columns (all must say yes).")
    general: str | None = Field(description="The general marketing flag, also required.")
    covered_by_general: bool = Field(
        description="True when the general flag alone is consent for it (no column of its "
        "own; listed in `general_consent_covers`)."
    )
    opt_out_columns: list[str] = Field(description="Its opt-out columns.")
    source: str = Field(description="The same, in words.")
    customers: int = Field(description="Customers who may be sent it.")
    blocked: int = Field(description="Customers who may not.")


class PolicySummary(_Model):
    """How the next-best-action policy was learned and what it decided."""

    model: Literal["logistic", "linear"] = Field(description="Reward model used per action.")
    features: list[str] = Field(description="Model features (after encoding).")
    attributes_used: list[str] = Field(description="Customer attributes the features come from.")
    dropped_attributes: list[str] = Field(
        description="Columns left out of the model (sensitive, identifiers, unusable)."
    )
    excluded_features: list[ExcludedFeature] = Field(
        default_factory=list,
        description="Every customer column that is not a feature, with the reason.",
    )
    log_rows: int = Field(description="Exposures used to learn.")
    propensities: Literal["logged", "estimated"] = Field(description="Source of propensities.")
    exploration: float = Field(description="Share of treated customers given a random action.")
    control_share: float = Field(description="Share held out as a control group.")
    thompson_samples: int = Field(description="Posterior draws mixed by the policy.")
    customers: int = Field(description="Customers in the customers table.")
    eligible: int = Field(description="Customers who may be contacted.")
    treated: int = Field(description="Customers who get an action.")
    control: int = Field(description="Customers held out as control.")
    out_of_audience: int = Field(description="Eligible customers outside the target segments.")
    suppressed: int = Field(description="Customers who must not be contacted.")
    expected_reward: float = Field(description="Mean expected reward of the chosen actions.")
    best_single_action: str = Field(description="The one action best for everyone on average.")
    best_single_expected_reward: float = Field(
        description="Mean expected reward if every treated customer got the best single action."
    )
    uplift: float = Field(description="Mean expected uplift of the chosen over the best single.")


class FairnessRow(_Model):
    """Action rate and expected value of one level of one fairness group."""

    group: str = Field(description="Customer column, e.g. 'gender'.")
    level: str = Field(description="Value of the column (numeric columns are binned).")
    customers: int = Field(description="Customers at this level.")
    action_rate: float = Field(description="Share of them who get an action.")
    expected_reward: float | None = Field(description="Mean expected reward of treated ones.")
    action_shares: dict[str, float] = Field(description="Action id -> share of the treated.")


class FairnessReport(_Model):
    """Action rates compared across the groups the brand names."""

    threshold: float = Field(description="Largest acceptable gap in rates.")
    rows: list[FairnessRow] = Field(description="One row per group level.")
    gaps: dict[str, float] = Field(description="Group -> largest rate gap between its levels.")
    max_gap: float | None = Field(description="Largest gap over all groups (None if none).")
    flagged: list[str] = Field(description="Groups whose gap exceeds the threshold.")
    missing_groups: list[str] = Field(description="Named groups the customers table lacks.")


class MessageAssignment(_Model):
    """Which copy goes to one (segment, action) pair."""

    segment: str = Field(description="Segment name.")
    action: str = Field(description="Action id.")
    customers: int = Field(description="Treated customers in the pair.")
    copy_ids: list[str] = Field(description="Ids of the Copy artifacts for the pair.")


class PersonalizationPlan(AgentOutput):
    """Segments, next-best-action policy, its offline evaluation, messages and audiences.

    Per-customer tables are Parquet files in the step's folder, referenced by path.
    """

    segments: list[SegmentSummary] = Field(description="The segment table.")
    actions: list[ActionSummary] = Field(description="The actions catalogue with usage.")
    policy: PolicySummary = Field(description="How the policy was learned and what it chose.")
    evaluation: PolicyEvaluation = Field(description="Offline policy evaluation.")
    fairness: FairnessReport = Field(description="Action rates across fairness groups.")
    messages: list[Copy] = Field(description="Copy per (segment, action), from templates or LLM.")
    message_index: list[MessageAssignment] = Field(
        description="Which copy goes to which (segment, action) pair."
    )
    audiences: list[Audience] = Field(description="One audience per segment that gets actions.")
    consent: list[ChannelConsent] = Field(
        default_factory=list, description="Per channel: where consent came from, who has it."
    )
    insights: list[Insight] = Field(description="Findings with the numbers behind them.")
    assignments_path: str = Field(
        description="Parquet: customer_id, segment, group, action, channel, propensity, "
        "expected_reward, best_single_reward, uplift, policy_action, blocked_channels "
        "(the channels the customer may not be sent, with why)."
    )
    suppression_path: str = Field(description="Parquet: customer_id, reason, reasons.")
    segments_path: str = Field(description="Parquet: customer_id, segment, RFM features.")

    def artifacts(self) -> Iterable[Copy | Audience | Insight]:
        """Messages, audiences and insights, for brand review."""
        return [*self.messages, *self.audiences, *self.insights]

    def summary(self) -> str:
        """One line: who gets what, and whether the policy beats the logging policy."""
        p = self.policy
        try:
            new = self.evaluation.get("new", "dr")
            old = self.evaluation.get("logging", "dr")
            gain = self.evaluation.get("new-logging", "dr")
            rel = gain_text(new, old, gain, self.evaluation.confidence)
            ev = f"; offline DR value {new.value:.4f} vs logging {old.value:.4f}{rel}"
        except KeyError:
            ev = ""
        return (
            f"{p.customers:,} customers: {p.treated:,} get an action, {p.control:,} control, "
            f"{p.suppressed:,} suppressed; {len(self.segments)} segments, "
            f"{len(self.messages)} messages{ev}"
        )


def relative_gain_measurable(old: Estimate) -> bool:
    """True when today's value is known well enough for a relative gain to mean something.

    That is when its interval's lower end is above zero and at least half the value: with
    a rare reward (a handful of clicks) the baseline could be many times smaller than
    estimated, and a percentage of it is noise.
    """
    return old.value > 0 and old.ci_low > 0 and old.ci_low >= 0.5 * old.value


def gain_text(new: Estimate, old: Estimate, gain: Estimate, confidence: float) -> str:
    """`` (+23.0%)``, or the absolute difference with its interval when a relative gain
    cannot be measured (today's value too close to zero)."""
    if relative_gain_measurable(old):
        return f" ({(new.value - old.value) / old.value:+.1%})"
    return (
        f" ({gain.value:+.4g} absolute, {confidence:.0%} interval {gain.ci_low:+.4g} to "
        f"{gain.ci_high:+.4g}; relative gain not measurable: today's value is too close to 0)"
    )
