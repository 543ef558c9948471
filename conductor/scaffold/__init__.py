"""Scaffolds: the files ``conductor new`` writes to start an agent package or a pipeline.

:func:`new_agent` writes a plugin package (entry point, typed spec and output, a test
that runs ``conductor.testing.check_agent``, a README) whose tests pass and whose code
is lint-clean as generated; :func:`new_pipeline` writes a commented pipeline file for
the agents installed. The templates are package data under ``templates/``, filled with
:class:`string.Template`. Nothing is ever overwritten (:class:`ScaffoldError`,
``new.exists``).
"""

from __future__ import annotations

from conductor.scaffold._agent import new_agent
from conductor.scaffold._names import MAX_NAME, AgentNames, agent_names_for
from conductor.scaffold._pipeline import DEFAULT_GOAL, new_pipeline

__all__ = ["DEFAULT_GOAL", "MAX_NAME", "AgentNames", "agent_names_for", "new_agent", "new_pipeline"]
