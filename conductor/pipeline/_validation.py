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

from conductor._limits import data_path_problem, path_problem, special_file_problem
from conductor._yaml import _Doc
from conductor.agents import Agent, PlanContext, get_agent
from conductor.data import DataCatalog, quote_ident
from conductor.errors import (
    AgentNotFound,
    BrandError,
    ConductorError,
    GoalError,
    PipelineError,
    PipelineInvalid,
    SpecError,
)
from conductor.goals import BusinessGoal, canonical_channel, channel_name
from conductor.pipeline._file import Pipeline, _did_you_mean, _load
from conductor.pipeline._planning import bind_slots, resolve_goal


@dataclass
class ValidationReport:
    """Everything :func:`validate_pipeline` found."""

    file: Path
    errors: list[ConductorError] = field(default_factory=list)
    pipeline: Pipeline | None = None
    goal: BusinessGoal | None = None
    warnings: list[ConductorError] = field(default_factory=list)

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
    # The order of the checks is the order of the report: it is pinned by the
    # broken-pipeline corpus (tests/broken_pipelines.expected).
    agents = _step_agents(p, doc, errs)
    errs.extend(_cycle_errors(p, doc))
    errs.extend(_type_errors(p, doc, agents))
    errs.extend(_brand_errors(p, doc))
    catalog = p.catalog()
    errs.extend(_data_file_errors(p, doc))
    if check_data:
        errs.extend(_data_need_errors(p, doc, agents, catalog, errs))
    goal = _goal(p, doc, today, errs)
    report.goal = goal
    if check_data:
        _channel_checks(p, doc, catalog, goal, agents, errs, report.warnings)
    if goal is not None and not any(
        isinstance(e, PipelineError) and e.code in ("pipeline.cycle", "agent.unknown") for e in errs
    ):
        _plan_errors(p, doc, goal, _planning_brand(p), today, agents, errs)
    catalog.close()
    return report


def _step_agents(
    p: Pipeline, doc: _Doc, errs: list[ConductorError]
) -> dict[str, type[Agent[Any, Any]]]:
    """Each step's agent class (where it exists); each step's own problems are appended
    in file order: its agent, its ``needs``, its approver roles."""
    agents: dict[str, type[Agent[Any, Any]]] = {}
    for sid, step in p.steps.items():
        try:
            agents[sid] = get_agent(step.agent)
        except AgentNotFound as exc:
            errs.append(doc.error(exc.message, "steps", sid, "agent", code=exc.code, hint=exc.hint))
        errs.extend(_needs_errors(p, doc, sid))
        errs.extend(_role_errors(p, doc, sid))
    return agents


def _needs_errors(p: Pipeline, doc: _Doc, sid: str) -> list[ConductorError]:
    """A step's ``needs`` naming no step, or the step itself."""
    errs: list[ConductorError] = []
    for i, need in enumerate(p.steps[sid].needs):
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
    return errs


def _role_errors(p: Pipeline, doc: _Doc, sid: str) -> list[ConductorError]:
    """A step's ``approve`` naming a role that ``approvers`` lacks, or that has nobody in it."""
    errs: list[ConductorError] = []
    for i, role in enumerate(p.steps[sid].approve):
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
    return errs


def _cycle_errors(p: Pipeline, doc: _Doc) -> list[ConductorError]:
    """Steps that need each other (a step needing itself is reported with its ``needs``)."""
    cycle = _find_cycle(p)
    if not (cycle and len(cycle) > 2):
        return []
    return [
        doc.error(
            "steps depend on each other in a cycle: " + " -> ".join(cycle),
            "steps",
            cycle[0],
            "needs",
            code="pipeline.cycle",
            hint="a step can only need steps that do not (indirectly) need it",
        )
    ]


def _type_errors(
    p: Pipeline, doc: _Doc, agents: Mapping[str, type[Agent[Any, Any]]]
) -> list[ConductorError]:
    """Agent inputs that none of the step's ``needs`` produces, with the step that would."""
    errs: list[ConductorError] = []
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
    return errs


