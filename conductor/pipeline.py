"""Pipeline files: schema, loading with line numbers, and static validation.

A pipeline is YAML written by a digital transformation lead (see ``docs/pipelines.md``).
:func:`load_pipeline` parses it into a :class:`Pipeline` and keeps the position of every
key, so that :func:`validate_pipeline` can report *every* problem at once as
``file:line:col: message`` with a hint — unknown keys ("did you mean"), unknown agents,
``needs`` naming no step, cycles, type mismatches between steps, parameters failing an
agent's spec schema, missing files and data sources lacking columns.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from conductor.agents import Agent, PlanContext, get_agent
from conductor.data import DataCatalog, DataSource
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
from conductor.specs import TaskSpec

__all__ = [
    "Limits",
    "Pipeline",
    "ReviewConfig",
    "StepConfig",
    "StepPlan",
    "load_pipeline",
    "plan_pipeline",
    "validate_pipeline",
]

_STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


class StepConfig(BaseModel):
    """One step: which agent runs, after which steps, with which parameters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    agent: str = Field(description="Registered agent name (see `conductor agents`).")
    needs: list[str] = Field(
        default_factory=list, description="Step ids that must finish first; their outputs flow in."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        alias="with",
        description="Agent parameters; they win over values derived from the goal.",
    )
    approve: list[str] = Field(
        default_factory=list, description="Roles (under `approvers`) that must sign off."
    )
    description: str = Field(default="", description="What this step is for, in words.")

    @field_validator("needs", "approve", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class ReviewConfig(BaseModel):
    """How brand review findings are handled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rounds: int = Field(
        default=2, ge=0, le=10, description="Revision rounds before `on_exhausted` applies."
    )
    on_exhausted: Literal["escalate", "block"] = Field(
        default="escalate",
        description="What happens when violations remain after `max_rounds` revisions.",
    )
    model_review: bool = Field(
        default=True,
        description="With a language model configured, also score copy against the brand "
        "voice (it can warn or escalate, never overrule a deterministic block).",
    )


class Limits(BaseModel):
    """Per-run caps; the run stops cleanly when one is hit and can be resumed after raising it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_llm_cost_usd: float | None = Field(default=None, ge=0, description="USD cap on LLM cost.")
    max_llm_calls: int | None = Field(default=None, ge=0, description="Cap on LLM calls.")


class Pipeline(BaseModel):
    """A parsed pipeline file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(alias="pipeline", description="Pipeline name (letters, digits, - and _).")
    description: str = Field(default="", description="What the pipeline is for.")
    goal: str | dict[str, Any] = Field(description="Business goal: plain words or fields.")
    brand: Path | None = Field(default=None, description="Brand strategy file.")
    data: dict[str, DataSource] = Field(default_factory=dict, description="Named data sources.")
    steps: dict[str, StepConfig] = Field(description="Step id -> step.")
    approvers: dict[str, list[str]] = Field(
        default_factory=dict, description="Role -> names of people who may sign off."
    )
    review: ReviewConfig = Field(default_factory=ReviewConfig, description="Review policy.")
    limits: Limits = Field(default_factory=Limits, description="Run limits.")
    today: dt.date | None = Field(
        default=None, description="Pin the planning date (relative horizons resolve from it)."
    )
    source: Path = Field(default=Path("pipeline.yaml"), exclude=True, description="The file.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", v):
            raise ValueError("use letters, digits, '-', '_' or '.' (no spaces)")
        return v

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: {"path": s} if isinstance(s, str) else s for k, s in v.items()}
        return v

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: dict[str, StepConfig]) -> dict[str, StepConfig]:
        if not v:
            raise ValueError("a pipeline needs at least one step")
        for sid in v:
            if not _STEP_ID.match(sid):
                raise ValueError(f"step id {sid!r}: use a letter then letters, digits, - or _")
        return v

    @property
    def base_dir(self) -> Path:
        """Folder the pipeline file is in (relative paths resolve from here)."""
        return self.source.parent

    def resolve(self, path: Path) -> Path:
        """A path from the file, made absolute against the pipeline's folder."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def catalog(self) -> DataCatalog:
        """The data sources, with paths resolved."""
        return DataCatalog(
            {
                name: src.model_copy(update={"path": self.resolve(src.path)})
                for name, src in self.data.items()
            }
        )

    def topo_order(self) -> list[str]:
        """Step ids so that every step comes after its needs (stable: file order)."""
        order: list[str] = []
        done: set[str] = set()
        remaining = list(self.steps)
        while remaining:
            progressed = False
            for sid in list(remaining):
                if all(n in done or n not in self.steps for n in self.steps[sid].needs):
                    order.append(sid)
                    done.add(sid)
                    remaining.remove(sid)
                    progressed = True
            if not progressed:  # cycle: validation reports it; keep file order for the rest
                order.extend(remaining)
                break
        return order


# ---------------------------------------------------------------------------- positions


@dataclass
class _Doc:
    """The raw YAML tree with positions, for locating errors."""

    file: Path
    root: Any
    text: str

    def pos(self, *path: str | int) -> tuple[int | None, int | None]:
        """1-based (line, column) of the deepest key of ``path`` that exists."""
        return yaml_position(self.root, path)

    def error(
        self, message: str, *path: str | int, code: str, hint: str = "", key: str | None = None
    ) -> PipelineError:
        line, col = self.pos(*path)
        return PipelineError(
            message,
            file=self.file,
            line=line,
            column=col,
            key=key or ".".join(str(p) for p in path),
            code=code,
            hint=hint,
        )


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def yaml_position(
    root: Any, path: Sequence[str | int], start: tuple[int | None, int | None] = (1, 1)
) -> tuple[int | None, int | None]:
    """1-based (line, column) of the deepest key of ``path`` that exists in ruamel data.

    Args:
        root: A document loaded by ruamel's round-trip loader (it keeps positions).
        path: Keys and list indexes from the root, as in a pydantic error's ``loc``.
        start: The answer when not even the first key exists.
    """
    node = root
    best = start
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and key in node:
                if lc is not None:
                    line, col = lc.key(key)
                    best = (line + 1, col + 1)
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                if lc is not None:
                    line, col = lc.item(key)
                    best = (line + 1, col + 1)
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return best


def to_plain(node: Any) -> Any:
    """ruamel's round-trip types -> plain Python (dates stay dates).

    Pydantic then sees ordinary dicts, lists and scalars, and strict types behave as they
    do with JSON.
    """
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def read_yaml(
    path: Path, *, error: Callable[..., ConductorError] = PipelineError
) -> tuple[Any, str]:
    """Read a YAML file with positions; syntax errors become located errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(
            "file not found", file=path, code="file.not-found", hint="check the path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read file: {exc}", file=path, code="file.unreadable") from None
    try:
        return _yaml().load(text), text
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        if "duplicate key" in str(exc):
            problem = "duplicate key " + problem.split("duplicate key", 1)[-1].strip()
        raise error(
            f"invalid YAML: {problem}",
            file=path,
            line=line,
            column=col,
            code="yaml.syntax",
            hint="check indentation and quoting on this line (tabs are not allowed in YAML)",
        ) from None
    except YAMLError as exc:
        raise error(f"invalid YAML: {exc}", file=path, code="yaml.syntax") from None


_TOP_KEYS = {f.alias or n: n for n, f in Pipeline.model_fields.items() if n != "source"}
_STEP_KEYS = {f.alias or n: n for n, f in StepConfig.model_fields.items()}


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"allowed: {', '.join(sorted(options))}"


def _pydantic_errors(doc: _Doc, exc: ValidationError) -> list[PipelineError]:
    errors: list[PipelineError] = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = [("pipeline" if p == "name" and i == 0 else p) for i, p in enumerate(loc)]
        path = [("with" if p == "params" else p) for p in path]
        key = ".".join(str(p) for p in path)
        if err["type"] == "extra_forbidden":
            word = str(path[-1])
            parent = path[:-1]
            options = list(_TOP_KEYS) if not parent else []
            if len(parent) == 2 and parent[0] == "steps":
                options = list(_STEP_KEYS)
            elif parent == ["review"]:
                options = list(ReviewConfig.model_fields)
            elif parent == ["limits"]:
                options = list(Limits.model_fields)
            elif len(parent) == 2 and parent[0] == "data":
                options = list(DataSource.model_fields)
            hint = _did_you_mean(word, options) if options else ""
            errors.append(
                doc.error(f"unknown key {word!r}", *path, code="pipeline.unknown-key", hint=hint)
            )
        elif err["type"] == "missing":
            errors.append(
                doc.error(
                    f"missing required key {str(path[-1])!r}",
                    *path[:-1],
                    code="pipeline.missing-key",
                    hint=_MISSING_HINTS.get(str(path[-1]), ""),
                    key=key,
                )
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            errors.append(doc.error(f"{key}: {msg}", *path, code="pipeline.bad-value", key=key))
    return errors


_MISSING_HINTS = {
    "pipeline": "give the pipeline a name, e.g. `pipeline: q3-growth`",
    "goal": 'state the business goal, e.g. `goal: "Grow online revenue 12% in Q3 2027"`',
    "steps": "list at least one step, e.g. `steps: {journeys: {agent: journey_analytics}}`",
    "agent": "say which agent runs this step, e.g. `agent: journey_analytics`",
}


@dataclass
class LoadedPipeline:
    """A pipeline plus its raw document (for error positions)."""

    pipeline: Pipeline
    doc: _Doc
    errors: list[PipelineError] = field(default_factory=list)


def _load(path: Path) -> LoadedPipeline:
    path = Path(path)
    root, text = read_yaml(path)
    doc = _Doc(path, root, text)
    if root is None:
        raise PipelineInvalid(
            [doc.error("the file is empty", code="pipeline.empty", hint=_MISSING_HINTS["pipeline"])]
        )
    if not isinstance(root, Mapping):
        raise PipelineInvalid(
            [
                doc.error(
                    "a pipeline file must be a mapping of keys (pipeline:, goal:, steps:, ...)",
                    code="pipeline.not-a-mapping",
                )
            ]
        )
    data = to_plain(root)
    data["source"] = path
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        errors = _pydantic_errors(doc, exc)
        # Unknown keys alone should not hide the other problems: drop them and go on,
        # so `validate` can report every problem at once.
        cleaned = _drop_extra(data, exc)
        if cleaned is not None:
            try:
                pipeline = Pipeline.model_validate(cleaned)
            except ValidationError:
                pass
            else:
                return LoadedPipeline(pipeline, doc, errors)
        raise PipelineInvalid(errors) from None
    return LoadedPipeline(pipeline, doc)


def _drop_extra(data: dict[str, Any], exc: ValidationError) -> dict[str, Any] | None:
    """``data`` without the unknown keys, or None if there are other kinds of errors."""
    if any(e["type"] != "extra_forbidden" for e in exc.errors()):
        return None
    cleaned: dict[str, Any] = json.loads(json.dumps(data, default=str))
    cleaned["source"] = data["source"]
    for e in exc.errors():
        node: Any = cleaned
        loc = ["pipeline" if (p == "name" and i == 0) else p for i, p in enumerate(e["loc"])]
        loc = ["with" if p == "params" else p for p in loc]
        for key in loc[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(str(loc[-1]), None)
    return cleaned


def load_pipeline(path: str | Path) -> Pipeline:
    """Load and schema-check a pipeline file (semantic checks: :func:`validate_pipeline`).

    Raises:
        PipelineInvalid: every schema problem, each located ``file:line:col``.
    """
    loaded = _load(Path(path))
    if loaded.errors:
        raise PipelineInvalid(loaded.errors)
    return loaded.pipeline


# ---------------------------------------------------------------------------- planning


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


# ---------------------------------------------------------------------------- validation


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
