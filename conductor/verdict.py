"""Verdicts: what the brand review says about a step's artifacts.

The rule engine (:mod:`conductor.brand`) produces them; the run graph routes on
``Verdict.action``; agents receive the violations as typed feedback in ``revise()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Action", "Severity", "Verdict", "Violation", "apply_fixes"]


class Severity(StrEnum):
    """How bad a violation is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Action(StrEnum):
    """What the run does about a violation (the brand's review policy decides).

    Ordered from mildest to strongest: ``pass`` < ``warn`` < ``revise`` < ``escalate`` <
    ``block``. A verdict's action is the strongest of its violations' actions.
    """

    PASS = "pass"
    WARN = "warn"
    REVISE = "revise"
    ESCALATE = "escalate"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        """Position in the order above (0 = pass)."""
        return _ORDER.index(self)


_ORDER = [Action.PASS, Action.WARN, Action.REVISE, Action.ESCALATE, Action.BLOCK]


class Violation(BaseModel):
    """One broken rule, located precisely, explained for a marketer, with a fix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str = Field(description="Stable rule id, e.g. 'voice.banned-phrase'.")
    severity: Severity = Field(description="How bad it is.")
    action: Action = Field(description="What the review policy does about it.")
    artifact_id: str = Field(default="", description="Id of the artifact that broke it.")
    artifact_kind: str = Field(default="", description="copy, allocation, audience or insight.")
    field: str = Field(default="text", description="The artifact field at fault.")
    start: int | None = Field(default=None, description="Start offset of the offending text.")
    end: int | None = Field(default=None, description="End offset (exclusive).")
    excerpt: str = Field(default="", description="The offending text or value.")
    message: str = Field(description="What is wrong, in plain words.")
    fix: str = Field(default="", description="What to do instead.")
    replacement: str | None = Field(
        default=None,
        description="Exact text to put in place of start:end, when the fix is mechanical.",
    )
    append: str | None = Field(
        default=None, description="Text to append to the field (e.g. a required disclaimer)."
    )


class Verdict(BaseModel):
    """The result of reviewing a set of artifacts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    violations: list[Violation] = Field(default_factory=list, description="Everything found.")
    signoff: list[str] = Field(
        default_factory=list,
        description="Reasons a human must sign off even without violations (brand policy).",
    )
    notes: list[str] = Field(
        default_factory=list, description="Extra remarks (e.g. an LLM brand-voice score)."
    )
    checked: int = Field(default=0, description="Number of artifacts checked.")

    @property
    def action(self) -> Action:
        """The strongest action among the violations (``escalate`` if sign-off is required)."""
        best = Action.PASS
        for v in self.violations:
            if v.action.rank > best.rank:
                best = v.action
        if self.signoff and best.rank < Action.ESCALATE.rank:
            best = Action.ESCALATE
        return best

    @property
    def passed(self) -> bool:
        """True when nothing stronger than a warning was found."""
        return self.action.rank <= Action.WARN.rank

    def for_artifact(self, artifact_id: str) -> list[Violation]:
        """The violations of one artifact."""
        return [v for v in self.violations if v.artifact_id == artifact_id]

    @classmethod
    def merge(cls, verdicts: Iterable[Verdict]) -> Verdict:
        """Combine several verdicts (e.g. deterministic rules + model review)."""
        vs: list[Violation] = []
        signoff: list[str] = []
        notes: list[str] = []
        checked = 0
        for v in verdicts:
            vs.extend(v.violations)
            signoff.extend(v.signoff)
            notes.extend(v.notes)
            checked = max(checked, v.checked)
        return cls(violations=vs, signoff=signoff, notes=notes, checked=checked)


def apply_fixes(text: str, violations: Sequence[Violation]) -> str:
    """Apply the mechanical fixes (replacements, then appends) of violations to a text.

    Replacements are applied right to left so earlier offsets stay valid; overlapping
    spans keep the first (leftmost) fix.
    """
    spans = sorted(
        (v for v in violations if v.replacement is not None and v.start is not None),
        key=lambda v: (v.start or 0, -(v.end or 0)),
    )
    chosen: list[Violation] = []
    last_end = -1
    for v in spans:
        assert v.start is not None
        if v.start >= last_end:
            chosen.append(v)
            last_end = v.end if v.end is not None else v.start
    for v in reversed(chosen):
        assert v.start is not None and v.replacement is not None
        end = v.end if v.end is not None else v.start
        text = text[: v.start] + v.replacement + text[end:]
    for v in violations:
        if v.append and v.append not in text:
            text = text.rstrip() + ("\n" if "\n" in v.append or len(text) > 160 else " ") + v.append
    return text
