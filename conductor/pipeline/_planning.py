"""Planning: every step's typed spec, built up front before anything runs.

The pipeline's goal becomes a typed goal, each agent's input slots are matched to upstream
steps by output type, and each agent's ``plan()`` turns goal and parameters into its spec.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conductor.agents import Agent, PlanContext, get_agent
from conductor.errors import AgentNotFound, ConductorError, GoalError, SpecError
from conductor.goals import BusinessGoal
from conductor.pipeline._file import Pipeline
from conductor.specs import TaskSpec


class StepPlan(BaseModel):
    """One step's typed spec, as planned before anything runs."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    step: str = Field(description="Step id.")
    agent: str = Field(description="Agent name.")
    needs: list[str] = Field(description="Upstream step ids.")
    slots: dict[str, str] = Field(description="Agent input slot -> upstream step id filling it.")
    spec: TaskSpec = Field(description="The typed task spec.")
    spec_hash: str = Field(description="Hash of the spec, recorded in the audit log.")
    provenance: dict[str, Any] = Field(description="Spec field -> where its value came from.")
    approve: list[str] = Field(description="Roles that must sign off.")


def resolve_goal(pipeline: Pipeline, today: dt.date | None = None) -> BusinessGoal:
    """Turn the pipeline's goal (text or fields) into a typed goal."""
    from conductor import goals

    day = today or pipeline.today or dt.date.today()
    try:
        goal: BusinessGoal
        parse = getattr(goals, "parse_goal", None)
        from_mapping = getattr(goals, "goal_from_mapping", None)
        if isinstance(pipeline.goal, str):
            if parse is None:
                raise GoalError(
                    "free-text goals need the goal parser, which this build does not have yet",
                    code="goal.parser-missing",
                    hint="give the goal as fields, e.g. `goal: {objective: grow_revenue, kpi: revenue}`",
                )
            goal = parse(pipeline.goal, today=day)
        elif from_mapping is not None:
            goal = from_mapping(pipeline.goal, today=day)
        else:
            goal = BusinessGoal.model_validate(pipeline.goal)
        return goal
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise GoalError(
            f"goal.{where}: {first['msg']}",
            code="goal.invalid",
            hint="see docs/goals.md for the goal fields",
        ) from None


def bind_slots(
    pipeline: Pipeline, sid: str, agent_cls: type[Agent[Any, Any]]
) -> tuple[dict[str, str], list[str]]:
    """Match the agent's ``needs`` slots to upstream steps by output type.

    Returns the slot -> step mapping and the slots nobody fills.
    """
    step = pipeline.steps[sid]
    slots: dict[str, str] = {}
    unfilled: list[str] = []
    for slot, typ in agent_cls.needs.items():
        candidates = []
        for up in step.needs:
            if up not in pipeline.steps:
                continue
            try:
                up_cls = get_agent(pipeline.steps[up].agent)
            except AgentNotFound:
                continue
            if issubclass(up_cls.output_type, typ):
                candidates.append(up)
        if slot in candidates:
            slots[slot] = slot
        elif candidates:
            slots[slot] = candidates[0]
        else:
            unfilled.append(slot)
    return slots, unfilled


def plan_pipeline(
    pipeline: Pipeline,
    goal: BusinessGoal,
    *,
    brand: Any = None,
    today: dt.date | None = None,
) -> dict[str, StepPlan]:
    """Build every step's spec up front (pure: nothing runs, nothing is written).

    Raises:
        AgentNotFound, GoalError, SpecError: for the first step that cannot be planned.
    """
    from conductor.specs import spec_hash

    day = today or pipeline.today or dt.date.today()
    plans: dict[str, StepPlan] = {}
    for sid in pipeline.topo_order():
        step = pipeline.steps[sid]
        cls = get_agent(step.agent)
        agent = cls()
        slots, _ = bind_slots(pipeline, sid, cls)
        ctx = PlanContext(
            step=sid,
            goal=goal,
            params=step.params,
            spec_type=cls.spec_type,
            upstream={slot: plans[up].spec for slot, up in slots.items() if up in plans},
            brand=brand,
            today=day,
            base_dir=pipeline.base_dir.resolve(),
        )
        try:
            agent.check_goal(goal, sid)
            spec = agent.plan(ctx)
        except (GoalError, SpecError) as exc:
            if isinstance(exc, SpecError):
                exc.step = exc.step or sid
                exc.agent = exc.agent or step.agent
            raise
        except ConductorError:
            raise
        except Exception as exc:
            raise SpecError(
                f"agent {step.agent!r} failed while planning: {type(exc).__name__}: {exc}",
                step=sid,
                agent=step.agent,
                code="spec.plan-failed",
                hint="this is a bug in the agent; report it to its author",
            ) from exc
        if not isinstance(spec, cls.spec_type):
            raise SpecError(
                f"plan() returned {type(spec).__name__}, expected {cls.spec_type.__name__}",
                step=sid,
                agent=step.agent,
                code="spec.wrong-type",
            )
        plans[sid] = StepPlan(
            step=sid,
            agent=step.agent,
            needs=list(step.needs),
            slots=slots,
            spec=spec,
            spec_hash=spec_hash(spec),
            provenance={k: v.model_dump() for k, v in ctx.provenance.items()},
            approve=list(step.approve),
        )
    return plans
