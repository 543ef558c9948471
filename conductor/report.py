"""Run files: ``result.json`` (machines), ``summary.md`` (people), ``report.html`` (charts).

Written into the run folder whenever a run finishes, stops or waits, so the latest
state is always on disk next to ``run.log.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from conductor.pipeline import Pipeline
from conductor.store import AuditEvent

__all__ = ["build_result", "render_summary", "write_run_files"]


def build_result(
    *,
    pipeline: Pipeline,
    state: Mapping[str, Any],
    status: str,
    waiting: Sequence[Mapping[str, Any]] = (),
    error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``result.json`` document."""
    plans = state.get("plans", {})
    steps: dict[str, Any] = {}
    for sid, pl in plans.items():
        steps[sid] = {
            "agent": pl["agent"],
            "status": state.get("status", {}).get(sid, "pending"),
            "spec": pl["spec"],
            "spec_hash": pl["spec_hash"],
            "provenance": pl.get("provenance", {}),
            "seconds": round(state.get("timings", {}).get(sid, 0.0), 4),
            "executions": state.get("executions", {}).get(sid, 0),
            "rounds": state.get("rounds", {}).get(sid, []),
            "approval": state.get("approvals", {}).get(sid),
            "error": state.get("errors", {}).get(sid),
            "output": state.get("outputs", {}).get(sid),
        }
    calls = state.get("llm_calls", [])
    return {
        "run_id": state.get("run_id"),
        "pipeline": pipeline.name,
        "pipeline_file": str(pipeline.source),
        "status": status,
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
        "goal": state.get("goal"),
        "steps": steps,
        "waiting": list(waiting),
        "error": dict(error) if error else None,
        "llm": {
            "calls": len(calls),
            "input_tokens": sum(c.get("input_tokens", 0) for c in calls),
            "output_tokens": sum(c.get("output_tokens", 0) for c in calls),
            "cost_usd": round(sum(c.get("cost_usd", 0.0) for c in calls), 6),
            "detail": calls,
        },
    }


def render_summary(result: Mapping[str, Any], audit: Sequence[AuditEvent] = ()) -> str:
    """A short Markdown summary of a run."""
    lines = [
        f"# Run {result['run_id']} — {result['pipeline']}",
        "",
        f"**Status:** {result['status']}",
        "",
    ]
    goal = result.get("goal") or {}
    if goal:
        lines += ["## Goal", ""]
        if goal.get("source_text"):
            lines += [f"> {goal['source_text']}", ""]
        for key in ("objective", "kpi", "target", "budget", "horizon", "channels"):
            if goal.get(key) not in (None, [], {}):
                lines.append(f"- **{key}**: `{json.dumps(goal[key], default=str)}`")
        lines.append("")
    lines += [
        "## Steps",
        "",
        "| step | agent | status | seconds | review rounds |",
        "|---|---|---|---|---|",
    ]
    for sid, st in result["steps"].items():
        lines.append(
            f"| {sid} | {st['agent']} | {st['status']} | {st['seconds']:.2f} | {len(st['rounds'])} |"
        )
    lines.append("")
    for sid, st in result["steps"].items():
        if st.get("error"):
            lines.append(f"- **{sid}** failed: {st['error'].get('message')}")
        if st.get("approval"):
            a = st["approval"]
            lines.append(
                f"- **{sid}** {a.get('decision')}d by {a.get('by')} ({a.get('role')})"
                + (f": {a['comment']}" if a.get("comment") else "")
            )
    if result.get("waiting"):
        lines += ["", "## Waiting for sign-off", ""]
        for w in result["waiting"]:
            lines.append(f"- **{w['step']}** — roles: {', '.join(w['roles'])}")
            for r in w.get("reasons", []):
                lines.append(f"  - {r}")
    llm = result.get("llm", {})
    if llm.get("calls"):
        lines += [
            "",
            f"LLM: {llm['calls']} call(s), {llm['input_tokens'] + llm['output_tokens']} tokens, "
            f"${llm['cost_usd']:.4f}",
        ]
    if audit:
        lines += ["", "## Audit trail", "", "| when | who | what | step |", "|---|---|---|---|"]
        for ev in audit:
            what = ev.kind
            if ev.kind in ("approval", "run", "verdict", "step"):
                what += ": " + str(
                    ev.detail.get("decision")
                    or ev.detail.get("event")
                    or ev.detail.get("status", "")
                )
            lines.append(f"| {ev.ts:%Y-%m-%d %H:%M:%S} | {ev.actor} | {what} | {ev.step or ''} |")
    return "\n".join(lines) + "\n"


def write_run_files(
    out_dir: Path,
    *,
    pipeline: Pipeline,
    state: Mapping[str, Any],
    status: str,
    waiting: Sequence[Mapping[str, Any]] = (),
    error: Mapping[str, Any] | None = None,
    audit: Sequence[AuditEvent] = (),
) -> Path:
    """Write ``result.json`` and ``summary.md`` (atomically) and return the folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = build_result(
        pipeline=pipeline, state=state, status=status, waiting=waiting, error=error
    )
    result["audit"] = [ev.model_dump(mode="json") for ev in audit]
    _atomic_write(out_dir / "result.json", json.dumps(result, indent=2, default=str))
    _atomic_write(out_dir / "summary.md", render_summary(result, audit))
    try:
        from conductor._html import render_html
    except ImportError:
        return out_dir
    _atomic_write(out_dir / "report.html", render_html(result))
    return out_dir


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
