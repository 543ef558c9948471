"""``conductor new``: start an agent package or a pipeline from a scaffold.

A sub-app of the ``conductor`` command. Like every command it imports what it uses
inside the function, so ``conductor --help`` stays light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from conductor.cli._common import TodayOpt, err, out, parse_today

__all__ = ["new_app"]

new_app = typer.Typer(
    name="new",
    help="Start an agent package or a pipeline from a scaffold (never overwrites a file).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@new_app.command("agent")
def new_agent_cmd(
    name: Annotated[str, typer.Argument(help="The agent's name, snake_case (e.g. churn_risk).")],
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder to create the package's folder NAME in.")
    ] = Path(),
) -> None:
    """Write an agent package: entry point, typed spec and output, a check_agent test, README."""
    from conductor.scaffold import agent_names_for, new_agent

    files = new_agent(name, folder)
    names = agent_names_for(name)
    root = folder / name
    out.print(
        f"Wrote the agent package {escape(_shown(root))}{os.sep} "
        f"(agent {names.name}, class {names.package}.agent.{names.cls}):"
    )
    for f in files:
        out.print(f"  {escape(_shown(f))}")
    out.print("Next:")
    out.print(f"  cd {escape(_shown(root))}")
    out.print(
        escape('  pip install -e ".[dev]"   # registers the agent (entry point conductor.agents)')
    )
    out.print("  pytest                    # check_agent, and the numbers on the sample data")
    out.print(f"  conductor agents {name}")
    out.print(f"  conductor new pipeline --agents {name} --out pipeline.yaml")


@new_app.command("pipeline")
def new_pipeline_cmd(
    file: Annotated[Path, typer.Option("--out", help="The pipeline file to write.")] = Path(
        "pipeline.yaml"
    ),
    agents: Annotated[
        str | None,
        typer.Option(
            "--agents", help="Agents to use, comma-separated (default: every one installed)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder holding the data files (SOURCE.parquet or SOURCE.csv); without it, "
            "or for a source it lacks, the path is a placeholder to replace.",
        ),
    ] = None,
    goal: Annotated[
        str | None, typer.Option("--goal", help="The business goal in plain words.")
    ] = None,
    today: TodayOpt = None,
) -> None:
    """Write a commented pipeline for the installed agents, then say what validate finds."""
    from conductor.pipeline import validate_pipeline
    from conductor.scaffold import DEFAULT_GOAL, new_pipeline

    wanted = [a.strip() for a in agents.split(",") if a.strip()] if agents is not None else None
    if wanted is not None and not wanted:
        raise typer.BadParameter("name at least one agent, e.g. --agents journey_analytics")
    day = parse_today(today)
    path = new_pipeline(file, wanted, data_dir=data_dir, goal=goal or DEFAULT_GOAL, today=day)
    out.print(f"Wrote {escape(_shown(path))}")
    report = validate_pipeline(path, today=day)
    if report.ok:
        out.print(f"[green]✓[/] `conductor validate {escape(_shown(path))}` finds no problem")
    else:
        out.print(
            f"`conductor validate` finds {len(report.errors)} problem(s) to fix before it runs "
            "(the file's header lists them too):"
        )
        for e in report.errors:
            out.print("  " + escape(str(e)).replace("\n", "\n  "))
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(str(w))}")
    out.print("Next:")
    out.print(f"  edit {escape(_shown(path))}   # the description, the goal, the data paths")
    out.print(f"  conductor validate {escape(_shown(path))}")
    out.print(f"  conductor plan {escape(_shown(path))}")
