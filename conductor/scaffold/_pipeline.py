"""``conductor new pipeline``: a commented pipeline file for the agents installed.

What the agents declare is what the file says: the data sources (``Agent.data``) with the
columns each must have, the steps wired by the output types they consume
(``Agent.needs``), and every spec field as a commented ``with:`` parameter with its
default, or with the value ``plan()`` derives from the goal written at the top.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor.agents import Agent, PlanContext, agent_names, get_agent
from conductor.errors import ConductorError, ScaffoldError
from conductor.goals import BusinessGoal, parse_goal
from conductor.scaffold._files import refuse_existing, write_all
from conductor.specs import TaskSpec

DEFAULT_GOAL = (
    "Grow online revenue 12% next quarter with a $250k budget across paid search, social and email"
)
"""The goal a new pipeline starts from: it states a KPI, a target, a budget, a horizon
and channels, so every built-in agent can plan from it."""

PLACEHOLDER_DIR = "data"
"""Folder (next to the pipeline file) of the placeholder data paths."""

_DATA_SUFFIXES = (".parquet", ".csv")


@dataclass
class _Step:
    """One step of the new pipeline, and what writing it found out."""

    agent: str
    cls: type[Agent[Any, Any]]
    needs: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    spec: TaskSpec | None = None
    derived: dict[str, str] = field(default_factory=dict)
    plan_problem: str = ""


@dataclass
class _Source:
    """One data source, the agents that read it, and the path written for it."""

    name: str
    readers: list[tuple[str, Any]] = field(default_factory=list)
    path: str = ""
    exists: bool = False


def new_pipeline(
    dest: str | Path,
    agents: Sequence[str] | None = None,
    *,
    data_dir: str | Path | None = None,
    goal: str = DEFAULT_GOAL,
    today: dt.date | None = None,
) -> Path:
    """Write a commented pipeline file that runs ``agents`` (default: every one installed).

    Each data source the agents declare gets a path: the file ``SOURCE.parquet`` or
    ``SOURCE.csv`` in ``data_dir`` when there is one, else a placeholder
    ``data/SOURCE.csv`` marked ``TODO`` (``conductor validate`` reports it missing until
    it is replaced). The file's header says which paths are placeholders.

    Args:
        dest: The pipeline file to write; never overwritten.
        agents: Agent names, in the order to list them (steps that consume another's
            output come after it).
        data_dir: A folder to look for the data files in.
        goal: The business goal in plain words.
        today: The date the goal's relative horizon is planned from, written as the
            pipeline's ``today:`` (default: the real date, and the key left commented out).

    Returns:
        The file written.

    Raises:
        ScaffoldError: ``new.exists``, ``new.no-agents``, ``new.no-data-folder``,
            ``new.unwritable``.
        AgentNotFound: An agent in ``agents`` is not installed.
        GoalError: ``goal`` cannot be read.
    """
    path = Path(dest)
    refuse_existing(path, "the file")
    names = list(dict.fromkeys(agents if agents is not None else agent_names()))
    if not names:
        raise ScaffoldError(
            "no agent is installed, so there is nothing to put in a pipeline",
            code="new.no-agents",
            hint="install an agent package, or start one with `conductor new agent NAME`",
        )
    folder = Path(data_dir) if data_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise ScaffoldError(
            "the data folder does not exist; nothing was written",
            path=folder,
            code="new.no-data-folder",
            hint="name the folder that holds files such as events.parquet or spend.csv, "
            "or leave --data out to write placeholder paths",
        )
    steps = _ordered([_Step(agent=n, cls=get_agent(n)) for n in names])
    day = today or dt.date.today()
    parsed = parse_goal(goal, today=day)
    for step in steps:
        _plan(step, parsed, day, {s.agent: s for s in steps})
    sources = _sources(steps, path.parent, folder)
    text = _render(path, goal, today, steps, sources)
    write_all({path: text})
    return path


def _ordered(steps: list[_Step]) -> list[_Step]:
    """Wire each step to the steps producing what it needs; producers first (stable)."""
    for step in steps:
        for slot, wanted in step.cls.needs.items():
            producers = [
                s.agent for s in steps if s is not step and issubclass(s.cls.output_type, wanted)
            ]
            if producers:
                step.needs.extend(p for p in producers[:1] if p not in step.needs)
            else:
                step.unmet.append(f"{slot} ({wanted.__name__})")
    order: list[_Step] = []
    placed: set[str] = set()
    pending = list(steps)
    while pending:
        ready = [s for s in pending if all(n in placed for n in s.needs)] or pending[:1]
        order.append(ready[0])
        placed.add(ready[0].agent)
        pending.remove(ready[0])
    return order


def _plan(step: _Step, goal: BusinessGoal, day: dt.date, by_name: dict[str, _Step]) -> None:
    """Plan the step with no parameters: what the goal gives, or why that is not enough."""
    upstream: dict[str, TaskSpec] = {}
    for slot, wanted in step.cls.needs.items():
        for n in step.needs:
            spec = by_name[n].spec
            if spec is not None and issubclass(by_name[n].cls.output_type, wanted):
                upstream[slot] = spec
    agent = step.cls()
    ctx = PlanContext(
        step=step.agent,
        goal=goal,
        params={},
        spec_type=step.cls.spec_type,
        upstream=upstream,
        today=day,
    )
    try:
        agent.check_goal(goal, step.agent)
        step.spec = agent.plan(ctx)
    except ConductorError as exc:
        step.plan_problem = exc.message
        return
    except Exception as exc:  # a plugin's plan() is not ours: say what it raised
        step.plan_problem = f"plan() raised {type(exc).__name__}: {exc}"
        return
    step.derived = {
        name: prov.detail or prov.source
        for name, prov in ctx.provenance.items()
        if prov.source in ("goal", "upstream", "brand")
    }


def _sources(steps: list[_Step], base: Path, data_dir: Path | None) -> dict[str, _Source]:
    """Every data source the steps read, with the path to write for each."""
    sources: dict[str, _Source] = {}
    for step in steps:
        for name, need in step.cls.data.items():
            sources.setdefault(name, _Source(name)).readers.append((step.agent, need))
    for src in sources.values():
        found = (
            next(
                (
                    data_dir / f"{src.name}{suffix}"
                    for suffix in _DATA_SUFFIXES
                    if (data_dir / f"{src.name}{suffix}").is_file()
                ),
                None,
            )
            if data_dir is not None
            else None
        )
        if found is None:
            src.path = f"{PLACEHOLDER_DIR}/{src.name}.csv"
            src.exists = (base / src.path).is_file()
            continue
        src.exists = True
        try:
            relative = Path(os.path.relpath(found.resolve(), base.resolve())).as_posix()
        except ValueError:  # another drive (Windows): only an absolute path reaches it
            relative = "../../"
        # A path that climbs out of the pipeline's project breaks when the file moves.
        src.path = found.resolve().as_posix() if relative.startswith("../../") else relative
    return sources


# ---------------------------------------------------------------------------- rendering


def _yaml_value(value: Any) -> str:
    """A value as YAML flow text (JSON is YAML): quoted strings, [lists], {mappings}."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.dumps(value, default=str, ensure_ascii=False)


