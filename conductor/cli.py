"""The ``conductor`` command (typer + rich).

Every command turns bad input into one readable message and an exit code — never a
traceback: 0 ok, 1 failed, 2 invalid input, 3 waiting for approval.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from conductor.errors import ConductorError, PipelineInvalid, RunError, error_text

__all__ = ["app", "main"]

app = typer.Typer(
    name="conductor",
    help="Run marketing specialist agents as one orchestra: typed specs, brand rules, sign-off.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _today(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


TodayOpt = Annotated[
    str | None, typer.Option("--today", help="Planning date YYYY-MM-DD (default: today).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# --------------------------------------------------------------------------- observer


class ConsoleObserver:
    """Renders run progress: one line per step event, progress bars for long work."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def event(self, kind: str, step: str | None, **d: Any) -> None:
        if self.quiet:
            return
        c = self.console
        if kind == "progress" and step:
            self._bar(step, d)
            return
        if kind == "start":
            what = f"revising (round {d['round']})" if d.get("revising") else "running"
            c.print(f"[cyan]▶[/] {escape(step or '')} [dim]({d.get('agent')})[/] {what}")
        elif kind == "ran":
            self._close_bar(step)
            c.print(
                f"[green]✓[/] {escape(step or '')} ran in {d['seconds']:.2f}s — "
                f"{escape(str(d.get('summary', '')))}"
            )
        elif kind == "review":
            verdict = d["verdict"]
            n = len(verdict.violations)
            colour = {"pass": "green", "warn": "yellow"}.get(d["decision"], "red")
            c.print(
                f"  [bold]brand review[/] round {d['round']}: {n} finding(s) → "
                f"[{colour}]{d['decision']}[/]"
            )
            for v in verdict.violations[:6]:
                c.print(f"    [dim]- {escape(v.rule)}: {escape(v.message)}[/]")
            if n > 6:
                c.print(f"    [dim]… and {n - 6} more[/]")
        elif kind == "failed":
            self._close_bar(step)
            c.print(f"[red]✗[/] {escape(step or '')} failed: {escape(error_text(d['error']))}")
        elif kind == "skipped":
            c.print(f"[yellow]-[/] {escape(step or '')} skipped (needs {', '.join(d['because'])})")
        elif kind == "decided":
            dec = d["decision"]
            c.print(
                f"[magenta]✎[/] {escape(step or '')} {dec.get('decision')} by "
                f"{escape(str(dec.get('by')))} ({escape(str(dec.get('role')))})"
            )

    def _bar(self, step: str, d: dict[str, Any]) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("  {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
        desc = f"{step}: {d['desc']}"
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(desc, total=d.get("total"))
        self.progress.update(
            self.tasks[step], description=desc, completed=d["done"], total=d.get("total")
        )

    def _close_bar(self, step: str | None) -> None:
        if self.progress is not None and step in self.tasks:
            self.progress.remove_task(self.tasks.pop(step))
            if not self.tasks:
                self.progress.stop()
                self.progress = None

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _runner(quiet: bool = False) -> tuple[Any, ConsoleObserver]:
    import importlib

    from conductor._runtime import Runner

    obs = ConsoleObserver(err, quiet=quiet)
    try:
        llm = importlib.import_module("conductor.llm").chat_model_from_env()
    except ImportError:  # built without the LLM layer: everything stays deterministic
        llm = None
    return Runner(observer=obs, llm=llm), obs


def _finish(result: Any) -> None:
    """Print the outcome line(s) and exit with the run's code."""
    rid = result.run_id
    if result.status == "done":
        out.print(f"[green bold]Run {rid} done.[/] Files in {result.out_dir}")
    elif result.status == "waiting":
        out.print(f"[yellow bold]Run {rid} is waiting for sign-off.[/]")
        for w in result.waiting:
            out.print(f"  step [bold]{escape(w['step'])}[/] — roles: {', '.join(w['roles'])}")
            for r in w.get("reasons", [])[:5]:
                out.print(f"    [dim]{escape(r)}[/]")
            out.print(f"  approve: conductor approve {rid} {w['step']} --as NAME")
            out.print(f"  reject:  conductor reject {rid} {w['step']} --as NAME --comment '...'")
    else:
        # A run-level error (a limit, the model) explains more than the step it hit.
        first = next(iter(sorted(result.errors.items(), key=lambda kv: kv[0] != "_run")), None)
        if first is None:
            msg = result.status
        elif first[0] == "_run":
            msg = str(first[1].get("message"))
        else:
            msg = f"step {first[0]}: {error_text(first[1])}"
        err.print(f"[red bold]Run {rid} {result.status}[/]: {escape(msg)}")
        if first and first[1].get("hint"):
            err.print(f"  hint: {escape(first[1]['hint'])}")
        err.print(f"  log: {result.out_dir / 'run.log.jsonl'}")
        if result.status == "stopped":
            err.print(f"  resume: conductor resume {rid}")
    raise typer.Exit(result.exit_code)


# --------------------------------------------------------------------------- commands


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Pipeline files.")],
    today: TodayOpt = None,
) -> None:
    """Check pipeline files; print every problem as file:line:col (exit 2 on errors)."""
    from conductor.pipeline import validate_pipeline

    bad = 0
    for f in files:
        report = validate_pipeline(f, today=_today(today))
        for e in report.errors:
            bad += 1
            out.print(escape(str(e)))
        if report.ok:
            out.print(f"[green]✓[/] {escape(str(f))} is valid")
    if bad:
        err.print(f"{bad} problem(s) found")
        raise typer.Exit(2)


