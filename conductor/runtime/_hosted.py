"""A pipeline's graph for a host that brings its own persistence (the LangGraph server).

:class:`Runner` owns a run from end to end: the store's checkpointer, the run record, the
audit log, the run's files. A LangGraph server (``langgraph dev``, the one Studio talks
to) wants only the compiled graph and checkpoints it itself. :func:`plan_offline` checks
and plans a pipeline file the way :meth:`Runner.run` does without a model, and
:func:`hosted_graph` builds that plan's graph with nothing bound to a store: compile it
with the host's checkpointer, or none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph

from conductor.goals import BusinessGoal
from conductor.pipeline import Pipeline, StepPlan, check_pipeline, plan_pipeline, resolve_goal
from conductor.runtime._compile import (
    RunObserver,
    Services,
    _NullObserver,
    build_graph,
    initial_state,
)
from conductor.runtime._runner import load_brand_for

__all__ = ["PlannedPipeline", "hosted_graph", "plan_offline", "planned"]


@dataclass(frozen=True)
class PlannedPipeline:
    """A pipeline file checked and planned: what a graph of it is built from."""

    pipeline: Pipeline
    brand: Any
    goal: BusinessGoal
    plans: Mapping[str, StepPlan]
    today: dt.date

    def initial_state(self, run_id: str) -> dict[str, Any]:
        """The input a run of this plan starts from (see :func:`initial_state`)."""
        return initial_state(run_id, self.plans, self.goal)


def plan_offline(path: str | Path, *, today: dt.date | None = None) -> PlannedPipeline:
    """Check and plan a pipeline file as :meth:`Runner.run` does without a model.

    Args:
        path: The pipeline file.
        today: Planning date (default: the pipeline's ``today``, else today).

    Raises:
        PipelineError: The file has problems (every one of them, as ``conductor
            validate`` lists them).
    """
    pipeline = check_pipeline(path, today=today)
    day = today or pipeline.today or dt.date.today()
    brand = load_brand_for(pipeline)
    goal = resolve_goal(pipeline, day)
    plans = plan_pipeline(pipeline, goal, brand=brand, today=day)
    return PlannedPipeline(pipeline=pipeline, brand=brand, goal=goal, plans=plans, today=day)


def planned(
    path: str | Path, *, today: dt.date | None = None
) -> tuple[Pipeline, BusinessGoal, dict[str, StepPlan]]:
    """The pipeline, its goal and its plans (``conductor plan``, ``graph``, the service)."""
    done = plan_offline(path, today=today)
    return done.pipeline, done.goal, dict(done.plans)


def hosted_graph(
    planned: PlannedPipeline,
    *,
    run_id: str,
    out_dir: Path,
    observer: RunObserver | None = None,
) -> StateGraph:  # type: ignore[type-arg]
    """The planned pipeline's graph, uncompiled, bound to no store and no model.

    Its first node fills the planned input into a run started with an empty state, so a
    host that cannot be handed :meth:`PlannedPipeline.initial_state` (Studio's empty
    input) still runs the plan. No audit event leaves the state: they collect in its
    ``outbox``, which only the :class:`Runner` copies to the audit log.

    Args:
        planned: From :func:`plan_offline`.
        run_id: The run id the agents see (the host's thread id, say).
        out_dir: Where the steps write their files (``steps/<step>/``).
        observer: Receives progress events (default: none).
    """
    svc = Services(
        pipeline=planned.pipeline,
        run_id=run_id,
        out_dir=out_dir,
        catalog=planned.pipeline.catalog(),
        brand=planned.brand,
        today=planned.today,
        observer=observer or _NullObserver(),
    )
    return build_graph(
        planned.plans, planned.goal, svc, planned_input=planned.initial_state(run_id)
    )
