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

from conductor._crash import point
from conductor.errors import error_text
from conductor.pipeline import Pipeline
from conductor.report._words import decision_words
from conductor.store import AuditEvent

__all__ = ["TRUTH_FILE", "build_result", "llm_usage", "render_summary", "write_run_files"]

TRUTH_FILE = "truth_check.json"


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
            "artifacts": _artifacts(pl["agent"], state.get("outputs", {}).get(sid)),
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
        # Who may decide, by name: `conductor inbox` reads waiting runs from this file.
        "waiting": [
            {
                **w,
                "people": sorted(
                    {n for r in w.get("roles", []) for n in pipeline.approvers.get(r, [])}
                ),
            }
            for w in waiting
        ],
        "error": dict(error) if error else None,
        "llm": llm_usage(calls),
    }


def _artifacts(agent: str, output: Any) -> list[dict[str, Any]] | None:
    """What the step's output shows the world (``AgentOutput.artifacts()``), as JSON.

    The report finds most artifacts in the output's fields, but an agent may build them
    (a plugin's ``Insight`` from a count, say): without this list they were lost. None
    when there is no output, or its agent is not installed here to say.
    """
    if not isinstance(output, Mapping):
        return None
    from pydantic import ValidationError

    from conductor.agents import get_agent
    from conductor.errors import ConductorError

    try:
        typed = get_agent(agent).output_type.model_validate(output)
        return [a.model_dump(mode="json") for a in typed.artifacts()]
    except (ConductorError, ValidationError, TypeError, ValueError):
        return None


def llm_usage(calls: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals of a run's model requests (usage records as JSON), overall and per model/step."""

    def total(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {
            "calls": len(rows),
            "failed_calls": sum(1 for c in rows if not c.get("ok", True)),
            "input_tokens": sum(int(c.get("input_tokens", 0)) for c in rows),
            "output_tokens": sum(int(c.get("output_tokens", 0)) for c in rows),
            "cost_usd": round(sum(float(c.get("cost_usd", 0.0)) for c in rows), 6),
        }

    def by(key: str) -> dict[str, Any]:
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for c in calls:
            groups.setdefault(str(c.get(key) or "-"), []).append(c)
        return {k: total(v) for k, v in groups.items()}

    return total(calls) | {
        "models": sorted({str(c.get("model")) for c in calls if c.get("model")}),
        "by_model": by("model"),
        "by_step": by("step"),
        "by_purpose": by("purpose"),
        "detail": list(calls),
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
        # What the parser did not read changes what the run measures: say it before the numbers.
        warned = [str(w) for w in goal.get("warnings") or []]
        if warned:
            lines += [*(f"- ⚠ **warning:** {w}" for w in warned), ""]
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
            lines.append(f"- **{sid}** failed: {error_text(st['error'])}")
        if st.get("approval"):
            a = st["approval"]
            lines.append(
                f"- **{sid}** {decision_words(a)} by {a.get('by')} ({a.get('role')})"
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
                if ev.detail.get("refused"):
                    what += f" — refused: {ev.detail.get('reason') or 'not one of the roles asked'}"
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
    checkpoint: str | None = None,
) -> Path:
    """Write ``summary.md``, ``report.html`` and ``result.json`` (each atomically, in that
    order) and return the folder.

    Args:
        checkpoint: The id of the checkpoint ``state`` was read from, kept in
            ``result.json`` so a later ``resume`` knows whether the files are current.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    result = build_result(
        pipeline=pipeline, state=state, status=status, waiting=waiting, error=error
    )
    result["audit"] = [ev.model_dump(mode="json") for ev in audit]
    logged = [ev.detail for ev in audit if ev.kind == "llm"]
    if logged:
        # The audit log also holds requests made by a step that was cut short (a limit, a
        # crash), which never reached the checkpoint: it is the complete bill.
        result["llm"] = llm_usage(logged)
    truth = out_dir / TRUTH_FILE
    if truth.exists():
        # Written by `conductor demo`: how the agents' answers compare with the generator's
        # known truth. Kept beside the run so `conductor report` can show it again.
        result["truth_check"] = json.loads(truth.read_text(encoding="utf-8"))
    if checkpoint is not None:
        result["checkpoint"] = checkpoint
    from conductor.report._html import render_html  # plotly is imported only when a report is due

    # result.json goes last and names the checkpoint it shows: when it is current, so are
    # the files written before it, so `resume` can tell stale files from current ones.
    _atomic_write(out_dir / "summary.md", render_summary(result, audit))
    _atomic_write(out_dir / "report.html", render_html(result))
    _atomic_write(out_dir / "result.json", json.dumps(result, indent=2, default=str))
    return out_dir


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    point(f"file-written-{tmp.name}")
    tmp.replace(path)
    point(f"file-{path.name}")