def _planned(file: Path, today: str | None) -> tuple[Any, Any, Any]:
    from conductor._runtime import load_brand_for
    from conductor.pipeline import check_pipeline, plan_pipeline, resolve_goal

    day = _today(today)
    pipeline = check_pipeline(file, today=day)
    day = day or pipeline.today or dt.date.today()
    goal = resolve_goal(pipeline, day)
    plans = plan_pipeline(pipeline, goal, brand=load_brand_for(pipeline), today=day)
    return pipeline, goal, plans


@app.command()
def plan(
    file: Annotated[Path, typer.Argument(help="Pipeline file.")],
    today: TodayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the typed goal and every step's spec, and where each value came from. Runs nothing."""
    pipeline, goal, plans = _planned(file, today)
    if as_json:
        _print_json(
            {
                "pipeline": pipeline.name,
                "goal": goal.model_dump(mode="json"),
                "steps": {
                    sid: {
                        "agent": pl.agent,
                        "needs": pl.needs,
                        "spec": pl.spec.model_dump(mode="json"),
                        "spec_hash": pl.spec_hash,
                        "provenance": pl.provenance,
                        "approve": pl.approve,
                    }
                    for sid, pl in plans.items()
                },
            }
        )
        return
    _print_goal(goal)
    for sid, pl in plans.items():
        t = Table(title=f"step {sid} — {pl.agent}", title_justify="left", show_lines=False)
        t.add_column("field")
        t.add_column("value", overflow="fold")
        t.add_column("from", style="dim")
        for name, value in pl.spec.model_dump(mode="json").items():
            prov = pl.provenance.get(name, {})
            src = prov.get("source", "")
            if prov.get("detail"):
                src += f": {prov['detail']}"
            t.add_row(name, escape(json.dumps(value, default=str)), escape(src))
        out.print(t)
        extra = []
        if pl.needs:
            extra.append(f"after {', '.join(pl.needs)}")
        if pl.approve:
            extra.append(f"sign-off by {', '.join(pl.approve)}")
        out.print(f"  [dim]{pl.spec_hash}{'  ·  ' + '; '.join(extra) if extra else ''}[/]")
    out.print("[dim]Nothing was run or written.[/]")


def _print_goal(goal: Any) -> None:
    from conductor import goals

    describe = getattr(goals, "describe_goal", None)
    rows = (
        describe(goal)
        if describe is not None
        else [
            (k, json.dumps(v, default=str), "")
            for k, v in goal.model_dump(mode="json").items()
            if v not in (None, [], {}) and k not in ("spans", "defaults", "warnings")
        ]
    )
    t = Table(title="goal", title_justify="left")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    t.add_column("from", style="dim", overflow="fold")
    for row in rows:
        t.add_row(*(escape(str(x)) for x in row))
    out.print(t)
    for w in goal.warnings:
        out.print(f"[yellow]warning:[/] {escape(w)}")


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="Pipeline file.")], today: TodayOpt = None
) -> None:
    """Print the compiled run graph as Mermaid."""
    from conductor._compile import Services, build_graph

    pipeline, goal, plans = _planned(file, today)
    svc = Services(pipeline=pipeline, run_id="graph", out_dir=Path(), catalog=pipeline.catalog())
    sys.stdout.write(build_graph(plans, goal, svc).compile().get_graph().draw_mermaid())


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Pipeline file.")],
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id (default: generated).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder.")] = None,
    today: TodayOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Run a pipeline. Exit 0 done, 3 waiting for approval, 1 failed."""
    runner, obs = _runner(quiet)
    try:
        result = runner.run(file, run_id=run_id, out_dir=out_dir, today=_today(today))
    finally:
        obs.stop()
        runner.close()
    _finish(result)


@app.command()
def resume(run_id: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Continue a run after a crash or stop; finished steps are not run again."""
    runner, obs = _runner()
    try:
        result = runner.resume(run_id)
    finally:
        obs.stop()
        runner.close()
    _finish(result)


