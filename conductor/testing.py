"""Helpers for plugin authors: a fake chat model and the agent conformance check.

Example::

    from conductor.testing import check_agent

    def test_my_agent_conforms(tmp_path):
        check_agent(MyAgent, data={"events": "tests/data/events.csv"}, out_dir=tmp_path)
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from conductor.agents import Agent, Inputs, PlanContext, RunContext
from conductor.data import DataCatalog, DataSource
from conductor.goals import BusinessGoal, Horizon, Kpi, Money, Objective, Target
from conductor.llm import FakeChatModel
from conductor.specs import AgentOutput, TaskSpec, spec_hash

__all__ = ["ConformanceError", "FakeChatModel", "check_agent", "sample_goal"]


class ConformanceError(AssertionError):
    """An agent breaks the agent contract; the message lists every problem."""


def sample_goal(today: dt.date = dt.date(2027, 6, 1), **fields: Any) -> BusinessGoal:
    """The goal :func:`check_agent` uses unless given one: complete, so every agent can plan.

    *Grow online revenue 12% in Q3 2027 with a $250k budget across search, social and
    email*: objective ``grow_revenue``, **KPI ``revenue``**, a relative target of +12%, a
    budget of 250,000 USD, the horizon 2027-07-01..2027-09-30 and the channels
    ``paid_search``, ``social`` and ``email``.

    Args:
        today: Unused (kept for callers); the goal's dates are fixed.
        **fields: Goal fields to replace, validated, e.g. ``kpi=Kpi.CONVERSIONS`` or
            ``budget=None``: an agent whose ``plan()`` reads the KPI is then checked
            against that KPI instead of revenue.
    """
    goal = BusinessGoal(
        objective=Objective.GROW_REVENUE,
        kpi=Kpi.REVENUE,
        target=Target(kind="relative", value=0.12),
        budget=Money(amount=250_000, currency="USD"),
        horizon=Horizon(start=dt.date(2027, 7, 1), end=dt.date(2027, 9, 30), label="Q3 2027"),
        channels=["paid_search", "social", "email"],
        source_text="Grow online revenue 12% in Q3 2027 with a $250k budget across search, "
        "social and email",
    )
    if not fields:
        return goal
    return BusinessGoal.model_validate(goal.model_dump() | fields)


def _undocumented(model: type[BaseModel]) -> list[str]:
    return [n for n, f in model.model_fields.items() if not (f.description or "").strip()]


def check_agent(
    agent_cls: type[Agent[Any, Any]],
    *,
    goal: BusinessGoal | None = None,
    params: Mapping[str, Any] | None = None,
    data: Mapping[str, str | Path] | None = None,
    upstream: Mapping[str, AgentOutput] | None = None,
    brand: Any = None,
    out_dir: Path | None = None,
    run: bool = True,
) -> AgentOutput | None:
    """Check an agent class against the contract; raise :class:`ConformanceError` if broken.

    Static checks: name, spec and output types, documented fields, JSON schemas.
    Planning: ``plan()`` returns the spec type and is deterministic.
    Running (when ``run`` and the agent's required data are given): ``run()`` returns the
    output type, twice the same for the same inputs, JSON round-trips, artifact ids are
    unique.

    Args:
        agent_cls: The agent class.
        goal: The goal ``plan()`` and ``run()`` see. **Default: :func:`sample_goal`**, which
            grows **revenue** (KPI ``revenue``) 12% in Q3 2027 with 250,000 USD across
            paid_search, social and email; an agent whose ``plan()`` reads the KPI, budget
            or channels gets those. Pass your own to check another case, e.g.
            ``sample_goal(kpi=Kpi.CONVERSIONS)`` or ``parse_goal("...", today=...)``.
        params: The step's ``with:`` parameters.
        data: Data source name -> CSV/Parquet file, for the run checks.
        upstream: Slot -> upstream output, for agents that ``need`` one.
        brand: A brand strategy, or None.
        out_dir: Folder for the runs' files (default: a new temporary folder).
        run: False to check only the declaration and ``plan()``.

    Returns:
        The output of the run, when one was made.
    """
    name = getattr(agent_cls, "name", "")
    spec_type, out_type = _check_declaration(agent_cls, name)
    goal = goal or sample_goal()
    agent = agent_cls()
    agent.check_goal(goal, "check")
    spec = _check_plan(agent, name, spec_type, goal, dict(params or {}), brand)
    required = [s for s, need in agent_cls.data.items() if need.required]
    if not run or any(s not in (data or {}) for s in required):
        return None
    tmp = Path(out_dir or tempfile.mkdtemp(prefix="conductor-check-"))
    first = _run_once(agent, name, out_type, spec, goal, data, upstream, brand, tmp / "run0")
    second = _run_once(agent, name, out_type, spec, goal, data, upstream, brand, tmp / "run1")
    _check_outputs(name, out_type, first, second)
    return first


def _check_declaration(
    agent_cls: type[Agent[Any, Any]], name: str
) -> tuple[type[TaskSpec], type[AgentOutput]]:
    """The static clauses: name, description, spec and output types, fields, needs."""
    problems: list[str] = []
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        problems.append(f"name {name!r} must be snake_case")
    if not (agent_cls.description or "").strip():
        problems.append("description is empty")
    spec_type = getattr(agent_cls, "spec_type", None)
    out_type = getattr(agent_cls, "output_type", None)
    if not (isinstance(spec_type, type) and issubclass(spec_type, TaskSpec)):
        raise ConformanceError(f"{name}: spec_type must subclass TaskSpec")
    if not (isinstance(out_type, type) and issubclass(out_type, AgentOutput)):
        raise ConformanceError(f"{name}: output_type must subclass AgentOutput")
    if spec_type.model_config.get("extra") != "forbid" or not spec_type.model_config.get("frozen"):
        problems.append("spec_type must be frozen with extra='forbid' (inherit TaskSpec's config)")
    for model in (spec_type, out_type):
        problems.extend(_model_problems(model))
    for slot, typ in agent_cls.needs.items():
        if not (isinstance(typ, type) and issubclass(typ, AgentOutput)):
            problems.append(f"needs[{slot!r}] must be an AgentOutput subclass")
    if problems:
        raise ConformanceError(f"{name}: " + "; ".join(problems))
    return spec_type, out_type


def _model_problems(model: type[BaseModel]) -> list[str]:
    """A spec or output model documents every field and has a JSON schema."""
    problems: list[str] = []
    missing = _undocumented(model)
    if missing:
        problems.append(f"{model.__name__} fields without description: {', '.join(missing)}")
    try:
        model.model_json_schema()
    except Exception as exc:
        problems.append(f"{model.__name__} has no JSON schema: {exc}")
    return problems


def _check_plan(
    agent: Agent[Any, Any],
    name: str,
    spec_type: type[TaskSpec],
    goal: BusinessGoal,
    params: dict[str, Any],
    brand: Any,
) -> TaskSpec:
    """The planning clause: ``plan()`` returns the spec type, the same spec twice."""

    def plan_once() -> TaskSpec:
        ctx = PlanContext(
            step="check", goal=goal, params=dict(params), spec_type=spec_type, brand=brand
        )
        spec = agent.plan(ctx)
        if not isinstance(spec, spec_type):
            raise ConformanceError(f"{name}: plan() returned {type(spec).__name__}")
        return spec

    spec = plan_once()
    if spec_hash(spec) != spec_hash(plan_once()):
        raise ConformanceError(f"{name}: plan() is not deterministic")
    return spec


def _run_once(
    agent: Agent[Any, Any],
    name: str,
    out_type: type[AgentOutput],
    spec: TaskSpec,
    goal: BusinessGoal,
    data: Mapping[str, str | Path] | None,
    upstream: Mapping[str, AgentOutput] | None,
    brand: Any,
    out_dir: Path,
) -> AgentOutput:
    """One run into ``out_dir`` on fresh data; it must return the output type."""
    catalog = DataCatalog({k: DataSource(path=Path(v)) for k, v in (data or {}).items()})
    try:
        ctx = RunContext(
            run_id="check",
            step="check",
            agent=name,
            goal=goal,
            out_dir=out_dir,
            brand=brand,
        )
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        out = agent.run(spec, Inputs(upstream=dict(upstream or {}), catalog=catalog), ctx)
    finally:
        catalog.close()
    if not isinstance(out, out_type):
        raise ConformanceError(f"{name}: run() returned {type(out).__name__}")
    return out


def _check_outputs(
    name: str, out_type: type[AgentOutput], first: AgentOutput, second: AgentOutput
) -> None:
    """The output clauses: JSON round-trip, deterministic runs, unique artifact ids."""
    js = first.model_dump(mode="json")
    if out_type.model_validate(js).model_dump(mode="json") != js:
        raise ConformanceError(f"{name}: output does not round-trip through JSON")
    if _strip_paths(js) != _strip_paths(second.model_dump(mode="json")):
        raise ConformanceError(f"{name}: run() is not deterministic for the same inputs")
    ids = [a.id for a in first.artifacts()]
    if len(ids) != len(set(ids)):
        raise ConformanceError(f"{name}: artifact ids are not unique: {ids}")
    if any(not i for i in ids):
        raise ConformanceError(f"{name}: every artifact needs an id")


def _strip_paths(value: Any) -> Any:
    """Ignore run-folder paths when comparing two runs (they differ by design)."""
    if isinstance(value, dict):
        return {k: _strip_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_paths(v) for v in value]
    if isinstance(value, str) and ("/run0/" in value or "/run1/" in value):
        return "<path>"
    return value
