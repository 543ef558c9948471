"""The accountability sections of ``report.html``: approvals, truth, LLM usage, audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conductor.errors import error_text
from conductor.report._charts import (
    _ACCENT,
    _CURRENT,
    _TRUTH,
    _budget_chart,
    _d,
    _finite,
    _l,
    _num,
    _truth_attribution_chart,
    _value,
    _value_chart,
    _when,
)
from conductor.report._context import _ContextBase
from conductor.report._words import decision_words

_MAX_AUDIT = 2000


class _AuditSections(_ContextBase):
    """The sections on who signed off, how right the agents were, the cost, and the trail."""

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
                    "what": _audit_what(
                        str(e.get("kind") or ""), _d(e.get("detail")), str(e.get("actor") or "?")
                    ),
                    "hash": str(e.get("spec_hash") or "")[7:19],
                }
            )
        return {"rows": rows, "total": len(self.audit)}


def _audit_what(kind: str, d: Mapping[str, Any], actor: str = "?") -> str:
    if kind == "run":
        waiting = ", ".join(str(w) for w in _l(d.get("waiting_on")))
        return str(d.get("event", "")) + (f" (waiting on {waiting})" if waiting else "")
    if kind == "goal":
        return f"goal read: {d.get('source_text') or _value(d.get('objective'))}"
    if kind == "plan":
        text = f"spec derived for agent {d.get('agent', '?')}"
        if d.get("replaces"):
            text += (
                f" again on retry, from the pipeline as fixed (replaces {str(d['replaces'])[7:19]})"
            )
        return text
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
        if d.get("refused"):
            text = f"{d.get('decision', '?')} by {d.get('by') or actor}"
            return f"{text} — refused: {d.get('reason') or 'not one of the roles asked'}"
        text = f"{decision_words(d)} by {d.get('by') or actor}"
        return text + (f": {d['comment']}" if d.get("comment") else "")
    if kind == "llm":
        return (
            f"{d.get('model', '?')} ({d.get('purpose', '')}): "
            f"{_num(d.get('input_tokens', 0))} in / {_num(d.get('output_tokens', 0))} out, "
            f"${_finite(d.get('cost_usd')) or 0:.4f}" + ("" if d.get("ok", True) else ", failed")
        )
    return _value(dict(d), 200)