def _decide(
    run_id: str, step: str, who: str, decision: str, comment: str, output: Any = None
) -> None:
    runner, obs = _runner()
    try:
        result = runner.decide(
            run_id, step, who=who, decision=decision, comment=comment, output=output
        )
    finally:
        obs.stop()
        runner.close()
    _finish(result)


AsOpt = Annotated[str, typer.Option("--as", help="Your name, as listed under `approvers`.")]
CommentOpt = Annotated[str, typer.Option("--comment", help="Why.")]


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    step: Annotated[str, typer.Argument(help="Step waiting for sign-off.")],
    who: AsOpt,
    comment: CommentOpt = "",
) -> None:
    """Sign off a step and continue the run."""
    _decide(run_id, step, who, "approve", comment)


@app.command()
def reject(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    step: Annotated[str, typer.Argument(help="Step waiting for sign-off.")],
    who: AsOpt,
    comment: CommentOpt = "",
) -> None:
    """Reject a step: it fails and the steps after it do not run."""
    _decide(run_id, step, who, "reject", comment)


@app.command()
def edit(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    step: Annotated[str, typer.Argument(help="Step waiting for sign-off.")],
    who: AsOpt,
    artifact: Annotated[
        Path, typer.Option("--artifact", help="JSON/YAML file with the amended artifact (same id).")
    ],
    comment: CommentOpt = "",
) -> None:
    """Amend an artifact of a waiting step; it is checked by the brand rules again first."""
    from conductor._approvals import prepare_edit

    output = prepare_edit(run_id, step, artifact)
    _decide(run_id, step, who, "edit", comment, output=output)


@app.command()
def runs(as_json: JsonOpt = False) -> None:
    """List runs: id, pipeline, status, started, waiting on."""
    from conductor.store import open_store

    store = open_store()
    try:
        recs = store.list_runs()
    finally:
        store.close()
    if as_json:
        _print_json([r.model_dump(mode="json") for r in recs])
        return
    t = Table()
    for col in ("run", "pipeline", "status", "started", "waiting on"):
        t.add_column(col)
    for r in recs:
        t.add_row(
            r.run_id, r.pipeline, r.status, f"{r.started:%Y-%m-%d %H:%M}", ", ".join(r.waiting_on)
        )
    out.print(t)


