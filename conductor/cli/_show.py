"""How the inspection commands print what they found: JSON with ``--json``, else tables.

``plan``, ``parse-goal``, ``runs``, ``status``, ``inbox``, ``audit``, ``agents`` and
``check-copy`` load their data in :mod:`conductor.cli` and hand it here; nothing in this
module reads pipelines, runs agents or changes the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from conductor.cli._common import out, print_json
from conductor.errors import error_text

__all__ = [
    "print_agents",
    "print_audit",
    "print_goal",
    "print_inbox",
    "print_plan",
    "print_preview",
    "print_runs",
    "print_status",
    "print_verdict",
]


def print_plan(
    pipeline: Any, goal: Any, plans: dict[str, Any], *, as_json: bool, saved_to: Any = None
) -> None:
    """The typed goal, then every step's spec with where each value came from."""
    if as_json:
        from conductor.pipeline import plan_document

        print_json(plan_document(pipeline, goal, plans))
        return
    print_goal(goal)
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
    if saved_to is None:
        out.print("[dim]Nothing was run or written.[/]")
    else:
        out.print(
            f"[green]✓[/] plan saved to {escape(str(saved_to))}; nothing was run. "
            f"Run exactly this plan: conductor run --plan {escape(str(saved_to))}"
        )


def print_goal(goal: Any) -> None:
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


def print_runs(recs: list[Any], *, as_json: bool) -> None:
    """One row per run: id, pipeline, status, started, waiting on."""
    if as_json:
        print_json([r.model_dump(mode="json") for r in recs])
        return
    t = Table()
    # Ids are for copying: never shortened with an ellipsis, however narrow the terminal.
    t.add_column("run", no_wrap=True, min_width=max((len(r.run_id) for r in recs), default=3))
    for col in ("pipeline", "status", "started", "waiting on"):
        t.add_column(col)
    rows = [
        (r.run_id, r.pipeline, r.status, f"{r.started:%Y-%m-%d %H:%M}", ", ".join(r.waiting_on))
        for r in recs
    ]
    for row in rows:
        t.add_row(*row)
    # Wider than the terminal rather than an id cut short: the table scrolls sideways.
    widths = [
        max([len(h), *(len(row[i]) for row in rows)])
        for i, h in enumerate(("run", "pipeline", "status", "started", "waiting on"))
    ]
    from rich.console import Console

    wide = Console(highlight=False, width=max(out.width, sum(w + 3 for w in widths) + 1))
    wide.print(t)


def print_status(rec: Any, *, as_json: bool) -> None:
    """One run from its store record and its ``result.json``: steps, what it waits on, LLM use."""
    result_file = Path(rec.out_dir) / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    if as_json:
        print_json({"run": rec.model_dump(mode="json"), "result": result})
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


def print_inbox(items: list[dict[str, Any]], *, as_json: bool) -> None:
    """Pending sign-offs: what is asked, the violations, who may decide."""
    if as_json:
        print_json(items)
        return
    if not items:
        out.print("Nothing is waiting for sign-off.")
        return
    for it in items:
        out.print(
            f"[bold]{it['run_id']}[/] step [bold]{it['step']}[/] ({it['agent']}) — pipeline {it['pipeline']}"
        )
        if it["roles"]:
            out.print(
                f"  who may decide: {', '.join(it['people'])} (roles {', '.join(it['roles'])})"
            )
        else:
            out.print("  who may decide: nobody yet (add `approvers:` to the pipeline)")
        for r in it.get("reasons", []):
            out.print(f"  [dim]- {escape(r)}[/]")
        arts = it.get("artifacts", [])
        for a in arts[:_INBOX_ARTIFACTS]:
            for line in artifact_lines(a, it.get("violations", [])):
                out.print(f"  {escape(line)}")
        if len(arts) > _INBOX_ARTIFACTS:
            out.print(
                f"  [dim]… and {len(arts) - _INBOX_ARTIFACTS} more "
                f"(conductor status {it['run_id']} --json)[/]"
            )
        out.print(f"  conductor approve {it['run_id']} {it['step']} --as NAME")


_INBOX_ARTIFACTS = 5
_INBOX_TEXT = 300  # characters of a copy's text shown in the inbox


def _money(x: float, currency: str) -> str:
    from conductor.numbers import number

    return f"{number(x)} {currency}".strip()


def artifact_lines(art: dict[str, Any], violations: list[dict[str, Any]]) -> list[str]:
    """What a sign-off is about, in a few lines: an allocation's amounts and their change,
    a copy's text with the brand findings on it, an audience's size, an insight's claim."""
    kind, aid = art.get("kind"), art.get("id", "")
    lines: list[str] = []
    if kind == "allocation":
        cur = str(art.get("currency") or "")
        amounts: dict[str, float] = art.get("amounts") or {}
        prev: dict[str, float] = art.get("previous") or {}
        period = f" for {art['period']}" if art.get("period") else ""
        total = sum(amounts.values())
        head = f"allocation {aid}{period}: {_money(total, cur)}"
        if prev:
            head += f" (was {_money(sum(prev.values()), cur)})"
        lines.append(head)
        width = max((len(ch) for ch in {**prev, **amounts}), default=0)
        for ch in sorted({**prev, **amounts}, key=lambda c: -amounts.get(c, 0.0)):
            new, old = amounts.get(ch, 0.0), prev.get(ch)
            row = f"  {ch:<{width}}  {_money(new, cur):>16}"
            if old is not None:
                delta = new - old
                pct = f" ({delta / old:+.1%})" if old else ""
                row += f"   {delta:+,.0f}{pct}"
            lines.append(row)
    elif kind == "copy":
        where = " · ".join(str(x) for x in (art.get("channel"), art.get("segment")) if x)
        lines.append(f"copy {aid} ({where})" if where else f"copy {aid}")
        if art.get("subject"):
            lines.append(f"  subject: {art['subject']}")
        text = " ".join(str(art.get("text", "")).split())
        if len(text) > _INBOX_TEXT:
            text = text[: _INBOX_TEXT - 1] + "…"
        lines.append(f"  “{text}”")
    elif kind == "audience":
        lines.append(f"audience {aid}: {art.get('definition', '')} ({art.get('size', 0):,} people)")
    else:
        lines.append(f"{kind} {aid}: {art.get('statement') or art.get('title') or ''}".rstrip(": "))
    for v in violations:
        if v.get("artifact_id") == aid:
            excerpt = f" “{v['excerpt']}”" if v.get("excerpt") else ""
            lines.append(f"  ! {v.get('rule', '')}: {v.get('message', '')}{excerpt}")
    return lines


