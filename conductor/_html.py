"""``report.html``: one self-contained page per run, readable by people who never saw YAML.

:func:`render_html` turns the ``result.json`` document into a single HTML file that works
offline: plotly.js is inlined once, every chart is a plotly figure, and a Content Security
Policy forbids the page to load anything. All text goes through Jinja2's autoescaping;
text that plotly draws is HTML-escaped too, because plotly reads a subset of HTML in
labels. The page must never break a run: each section is built on its own, reads the
result defensively, and a section that cannot be drawn says so instead of raising.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from conductor._html_charts import (
    _ACCENT,
    _CURRENT,
    _TRUTH,
    _attribution_chart,
    _budget_chart,
    _curves_chart,
    _d,
    _finite,
    _funnel_chart,
    _goal_value,
    _l,
    _mix_chart,
    _money,
    _num,
    _pct,
    _slug,
    _truth_attribution_chart,
    _value,
    _value_chart,
    _when,
)
from conductor.errors import error_text
from conductor.goals import GOAL_VALUE_FIELDS

__all__ = ["SECTIONS", "render_html"]

log = structlog.get_logger("conductor.report")

SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("goal", "Goal"),
    ("steps", "Steps and specs"),
    ("journeys", "Journeys"),
    ("budget", "Budget"),
    ("segments", "Segments and actions"),
    ("messages", "Messages"),
    ("findings", "Findings"),
    ("approvals", "Approvals"),
    ("truth", "Truth check"),
    ("llm", "LLM usage"),
    ("audit", "Audit trail"),
)
"""Section ids (HTML anchors) and titles, in page order; every report has all of them."""

_ARTIFACT_KINDS = ("copy", "allocation", "audience", "insight")
_MAX_MESSAGES = 200
_MAX_AUDIT = 2000


def render_html(result: Mapping[str, Any]) -> str:
    """The run report as one HTML document (str), from a ``result.json`` dict.

    Missing or failed steps, a missing goal and unknown agents are shown as such; no
    key of ``result`` is required.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=_num, pct=_pct, money=_money, when=_when, error_text=error_text)
    template = env.get_template("report.html.j2")
    ctx = _Context(result)
    header = ctx.header()
    module = template.make_module({"r": header, "nav": SECTIONS, "sections": [], "plotly_js": ""})
    sections = []
    for sid, title in SECTIONS:
        data = ctx.section(sid)
        try:
            sections.append(getattr(module, f"section_{sid}")(data, header))
        except Exception as exc:
            log.warning("report section failed", section=sid, error=repr(exc))
            broken = getattr(module, "section_broken")  # noqa: B009 - a template macro
            sections.append(broken(sid, title, f"{type(exc).__name__}: {exc}"))
    return template.render(
        r=header,
        nav=SECTIONS,
        sections=sections,
        plotly_js=Markup(_plotly_js()),  # noqa: S704 - plotly.js itself, not user text
    )


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


# --------------------------------------------------------------------------- the context


