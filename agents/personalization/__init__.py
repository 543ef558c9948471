"""Personalization: segments, next-best-action learned from past exposures, on-brand messages.

Registered as ``personalization``. The modelling pieces (reward model, Thompson
decisions, offline evaluation) are exported too, for benchmarks and notebooks.
"""

from agents.personalization._agent import PersonalizationAgent
from agents.personalization._bandit import (
    Decisions,
    RewardModel,
    decide,
    estimate_propensities,
    fit_reward_model,
    importance_weights,
)
from agents.personalization._models import (
    ActionDef,
    ActionSummary,
    Estimate,
    FairnessReport,
    FairnessRow,
    MessageAssignment,
    PersonalizationPlan,
    PersonalizationSpec,
    PolicyEvaluation,
    PolicySummary,
    SegmentSummary,
)
from agents.personalization._ope import OpeResult, evaluate_policy, lift

__all__ = [
    "ActionDef",
    "ActionSummary",
    "Decisions",
    "Estimate",
    "FairnessReport",
    "FairnessRow",
    "MessageAssignment",
    "OpeResult",
    "PersonalizationAgent",
    "PersonalizationPlan",
    "PersonalizationSpec",
    "PolicyEvaluation",
    "PolicySummary",
    "RewardModel",
    "SegmentSummary",
    "decide",
    "estimate_propensities",
    "evaluate_policy",
    "fit_reward_model",
    "importance_weights",
    "lift",
]