def _brand_errors(p: Pipeline, doc: _Doc) -> list[ConductorError]:
    """The brand file missing, or failing to load (its own located errors)."""
    if p.brand is None:
        return []
    brand_path = p.resolve(p.brand)
    if problem := _brand_path_problem(p):
        code, message = problem
        return [doc.error(f"brand file: {message}", "brand", code=code, hint=_PATH_HINT)]
    if not brand_path.exists():
        return [
            doc.error(
                f"brand file not found: {brand_path}",
                "brand",
                code="pipeline.brand-not-found",
                hint="paths are relative to the pipeline file",
            )
        ]
    try:
        from conductor.brand import load_brand

        load_brand(brand_path)
    except BrandError as exc:
        return [exc]
    except ImportError:
        pass
    return []


_PATH_HINT = "name a file (or folder) by a path of ordinary length, relative to the pipeline file"


def _brand_path_problem(p: Pipeline) -> tuple[str, str] | None:
    """``(code, message)`` when the ``brand:`` path could not name a readable file
    (NUL byte, too long, a FIFO or device), checked without opening it."""
    if p.brand is None:
        return None
    return path_problem(p.brand) or special_file_problem(p.resolve(p.brand))


def _data_file_errors(p: Pipeline, doc: _Doc) -> list[ConductorError]:
    """Data sources whose path could name no file, or whose file (or glob) matches nothing."""
    errs: list[ConductorError] = []
    for name, src in p.data.items():
        if src.path is None:
            continue  # a query: its files are checked when it runs
        resolved = p.resolve(src.path)
        if problem := path_problem(src.path) or data_path_problem(resolved):
            code, message = problem
            errs.append(
                doc.error(
                    f"data source {name!r}: {message}", "data", name, code=code, hint=_PATH_HINT
                )
            )
            continue
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
    return errs


def _data_need_errors(
    p: Pipeline,
    doc: _Doc,
    agents: Mapping[str, type[Agent[Any, Any]]],
    catalog: DataCatalog,
    found: list[ConductorError],
) -> list[ConductorError]:
    """Each agent's data needs (columns, types) checked against its sources."""
    # A missing file (or an unusable path) is reported once, not once more per column.
    missing_files = {
        (e.key or "").split(".")[1]
        for e in found
        if isinstance(e, PipelineError)
        and (e.code == "data.file-not-found" or e.code.startswith("path."))
        and (e.key or "").startswith("data.")
    }
    errs: list[ConductorError] = []
    for sid, cls in agents.items():
        for source, data_need in cls.data.items():
            if source in missing_files:
                continue
            for derr in catalog.check(source, data_need):
                where = ("data", source) if source in p.data else ("steps", sid)
                msg = f"step {sid!r} ({cls.name}): {derr.location()}: {derr.message}"
                errs.append(doc.error(msg, *where, code=derr.code, hint=derr.hint))
    return errs


#: At most this many unmapped channels are listed per source (then "and N more").
_MAX_LISTED = 20


def _data_channels(catalog: DataCatalog, source: str) -> list[tuple[str, int, int]] | None:
    """(channel as written, rows, first row number) of a source with a ``channel``
    column, or None when it has none or cannot be read."""
    try:
        cols = catalog.columns(source)
    except ConductorError:
        return None
    col = next((c for c in cols if c.lower() == "channel"), None)
    if col is None:
        return None
    con = catalog.cursor()
    try:
        # row_number() over the scan order is the file's row order (DuckDB keeps
        # insertion order), which is what "first at row N" should point at.
        rows = con.execute(
            f"""SELECT ch, count(*), min(rn) FROM (
                    SELECT CAST({quote_ident(col)} AS VARCHAR) AS ch, row_number() OVER () AS rn
                    FROM {quote_ident(source)})
                WHERE ch IS NOT NULL AND trim(ch) <> '' GROUP BY ch ORDER BY min(rn)"""
        ).fetchall()
    except Exception:  # a source that cannot be read is reported by the data checks
        return None
    finally:
        con.close()
    return [(str(ch), int(n), int(first)) for ch, n, first in rows]


