"""The ``conductor`` command (typer + rich).

Every command turns bad input into one readable message and an exit code — never a
traceback: 0 ok, 1 failed, 2 invalid input, 3 waiting for approval, 70 internal error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from conductor.cli._common import (
    JsonOpt,
    RunIdArg,
    TodayOpt,
    err,
    full_run_id,
    out,
    parse_today,
    print_json,
)
from conductor.cli._new import new_app
from conductor.cli._show import (
    print_agents,
    print_audit,
    print_goal,
    print_inbox,
    print_plan,
    print_preview,
    print_runs,
    print_status,
    print_verdict,
)
from conductor.errors import ConductorError, PipelineInvalid, RunError

__all__ = ["EXIT_INTERNAL", "app", "main"]

EXIT_INTERNAL = 70
"""Exit code of an internal error (a bug): ``EX_SOFTWARE`` from sysexits.h, so a script
never mistakes a crash for an outcome such as "may not be sent" (1)."""

app = typer.Typer(
    name="conductor",
    help="Run marketing specialist agents as one orchestra: typed specs, brand rules, sign-off.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

app.add_typer(new_app)

# --------------------------------------------------------------------------- commands


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Pipeline files.")],
    today: TodayOpt = None,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview", help="Also print each data source's first rows as the agents see them."
        ),
    ] = False,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows per source with --preview.")] = 5,
) -> None:
    """Check pipeline files; print every problem as file:line:col (exit 2 on errors)."""
    from conductor.pipeline import validate_pipeline

    bad = 0
    for f in files:
        report = validate_pipeline(f, today=parse_today(today))
        for e in report.errors:
            bad += 1
            out.print(escape(str(e)))
        for w in report.warnings:
            out.print(f"[yellow]warning:[/] {escape(str(w))}")
        if report.ok:
            out.print(f"[green]✓[/] {escape(str(f))} is valid")
        if preview and report.pipeline is not None:
            _preview(report.pipeline, rows)
    if bad:
        err.print(f"{bad} problem(s) found")
        raise typer.Exit(2)


def _preview(pipeline: Any, rows: int) -> None:
    """Each source's first rows, read through the catalog (renames and staging applied)."""
    catalog = pipeline.catalog()
    try:
        for name in pipeline.data:
            try:
                types = catalog.columns(name)
                names, data = catalog.preview(name, rows)
            except ConductorError as exc:
                err.print(escape(f"{name}: {exc}"))
                continue
            print_preview(name, [(n, types.get(n, "")) for n in names], data)
    finally:
        catalog.close()


def _planned(file: Path, today: str | None) -> tuple[Any, Any, Any]:
    from conductor.runtime import planned

    return planned(file, today=parse_today(today))


@app.command()
def plan(
    file: Annotated[Path, typer.Argument(help="Pipeline file.")],
    today: TodayOpt = None,
    as_json: JsonOpt = False,
    save: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Save the plan to this file, to run exactly with `conductor run --plan FILE`.",
        ),
    ] = None,
) -> None:
    """Show the typed goal and every step's spec, and where each value came from. Runs nothing."""
    pipeline, goal, plans = _planned(file, today)
    if save is None:
        print_plan(pipeline, goal, plans, as_json=as_json)
        return
    from conductor.pipeline import save_plan, write_plan

    day = parse_today(today) or pipeline.today or dt.date.today()
    write_plan(save_plan(pipeline, goal, plans, day), save)
    print_plan(pipeline, goal, plans, as_json=as_json, saved_to=save)


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="Pipeline file.")],
    today: TodayOpt = None,
    internal: Annotated[
        bool, typer.Option("--internal", help="The compiled graph: gate nodes, retry loops.")
    ] = False,
) -> None:
    """Print the pipeline's steps and what each needs as Mermaid (``--internal``: all nodes)."""
    from conductor.pipeline import step_mermaid
    from conductor.runtime import Services, build_graph

    pipeline, goal, plans = _planned(file, today)
    if not internal:
        sys.stdout.write(step_mermaid(plans))
        return
    svc = Services(pipeline=pipeline, run_id="graph", out_dir=Path(), catalog=pipeline.catalog())
    sys.stdout.write(build_graph(plans, goal, svc).compile().get_graph().draw_mermaid())


