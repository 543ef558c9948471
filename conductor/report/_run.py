"""The run-level sections of ``report.html``: overview, goal, and steps and specs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conductor.goals import GOAL_VALUE_FIELDS
from conductor.report._charts import _d, _finite, _goal_value, _l, _num, _value
from conductor.report._context import _ContextBase


class _RunSections(_ContextBase):
    """The sections about the run as a whole: what it did, was asked, and planned."""

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
                    "rules": _constraints(value, _d(goal.get("budget")).get("currency"))
                    if key == "constraints"
                    else [],
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


def _constraints(value: Any, currency: Any) -> list[dict[str, str]]:
    """The goal's constraints as rules in words, each with the text it was read from."""
    from pydantic import ValidationError

    from conductor.goals import Constraint, describe_constraint

    items = []
    for raw in _l(value):
        c = _d(raw)
        try:
            text = describe_constraint(Constraint.model_validate(c), str(currency or ""))
        except (ValidationError, KeyError):
            # Not a constraint this version knows: its fields, readably.
            text = ", ".join(f"{k} {_value(v)}" for k, v in c.items() if k != "span") or _value(raw)
        items.append({"text": text, "said": str(_d(c.get("span")).get("text") or "")})
    return items


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
