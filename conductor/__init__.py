"""Conductor: run a marketing organisation's specialist AI agents as one orchestra.

The Python API mirrors the CLI: :func:`validate_pipeline`, :func:`load_pipeline`,
:func:`plan_pipeline` (with :func:`resolve_goal`), and :class:`Runner` for ``run``,
``resume`` and ``decide`` (approve / reject / edit).
"""

import importlib
from typing import TYPE_CHECKING, Any

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
    ScaffoldError,
    SpecError,
    StoreError,
)

# The names below load on first use (see _LAZY). Runner and RunResult are left out even
# here: the package's face must not depend on the runtime, not even for a type checker
# (the import-linter contracts count type-checking imports).
if TYPE_CHECKING:
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
    "ScaffoldError",
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

# `import conductor` (and so every `conductor` command, even `--help`) must not pay for
# what only some commands use: the agent registry and data catalog (DuckDB), the
# pipeline loader, the goal grammar, the runner (LangGraph). Each public name loads its
# module on first use; `from conductor import Agent` works as before.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "Agent",
            "Derived",
            "Inputs",
            "PlanContext",
            "Provenance",
            "RunContext",
            "available_agents",
            "get_agent",
            "register",
        ),
        "conductor.agents",
    ),
    **dict.fromkeys(("DataCatalog", "DataNeed", "DataSource"), "conductor.data"),
    **dict.fromkeys(
        (
            "BusinessGoal",
            "Channel",
            "Constraint",
            "Horizon",
            "Kpi",
            "Money",
            "Objective",
            "Span",
            "Target",
            "canonical_channel",
            "channel_name",
            "describe_goal",
            "goal_from_mapping",
            "normalise_channel_key",
            "parse_goal",
            "parse_goal_partial",
        ),
        "conductor.goals",
    ),
    **dict.fromkeys(
        (
            "Pipeline",
            "StepPlan",
            "ValidationReport",
            "load_pipeline",
            "plan_pipeline",
            "resolve_goal",
            "validate_pipeline",
        ),
        "conductor.pipeline",
    ),
    **dict.fromkeys(
        (
            "AgentOutput",
            "Allocation",
            "Artifact",
            "Audience",
            "Copy",
            "Insight",
            "TaskSpec",
            "model_assisted",
            "spec_hash",
        ),
        "conductor.specs",
    ),
    **dict.fromkeys(
        ("Action", "Severity", "Verdict", "Violation", "apply_fixes"), "conductor.verdict"
    ),
    **dict.fromkeys(("RunResult", "Runner"), "conductor.runtime._runner"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conductor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
