"""Conductor: run a marketing organisation's specialist AI agents as one orchestra.

The Python API mirrors the CLI: :func:`validate_pipeline`, :func:`load_pipeline`,
:func:`plan_pipeline` (with :func:`resolve_goal`), and :class:`Runner` for ``run``,
``resume`` and ``decide`` (approve / reject / edit).
"""

from typing import Any

from conductor.agents import (
    Agent,
    Derived,
    Inputs,
    PlanContext,
    Provenance,
    RunContext,
    available_agents,
    get_agent,
    register,
)
from conductor.data import DataCatalog, DataNeed, DataSource
from conductor.errors import (
    AgentError,
    AgentNotFound,
    ApprovalError,
    BrandBlocked,
    BrandError,
    BudgetExceeded,
    ConductorError,
    DataError,
    GoalError,
    LLMError,
    PipelineError,
    PipelineInvalid,
    PlanError,
    RunError,
    RunLocked,
    SpecError,
    StoreError,
)
from conductor.goals import (
    BusinessGoal,
    Channel,
    Constraint,
    Horizon,
    Kpi,
    Money,
    Objective,
    Span,
    Target,
    canonical_channel,
    channel_name,
    describe_goal,
    goal_from_mapping,
    normalise_channel_key,
    parse_goal,
    parse_goal_partial,
)
from conductor.pipeline import (
    Pipeline,
    StepPlan,
    ValidationReport,
    load_pipeline,
    plan_pipeline,
    resolve_goal,
    validate_pipeline,
)
from conductor.specs import (
    AgentOutput,
    Allocation,
    Artifact,
    Audience,
    Copy,
    Insight,
    TaskSpec,
    model_assisted,
    spec_hash,
)
from conductor.verdict import Action, Severity, Verdict, Violation, apply_fixes

__all__ = [
    "Action",
    "Agent",
    "AgentError",
    "AgentNotFound",
    "AgentOutput",
    "Allocation",
    "ApprovalError",
    "Artifact",
    "Audience",
    "BrandBlocked",
    "BrandError",
    "BudgetExceeded",
    "BusinessGoal",
    "Channel",
    "ConductorError",
    "Constraint",
    "Copy",
    "DataCatalog",
    "DataError",
    "DataNeed",
    "DataSource",
    "Derived",
    "GoalError",
    "Horizon",
    "Inputs",
    "Insight",
    "Kpi",
    "LLMError",
    "Money",
    "Objective",
    "Pipeline",
    "PipelineError",
    "PipelineInvalid",
    "PlanContext",
    "PlanError",
    "Provenance",
    "RunContext",
    "RunError",
    "RunLocked",
    "RunResult",
    "Runner",
    "Severity",
    "Span",
    "SpecError",
    "StepPlan",
    "StoreError",
    "Target",
    "TaskSpec",
    "ValidationReport",
    "Verdict",
    "Violation",
    "apply_fixes",
    "available_agents",
    "canonical_channel",
    "channel_name",
    "describe_goal",
    "get_agent",
    "goal_from_mapping",
    "load_pipeline",
    "model_assisted",
    "normalise_channel_key",
    "parse_goal",
    "parse_goal_partial",
    "plan_pipeline",
    "register",
    "resolve_goal",
    "spec_hash",
    "validate_pipeline",
]
__version__ = "0.1.0"

# The runner pulls in LangGraph and the store drivers: load it on first use so that
# `import conductor` stays light for agent authors.
_LAZY = {"Runner": "conductor.runtime._runner", "RunResult": "conductor.runtime._runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'conductor' has no attribute {name!r}")
