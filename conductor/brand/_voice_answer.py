"""What the optional brand-voice model answers: one score per piece of copy.

The voice checks read it (:mod:`conductor.brand._voice_checks`); the review that asks
the model for it is :mod:`conductor.brand._review`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["VoiceReview", "VoiceScore"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VoiceScore(_Model):
    """The model's judgement of one piece of copy against the brand voice."""

    id: str = Field(description="Id of the copy judged.")
    score: float = Field(ge=0, le=1, description="How well the copy fits the voice, 0..1.")
    rationale: str = Field(description="Why, in one or two sentences a marketer understands.")


class VoiceReview(_Model):
    """What the model returns: one score per piece of copy."""

    scores: list[VoiceScore] = Field(description="One entry per copy id.")
