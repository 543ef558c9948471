"""The money, people and review-policy sections of a brand file's schema.

Re-exported by :mod:`conductor.brand`: ``budget`` (shares per channel, banned channels,
pace of change, sign-off), ``audience`` (consent, age, sensitive attributes, fairness,
exclusions) and ``review_policy`` (the action per rule or severity, and what always goes
to a person).
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from conductor.verdict import Action, Severity

__all__ = [
    "AudienceExclusion",
    "AudienceRules",
    "BudgetRules",
    "ReviewPolicy",
    "SeverityActions",
    "SignoffPolicy",
    "SignoffTopic",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- money and people --------------------------------------------------------------------


class BudgetRules(_Model):
    """Rules for money: shares per channel, banned channels, pace of change, sign-off."""

    max_share: dict[str, float] = Field(
        default_factory=dict,
        description="Channel -> most of the total it may get (0..1); key '*' means any channel.",
    )
    banned_channels: list[str] = Field(
        default_factory=list, description="Channels that may not receive any money."
    )
    max_change: float | None = Field(
        default=None,
        ge=0,
        description="Most relative change of a channel vs the previous period (0.3 = ±30 %).",
    )
    signoff_above: float | None = Field(
        default=None, ge=0, description="Allocations whose total exceeds this need sign-off."
    )
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 currency the amounts above are in.",
    )

    @field_validator("max_share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        for channel, share in value.items():
            if not 0 <= share <= 1:
                raise ValueError(f"max_share for {channel!r} must be between 0 and 1, not {share}")
        return value


_OPS_WITH_LIST = ("in", "not_in")
_OPS_WITHOUT_VALUE = ("is_true", "is_false")


class AudienceExclusion(_Model):
    """People who must never be targeted, as a condition on one customer column."""

    name: str = Field(min_length=1, description="Short name, e.g. 'minors' or 'vulnerable'.")
    column: str = Field(min_length=1, description="Customer column the condition reads.")
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_true", "is_false"] = Field(
        description="Comparison: the person is excluded when `column op value` holds."
    )
    value: Any = Field(default=None, description="Value compared with (a list for in/not_in).")
    reason: str = Field(min_length=1, description="Why they are excluded (shown in audits).")

    @model_validator(mode="after")
    def _value_fits_op(self) -> AudienceExclusion:
        if self.op in _OPS_WITH_LIST and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in _OPS_WITHOUT_VALUE and self.value is not None:
            raise ValueError(f"op {self.op!r} takes no value")
        if self.op not in _OPS_WITH_LIST + _OPS_WITHOUT_VALUE and self.value is None:
            raise ValueError(f"op {self.op!r} needs a value")
        return self

    def excludes(self, value: Any) -> bool:
        """Whether a person whose ``column`` holds ``value`` is excluded.

        Args:
            value: The person's value in ``column`` (None when unknown).

        Returns:
            True when the person must not be targeted. Unknown values are excluded for
            ``is_false``/``not_in``-style rules only when the comparison holds.
        """
        v = self.value
        if self.op == "is_true":
            return value is True
        if self.op == "is_false":
            return value is False
        if self.op == "in":
            return value in v
        if self.op == "not_in":
            return value not in v
        if value is None:
            return False
        try:
            return bool(
                {
                    "eq": lambda: value == v,
                    "ne": lambda: value != v,
                    "lt": lambda: value < v,
                    "le": lambda: value <= v,
                    "gt": lambda: value > v,
                    "ge": lambda: value >= v,
                }[self.op]()
            )
        except TypeError:
            return False


class AudienceRules(_Model):
    """Rules for who may be targeted, and how often."""

    consent_required: bool = Field(
        default=True, description="Everyone targeted must have marketing consent."
    )
    min_age: int | None = Field(
        default=None, ge=0, le=120, description="Youngest age that may be targeted."
    )
    sensitive_attributes: list[str] = Field(
        default_factory=list,
        description="Attributes never used for targeting (health, religion, ethnicity, ...).",
    )
    fairness_groups: list[str] = Field(
        default_factory=list, description="Protected groups whose treatment rates are compared."
    )
    fairness_threshold: float = Field(
        default=0.1, ge=0, le=1, description="Largest allowed gap in action rate between groups."
    )
    max_contacts_per_week: float | None = Field(
        default=None, gt=0, description="Most messages per person per week."
    )
    exclusions: list[AudienceExclusion] = Field(
        default_factory=list, description="People never targeted (applied by agents on data)."
    )


# --- review policy -----------------------------------------------------------------------


class SeverityActions(_Model):
    """What the run does, per severity, when no rule-specific action is set."""

    info: Action = Field(default=Action.PASS, description="Action for info findings.")
    warning: Action = Field(default=Action.WARN, description="Action for warnings.")
    error: Action = Field(default=Action.REVISE, description="Action for errors.")
    critical: Action = Field(default=Action.BLOCK, description="Action for critical findings.")


class SignoffTopic(_Model):
    """A content category that always needs a person's sign-off."""

    name: str = Field(min_length=1, description="Name of the category, e.g. 'pricing change'.")
    keywords: list[str] = Field(
        min_length=1, description="Phrases (whole words) that put copy in the category."
    )
    reason: str = Field(default="", description="Why a person must approve it.")


class SignoffPolicy(_Model):
    """Artifacts that always go to a person, even when every rule passes."""

    steps: list[str] = Field(default_factory=list, description="Steps whose output always does.")
    channels: list[str] = Field(
        default_factory=list, description="Copy channels that always need sign-off."
    )
    new_channels: bool = Field(
        default=True,
        description="Copy for a channel the brand file does not configure needs sign-off.",
    )
    topics: list[SignoffTopic] = Field(
        default_factory=list, description="Content categories that need sign-off."
    )
    artifact_kinds: list[Literal["copy", "allocation", "audience", "insight"]] = Field(
        default_factory=list, description="Artifact kinds that always need sign-off."
    )


class ReviewPolicy(_Model):
    """What happens when a rule is broken, and who must sign off."""

    by_severity: SeverityActions = Field(
        default_factory=SeverityActions, description="Default action per severity."
    )
    rules: dict[str, Action] = Field(
        default_factory=dict,
        description="Rule id (or prefix ending in '.*') -> action; wins over by_severity.",
    )
    severities: dict[str, Severity] = Field(
        default_factory=dict, description="Rule id (or prefix '.*') -> severity override."
    )
    disabled: list[str] = Field(
        default_factory=list, description="Rule ids (or prefixes '.*') that are not checked."
    )
    signoff: SignoffPolicy = Field(
        default_factory=SignoffPolicy, description="What always needs a person's sign-off."
    )
    approvers: list[str] = Field(
        default_factory=list, description="Roles that may sign off (e.g. brand_manager, legal)."
    )

    @field_validator("rules", "severities", "disabled")
    @classmethod
    def _known_rules(cls, value: Any, info: ValidationInfo) -> Any:
        from conductor.brand._catalog import RULES

        # The brand's custom packs add rule ids (claims.custom.<family>); the loader reads
        # the packs first and passes their ids in the validation context.
        custom = (info.context or {}).get("custom_rules", ())
        known = [*RULES, *sorted(custom)]
        for rid in value:
            if rid.endswith(".*"):
                prefix = rid[:-1]
                if any(r.startswith(prefix) for r in known):
                    continue
            elif rid in RULES or rid in custom:
                continue
            close = difflib.get_close_matches(rid, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if not close and rid.startswith("claims.custom."):
                hint = " (no custom pack of the brand has that family)"
            raise ValueError(f"unknown rule id {rid!r}{hint}")
        return value
