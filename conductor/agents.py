"""The agent contract and the registry of agents.

An agent is one class: a typed spec in, a typed output out. ``plan()`` derives the spec
from the business goal and the step's ``with:`` parameters (deterministically, no side
effects); ``run()`` does the work; ``revise()`` answers brand feedback. Agents are found
through the entry-point group ``conductor.agents`` — built-ins and third-party plugins
alike — or registered in-process with :func:`register` (notebooks, tests).
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib.metadata
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conductor.errors import AgentError, AgentNotFound, GoalError, SpecError
from conductor.goals import BusinessGoal
from conductor.specs import AgentOutput, TaskSpec
from conductor.verdict import Violation

if TYPE_CHECKING:  # the catalog brings DuckDB: only a run needs it
    from conductor.data import DataCatalog, DataNeed

__all__ = [
    "ENTRY_POINT_GROUP",
    "Agent",
    "Derived",
    "Inputs",
    "PlanContext",
    "Provenance",
    "RunContext",
    "available_agents",
    "get_agent",
    "register",
]

ENTRY_POINT_GROUP = "conductor.agents"

SpecT = TypeVar("SpecT", bound=TaskSpec)
OutT = TypeVar("OutT", bound=AgentOutput)


class Provenance(BaseModel):
    """Where one spec value came from (shown by ``conductor plan``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["parameter", "goal", "upstream", "default", "brand", "model"] = Field(
        description="Kind of origin."
    )
    detail: str = Field(default="", description="Which parameter, goal span or upstream step.")


@dataclass(frozen=True)
class Derived:
    """A spec value an agent derived, with where it came from."""

    value: Any
    provenance: Provenance


@dataclass
class PlanContext:
    """Everything ``Agent.plan()`` may use. Planning is pure: no data is read, nothing runs.

    Attributes:
        step: The step id in the pipeline.
        goal: The typed business goal.
        params: The step's ``with:`` parameters, as written.
        spec_type: The agent's spec class.
        upstream: Slot -> the spec of the upstream step that fills it.
        brand: The brand strategy (or None when the pipeline has none).
        today: The planning date.
        base_dir: The pipeline file's folder, which a relative path in ``with:`` resolves
            against (as ``data:`` paths do); None outside a pipeline (e.g. a test).
        provenance: Filled by :meth:`build`: field -> where its value came from.
    """

    step: str
    goal: BusinessGoal
    params: Mapping[str, Any]
    spec_type: type[TaskSpec]
    upstream: Mapping[str, TaskSpec] = field(default_factory=dict)
    brand: Any = None
    today: dt.date = field(default_factory=dt.date.today)
    base_dir: Path | None = None
    provenance: dict[str, Provenance] = field(default_factory=dict)

    def from_goal(self, value: Any, goal_field: str) -> Derived:
        """Mark a value as derived from a goal field (its text span is recorded)."""
        span = self.goal.spans.get(goal_field)
        detail = f"goal.{goal_field}" + (f' "{span.text}"' if span else "")
        return Derived(value, Provenance(source="goal", detail=detail))

    def from_upstream(self, value: Any, slot: str) -> Derived:
        """Mark a value as derived from an upstream step's spec."""
        return Derived(value, Provenance(source="upstream", detail=slot))

    def from_brand(self, value: Any, rule: str) -> Derived:
        """Mark a value as derived from the brand strategy."""
        return Derived(value, Provenance(source="brand", detail=rule))

    def build(self, derived: Mapping[str, Derived | Any] | None = None) -> Any:
        """Validate the spec: explicit ``with:`` values win over derived ones, then defaults.

        Raises:
            SpecError: naming the first failing field and the expected shape.
        """
        values: dict[str, Any] = {}
        self.provenance = {}
        for name, item in (derived or {}).items():
            if isinstance(item, Derived):
                values[name] = item.value
                self.provenance[name] = item.provenance
            else:
                values[name] = item
                self.provenance[name] = Provenance(source="goal")
        for name, value in self.params.items():
            values[name] = value
            self.provenance[name] = Provenance(source="parameter", detail=f"with.{name}")
        try:
            spec = self.spec_type.model_validate(values)
        except ValidationError as exc:
            raise spec_error_from(exc, step=self.step, fields=self.spec_type.model_fields) from None
        for name in type(spec).model_fields:
            self.provenance.setdefault(name, Provenance(source="default"))
        return spec


def spec_error_from(
    exc: ValidationError,
    *,
    step: str,
    agent: str | None = None,
    fields: Iterable[str] = (),
) -> SpecError:
    """Turn a pydantic error on a spec into one readable :class:`SpecError`.

    Args:
        exc: The spec's validation error.
        step: The step whose spec it is.
        agent: The agent, when known.
        fields: The spec's parameter names, to suggest one for a misspelt parameter.
    """
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    hint = "see `conductor agents NAME` for the parameters this agent accepts"
    if first["type"] == "extra_forbidden":
        msg = "unknown parameter"
        close = difflib.get_close_matches(loc, list(fields), n=1)
        if close:
            hint = f"did you mean {close[0]!r}? " + hint
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem(s))" if more else ""
    return SpecError(
        f"{msg}{tail}", step=step, agent=agent, field=loc or None, code="spec.invalid", hint=hint
    )


