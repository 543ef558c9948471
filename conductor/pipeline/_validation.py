"""Static validation of a pipeline file: report *every* problem at once.

On top of the schema problems found while loading: unknown agents, ``needs`` naming no
step, cycles, unknown or empty approver roles, type mismatches between steps, a missing or
broken brand file, missing data files and data sources lacking columns, and parameters
failing an agent's spec schema — each located ``file:line:col`` with a hint.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor._yaml import _Doc
from conductor.agents import Agent, PlanContext, get_agent
from conductor.errors import (
    AgentNotFound,
    BrandError,
    ConductorError,
    GoalError,
    PipelineError,
    PipelineInvalid,
    SpecError,
)
from conductor.goals import BusinessGoal
from conductor.pipeline._file import Pipeline, _did_you_mean, _load
from conductor.pipeline._planning import bind_slots, resolve_goal


@dataclass
class ValidationReport:
    """Everything :func:`validate_pipeline` found."""

    file: Path
    errors: list[ConductorError] = field(default_factory=list)
    pipeline: Pipeline | None = None
    goal: BusinessGoal | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.errors

    def __iter__(self) -> Iterator[ConductorError]:
        return iter(self.errors)


def _find_cycle(pipeline: Pipeline) -> list[str] | None:
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for m in pipeline.steps[n].needs:
            if m not in pipeline.steps:
                continue
            if color.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if color.get(m) is None:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for s in pipeline.steps:
        if color.get(s) is None:
            cyc = visit(s)
            if cyc:
                return cyc
    return None


def validate_pipeline(
    path: str | Path, *, today: dt.date | None = None, check_data: bool = True
) -> ValidationReport:
    """Check a pipeline file and report every problem at once (never raises for bad input)."""
    path = Path(path)
    report = ValidationReport(file=path)
    try:
        loaded = _load(path)
    except PipelineInvalid as exc:
        report.errors.extend(exc.errors)
        return report
    except PipelineError as exc:
        report.errors.append(exc)
        return report
    p, doc = loaded.pipeline, loaded.doc
    report.pipeline = p
    errs = report.errors
    errs.extend(loaded.errors)

    agents: dict[str, type[Agent[Any, Any]]] = {}
    for sid, step in p.steps.items():
        try:
            agents[sid] = get_agent(step.agent)
        except AgentNotFound as exc:
            errs.append(doc.error(exc.message, "steps", sid, "agent", code=exc.code, hint=exc.hint))
        for i, need in enumerate(step.needs):
            if need not in p.steps:
                errs.append(
                    doc.error(
                        f"step {sid!r} needs {need!r}, but there is no step with that id",
                        "steps",
                        sid,
                        "needs",
                        i,
                        code="pipeline.unknown-step",
                        hint=_did_you_mean(need, [s for s in p.steps if s != sid]),
                    )
                )
            elif need == sid:
                errs.append(
                    doc.error(
                        f"step {sid!r} needs itself",
                        "steps",
                        sid,
                        "needs",
                        i,
                        code="pipeline.cycle",
                        hint="remove it from its own `needs`",
                    )
                )
        for i, role in enumerate(step.approve):
            if role not in p.approvers:
                errs.append(
                    doc.error(
                        f"step {sid!r} must be approved by role {role!r}, "
                        "but `approvers` has no such role",
                        "steps",
                        sid,
                        "approve",
                        i,
                        code="pipeline.unknown-role",
                        hint=(
                            f"{_did_you_mean(role, list(p.approvers))} "
                            if difflib.get_close_matches(role, list(p.approvers), n=1)
                            else ""
                        )
                        + f"or add `approvers: {{{role}: [name]}}`",
                    )
                )
            elif not p.approvers[role]:
                errs.append(
                    doc.error(
                        f"role {role!r} has nobody in it, so step {sid!r} could never be approved",
                        "approvers",
                        role,
                        code="pipeline.empty-role",
                        hint="list at least one name under the role",
                    )
                )
    cycle = _find_cycle(p)
    if cycle and len(cycle) > 2:
        errs.append(
            doc.error(
                "steps depend on each other in a cycle: " + " -> ".join(cycle),
                "steps",
                cycle[0],
                "needs",
                code="pipeline.cycle",
                hint="a step can only need steps that do not (indirectly) need it",
            )
        )
    for sid, cls in agents.items():
        _, unfilled = bind_slots(p, sid, cls)
        for slot in unfilled:
            typ = cls.needs[slot].__name__
            producers = [
                s
                for s, c in agents.items()
                if s != sid and issubclass(c.output_type, cls.needs[slot])
            ]
            hint = (
                f"add {producers[0]!r} to this step's `needs`"
                if producers
                else f"add a step whose agent produces a {typ}"
            )
            errs.append(
                doc.error(
                    f"agent {cls.name!r} needs a {typ} (input {slot!r}), "
                    "but none of the steps in `needs` produces one",
                    "steps",
                    sid,
                    "needs" if p.steps[sid].needs else "agent",
                    code="pipeline.type-mismatch",
                    hint=hint,
                )
            )

    if p.brand is not None:
        brand_path = p.resolve(p.brand)
        if not brand_path.exists():
            errs.append(
                doc.error(
                    f"brand file not found: {brand_path}",
                    "brand",
                    code="pipeline.brand-not-found",
                    hint="paths are relative to the pipeline file",
                )
            )
        else:
            try:
                from conductor.brand import load_brand

                load_brand(brand_path)
            except BrandError as exc:
                errs.append(exc)
            except ImportError:
                pass
    catalog = p.catalog()
    for name, src in p.data.items():
        resolved = p.resolve(src.path)
        if not any(resolved.parent.glob(resolved.name)):
            errs.append(
                doc.error(
                    f"data source {name!r}: file not found: {resolved}",
                    "data",
                    name,
                    code="data.file-not-found",
                    hint="paths in `data:` are relative to the pipeline file",
                )
            )
    if check_data:
        missing_files = {
            e.key.split(".")[1]
            for e in errs
            if isinstance(e, PipelineError) and e.code == "data.file-not-found" and e.key
        }
        for sid, cls in agents.items():
            for source, data_need in cls.data.items():
                if source in missing_files:
                    continue
                for derr in catalog.check(source, data_need):
                    where = ("data", source) if source in p.data else ("steps", sid)
                    msg = f"step {sid!r} ({cls.name}): {derr.location()}: {derr.message}"
                    errs.append(doc.error(msg, *where, code=derr.code, hint=derr.hint))
    try:
        goal = resolve_goal(p, today)
        report.goal = goal
    except GoalError as exc:
        errs.append(doc.error(exc.message, "goal", code=exc.code, hint=exc.hint))
        goal = None
    except (ImportError, AttributeError):
        goal = None
    if goal is not None and not any(
        isinstance(e, PipelineError) and e.code in ("pipeline.cycle", "agent.unknown") for e in errs
    ):
        brand = None
        if p.brand is not None and p.resolve(p.brand).exists():
            try:
                from conductor.brand import load_brand

                brand = load_brand(p.resolve(p.brand))
            except (BrandError, ImportError):
                brand = None
        _plan_errors(p, doc, goal, brand, today, agents, errs)
    catalog.close()
    return report


def _plan_errors(
    p: Pipeline,
    doc: _Doc,
    goal: BusinessGoal,
    brand: Any,
    today: dt.date | None,
    agents: Mapping[str, type[Agent[Any, Any]]],
    errs: list[ConductorError],
) -> None:
    """Plan each step on its own so every step's parameter problems are reported."""
    from conductor.specs import spec_hash

    day = today or p.today or dt.date.today()
    for sid, cls in agents.items():
        step = p.steps[sid]
        ctx = PlanContext(
            step=sid, goal=goal, params=step.params, spec_type=cls.spec_type, brand=brand, today=day
        )
        try:
            cls().check_goal(goal, sid)
            spec = cls().plan(ctx)
            spec_hash(spec)
        except GoalError as exc:
            errs.append(doc.error(exc.message, "goal", code=exc.code, hint=exc.hint))
        except SpecError as exc:
            fld = (exc.field or "").split(".")[0]
            path: tuple[str, ...] = (
                ("steps", sid, "with", fld)
                if fld in step.params
                else ("steps", sid, "with" if step.params else "agent")
            )
            name = f"parameter {fld!r}" if fld else "parameters"
            errs.append(
                doc.error(
                    f"step {sid!r} ({cls.name}): {name}: {exc.message}",
                    *path,
                    code=exc.code,
                    hint=exc.hint,
                )
            )
        except ConductorError as exc:
            errs.append(doc.error(f"step {sid!r}: {exc}", "steps", sid, code=exc.code))
        except Exception as exc:
            errs.append(
                doc.error(
                    f"step {sid!r}: agent {cls.name!r} failed while planning: "
                    f"{type(exc).__name__}: {exc}",
                    "steps",
                    sid,
                    code="spec.plan-failed",
                    hint="this is a bug in the agent; report it to its author",
                )
            )


def check_pipeline(path: str | Path, *, today: dt.date | None = None) -> Pipeline:
    """Validate and return the pipeline, or raise every problem at once.

    Raises:
        PipelineInvalid: with all problems found (data, brand and goal errors included,
            converted to located pipeline errors).
    """
    report = validate_pipeline(path, today=today)
    if not report.ok:
        located: list[PipelineError] = []
        for e in report.errors:
            if isinstance(e, PipelineError):
                located.append(e)
            else:
                located.append(
                    PipelineError(
                        str(e),
                        file=getattr(e, "file", None) or path,
                        line=getattr(e, "line", None),
                        column=getattr(e, "column", None),
                        code=e.code,
                    )
                )
        raise PipelineInvalid(located)
    assert report.pipeline is not None
    return report.pipeline