@app.command()
def status(
    run_id: Annotated[str, typer.Argument(help="Run id.")], as_json: JsonOpt = False
) -> None:
    """Show a run: its steps, what it waits on, LLM tokens and cost."""
    from conductor.store import open_store

    store = open_store()
    try:
        rec = store.get_run(run_id)
    finally:
        store.close()
    result_file = Path(rec.out_dir) / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    if as_json:
        _print_json({"run": rec.model_dump(mode="json"), "result": result})
        return
    out.print(f"[bold]{rec.run_id}[/]  pipeline {rec.pipeline}  status [bold]{rec.status}[/]")
    out.print(f"started {rec.started:%Y-%m-%d %H:%M:%S} UTC · folder {rec.out_dir}")
    steps = result.get("steps", {})
    if steps:
        t = Table()
        for col in ("step", "agent", "status", "seconds", "rounds", "runs"):
            t.add_column(col)
        for sid, st in steps.items():
            t.add_row(
                sid,
                st["agent"],
                st["status"],
                f"{st['seconds']:.2f}",
                str(len(st["rounds"])),
                str(st["executions"]),
            )
        out.print(t)
    llm = rec.info.get("llm") or result.get("llm", {})
    failed = f", {llm['failed_calls']} failed" if llm.get("failed_calls") else ""
    out.print(
        f"LLM: {llm.get('calls', 0)} call(s){failed}, "
        f"{llm.get('input_tokens', 0)} input + {llm.get('output_tokens', 0)} output tokens, "
        f"cost ${llm.get('cost_usd', 0.0):.4f}"
    )
    for model, m in (llm.get("by_model") or {}).items():
        out.print(
            f"  {escape(model)}: {m['calls']} call(s), {m['input_tokens']} + "
            f"{m['output_tokens']} tokens, ${m['cost_usd']:.4f}"
        )
    if rec.waiting_on:
        out.print(f"[yellow]waiting for sign-off on: {', '.join(rec.waiting_on)}[/]")
    if rec.info.get("error"):
        out.print(f"[red]error:[/] {escape(error_text(rec.info['error']))}")


@app.command()
def inbox(as_json: JsonOpt = False) -> None:
    """Every pending sign-off across runs: what is asked, the violations, who may decide."""
    from conductor._approvals import pending_approvals

    items = pending_approvals()
    if as_json:
        _print_json(items)
        return
    if not items:
        out.print("Nothing is waiting for sign-off.")
        return
    for it in items:
        out.print(
            f"[bold]{it['run_id']}[/] step [bold]{it['step']}[/] ({it['agent']}) — pipeline {it['pipeline']}"
        )
        out.print(f"  who may decide: {', '.join(it['people'])} (roles {', '.join(it['roles'])})")
        for r in it.get("reasons", []):
            out.print(f"  [dim]- {escape(r)}[/]")
        for a in it.get("artifacts", [])[:5]:
            out.print(f"  [dim]artifact {escape(a.get('id', ''))} ({a.get('kind')})[/]")
        out.print(f"  conductor approve {it['run_id']} {it['step']} --as NAME")


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
    from conductor._approvals import audit_digest

    day = _today(since)
    since_dt = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None
    digest = audit_digest(since=since_dt, pipeline=pipeline, run_id=run_id)
    if as_json:
        _print_json(digest)
        return
    if not digest:
        out.print("No audit events match.")
        return
    for run_d in digest:
        out.print(
            f"[bold]{run_d['run_id']}[/] — pipeline {run_d['pipeline']} — status {run_d['status']}"
        )
        if run_d.get("goal"):
            out.print(f"  goal: {escape(run_d['goal'])}")
        out.print(f"  data: {escape(', '.join(f'{k}={v}' for k, v in run_d['data'].items()))}")
        for s in run_d["steps"]:
            out.print(
                f"  step {s['step']}: agent {s['agent']} · spec {s['spec_hash'][:19]} · "
                f"findings {s['findings']} · {s['decision'] or ''}"
            )
        out.print(
            f"  AI: {run_d['llm']['calls']} model call(s) ({', '.join(run_d['llm']['models']) or 'no model'}),"
            f" ${run_d['llm']['cost_usd']:.4f}"
        )
        for a in run_d["approvals"]:
            out.print(
                f"  sign-off: {a['step']} {a['decision']} by {a['actor']} ({a['role']}) at {a['ts']}"
            )


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
            _print_json(cls.spec_type.model_json_schema())
            return
        found = {name: cls}
    else:
        found = available_agents()
    if as_json:
        _print_json(
            [
                {
                    "name": n,
                    "description": cls.description,
                    "version": cls.version,
                    "module": cls.__module__,
                    "spec": cls.spec_type.__name__,
                    "output": cls.output_type.__name__,
                    "needs": {k: v.__name__ for k, v in cls.needs.items()},
                    "data": {k: dict(v.columns) for k, v in cls.data.items()},
                    "parameters": sorted(cls.spec_type.model_fields),
                }
                for n, cls in found.items()
            ]
        )
        return
    for n, cls in found.items():
        out.print(f"[bold]{n}[/] — {escape(cls.description)}")
        out.print(f"  spec {cls.spec_type.__name__} → output {cls.output_type.__name__}")
        if cls.needs:
            out.print("  needs: " + ", ".join(f"{k} ({v.__name__})" for k, v in cls.needs.items()))
        if cls.data:
            out.print(
                "  data: " + ", ".join(f"{k}({', '.join(v.columns)})" for k, v in cls.data.items())
            )
        t = Table(show_header=True, box=None, padding=(0, 2))
        t.add_column("parameter")
        t.add_column("type")
        t.add_column("default")
        t.add_column("description", overflow="fold")
        for fname, f in cls.spec_type.model_fields.items():
            default = (
                "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
            )
            t.add_row(
                fname,
                escape(str(f.annotation).replace("typing.", "")),
                escape(default[:40]),
                escape(f.description or ""),
            )
        out.print(t)
    if not name:
        for n, why in broken_agents().items():
            err.print(f"[red]{n}[/] failed to load: {escape(why)}")