@dataclass
class Inputs:
    """What a step reads: upstream outputs by slot, and the data sources.

    Attributes:
        upstream: Slot name (from ``Agent.needs``) -> the upstream step's typed output.
        catalog: The run's data sources; ``catalog.cursor()`` gives a DuckDB cursor in
            which every source is a view of its name.
    """

    upstream: Mapping[str, AgentOutput]
    catalog: DataCatalog

    def db(self) -> Any:
        """A DuckDB cursor for this thread, with one view per data source."""
        return self.catalog.cursor()


def _agent_logger() -> Any:
    import structlog  # loaded with the first run context, not with the registry

    return structlog.get_logger("conductor.agent")


@dataclass
class RunContext:
    """The outside world, as an agent sees it while running.

    Attributes:
        run_id: The run (LangGraph thread id).
        step: The step id.
        agent: The agent name.
        goal: The business goal.
        out_dir: A folder for this step's files (e.g. Parquet tables); created for you.
        brand: The brand strategy, or None.
        llm: A LangChain chat model, or None when no model is configured.
        feedback: Violations from the previous review round (empty on the first round).
        round: Revision round, 0 for the first run.
        today: The run's date (injected, for reproducible runs).
        seed: Random seed for anything stochastic.
        log: A structlog logger bound to run, step and agent.
        on_progress: Called as ``(description, completed, total)`` by long work.
        llm_usage: Called by :mod:`conductor.llm` with usage records for cost accounting.
    """

    run_id: str
    step: str
    agent: str
    goal: BusinessGoal
    out_dir: Path
    brand: Any = None
    llm: Any = None
    feedback: Sequence[Violation] = ()
    round: int = 0
    today: dt.date = field(default_factory=dt.date.today)
    seed: int = 0
    log: Any = field(default_factory=_agent_logger)
    on_progress: Callable[[str, float, float | None], None] | None = None
    llm_usage: Callable[[dict[str, Any]], None] | None = None

    def progress(self, description: str, completed: float, total: float | None = None) -> None:
        """Report progress on long work (shown as a progress bar by the CLI)."""
        if self.on_progress is not None:
            self.on_progress(description, completed, total)


class Agent(Generic[SpecT, OutT]):
    """Base class of every specialist.

    Subclasses set the class variables and implement :meth:`run`; :meth:`plan` and
    :meth:`revise` have sensible defaults.

    Attributes:
        name: Registry name, e.g. ``journey_analytics`` (snake_case).
        description: One line for ``conductor agents``.
        spec_type: The TaskSpec subclass this agent takes.
        output_type: The AgentOutput subclass it returns.
        needs: Slot -> upstream output type it consumes. A pipeline step's ``needs:``
            must list steps that produce these types.
        data: Data source name -> what it needs from that source.
        requires_goal: Goal fields that must be present (e.g. ``("budget",)``).
        version: Bumped when results change for the same inputs.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    spec_type: ClassVar[type[TaskSpec]]
    output_type: ClassVar[type[AgentOutput]]
    needs: ClassVar[Mapping[str, type[AgentOutput]]] = {}
    data: ClassVar[Mapping[str, DataNeed]] = {}
    requires_goal: ClassVar[tuple[str, ...]] = ()
    version: ClassVar[str] = "1"

    def check_goal(self, goal: BusinessGoal, step: str) -> None:
        """Raise a clear :class:`GoalError` when the goal lacks a field this agent needs."""
        missing = [f for f in self.requires_goal if getattr(goal, f, None) in (None, [], "")]
        if missing:
            examples = {
                "budget": '"... with a $250k budget"',
                "horizon": '"... in Q3 2027"',
                "target": '"grow revenue 12%"',
                "channels": '"... across search, social and email"',
            }
            ex = "; ".join(examples.get(m, m) for m in missing)
            raise GoalError(
                f"step {step!r} ({self.name}) needs the goal to state: {', '.join(missing)}",
                missing=missing,
                code="goal.missing-field",
                hint=f"say it in the goal, e.g. {ex}, or give it in the step's `with:`",
            )

    def plan(self, ctx: PlanContext) -> SpecT:
        """Derive the spec from the goal and ``with:`` parameters. Default: parameters only."""
        spec: SpecT = ctx.build({})
        return spec

    def run(self, spec: SpecT, inputs: Inputs, ctx: RunContext) -> OutT:
        """Do the work. Must be deterministic for a given spec, inputs and ``ctx.seed``."""
        raise NotImplementedError(f"agent {self.name!r} does not implement run()")

    def revise(self, spec: SpecT, output: OutT, inputs: Inputs, ctx: RunContext) -> OutT:
        """Answer brand feedback (``ctx.feedback``). Default: run again with the feedback."""
        return self.run(spec, inputs, ctx)


_LOCK = threading.RLock()  # a plugin may call register() while it is imported
_LOCAL: dict[str, type[Agent[Any, Any]]] = {}
# Discovery reads the installed metadata only (``_EPS``); a plugin's module is imported
# when its agent is first asked for (``_FOUND``), or when every agent is listed.
_EPS: dict[str, importlib.metadata.EntryPoint] | None = None
_FOUND: dict[str, type[Agent[Any, Any]]] = {}
_BROKEN: dict[str, str] = {}


def register(agent_cls: type[Agent[Any, Any]]) -> type[Agent[Any, Any]]:
    """Register an agent class in this process (usable as a class decorator)."""
    _validate_class(agent_cls, origin="register()")
    with _LOCK:
        _LOCAL[agent_cls.name] = agent_cls
    return agent_cls


def _validate_class(cls: Any, origin: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise AgentError(f"{origin} is not an Agent subclass", code="agent.invalid")
    for attr in ("name", "spec_type", "output_type"):
        if not hasattr(cls, attr):
            raise AgentError(
                f"{origin}: agent class {cls.__name__} lacks `{attr}`", code="agent.invalid"
            )
    if not issubclass(cls.spec_type, TaskSpec):
        raise AgentError(f"{origin}: spec_type must subclass TaskSpec", code="agent.invalid")
    if not issubclass(cls.output_type, AgentOutput):
        raise AgentError(f"{origin}: output_type must subclass AgentOutput", code="agent.invalid")


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The group's entry points by name, read from the installed metadata (nothing imported)."""
    eps: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        eps.setdefault(ep.name, ep)
    return eps


