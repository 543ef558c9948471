"""``conductor logs RUN [STEP]``: a run's log (``run.log.jsonl``) as people read it.

Each event is one line (time, level, step, event, the other fields); a traceback, stored
as one JSON-escaped string, is printed as the multi-line text it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from conductor.cli._common import out, print_json

__all__ = ["print_logs"]

_SHOWN = ("timestamp", "level", "step", "event", "traceback", "run_id")


def print_logs(out_dir: str, step: str | None, *, as_json: bool) -> None:
    """Print the events of the run folder's log, only ``step``'s if given.

    Raises:
        RunError: ``run.no-log`` when the run has no log (yet), ``run.unknown-step`` when
            no event names ``step``.
    """
    from conductor.errors import RunError

    log = Path(out_dir) / "run.log.jsonl"
    if not log.exists():
        raise RunError(f"the run has no log at {log}", code="run.no-log")
    events: list[dict[str, Any]] = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            ev = {"event": line}  # a half-written last line after a crash: show it as is
        if isinstance(ev, dict) and (step is None or ev.get("step") == step):
            events.append(ev)
    if step is not None and not events:
        raise RunError(
            f"no log event names step {step!r}",
            code="run.unknown-step",
            hint="`conductor status RUN` lists the steps",
        )
    if as_json:
        print_json(events)
        return
    for ev in events:
        level = str(ev.get("level", "info"))
        colour = {"error": "red", "warning": "yellow"}.get(level, "dim")
        where = f" [{ev['step']}]" if ev.get("step") else ""
        rest = " ".join(
            f"{k}={v if isinstance(v, str) else json.dumps(v, default=str)}"
            for k, v in ev.items()
            if k not in _SHOWN
        )
        out.print(
            f"[dim]{escape(str(ev.get('timestamp', '')))}[/] [{colour}]{level:7}[/]"
            f"{escape(where)} {escape(str(ev.get('event', '')))}"
            + (f" [dim]{escape(rest)}[/]" if rest else "")
        )
        if ev.get("traceback"):
            out.print(escape(str(ev["traceback"]).rstrip("\n")), style="red")
