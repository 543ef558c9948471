"""The runtime: a pipeline compiled into one LangGraph graph, and the runner that drives it.

:func:`build_graph` compiles a planned pipeline (``_compile``); :class:`Runner` runs,
resumes and signs off runs against the store, writing the run's files at the end
(``_runner``); ``_approvals`` reads the sign-off inbox, prepares an approver's edit and
digests the audit log; ``_hosted`` plans a pipeline into a graph for a host that keeps
its own checkpoints (the LangGraph server). The CLI, the Python API and (later) the
service all go through the :class:`Runner`.
"""

import importlib
from typing import TYPE_CHECKING, Any

from conductor.logging import configure_logging_once

# Each name loads its module on first use: `conductor inbox` reads the store and needs
# the approvals, not LangGraph (which _compile and _runner bring, ~2 s on a small VM).
if TYPE_CHECKING:
    from conductor.runtime._approvals import (
        audit_digest,
        pending_approvals,
        prepare_edit,
        prepare_edit_data,
        run_approvals,
    )
    from conductor.runtime._compile import (
        PLAN_NODE,
        RunObserver,
        RunState,
        Services,
        build_graph,
        initial_state,
    )
    from conductor.runtime._goal_parse import parse_goal_billed
    from conductor.runtime._hosted import PlannedPipeline, hosted_graph, plan_offline, planned
    from conductor.runtime._runner import Runner, RunResult, load_brand_for, new_run_id

_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("audit_digest", "pending_approvals", "prepare_edit", "prepare_edit_data", "run_approvals"),
        "_approvals",
    ),
    **dict.fromkeys(
        ("PLAN_NODE", "RunObserver", "RunState", "Services", "build_graph", "initial_state"),
        "_compile",
    ),
    "parse_goal_billed": "_goal_parse",
    **dict.fromkeys(("PlannedPipeline", "hosted_graph", "plan_offline", "planned"), "_hosted"),
    **dict.fromkeys(("Runner", "RunResult", "load_brand_for", "new_run_id"), "_runner"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conductor.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"conductor.runtime.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "PLAN_NODE",
    "PlannedPipeline",
    "RunObserver",
    "RunResult",
    "RunState",
    "Runner",
    "Services",
    "audit_digest",
    "build_graph",
    "configure_logging_once",
    "hosted_graph",
    "initial_state",
    "load_brand_for",
    "new_run_id",
    "parse_goal_billed",
    "pending_approvals",
    "plan_offline",
    "planned",
    "prepare_edit",
    "prepare_edit_data",
    "run_approvals",
]
