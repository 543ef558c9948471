"""The runtime: a pipeline compiled into one LangGraph graph, and the runner that drives it.

:func:`build_graph` compiles a planned pipeline (``_compile``); :class:`Runner` runs,
resumes and signs off runs against the store, writing the run's files at the end
(``_runner``); ``_approvals`` reads the sign-off inbox, prepares an approver's edit and
digests the audit log. The CLI, the Python API and (later) the service all go through
the :class:`Runner`.
"""

from conductor.logging import configure_logging_once
from conductor.runtime._approvals import audit_digest, pending_approvals, prepare_edit
from conductor.runtime._compile import RunObserver, RunState, Services, build_graph, initial_state
from conductor.runtime._goal_parse import parse_goal_billed
from conductor.runtime._runner import Runner, RunResult, load_brand_for

__all__ = [
    "RunObserver",
    "RunResult",
    "RunState",
    "Runner",
    "Services",
    "audit_digest",
    "build_graph",
    "configure_logging_once",
    "initial_state",
    "load_brand_for",
    "parse_goal_billed",
    "pending_approvals",
    "prepare_edit",
]