def _first_sentence(text: str) -> str:
    """The text up to its first full stop that ends a sentence ("e.g. 2027-Q3" does not)."""
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(?=\s+[A-Z]|$)", text)
    return match.group(1) if match else text


def _comment(text: str, indent: str = "#   - ", rest: str = "#     ") -> list[str]:
    """A long comment wrapped as YAML comment lines."""
    return textwrap.wrap(text, width=88, initial_indent=indent, subsequent_indent=rest)


def _pipeline_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-._")[:100]
    return name or "my-pipeline"


def _columns(columns: dict[str, str]) -> str:
    return ", ".join(f"{c} ({t})" for c, t in columns.items())


def _header(steps: list[_Step], sources: dict[str, _Source]) -> list[str]:
    lines = [
        "# A Conductor pipeline, scaffolded by `conductor new pipeline` for the agents",
        f"# {', '.join(s.agent for s in steps)}.",
        "# Every key is described in docs/pipelines.md; `conductor agents NAME` lists an",
        "# agent's parameters and `conductor validate` checks this file.",
        "#",
    ]
    todo: list[str] = []
    missing = [s for s in sources.values() if not s.exists]
    if missing:
        todo += _comment(
            "The data paths marked TODO are placeholders: point them at your files. "
            "Until they exist, `conductor validate` reports them as missing "
            f"({', '.join(s.path for s in missing)})."
        )
    for step in steps:
        if step.unmet:
            todo += _comment(
                f"Step {step.agent} consumes {', '.join(step.unmet)}, which no step here "
                "produces: add a step with an agent that does, and list it under its `needs:`."
            )
        if step.plan_problem:
            todo += _comment(
                f"Step {step.agent} cannot plan from the goal alone, and `conductor validate` "
                f"says so until its `with:` sets what it asks for: {step.plan_problem}"
            )
    if todo:
        lines.append("# Before it validates:")
        lines.extend(todo)
    elif sources:
        lines.append("# Every data path names a file that exists: `conductor validate` checks")
        lines.append("# their columns against what each agent needs.")
    else:
        lines.append("# None of these agents reads a data source.")
    return lines