def _load_one(ep: importlib.metadata.EntryPoint) -> type[Agent[Any, Any]] | None:
    """Import one entry point's class (under ``_LOCK``); a failure is kept in ``_BROKEN``."""
    if ep.name in _FOUND:
        return _FOUND[ep.name]
    if ep.name in _BROKEN:
        return None
    try:
        cls: type[Agent[Any, Any]] = ep.load()
        _validate_class(cls, origin=f"entry point {ep.name} = {ep.value}")
    except Exception as exc:  # a broken plugin must not break the others
        _BROKEN[ep.name] = f"{type(exc).__name__}: {exc}"
        return None
    _FOUND[ep.name] = cls
    return cls


def _scan() -> dict[str, importlib.metadata.EntryPoint]:
    global _EPS
    with _LOCK:
        if _EPS is None:
            _EPS = _entry_points()
        return _EPS


def _load_entry_points() -> dict[str, type[Agent[Any, Any]]]:
    """Every entry point's class: each plugin is imported here, once."""
    eps = _scan()
    with _LOCK:
        for ep in eps.values():
            _load_one(ep)
        return {n: _FOUND[n] for n in eps if n in _FOUND}


def _load_entry_point(name: str) -> type[Agent[Any, Any]] | None:
    """The class of the entry point ``name`` alone: the other plugins stay unimported."""
    ep = _scan().get(name)
    if ep is None:
        return None
    with _LOCK:
        return _load_one(ep)


def reload_agents() -> None:
    """Forget the entry-point scan (after installing a plugin in a running process)."""
    global _EPS
    with _LOCK:
        _EPS = None
        _FOUND.clear()
        _BROKEN.clear()


def agent_names() -> list[str]:
    """The names of every agent, installed or registered, without importing any plugin."""
    return sorted(set(_scan()) | set(_LOCAL))


def available_agents() -> dict[str, type[Agent[Any, Any]]]:
    """Every agent: entry points first, then in-process registrations (which win)."""
    agents = dict(_load_entry_points())
    agents.update(_LOCAL)
    return dict(sorted(agents.items()))


def broken_agents() -> dict[str, str]:
    """Entry points that failed to load, with the reason."""
    _load_entry_points()
    return dict(_BROKEN)


def get_agent(name: str) -> type[Agent[Any, Any]]:
    """The agent class registered under ``name``.

    Raises:
        AgentNotFound: with a "did you mean" hint, or the reason a plugin failed to load.
    """
    with _LOCK:
        local = _LOCAL.get(name)
    if local is not None:  # in-process registrations win over entry points
        return local
    cls = _load_entry_point(name)
    if cls is not None:
        return cls
    if name in _BROKEN:
        broken = dict(_BROKEN)
        raise AgentNotFound(
            f"agent {name!r} is installed but failed to load: {broken[name]}",
            agent=name,
            code="agent.load-failed",
            hint="fix or reinstall the package that provides it",
        )
    names = agent_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else ""
    known = ", ".join(names) or "none"
    raise AgentNotFound(
        f"no agent named {name!r} (installed: {known})",
        agent=name,
        code="agent.unknown",
        hint=hint or "install the plugin that provides it, or check `conductor agents`",
    )