def _channel_checks(
    p: Pipeline,
    doc: _Doc,
    catalog: DataCatalog,
    goal: BusinessGoal | None,
    agents: Mapping[str, type[Agent[Any, Any]]],
    errs: list[ConductorError],
    warnings: list[ConductorError],
) -> None:
    """Every data channel the taxonomy and the defaults map to no channel (a warning,
    with the file and first row of each); a goal channel missing from a source whose
    agent needs the goal's channels in it (an error: that step would fail), or from
    every source (a warning: it may be a message channel, such as an offer's SMS)."""
    taxonomy = p.taxonomy
    found: dict[str, set[str]] = {}
    for source in p.data:
        channels = _data_channels(catalog, source)
        if channels is None:
            continue
        names = found.setdefault(source, set())
        unmapped: list[tuple[str, int, int]] = []
        for raw, n, first in channels:
            canon = canonical_channel(raw, taxonomy)
            names.add(channel_name(raw, taxonomy))
            if canon is None:
                unmapped.append((raw, n, first))
            else:
                names.add(canon.value)
        src = catalog.sources[source]
        file = src.path if src.path is not None else p.source  # a query: the pipeline
        for raw, n, first in unmapped[:_MAX_LISTED]:
            # Row 1 is the header in a CSV file: the first data row is line 2.
            line = first + 1 if src.path is not None and src.resolved_format == "csv" else None
            warnings.append(
                PipelineError(
                    f"data source {source!r}: channel {raw!r} ({n:,} row(s)"
                    + (f", first at row {first:,}" if line is None else "")
                    + ") maps to no known channel; it is analysed as "
                    f"{channel_name(raw, taxonomy)!r} and no goal channel can match it",
                    file=file,
                    line=line,
                    code="data.unmapped-channel",
                    hint=f'if it is one, map it under `channels:`, e.g. `"{raw}": paid_search`',
                )
            )
        if len(unmapped) > _MAX_LISTED:
            warnings.append(
                PipelineError(
                    f"data source {source!r}: {len(unmapped) - _MAX_LISTED:,} more channel(s) "
                    "map to no known channel",
                    file=file,
                    code="data.unmapped-channel",
                )
            )
    if goal is None or not found:
        return
    wanted = list(goal.channels or []) + [c.channel for c in goal.constraints if c.channel]
    strict = {
        source: sid
        for sid, cls in agents.items()
        for source, need in cls.data.items()
        if need.goal_channels and source in found
    }
    everywhere = set().union(*found.values())
    for channel in dict.fromkeys([*wanted, *goal.excluded_channels]):
        missing = [s for s in strict if channel not in found[s]]
        for source in missing:
            sid = strict[source]
            errs.append(
                doc.error(
                    f"the goal names channel {channel!r} but data source {source!r} (read by "
                    f"step {sid!r}, {agents[sid].name}) has no such channel",
                    "goal",
                    code="goal.channel-not-in-data",
                    hint="check the spelling in the data, or map the data's name for it "
                    f'under `channels:` (e.g. `"Google Ads": {channel}`)',
                )
            )
        if not missing and channel in wanted and channel not in everywhere:
            warnings.append(
                doc.error(
                    f"the goal names channel {channel!r} but no data source has it "
                    f"(sources with a channel column: {', '.join(sorted(found))})",
                    "goal",
                    code="goal.channel-not-in-data",
                    hint="fine for a channel only messages are sent on; otherwise map the "
                    "data's name for it under `channels:`",
                )
            )


def _goal(
    p: Pipeline, doc: _Doc, today: dt.date | None, errs: list[ConductorError]
) -> BusinessGoal | None:
    """The pipeline's typed goal, or None (a goal that does not resolve is reported in ``errs``)."""
    try:
        return resolve_goal(p, today)
    except GoalError as exc:
        errs.append(doc.error(exc.message, "goal", code=exc.code, hint=exc.hint))
    except (ImportError, AttributeError):
        pass
    return None


def _planning_brand(p: Pipeline) -> Any:
    """The brand the steps are planned with; None when it is missing or broken (reported)."""
    if p.brand is None or _brand_path_problem(p) or not p.resolve(p.brand).exists():
        return None
    try:
        from conductor.brand import load_brand

        return load_brand(p.resolve(p.brand))
    except (BrandError, ImportError):
        return None


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
            step=sid,
            goal=goal,
            params=step.params,
            spec_type=cls.spec_type,
            brand=brand,
            today=day,
            base_dir=p.base_dir.resolve(),
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
