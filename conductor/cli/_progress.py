"""Running a pipeline from the terminal: live progress, then the outcome.

:class:`ConsoleObserver` renders the runner's step events, one line each, with progress
bars for long work (the demo uses it too); :func:`console_runner` builds a runner that
reports to it on standard error, with the model from the environment when the LLM layer
is installed; :func:`finish_run` prints how the run ended and exits with its code.
``run``, ``resume``, ``approve``, ``reject`` and ``edit`` share them.
"""

from __future__ import annotations

import threading
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from conductor.cli._common import err, out
from conductor.errors import error_text

__all__ = ["ConsoleObserver", "console_runner", "finish_run"]


class ConsoleObserver:
    """Renders run progress: one line per step event, progress bars for long work."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        # Independent steps run in parallel threads: one step closing the last bar (and
        # stopping the display) while another adds or updates its own raced into a
        # KeyError inside rich. One event at a time.
        self._lock = threading.Lock()

    def event(self, kind: str, step: str | None, **d: Any) -> None:
        if self.quiet:
            return
        with self._lock:
            self._event(kind, step, d)

    def _event(self, kind: str, step: str | None, d: dict[str, Any]) -> None:
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
        with self._lock:
            if self.progress is not None:
                self.progress.stop()
                self.progress = None


def console_runner(quiet: bool = False) -> tuple[Any, ConsoleObserver]:
    import importlib

    from conductor.runtime import Runner

    obs = ConsoleObserver(err, quiet=quiet)
    try:
        llm = importlib.import_module("conductor.llm").chat_model_from_env()
    except ImportError:  # built without the LLM layer: everything stays deterministic
        llm = None
    return Runner(observer=obs, llm=llm), obs


def finish_run(result: Any) -> None:
    """Print the outcome line(s) and exit with the run's code."""
    rid = result.run_id
    if result.status == "done":
        out.print(f"[green bold]Run {rid} done.[/] Files in {result.out_dir}")
    elif result.status == "waiting":
        out.print(f"[yellow bold]Run {rid} is waiting for sign-off.[/]")
        for w in result.waiting:
            roles = ", ".join(w["roles"]) or "none (add `approvers:` to the pipeline)"
            out.print(f"  step [bold]{escape(w['step'])}[/] — roles: {escape(roles)}")
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
            # An agent's error already says which step it was in; others get the step.
            where = str(first[1].get("where") or "")
            text = error_text(first[1])
            msg = text if where.startswith(f"step {first[0]!r}") else f"step {first[0]}: {text}"
        err.print(f"[red bold]Run {rid} {result.status}[/]: {escape(msg)}")
        if first and first[1].get("hint"):
            err.print(f"  hint: {escape(first[1]['hint'])}")
        err.print(f"  log: {result.out_dir / 'run.log.jsonl'}")
        if result.status == "stopped":
            err.print(f"  resume: conductor resume {rid}")
        elif result.status == "failed":
            err.print(f"  retry:  conductor resume {rid}  (once the input is fixed)")
    raise typer.Exit(result.exit_code)
