"""``conductor demo``: data with a known truth, the growth pipeline end to end, the truth check.

1. Generate a fictional retailer's data (:mod:`conductor.demo._data`) into ``OUT/data``.
2. Copy ``pipelines/growth.yaml`` to ``OUT/growth.yaml`` with its data paths pointing at
   that folder (and the planning date pinned to the data's last day), and validate it.
3. Run it through the public API (:class:`conductor.Runner`): journey analytics, budget
   allocation and personalization, each reviewed against the Acme brand; findings go back
   to the agents as typed feedback, and the budget waits at an approval gate that the demo
   signs off as :data:`DEMO_APPROVER`, saying so on screen.
4. Compare the agents' answers with the generator's truth (:mod:`conductor.demo._truth`),
   write ``truth_check.json`` into the run folder and the run files again so that
   ``result.json``, ``summary.md`` and ``report.html`` include it, and print a summary.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from conductor.errors import ConductorError, PipelineError

__all__ = ["DEMO_APPROVER", "GROWTH_PIPELINE", "TIMINGS_FILE", "prepare_pipeline", "run_demo"]

DEMO_APPROVER = "demo-approver"
"""The named person the demo signs approval gates off as (listed in growth.yaml)."""
GROWTH_PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "growth.yaml"
"""The pipeline the demo runs (shipped in the repository's ``pipelines/`` folder)."""
TIMINGS_FILE = "timings.json"
"""Seconds per demo phase, written into ``OUT/`` (read by ``benchmarks/demo.py``)."""

_PHASE_LABELS = {
    "customers": "customers and consent flags",
    "journeys": "journeys on the known Markov chain",
    "events": "events and funnel stages",
    "spend": "two years of weekly spend and revenue",
    "exposures": "past offers from the logging policy",
    "truth": "the truth",
    "done": "done",
}


def prepare_pipeline(source: Path, data_dir: Path, target: Path, today: dt.date) -> Path:
    """Write a copy of ``source`` whose data sources point into ``data_dir``.

    The copy keeps the comments, names the brand by absolute path (so it can live
    anywhere) and pins ``today`` to the data's last day, so "next quarter" means the
    quarter after the data. Data sources keep their names; each one's file name is kept
    and looked up in ``data_dir``.

    Raises:
        PipelineError: ``source`` cannot be read.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from conductor._yaml import check_yaml_limits, read_text_file

    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        text = read_text_file(source)
        check_yaml_limits(text, file=source)
        doc = yaml.load(text)
    except (PipelineError, YAMLError) as exc:
        raise PipelineError(
            f"cannot read the demo pipeline: {getattr(exc, 'message', exc)}",
            file=source,
            code="demo.no-pipeline",
            hint="run the demo from a checkout of the repository (pipelines/growth.yaml)",
        ) from None
    data = doc.get("data", {})
    for name, entry in list(data.items()):
        path = entry["path"] if isinstance(entry, dict) else entry
        rel = Path(_relative(data_dir / Path(str(path)).name, target.parent)).as_posix()
        if isinstance(entry, dict):
            entry["path"] = rel
        else:
            data[name] = rel
    if doc.get("brand"):
        doc["brand"] = str((source.parent / str(doc["brand"])).resolve())
    if "today" in doc:  # the shipped file pins the day its sample data ends
        doc["today"] = today.isoformat()
    else:
        doc.insert(list(doc).index("goal") + 1, "today", today.isoformat())
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as fh:
        fh.write(f"# Written by `conductor demo` from {source}; data in {data_dir}.\n")
        yaml.dump(doc, fh)
    return target


def _relative(path: Path, start: Path) -> str:
    import os

    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:  # another drive (Windows)
        return str(path.resolve())


class _Clock:
    """Seconds per phase, for the summary and the benchmark."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(time.perf_counter() - start, 3)


def run_demo(*, out_dir: Path, customers: int, seed: int, console: Console) -> int:
    """Run the demo; returns the process exit code (0 done, 1 failed, 2 bad input)."""
    try:
        return _run(out_dir.resolve(), customers, seed, console)
    except ConductorError as exc:
        console.print(f"[red]✗ demo stopped:[/] {escape(str(exc))}")
        hint = getattr(exc, "hint", None)
        if hint:
            console.print(f"  [dim]{escape(str(hint))}[/]")
        return 2 if exc.code.startswith(("demo.bad-size", "demo.unwritable")) else 1


def _run(out: Path, customers: int, seed: int, console: Console) -> int:
    from conductor import Runner, validate_pipeline
    from conductor.cli import ConsoleObserver
    from conductor.demo._data import generate_demo_data

    clock = _Clock()
    data_dir = out / "data"
    today = dt.date.today()
    console.rule("[bold]Conductor demo[/]")
    console.print(
        f"A fictional online retailer: [bold]{customers:,}[/] customers, five paid channels, "
        f"two years of spend, four offers. Seed {seed}, data up to {today:%d %b %Y}."
    )
    with clock.phase("data"):
        truth = _generate(generate_demo_data, data_dir, customers, seed, today, console)
    console.print(
        f"[green]✓[/] data in {escape(str(data_dir))} ({clock.phases['data']:.1f}s): "
        f"{truth.journey.touches:,} touches, {truth.journey.conversions:,} conversions, "
        f"{truth.policy.exposures:,} past offers; the truth is kept apart in truth.json"
    )

    with clock.phase("validate"):
        pipeline = prepare_pipeline(GROWTH_PIPELINE, data_dir, out / "growth.yaml", today)
        report = validate_pipeline(pipeline)
    if not report.ok:
        for err in report.errors:
            console.print(f"[red]✗[/] {escape(str(err))}")
        return 1
    assert report.goal is not None
    console.print(f"\n[bold]Goal[/]: {escape(report.goal.source_text or '')}")
    console.print(f"[dim]pipeline {escape(str(pipeline))} is valid[/]\n")

    obs = ConsoleObserver(console)
    runner = Runner(observer=obs)
    signed: list[str] = []
    try:
        with clock.phase("run"):
            result = runner.run(pipeline, out_dir=out / "run", today=today)
            for _ in range(10):  # each round signs off every step that waits
                if result.status != "waiting":
                    break
                for request in list(result.waiting):
                    result = _sign_off(runner, result.run_id, request, report, console)
                    signed.append(str(request["step"]))
                    if result.status != "waiting":
                        break
        if result.status != "done":
            console.print(f"[red]✗ the demo run ended {result.status}[/]")
            for sid, err in result.errors.items():
                console.print(f"  {escape(sid)}: {escape(str(err.get('message', err)))}")
            return 1
        with clock.phase("truth_check"), console.status("Checking the answers against the truth…"):
            check = _truth_check(runner, result, truth, data_dir, report)
    finally:
        obs.stop()
        runner.close()
    clock.phases["total"] = round(sum(clock.phases.values()), 3)
    (out / TIMINGS_FILE).write_text(
        json.dumps({"customers": customers, "seed": seed, "seconds": clock.phases}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    _summary(console, result, check, signed, clock.phases)
    return 0


def _generate(
    generate: Any, data_dir: Path, customers: int, seed: int, today: dt.date, console: Console
) -> Any:
    with Progress(
        TextColumn("  {task.description:<42}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("Generating", total=1.0)

        def on_progress(phase: str, done: float, total: float | None) -> None:
            label = _PHASE_LABELS.get(phase, phase)
            bar.update(
                task,
                description=f"Generating {label}",
                completed=done,
                total=total or 1.0,
            )

        return generate(
            data_dir, customers=customers, seed=seed, today=today, on_progress=on_progress
        )


def _sign_off(
    runner: Any, run_id: str, request: Mapping[str, Any], report: Any, console: Console
) -> Any:
    step = str(request["step"])
    roles = [str(r) for r in request.get("roles", [])]
    approvers = report.pipeline.approvers if report.pipeline is not None else {}
    role = next((r for r in roles if DEMO_APPROVER in approvers.get(r, [])), None)
    if role is None:
        raise ConductorError(
            f"step {step!r} waits for {', '.join(roles)}, and the demo approver is not one",
            code="demo.cannot-sign",
            hint=f"list {DEMO_APPROVER!r} under those roles in the pipeline's approvers",
        )
    reasons = "; ".join(str(r) for r in request.get("reasons", [])) or "the pipeline asks for it"
    console.print(
        f"\n[bold magenta]⏸ {escape(step)} waits for sign-off[/] by a {escape(role)} "
        f"({escape(reasons)})."
    )
    console.print(
        f"[bold magenta]✍ The demo signs it off as '{DEMO_APPROVER}' (role {escape(role)}).[/] "
        "In real use a person runs "
        f"[bold]conductor approve {escape(run_id)} {escape(step)} --as NAME[/], "
        "minutes or days later."
    )
    return runner.decide(
        run_id,
        step,
        who=DEMO_APPROVER,
        decision="approve",
        comment="signed off by `conductor demo` on behalf of the demo approver",
    )


def _truth_check(runner: Any, result: Any, truth: Any, data_dir: Path, report: Any) -> Any:
    from conductor.demo._truth import truth_check
    from conductor.report import TRUTH_FILE, write_run_files

    state = result.state
    check = truth_check(
        truth, data_dir, plans=state.get("plans", {}), outputs=state.get("outputs", {})
    )
    out_dir = Path(result.out_dir)
    (out_dir / TRUTH_FILE).write_text(json.dumps(check, indent=2) + "\n", encoding="utf-8")
    # The run files were written when the run finished; write them again so result.json,
    # summary.md and report.html carry the truth check too.
    write_run_files(
        out_dir,
        pipeline=report.pipeline,
        state=state,
        status=result.status,
        audit=runner.store.audit_events(run_id=result.run_id),
    )
    return check


def _revisions(console: Console, state: Mapping[str, Any]) -> None:
    """What the brand review sent back, and what the agents changed in response."""
    for sid, rounds in state.get("rounds", {}).items():
        for r in rounds:
            if r.get("decision") != "revise":
                continue
            counts: dict[str, int] = {}
            for v in (r.get("verdict") or {}).get("violations", []):
                counts[v["rule"]] = counts.get(v["rule"], 0) + 1
            found = ", ".join(f"{n}× {rule}" for rule, n in sorted(counts.items()))
            console.print(
                f"  [bold]{escape(sid)}[/], review round {r.get('round')}: {escape(found)} "
                "→ sent back to the agent"
            )
        output = state.get("outputs", {}).get(sid) or {}
        for w in output.get("warnings", []):
            if str(w).startswith("brand review:"):
                console.print(f"    [dim]{escape(str(w))}[/]")


def _summary(
    console: Console,
    result: Any,
    check: Mapping[str, Any],
    signed: list[str],
    phases: Mapping[str, float],
) -> None:
    state = result.state
    steps = Table(title="Steps", title_justify="left", show_edge=False)
    for col in ("step", "agent", "status", "brand review", "seconds"):
        steps.add_column(col, justify="right" if col == "seconds" else "left")
    for sid, plan in state.get("plans", {}).items():
        rounds = state.get("rounds", {}).get(sid, [])
        review = " → ".join(str(r.get("decision", "?")) for r in rounds) or "-"
        approval = state.get("approvals", {}).get(sid)
        status = str(state.get("status", {}).get(sid, "?"))
        if approval:
            status += f" (approved by {approval.get('by')})"
        steps.add_row(
            sid,
            str(plan["agent"]),
            status,
            review,
            f"{state.get('timings', {}).get(sid, 0.0):.2f}",
        )
    console.print()
    console.print(steps)
    _revisions(console, state)

    table = Table(title="Truth check", title_justify="left", show_edge=False)
    table.add_column("question")
    table.add_column("agents' answer vs the generator's truth")
    table.add_column("ok", justify="center")
    ok = {c["name"]: c["ok"] for c in check.get("checks", [])}
    mark = {True: "[green]✓[/]", False: "[red]✗[/]"}
    att = check.get("attribution")
    if att:
        worst = max(att["channels"].items(), key=lambda kv: kv[1]["abs_error"])
        table.add_row(
            "Is the attribution right?",
            f"{att['model']} shares off by {att['mean_abs_error'] * 100:.2f} pp on average; "
            f"worst {worst[0]} {worst[1]['estimated']:.1%} vs true {worst[1]['true']:.1%}",
            mark[ok.get("attribution", False)],
        )
    bud = check.get("budget")
    if bud:
        table.add_row(
            "Is the budget plan good?",
            f"{bud['uplift_share']:.1%} of the true optimal uplift within the brand's caps "
            f"(+{bud['achieved_uplift']:,.0f} of +{bud['optimal_uplift']:,.0f} "
            f"{bud['currency'] or ''} over {bud['weeks']:.0f} weeks)",
            mark[ok.get("budget", False)],
        )
    per = check.get("personalization")
    if per:
        table.add_row(
            "Is the offer policy good?",
            f"true purchase rate {per['policy_value']:.2%} vs {per['logging_value']:.2%} "
            f"today, {per['best_single_value']:.2%} one offer for all, "
            f"{per['oracle_value']:.2%} oracle",
            mark[ok.get("personalization", False)],
        )
        table.add_row(
            "Was anyone contacted who must not be?",
            f"{per['contacted_without_consent']} without consent, "
            f"{per['contacted_suppressed']} on the suppression list",
            mark[ok.get("consent", False)],
        )
    console.print()
    console.print(table)

    revisions = sum(
        1
        for rounds in state.get("rounds", {}).values()
        for r in rounds
        if r.get("decision") == "revise"
    )
    console.print()
    console.print(
        f"[bold green]Demo done[/] — run {escape(result.run_id)}: {revisions} revision "
        f"round(s) after brand review, signed off by {DEMO_APPROVER} on "
        f"{', '.join(signed) or 'nothing'}; "
        f"{phases.get('total', 0.0):.1f}s in all (data {phases.get('data', 0.0):.1f}s, "
        f"run {phases.get('run', 0.0):.1f}s, truth check {phases.get('truth_check', 0.0):.1f}s)."
    )
    out_dir = Path(result.out_dir)
    report = out_dir / "report.html"
    console.print(
        f"  report: {escape(str(report if report.exists() else out_dir / 'summary.md'))}\n"
        f"  files:  {escape(str(out_dir))}/result.json, summary.md, truth_check.json, "
        "run.log.jsonl"
    )
    if not check.get("ok", False):
        console.print("[yellow]Some answers missed the truth check's limits (see above).[/]")