def print_audit(digest: list[dict[str, Any]], *, as_json: bool) -> None:
    """Per run: goal, data, each step's agent and spec, AI calls and cost, sign-offs."""
    if as_json:
        print_json(digest)
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
            replaced = s.get("replaced_specs") or []
            changed = f" (re-planned on retry, was {replaced[-1][:19]})" if replaced else ""
            out.print(
                f"  step {s['step']}: agent {s['agent']} · spec {s['spec_hash'][:19]}{changed} · "
                f"findings {s['findings']} · {s['decision'] or ''}"
            )
        out.print(
            f"  AI: {run_d['llm']['calls']} model call(s) ({', '.join(run_d['llm']['models']) or 'no model'}),"
            f" ${run_d['llm']['cost_usd']:.4f}"
        )
        for a in run_d["approvals"]:
            out.print(f"  sign-off: {escape(_signoff_line(a))} at {a['ts']}")
        if run_d.get("error"):
            out.print(f"  [red]planning failed:[/] {escape(error_text(run_d['error']))}")


def _signoff_line(a: dict[str, Any]) -> str:
    """One sign-off of the audit: who decided what, as which role, or why it was refused."""
    from conductor.report import decision_words

    if a.get("decision") == "edit" and not a.get("refused"):
        head = f"{a['step']} {decision_words(a)} by {a['actor']}"
    else:
        head = f"{a['step']} {a['decision']} by {a['actor']}"
    if a.get("refused"):
        return f"{head} — refused: {a.get('reason') or 'not one of the roles asked'}"
    return f"{head} ({a['role']})" if a.get("role") else head


def print_agents(found: dict[str, Any], *, as_json: bool, detail: bool = False) -> None:
    """A compact table of agents (name, version, one line), or with ``detail`` each one's
    needs, data and spec and output fields with readable types."""
    if as_json:
        print_json(
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
    if not detail:
        t = Table()
        for col in ("agent", "version", "description"):
            t.add_column(col, no_wrap=col != "description")
        for n, cls in found.items():
            t.add_row(n, str(cls.version), escape(_first_line(cls.description)))
        out.print(t)
        out.print("[dim]`conductor agents NAME` shows an agent's spec and output fields.[/]")
        return
    for n, cls in found.items():
        out.print(f"[bold]{n}[/] {cls.version} — {escape(cls.description)}")
        if cls.needs:
            out.print("  needs: " + ", ".join(f"{k} ({v.__name__})" for k, v in cls.needs.items()))
        if cls.data:
            out.print(
                "  data: " + ", ".join(f"{k}({', '.join(v.columns)})" for k, v in cls.data.items())
            )
        for title, model in (
            (f"spec {cls.spec_type.__name__}", cls.spec_type),
            (f"output {cls.output_type.__name__}", cls.output_type),
        ):
            t = Table(title=title, title_justify="left", box=None, padding=(0, 2))
            t.add_column("field")
            t.add_column("type")
            t.add_column("default")
            t.add_column("description", overflow="fold")
            for fname, f in model.model_fields.items():
                default = (
                    "required"
                    if f.is_required()
                    else repr(f.get_default(call_default_factory=True))
                )
                t.add_row(
                    fname,
                    escape(type_name(f.annotation)),
                    escape(default[:40]),
                    escape(f.description or ""),
                )
            out.print(t)


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def type_name(tp: Any) -> str:
    """A type as people write it: ``float``, ``list[str]``, ``Literal['a', 'b']``, ``int | None``."""
    import types
    import typing

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin).replace("typing.", ""))
        return f"{name}[{', '.join(type_name(a) for a in args)}]" if args else name
    if tp is type(None):
        return "None"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def print_verdict(verdict: Any, *, as_json: bool) -> None:
    """A brand verdict on one piece of copy: each finding with its excerpt and fix."""
    if as_json:
        print_json(
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


def print_preview(source: str, columns: list[tuple[str, str]], rows: list[tuple[Any, ...]]) -> None:
    """One data source's first rows (``validate --preview``): a column per name and type."""
    t = Table(title=f"data source {source} — first {len(rows)} row(s)", title_justify="left")
    for name, duck_type in columns:
        t.add_column(f"{escape(name)}\n[dim]{escape(duck_type.lower())}[/]", no_wrap=True)
    for row in rows:
        t.add_row(*("[dim]null[/]" if v is None else escape(str(v)) for v in row))
    # Wide sources scroll sideways rather than folding every value out of shape.
    widths = [max(len(n), len(ty), 4) for n, ty in columns]
    for row in rows:
        widths = [max(w, len(str(v))) for w, v in zip(widths, row, strict=False)]
    width = sum(w + 3 for w in widths) + 1
    out.print(t, width=max(out.width, width))