def _render(
    path: Path,
    goal: str,
    today: dt.date | None,
    steps: list[_Step],
    sources: dict[str, _Source],
) -> str:
    lines = _header(steps, sources)
    lines += [
        f"pipeline: {_pipeline_name(path)}",
        "description: What this pipeline is for, in one sentence.",
        '# The business goal in plain words (`conductor parse-goal "..."` shows how it is',
        "# read); the agents derive their budget, horizon, KPI and channels from it.",
        f"goal: {_yaml_value(goal)}",
        f"today: {today.isoformat()}             # the date relative horizons resolve from"
        if today is not None
        else '# today: 2027-06-01            # pin the date that "next quarter" resolves from',
        "# brand: brands/acme.yaml      # a brand strategy: every step's artifacts are checked",
    ]
    if sources:
        lines.append("# Named data sources (paths relative to this file): CSV or Parquet.")
        lines.append("data:")
        for src in sources.values():
            for agent, need in src.readers:
                kind = "read by" if need.required else "read when present by"
                what = _first_sentence(need.description)
                if what[1:2].islower():  # "One row per ..." reads on after a colon
                    what = what[0].lower() + what[1:]
                what = f": {what}" if what else ""
                lines += _comment(f"{kind} {agent}{what}", "  # ", "  # ")
                if need.columns:
                    lines += _comment(f"columns: {_columns(need.columns)}", "  #   ", "  #     ")
                if need.optional_columns:
                    optional = f"optional: {_columns(need.optional_columns)}"
                    lines += _comment(optional, "  #   ", "  #     ")
            note = "" if src.exists else "  # TODO: your file"
            lines.append(f"  {src.name}: {_yaml_value(src.path)}{note}")
    else:
        lines.append("# data:                        # none of these agents reads a data source")
    lines.append("steps:")
    for step in steps:
        lines.extend(_step_lines(step))
    lines += [
        "# approvers:                    # who may sign off a step that has `approve: [ROLE]`",
        "#   media_lead: [dana, lee]",
        "# review:",
        "#   max_rounds: 2               # revision rounds after brand findings",
        "#   on_exhausted: escalate      # or block",
        "# limits:",
        "#   max_llm_cost_usd: 2.50      # the run stops cleanly at this model cost",
    ]
    return "\n".join(lines) + "\n"


def _step_lines(step: _Step) -> list[str]:
    cls = step.cls
    lines = [f"  {step.agent}:", f"    agent: {step.agent}"]
    if cls.description:
        lines.append(f"    description: {_yaml_value(_first_sentence(cls.description))}")
    if step.needs:
        lines.append(f"    needs: [{', '.join(step.needs)}]")
    for unmet in step.unmet:
        lines.append(f"    # needs: [STEP]               # TODO: a step producing {unmet}")
    lines.append("    # approve: [media_lead]       # wait for a sign-off before going on")
    if step.plan_problem:
        lines.append(f"    # TODO: {_first_sentence(step.plan_problem)}")
    fields = cls.spec_type.model_fields
    if not fields:
        return lines
    lines.append(
        "    # Parameters, each optional unless marked; they win over what the goal implies."
    )
    lines.append("    # with:")
    for name, info in fields.items():
        if step.spec is not None:
            value = _yaml_value(getattr(step.spec, name))
        elif info.is_required():
            value = "..."
        else:
            value = _yaml_value(info.get_default(call_default_factory=True))
        why = _first_sentence(info.description or "")
        if name in step.derived:
            why = f"{why} From {step.derived[name]}.".strip()
        elif info.is_required() and step.spec is None:
            why = f"required. {why}".strip()
        lines.append(f"    #   {name}: {value}" + (f"   # {why}" if why else ""))
    return lines