@app.command()
def run(
    file: Annotated[
        Path | None,
        typer.Argument(help="Pipeline file (with --plan: default, the file the plan names)."),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id (default: generated).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder.")] = None,
    today: TodayOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Run exactly this saved plan (`conductor plan FILE --out`); refused, with "
            "what changed, when the pipeline, its data or an agent changed since.",
        ),
    ] = None,
) -> None:
    """Run a pipeline. Exit 0 done, 3 waiting for approval, 1 failed."""
    if file is None and plan_file is None:
        raise typer.BadParameter("give a pipeline file, or a saved plan with --plan")
    from conductor.cli._progress import console_runner, finish_run

    runner, obs = console_runner(quiet)
    try:
        result = runner.run(
            file, run_id=run_id, out_dir=out_dir, today=parse_today(today), plan=plan_file
        )
    finally:
        obs.stop()
        runner.close()
    finish_run(result)


@app.command()
def resume(run_id: RunIdArg) -> None:
    """Continue a run after a crash or stop, or retry a failed one; finished steps are kept."""
    from conductor.cli._progress import console_runner, finish_run

    runner, obs = console_runner()
    try:
        result = runner.resume(full_run_id(run_id, runner.store))
    finally:
        obs.stop()
        runner.close()
    finish_run(result)


def _decide(
    run_id: str, step: str, who: str, decision: str, comment: str, output: Any = None
) -> None:
    from conductor.cli._progress import console_runner, finish_run

    runner, obs = console_runner()
    try:
        result = runner.decide(
            full_run_id(run_id, runner.store),
            step,
            who=who,
            decision=decision,
            comment=comment,
            output=output,
        )
    finally:
        obs.stop()
        runner.close()
    finish_run(result)


AsOpt = Annotated[str, typer.Option("--as", help="Your name, as listed under `approvers`.")]
CommentOpt = Annotated[str, typer.Option("--comment", help="Why.")]


@app.command()
def approve(
    run_id: RunIdArg,
    step: Annotated[str, typer.Argument(help="Step waiting for sign-off.")],
    who: AsOpt,
    comment: CommentOpt = "",
) -> None:
    """Sign off a step and continue the run."""
    _decide(run_id, step, who, "approve", comment)


@app.command()
def reject(
    run_id: RunIdArg,
    step: Annotated[str, typer.Argument(help="Step waiting for sign-off.")],
    who: AsOpt,
    comment: CommentOpt = "",
) -> None:
    """Reject a step: it fails and the steps after it do not run."""
    _decide(run_id, step, who, "reject", comment)


@app.command()
def edit(
    run_id: RunIdArg,
    step: Annotated[str, typer.Argument(help="Step waiting for sign-off.")],
    who: AsOpt,
    artifact: Annotated[
        Path, typer.Option("--artifact", help="JSON/YAML file with the amended artifact (same id).")
    ],
    comment: CommentOpt = "",
) -> None:
    """Amend an artifact of a waiting step; it is checked by the brand rules again first."""
    from conductor.runtime import prepare_edit

    run_id = full_run_id(run_id)
    output = prepare_edit(run_id, step, artifact, who=who)
    _decide(run_id, step, who, "edit", comment, output=output)