class _Context:
    """Reads a result dict once and builds each section's template data."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        self.result = result
        self.steps: dict[str, dict[str, Any]] = {
            str(k): _d(v) for k, v in _d(result.get("steps")).items()
        }
        self.audit = [_d(e) for e in _l(result.get("audit"))]
        self.truth = _d(result.get("truth_check"))
        self._charts = 0

    def chart_id(self, kind: str, step: str = "") -> str:
        self._charts += 1
        return f"chart-{self._charts}-{kind}" + (f"-{_slug(step)}" if step else "")

    # ---- helpers

    def outputs(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(step, output) of the steps whose output looks like ``kind``."""
        for sid, st in self.steps.items():
            out = _d(st.get("output"))
            if out and _kind_of(out) == kind:
                yield sid, out

    def failed_or_missing(self, kind: str, agent_hint: str) -> list[dict[str, Any]]:
        """Steps of that kind (by agent name) without a usable output: why not."""
        rows = []
        for sid, st in self.steps.items():
            if agent_hint in str(st.get("agent", "")) and _kind_of(_d(st.get("output"))) != kind:
                err = _d(st.get("error"))
                rows.append(
                    {
                        "step": sid,
                        "status": st.get("status", "pending"),
                        "message": err.get("message", ""),
                        "hint": err.get("hint", ""),
                    }
                )
        return rows

    def artifacts(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for sid, st in self.steps.items():
            for art in _walk_artifacts(st.get("output")):
                if art.get("kind") == kind:
                    yield sid, art

    def step_summaries(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for ev in self.audit:
            detail = _d(ev.get("detail"))
            if ev.get("kind") == "step" and ev.get("step") and detail.get("summary"):
                out[str(ev["step"])] = str(detail["summary"])
        return out

    def section(self, sid: str) -> dict[str, Any]:
        build: Callable[[], dict[str, Any]] = getattr(self, f"_s_{sid}")
        try:
            return build()
        except Exception as exc:
            # The report is written at the end of every run: a surprise in one section
            # (an output from a newer agent, a hand-edited result.json) must not lose the
            # rest of the page, nor fail the run.
            log.warning("report section failed", section=sid, error=repr(exc))
            return {"broken": f"{type(exc).__name__}: {exc}"}

    # ---- header

    def header(self) -> dict[str, Any]:
        r = self.result
        err = _d(r.get("error"))
        return {
            "run_id": r.get("run_id") or "(unknown run)",
            "pipeline": r.get("pipeline") or "(unknown pipeline)",
            "pipeline_file": r.get("pipeline_file") or "",
            "status": str(r.get("status") or "unknown"),
            "written_at": _when(r.get("written_at")),
            "error": err,
            "waiting": [_d(w) for w in _l(r.get("waiting"))],
        }

    # ---- sections

    def _s_overview(self) -> dict[str, Any]:
        cards: list[dict[str, str]] = []

        def card(value: str, label: str, tone: str = "", note: str = "") -> None:
            cards.append({"value": value, "label": label, "tone": tone, "note": note})

        statuses = [str(st.get("status", "pending")) for st in self.steps.values()]
        done = sum(1 for s in statuses if s == "done")
        bad = sum(1 for s in statuses if s in ("failed", "blocked", "rejected", "skipped"))
        card(
            f"{done} of {len(statuses)}",
            "steps done",
            "bad" if bad else ("ok" if statuses and done == len(statuses) else "warn"),
            f"{bad} failed or stopped" if bad else "",
        )
        rounds = [_d(r) for st in self.steps.values() for r in _l(st.get("rounds"))]
        revisions = sum(1 for r in rounds if r.get("decision") == "revise")
        escalations = sum(1 for r in rounds if r.get("decision") == "escalate")
        card(
            str(revisions),
            "brand revision rounds",
            "",
            f"{escalations} escalated to a person" if escalations else "",
        )
        for _sid, plan in self.outputs("budget"):
            value = _finite(_d(plan.get("uplift")).get("value"))
            if value is not None:
                card(
                    f"{value:+,.0f}",
                    f"{plan.get('kpi', 'KPI')} vs current mix",
                    "ok" if value > 0 else "",
                    f"{plan.get('currency', '')} over {_num(plan.get('horizon_weeks'), 1)} weeks",
                )
            break
        approvals = [_d(st.get("approval")) for st in self.steps.values() if st.get("approval")]
        who = sorted({str(a.get("by")) for a in approvals if a.get("by")})
        card(str(len(approvals)), "sign-offs", "", ", ".join(who))
        llm = _d(self.result.get("llm"))
        calls = int(_finite(llm.get("calls")) or 0)
        card(
            f"${_finite(llm.get('cost_usd')) or 0:.2f}",
            "LLM cost",
            "",
            f"{calls:,} call(s)" if calls else "no model calls",
        )
        checks = [_d(c) for c in _l(self.truth.get("checks"))]
        if checks:
            passed = sum(1 for c in checks if c.get("ok"))
            card(
                f"{passed} of {len(checks)}",
                "truth checks passed",
                "ok" if passed == len(checks) else "bad",
            )
        summaries = self.step_summaries()
        lines = [{"step": s, "text": summaries[s]} for s in self.steps if s in summaries]
        return {"cards": cards, "summaries": lines}

    def _s_goal(self) -> dict[str, Any]:
        goal = _d(self.result.get("goal"))
        if not goal:
            return {"empty": "No goal was recorded for this run (it stopped before planning)."}
        text = str(goal.get("source_text") or "")
        spans = _d(goal.get("spans"))
        pieces = _highlight(text, spans)
        defaults = _d(goal.get("defaults"))
        fields = []
        for key in GOAL_VALUE_FIELDS:
            value = goal.get(key)
            if value in (None, [], {}, ""):
                continue
            span = _d(spans.get(key))
            fields.append(
                {
                    "key": key,
                    "value": _goal_value(key, value),
                    "said": span.get("text", ""),
                    "default": defaults.get(key, ""),
                }
            )
        return {
            "text": text,
            "pieces": pieces,
            "fields": fields,
            "defaults": [{"key": k, "why": v} for k, v in defaults.items()],
            "warnings": [str(w) for w in _l(goal.get("warnings"))],
        }

    def _s_steps(self) -> dict[str, Any]:
        if not self.steps:
            return {"empty": "This run has no planned steps."}
        summaries = self.step_summaries()
        rows = []
        for sid, st in self.steps.items():
            spec = _d(st.get("spec"))
            prov = _d(st.get("provenance"))
            fields = []
            for key, value in spec.items():
                p = _d(prov.get(key))
                full = json.dumps(value, default=str, ensure_ascii=False, indent=1)
                short = _value(value)
                fields.append(
                    {
                        "key": key,
                        "value": short,
                        "full": full if len(full) > 140 else "",
                        "source": str(p.get("source") or "—"),
                        "detail": str(p.get("detail") or ""),
                    }
                )
            err = _d(st.get("error"))
            approval = _d(st.get("approval"))
            rows.append(
                {
                    "id": sid,
                    "agent": st.get("agent", "?"),
                    "status": str(st.get("status", "pending")),
                    "seconds": _finite(st.get("seconds")),
                    "executions": st.get("executions", 0),
                    "rounds": len(_l(st.get("rounds"))),
                    "approval": approval,
                    "summary": summaries.get(sid, ""),
                    "error": err,
                    "warnings": [str(w) for w in _l(_d(st.get("output")).get("warnings"))],
                    "spec_hash": str(st.get("spec_hash") or ""),
                    "fields": fields,
                    "derived": sum(1 for f in fields if f["source"] not in ("default", "—")),
                }
            )
        return {"rows": rows}

    def _s_journeys(self) -> dict[str, Any]:
        blocks = []
        for sid, rep in self.outputs("journey"):
            funnel = _d(rep.get("funnel"))
            stages = [_d(s) for s in _l(funnel.get("stages"))]
            models = [_d(m) for m in _l(rep.get("attribution"))]
            drop = _d(funnel.get("biggest_drop_off"))
            blocks.append(
                {
                    "step": sid,
                    "facts": [
                        ("events", _num(rep.get("events"))),
                        ("customers", _num(rep.get("customers"))),
                        ("journeys", _num(rep.get("journeys"))),
                        ("conversions", _num(rep.get("conversions"))),
                        ("revenue", _num(rep.get("revenue"))),
                        ("channels", str(len(_l(rep.get("channels"))))),
                    ],
                    "funnel": _funnel_chart(stages, self.chart_id("funnel", sid))
                    if stages
                    else None,
                    "drop": drop,
                    "splits": [
                        {
                            "channel": _d(sp).get("channel", "?"),
                            "first": _num(_d(_first(_l(_d(sp).get("stages")))).get("journeys")),
                            "rate": _pct(_d(_last(_l(_d(sp).get("stages")))).get("overall_rate")),
                        }
                        for sp in _l(funnel.get("by_first_touch"))
                    ],
                    "attribution": _attribution_chart(models, self.chart_id("attribution", sid))
                    if models
                    else None,
                    "models": [m.get("model", "?") for m in models],
                    "paths": [_d(p) for p in _l(rep.get("top_converting_paths"))][:10],
                    "channel_stats": [_d(c) for c in _l(rep.get("channel_stats"))],
                }
            )
        return {
            "blocks": blocks,
            "missing": self.failed_or_missing("journey", "journey"),
        }

    def _s_budget(self) -> dict[str, Any]:
        blocks = []
        planned = set()
        for sid, plan in self.outputs("budget"):
            planned.add(sid)
            chans = [_d(c) for c in _l(plan.get("channels"))]
            names = [str(c.get("channel", "?")) for c in chans]
            cur = str(plan.get("currency", ""))
            weeks = _finite(plan.get("horizon_weeks")) or 13.0
            blocks.append(
                {
                    "step": sid,
                    "currency": cur,
                    "plan": plan,
                    "chart": _budget_chart(
                        names,
                        [
                            (
                                "current mix",
                                {n: c.get("previous") for n, c in zip(names, chans, strict=True)},
                                _CURRENT,
                            ),
                            (
                                "recommended",
                                {n: c.get("amount") for n, c in zip(names, chans, strict=True)},
                                _ACCENT,
                            ),
                        ],
                        cur,
                        self.chart_id("budget", sid),
                    )
                    if chans
                    else None,
                    "curves": _curves_chart(
                        [c for c in chans if c.get("curve")],
                        weeks,
                        str(plan.get("kpi", "KPI")),
                        self.chart_id("curves", sid),
                    )
                    if any(c.get("curve") for c in chans)
                    else None,
                    "channels": chans,
                    "diagnostics": _d(plan.get("diagnostics")),
                }
            )
        # Any other step's Allocation artifacts (a plugin agent's budget, say).
        for sid, alloc in self.artifacts("allocation"):
            if sid in planned:
                continue
            amounts = {str(k): v for k, v in _d(alloc.get("amounts")).items()}
            previous = {str(k): v for k, v in _d(alloc.get("previous")).items()}
            names = list(dict.fromkeys([*previous, *amounts]))
            series = [("recommended", amounts, _ACCENT)]
            if previous:
                series.insert(0, ("previous", previous, _CURRENT))
            blocks.append(
                {
                    "step": sid,
                    "currency": str(alloc.get("currency", "")),
                    "artifact": alloc,
                    "chart": _budget_chart(
                        names, series, str(alloc.get("currency", "")), self.chart_id("alloc", sid)
                    )
                    if names
                    else None,
                }
            )
        return {"blocks": blocks, "missing": self.failed_or_missing("budget", "budget")}

    def _s_segments(self) -> dict[str, Any]:
        blocks = []
        for sid, plan in self.outputs("personalization"):
            segments = [_d(s) for s in _l(plan.get("segments"))]
            mix: list[tuple[str, str, float]] = [
                (
                    str(m.get("segment", "?")),
                    str(m.get("action", "?")),
                    _finite(m.get("customers")) or 0,
                )
                for m in map(_d, _l(plan.get("message_index")))
            ]
            for seg in segments:
                rest = (_finite(seg.get("treated")) or 0) - (_finite(seg.get("contacted")) or 0)
                if rest > 0:
                    mix.append((str(seg.get("name", "?")), "nothing sent", rest))
            evaluation = _d(plan.get("evaluation"))
            bars = []
            labels = {
                "logging": "today's policy",
                "best_single": "one offer for all",
                "new": "new policy",
            }
            colors = {"logging": _CURRENT, "best_single": "#e8833a", "new": _ACCENT}
            for pol in ("logging", "best_single", "new"):
                est = next(
                    (
                        _d(e)
                        for e in _l(evaluation.get("estimates"))
                        if _d(e).get("policy") == pol and _d(e).get("estimator") == "dr"
                    ),
                    None,
                )
                if est and _finite(est.get("value")) is not None:
                    bars.append(
                        (
                            labels[pol],
                            float(est["value"]),
                            _finite(est.get("ci_low")),
                            _finite(est.get("ci_high")),
                            colors[pol],
                        )
                    )
            blocks.append(
                {
                    "step": sid,
                    "policy": _d(plan.get("policy")),
                    "evaluation": evaluation,
                    "fairness": _d(plan.get("fairness")),
                    "segments": segments,
                    "actions": [_d(a) for a in _l(plan.get("actions"))],
                    "audiences": [_d(a) for a in _l(plan.get("audiences"))],
                    "mix": _mix_chart(mix, self.chart_id("actions", sid)) if mix else None,
                    "value": _value_chart(
                        bars,
                        "estimated value per customer (DR)",
                        self.chart_id("policy", sid),
                    )
                    if bars
                    else None,
                }
            )
        audiences = [
            {"step": sid, **a}
            for sid, a in self.artifacts("audience")
            if sid not in {b["step"] for b in blocks}
        ]
        return {
            "blocks": blocks,
            "audiences": audiences,
            "missing": self.failed_or_missing("personalization", "personaliz"),
        }

    def _s_messages(self) -> dict[str, Any]:
        customers: dict[tuple[str, str], float] = {}
        for sid, plan in self.outputs("personalization"):
            for m in map(_d, _l(plan.get("message_index"))):
                for cid in _l(m.get("copy_ids")):
                    customers[(sid, str(cid))] = _finite(m.get("customers")) or 0
        cards: list[dict[str, Any]] = []
        total = 0
        for sid, copy in self.artifacts("copy"):
            total += 1
            if len(cards) >= _MAX_MESSAGES:
                continue
            st = self.steps[sid]
            rounds = [_d(r) for r in _l(st.get("rounds"))]
            cid = str(copy.get("id", ""))
            history = []
            for r in rounds:
                found = [
                    _d(v)
                    for v in _l(_d(r.get("verdict")).get("violations"))
                    if str(_d(v).get("artifact_id", "")) == cid
                ]
                history.append(
                    {
                        "round": r.get("round", "?"),
                        "decision": r.get("decision", "?"),
                        "findings": found,
                    }
                )
            last = history[-1] if history else None
            if last is None:
                verdict, tone = "not reviewed", ""
            elif last["findings"]:
                approval = _d(st.get("approval"))
                if approval.get("decision") == "approve":
                    verdict = f"{last['decision']}d, then approved by {approval.get('by', '?')}"
                    tone = "warn"
                else:
                    verdict, tone = f"flagged ({last['decision']})", "bad"
            elif any(h["findings"] for h in history):
                verdict, tone = "passed after revision", "ok"
            else:
                verdict, tone = "passed", "ok"
            cards.append(
                {
                    "step": sid,
                    "id": cid,
                    "channel": copy.get("channel", ""),
                    "segment": copy.get("segment") or "",
                    "subject": copy.get("subject") or "",
                    "text": str(copy.get("text", "")),
                    "customers": customers.get((sid, cid)),
                    "verdict": verdict,
                    "tone": tone,
                    "history": [h for h in history if h["findings"]],
                    "rounds": len(history),
                }
            )
        review = []
        for sid, st in self.steps.items():
            for r in map(_d, _l(st.get("rounds"))):
                verdict_of = _d(r.get("verdict"))
                counts: dict[str, int] = {}
                for v in map(_d, _l(verdict_of.get("violations"))):
                    rule = str(v.get("rule", "?"))
                    counts[rule] = counts.get(rule, 0) + 1
                review.append(
                    {
                        "step": sid,
                        "round": r.get("round", "?"),
                        "decision": str(r.get("decision", "?")),
                        "checked": verdict_of.get("checked"),
                        "found": ", ".join(f"{n}× {k}" for k, n in sorted(counts.items())),
                        "signoff": [str(s) for s in _l(verdict_of.get("signoff"))],
                    }
                )
        return {"cards": cards, "total": total, "review": review}

    def _s_findings(self) -> dict[str, Any]:
        rows = [
            {"step": sid, "id": a.get("id", ""), "statement": str(a.get("statement", ""))}
            for sid, a in self.artifacts("insight")
        ]
        return {"rows": rows}

    def _s_approvals(self) -> dict[str, Any]:
        rows = []
        for sid, st in self.steps.items():
            a = _d(st.get("approval"))
            if a:
                rows.append({"step": sid, **a})
        pending = [_d(w) for w in _l(self.result.get("waiting"))]
        events = [
            e
            for e in self.audit
            if e.get("kind") == "approval" and _d(e.get("detail")).get("decision") == "reject"
        ]
        for e in events:
            d = _d(e.get("detail"))
            if not any(r["step"] == e.get("step") and r.get("at") == d.get("at") for r in rows):
                rows.append({"step": e.get("step") or "", **d})
        return {"rows": rows, "pending": pending}

    def _s_truth(self) -> dict[str, Any]:
        t = self.truth
        if not t:
            return {}
        att = _d(t.get("attribution"))
        bud = _d(t.get("budget"))
        per = _d(t.get("personalization"))
        out: dict[str, Any] = {
            "ok": t.get("ok"),
            "checks": [_d(c) for c in _l(t.get("checks"))],
            "data": _d(t.get("data")),
            "attribution": att,
            "budget": bud,
            "personalization": per,
        }
        chans = _d(att.get("channels"))
        if chans:
            out["att_chart"] = _truth_attribution_chart(
                chans, str(att.get("model", "model")), self.chart_id("truth-attribution")
            )
        bchans = _d(bud.get("channels"))
        if bchans:
            names = list(bchans)
            out["bud_chart"] = _budget_chart(
                names,
                [
                    ("current", {n: _d(bchans[n]).get("current") for n in names}, _CURRENT),
                    (
                        "recommended",
                        {n: _d(bchans[n]).get("recommended") for n in names},
                        _ACCENT,
                    ),
                    (
                        "true optimum",
                        {n: _d(bchans[n]).get("true_optimal") for n in names},
                        _TRUTH,
                    ),
                ],
                str(bud.get("currency") or ""),
                self.chart_id("truth-budget"),
            )
        values = [
            ("today's policy", per.get("logging_value"), _CURRENT),
            ("one offer for all", per.get("best_single_value"), "#e8833a"),
            ("new policy", per.get("policy_value"), _ACCENT),
            ("oracle", per.get("oracle_value"), _TRUTH),
        ]
        bars = [
            (n, _finite(v) or 0.0, None, None, c) for n, v, c in values if _finite(v) is not None
        ]
        if bars:
            out["per_chart"] = _value_chart(
                bars, "true value per customer", self.chart_id("truth-policy")
            )
        return out

    def _s_llm(self) -> dict[str, Any]:
        llm = _d(self.result.get("llm"))

        def table(key: str) -> list[dict[str, Any]]:
            return [{"name": k, **_d(v)} for k, v in _d(llm.get(key)).items()]

        return {
            "calls": llm.get("calls", 0) or 0,
            "failed": llm.get("failed_calls", 0) or 0,
            "input_tokens": llm.get("input_tokens", 0) or 0,
            "output_tokens": llm.get("output_tokens", 0) or 0,
            "cost": _finite(llm.get("cost_usd")) or 0.0,
            "models": [str(m) for m in _l(llm.get("models"))],
            "tables": [
                ("by model", table("by_model")),
                ("by step", table("by_step")),
                ("by purpose", table("by_purpose")),
            ],
        }

    def _s_audit(self) -> dict[str, Any]:
        rows = []
        for e in self.audit[:_MAX_AUDIT]:
            rows.append(
                {
                    "ts": _when(e.get("ts")),
                    "actor": e.get("actor") or "",
                    "role": e.get("role") or "",
                    "kind": e.get("kind") or "",
                    "step": e.get("step") or "",
                    "what": _audit_what(str(e.get("kind") or ""), _d(e.get("detail"))),
                    "hash": str(e.get("spec_hash") or "")[7:19],
                }
            )
        return {"rows": rows, "total": len(self.audit)}


def _first(items: Sequence[Any]) -> Any:
    return items[0] if items else None


def _last(items: Sequence[Any]) -> Any:
    return items[-1] if items else None


def _kind_of(output: Mapping[str, Any]) -> str:
    """Which built-in output shape this is (by its fields, so look-alikes work too)."""
    if isinstance(output.get("funnel"), Mapping) and "attribution" in output:
        return "journey"
    chans = _l(output.get("channels"))
    if chans and all(isinstance(c, Mapping) and "curve" in c for c in chans):
        return "budget"
    if "segments" in output and "messages" in output:
        return "personalization"
    return "other"


def _walk_artifacts(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(value, Mapping):
        if value.get("kind") in _ARTIFACT_KINDS:
            yield dict(value)
            return
        for v in value.values():
            yield from _walk_artifacts(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_artifacts(v, depth + 1)


def _highlight(text: str, spans: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The goal text cut into pieces, each with the goal fields it was read into."""
    cover: list[set[str]] = [set() for _ in text]
    for key, span in spans.items():
        s = _d(span)
        start, end = s.get("start"), s.get("end")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        for i in range(max(start, 0), min(end, len(text))):
            cover[i].add(str(key))
    pieces: list[dict[str, Any]] = []
    for i, ch in enumerate(text):
        fields = ", ".join(sorted(cover[i]))
        if pieces and pieces[-1]["fields"] == fields:
            pieces[-1]["text"] += ch
        else:
            pieces.append({"text": ch, "fields": fields})
    return pieces


def _audit_what(kind: str, d: Mapping[str, Any]) -> str:
    if kind == "run":
        waiting = ", ".join(str(w) for w in _l(d.get("waiting_on")))
        return str(d.get("event", "")) + (f" (waiting on {waiting})" if waiting else "")
    if kind == "goal":
        return f"goal read: {d.get('source_text') or _value(d.get('objective'))}"
    if kind == "plan":
        return f"spec derived for agent {d.get('agent', '?')}"
    if kind == "data":
        return "data sources: " + ", ".join(f"{k} = {v}" for k, v in d.items())
    if kind == "step":
        if d.get("status") == "failed":
            return f"failed: {error_text(_d(d.get('error')))}"
        text = f"{d.get('status', '')} {d.get('agent', '')} round {d.get('round', 0)}"
        return text + (f": {d['summary']}" if d.get("summary") else "")
    if kind == "verdict":
        n = len(_l(d.get("violations")))
        return f"brand review round {d.get('round', '?')}: {d.get('decision', '?')}, {n} finding(s)"
    if kind == "approval":
        text = f"{d.get('decision', '?')} by {d.get('by', '?')}"
        return text + (f": {d['comment']}" if d.get("comment") else "")
    if kind == "llm":
        return (
            f"{d.get('model', '?')} ({d.get('purpose', '')}): "
            f"{_num(d.get('input_tokens', 0))} in / {_num(d.get('output_tokens', 0))} out, "
            f"${_finite(d.get('cost_usd')) or 0:.4f}" + ("" if d.get("ok", True) else ", failed")
        )
    return _value(dict(d), 200)