@app.command("parse-goal")
def parse_goal_cmd(
    text: Annotated[str, typer.Argument(help="The goal in plain words.")],
    today: TodayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Parse a business goal into its typed form and show the words each field came from."""
    from conductor import goals

    parse_goal = getattr(goals, "parse_goal", None)
    if parse_goal is None:
        raise ConductorError(
            "the goal parser is not part of this build yet", code="goal.parser-missing"
        )
    goal = parse_goal(text, today=_today(today) or dt.date.today())
    if as_json:
        _print_json(goal.model_dump(mode="json"))
        return
    _print_goal(goal)


@app.command("check-copy")
def check_copy_cmd(
    text: Annotated[str, typer.Argument(help="The copy to check.")],
    brand: Annotated[Path, typer.Option("--brand", help="Brand strategy file.")],
    channel: Annotated[str, typer.Option("--channel", help="email, sms, push, social, ...")],
    subject: Annotated[
        str | None, typer.Option("--subject", help="Subject line (email copy).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check one piece of copy against a brand strategy (exit 1 when it may not be sent)."""
    from conductor.brand import check_copy, load_brand

    verdict = check_copy(load_brand(brand), channel, text, subject=subject)
    if as_json:
        _print_json(
            verdict.model_dump(mode="json")
            | {"action": verdict.action.value, "passed": verdict.passed}
        )
    else:
        if not verdict.violations:
            out.print("[green]✓ on brand[/]")
        for v in verdict.violations:
            out.print(
                f"[{'yellow' if v.action.value == 'warn' else 'red'}]{v.rule}[/] ({v.severity.value} → {v.action.value}): {escape(v.message)}"
            )
            if v.excerpt:
                out.print(f"  [dim]“{escape(v.excerpt)}”[/]")
            if v.fix:
                out.print(f"  fix: {escape(v.fix)}")
        for s in verdict.signoff:
            out.print(f"[yellow]needs sign-off:[/] {escape(s)}")
    raise typer.Exit(0 if verdict.passed else 1)


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    open_: Annotated[
        bool, typer.Option("--open", help="Open the HTML report in a browser.")
    ] = False,
) -> None:
    """Regenerate a run's report files (result.json, summary.md, report.html)."""
    from conductor._runtime import Runner
    from conductor.report import write_run_files

    runner = Runner()
    try:
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
    from conductor._demo import run_demo

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
    from conductor._runtime import configure_logging_once

    configure_logging_once()
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
        path = _crash_log(exc)
        err.print(f"[red]internal error[/]: {escape(type(exc).__name__)}: {escape(str(exc))}")
        err.print(f"  this is a bug in Conductor; details in {path}")
        code = 1
    return code


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