@app.command()
def cancel(
    run_id: RunIdArg,
    who: Annotated[str, typer.Option("--as", help="Your name (recorded in the audit log).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
) -> None:
    """Stop a waiting or stopped run for good: it ends `cancelled` and cannot be resumed."""
    from conductor.runtime import Runner

    runner = Runner()
    try:
        result = runner.cancel(full_run_id(run_id, runner.store), who=who, reason=reason)
    finally:
        runner.close()
    out.print(f"run {escape(result.run_id)} cancelled by {escape(who)}")


@app.command()
def runs(as_json: JsonOpt = False) -> None:
    """List runs: id, pipeline, status, started, waiting on."""
    from conductor.store import open_store

    store = open_store()
    try:
        recs = store.list_runs()
    finally:
        store.close()
    print_runs(recs, as_json=as_json)


@app.command()
def status(run_id: RunIdArg, as_json: JsonOpt = False) -> None:
    """Show a run: its steps, what it waits on, LLM tokens and cost."""
    from conductor.store import open_store

    store = open_store()
    try:
        rec = store.get_run(full_run_id(run_id, store))
    finally:
        store.close()
    print_status(rec, as_json=as_json)


@app.command()
def inbox(as_json: JsonOpt = False) -> None:
    """Every pending sign-off across runs: what is asked, the violations, who may decide."""
    from conductor.runtime import pending_approvals

    print_inbox(pending_approvals(), as_json=as_json)


@app.command()
def audit(
    since: Annotated[
        str | None, typer.Option("--since", help="Only events from this date (YYYY-MM-DD).")
    ] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Only this pipeline.")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who ran which AI, for which goal, on which data, at what cost, and who signed it off."""
    from conductor.runtime import audit_digest

    day = parse_today(since)
    since_dt = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None
    if run_id:
        try:
            run_id = full_run_id(run_id)
        except RunError as exc:
            # The audit log also bills work that is not a run in the index (a
            # `parse-goal --model`): an id the index does not know is read as it is.
            if exc.code != "run.unknown":
                raise
    digest = audit_digest(since=since_dt, pipeline=pipeline, run_id=run_id)
    print_audit(digest, as_json=as_json)


@app.command()
def agents(
    name: Annotated[str | None, typer.Argument(help="Show one agent.")] = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the spec's JSON schema.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List registered agents and their spec fields."""
    from conductor.agents import available_agents, broken_agents, get_agent

    if name:
        cls = get_agent(name)
        if schema:
            print_json(cls.spec_type.model_json_schema())
            return
        found = {name: cls}
    else:
        found = available_agents()
    print_agents(found, as_json=as_json, detail=bool(name))
    if not name and not as_json:
        for n, why in broken_agents().items():
            err.print(f"[red]{n}[/] failed to load: {escape(why)}")


@app.command()
def logs(
    run_id: RunIdArg,
    step: Annotated[str | None, typer.Argument(help="Only this step's events.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a run's log, or one step's, with any traceback as readable text."""
    from conductor.cli._logs import print_logs
    from conductor.store import open_store

    store = open_store()
    try:
        rec = store.get_run(full_run_id(run_id, store))
    finally:
        store.close()
    print_logs(rec.out_dir, step, as_json=as_json)


@app.command("parse-goal")
def parse_goal_cmd(
    text: Annotated[str, typer.Argument(help="The goal in plain words.")],
    today: TodayOpt = None,
    as_json: JsonOpt = False,
    model: Annotated[
        bool,
        typer.Option(
            "--model",
            help="Ask the configured language model for what the grammar misses "
            "(needs OPENAI_API_KEY; its requests are billed in `conductor audit`).",
        ),
    ] = False,
) -> None:
    """Parse a business goal into its typed form and show the words each field came from."""
    from conductor.goals import parse_goal

    day = parse_today(today) or dt.date.today()
    if not model:
        goal = parse_goal(text, today=day)
    else:
        from conductor.runtime import parse_goal_billed

        goal, usage = parse_goal_billed(text, today=day)
        audit_id = usage.get("audit_id")
        where = f"; `conductor audit --run {audit_id}`" if audit_id else ""
        err.print(
            f"model: {usage['calls']} request(s), {usage['input_tokens']} input + "
            f"{usage['output_tokens']} output tokens, ${usage['cost_usd']:.4f}{where}"
        )
    if as_json:
        print_json(goal.model_dump(mode="json"))
        return
    print_goal(goal)


@app.command("check-copy")
def check_copy_cmd(
    brand: Annotated[Path, typer.Option("--brand", help="Brand strategy file.")],
    channel: Annotated[str, typer.Option("--channel", help="email, sms, push, social, ...")],
    text: Annotated[
        str | None, typer.Argument(help="The copy to check ('-': read standard input).")
    ] = None,
    file: Annotated[
        str | None,
        typer.Option("--file", help="Read the copy from this UTF-8 file ('-': standard input)."),
    ] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="Subject line (email copy).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check one piece of copy against a brand strategy.

    Exit 0 when it may be sent, 1 when it may not, 2 for bad input (brand file, copy
    file, usage).
    """
    from conductor.brand import check_copy, load_brand
    from conductor.cli._copy_input import read_copy

    copy = read_copy(text, file)
    verdict = check_copy(load_brand(brand), channel, copy, subject=subject)
    print_verdict(verdict, as_json=as_json)
    raise typer.Exit(0 if verdict.passed else 1)


@app.command()
def report(
    run_id: RunIdArg,
    open_: Annotated[
        bool, typer.Option("--open", help="Open the HTML report in a browser.")
    ] = False,
) -> None:
    """Regenerate a run's report files (result.json, summary.md, report.html)."""
    from conductor.report import write_run_files
    from conductor.runtime import Runner

    runner = Runner()
    try:
        run_id = full_run_id(run_id, runner.store)
        rec = runner.store.get_run(run_id)
        state = runner.state(run_id)
        from conductor.pipeline import load_pipeline

        pipeline = load_pipeline(rec.pipeline_file)
        folder = write_run_files(
            Path(rec.out_dir),
            pipeline=pipeline,
            state=state,
            status=rec.status,
            audit=runner.store.audit_events(run_id=run_id),
        )
    finally:
        runner.close()
    html = folder / "report.html"
    out.print(f"Report: {html if html.exists() else folder / 'summary.md'}")
    if open_ and html.exists():
        import webbrowser

        webbrowser.open(html.as_uri())


@app.command()
def demo(
    customers: Annotated[int, typer.Option("--customers", help="Synthetic customers.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for data and the run.")] = Path(
        "demo-out"
    ),
) -> None:
    """Generate realistic data with a known truth, run pipelines/growth.yaml end to end, check it."""
    # The demo sits above the framework (it drives the CLI's own printer): it is loaded
    # by name, like a plugin, so that no framework module imports it.
    run_demo = importlib.import_module("conductor.demo").run_demo

    code = run_demo(out_dir=out_dir, customers=customers, seed=seed, console=out)
    raise typer.Exit(code)


# --------------------------------------------------------------------------- entry point


def _crash_log(exc: BaseException) -> Path:
    home = Path(os.environ.get("CONDUCTOR_HOME") or Path.cwd() / ".conductor")
    try:
        home.mkdir(parents=True, exist_ok=True)
        path = home / "crash.log"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {dt.datetime.now(dt.UTC).isoformat()} {' '.join(sys.argv)}\n")
            fh.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return Path("(could not write crash log)")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the CLI, map errors to messages and exit codes."""
    # Help needs no logging, nor does checking a piece of copy (the brand engine logs
    # nothing); configuring it costs structlog's import (~0.05 s of a 0.5 s command).
    args = sys.argv[1:] if argv is None else argv
    if "--help" not in args and args[:1] != ["check-copy"]:
        from conductor.logging import configure_logging_once

        configure_logging_once()
    _tolerant_streams()
    code = 0
    try:
        _load_plugin_modules()
        rv = app(args=argv, standalone_mode=False, prog_name="conductor")
        code = rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        err.print("aborted")
        code = 130
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, ...
        show = getattr(exc, "show", None)
        if show is not None:
            show(file=sys.stderr)
        else:
            err.print(f"error: {escape(str(exc))}")
        code = 2
    except PipelineInvalid as exc:
        for e in exc.errors:
            err.print(escape(str(e)))
        code = 2
    except ConductorError as exc:
        err.print(f"[red]error[/] [dim]({exc.code})[/]: {escape(str(exc))}")
        code = exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        code = 130
    except Exception as exc:
        from conductor.store import resource_error

        resource = resource_error(exc)
        if resource is not None:  # a full disk or a lost database is no bug
            err.print(f"[red]error[/] [dim]({resource.code})[/]: {escape(str(resource))}")
            return resource.exit_code
        path = _crash_log(exc)
        err.print(f"[red]internal error[/]: {escape(type(exc).__name__)}: {escape(str(exc))}")
        err.print(f"  this is a bug in Conductor; details in {path}")
        code = EXIT_INTERNAL
    return code


def _tolerant_streams() -> None:
    """Let output the terminal cannot encode come out escaped (``\\u2713``), not crash.

    Under ``PYTHONIOENCODING=ascii`` (or a C locale) printing "✓ on brand" or a curly
    quote from the copy raised ``UnicodeEncodeError``; the encoding is kept, only its
    error handler changes.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "errors", None) or "strict") == "strict":
            # A closed or detached stream is left as it is.
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _load_plugin_modules() -> None:
    """Import modules listed in CONDUCTOR_PLUGINS (development plugins without packaging)."""
    import importlib

    for mod in filter(
        None, (m.strip() for m in os.environ.get("CONDUCTOR_PLUGINS", "").split(","))
    ):
        try:
            importlib.import_module(mod)
        except Exception as exc:
            raise RunError(
                f"cannot import plugin module {mod!r} from CONDUCTOR_PLUGINS: {exc}",
                code="plugin.import-failed",
                hint="check the module name and that it is on PYTHONPATH",
            ) from None


def _entry() -> None:  # pragma: no cover - thin wrapper for the console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
