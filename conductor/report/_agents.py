"""The per-agent sections of ``report.html``: journeys, budget, segments, messages, findings.

Each reads the outputs of the built-in agents by their shape (and other agents'
artifacts of the same kinds), so a plugin agent's results are shown too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conductor.numbers import percent, points, significant
from conductor.report._charts import (
    _ACCENT,
    _CURRENT,
    _attribution_chart,
    _budget_chart,
    _curves_chart,
    _d,
    _finite,
    _funnel_chart,
    _l,
    _mix_chart,
    _num,
    _pct,
    _value_chart,
)
from conductor.report._context import _ContextBase

_MAX_MESSAGES = 200


class _AgentSections(_ContextBase):
    """The sections drawn from the agents' outputs and artifacts."""

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
                        _finite(_d(plan.get("diagnostics")).get("weeks")),
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
            policy = _d(plan.get("policy"))
            comparisons, tone = _baselines(evaluation, policy)
            blocks.append(
                {
                    "step": sid,
                    "policy": policy,
                    "comparisons": comparisons,
                    "tone": tone,
                    "features_used": [str(a) for a in _l(policy.get("attributes_used"))],
                    "features_excluded": [
                        {"column": str(x.get("column", "?")), "reason": str(x.get("reason", ""))}
                        for x in map(_d, _l(policy.get("excluded_features")))
                    ],
                    "consent": [_d(c) for c in _l(plan.get("consent"))],
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
            approval = _d(st.get("approval"))
            edited = _l(approval.get("edited"))
            if approval.get("decision") == "edit" and cid in map(str, edited):
                # The edit replaced the reviewed text and passed the brand check on its way in.
                verdict = (
                    f"edited and approved by {approval.get('by', '?')}; passes the brand check"
                )
                tone = "ok"
            elif last is None:
                verdict, tone = "not reviewed", ""
            elif last["findings"]:
                if approval.get("decision") in ("approve", "edit"):
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


_BASELINES = (("logging", "today's policy"), ("best_single", "one offer for all"))


def _baselines(evaluation: Mapping[str, Any], policy: Mapping[str, Any]) -> tuple[list[str], str]:
    """The new policy against every baseline, one sentence each, and the banner's tone.

    Each compares the doubly robust values: a baseline that scores higher is said to be
    better, with confidence when the lift's whole interval is below zero. Tone ``ok``
    when the new policy beats every baseline with confidence, ``bad`` when one is
    better with confidence, ``warn`` otherwise.
    """
    estimates = [_d(e) for e in _l(evaluation.get("estimates"))]

    def dr(name: str) -> dict[str, Any] | None:
        return next(
            (e for e in estimates if e.get("policy") == name and e.get("estimator") == "dr"),
            None,
        )

    bounds = _l(evaluation.get("bounds"))
    rate = len(bounds) == 2 and bounds[1] is not None
    conf = _finite(evaluation.get("confidence"))
    level = f"{percent(conf, 0)} " if conf is not None else ""

    def size(x: float | None) -> str:
        return points(x) if rate else significant(x, sign=True)

    def value(x: float | None) -> str:
        return percent(x, 2) if rate else significant(x, 4)

    new = dr("new")
    lines: list[str] = []
    verdicts: list[str] = []
    for name, label in _BASELINES:
        base = dr(name)
        if new is None or base is None:
            continue
        nv, bv = _finite(new.get("value")), _finite(base.get("value"))
        if nv is None or bv is None:
            continue
        if name == "best_single" and policy.get("best_single_action"):
            label += f" ('{policy['best_single_action']}')"
        lift = dr(f"new-{name}")
        gain = _finite((lift or {}).get("value"))
        gain = nv - bv if gain is None else gain
        lo, hi = _finite((lift or {}).get("ci_low")), _finite((lift or {}).get("ci_high"))
        interval = (
            f"; {level}interval {size(lo)} to {size(hi)}"
            if lo is not None and hi is not None
            else ""
        )
        said = f"{value(nv)} against {value(bv)} per customer, {size(gain)}{interval}"
        if lo is not None and lo > 0:
            lines.append(f"The new policy beats {label} ({said}).")
            verdicts.append("better")
        elif hi is not None and hi < 0:
            lines.append(
                f"{label[0].upper()}{label[1:]} is better than the new policy ({said}): "
                "do not roll the new policy out in its place."
            )
            verdicts.append("worse")
        elif gain < 0:
            lines.append(
                f"{label[0].upper()}{label[1:]} scores higher than the new policy ({said}); "
                "the difference is within the noise."
            )
            verdicts.append("unclear")
        else:
            lines.append(
                f"The new policy scores higher than {label} ({said}), but not distinguishably so."
            )
            verdicts.append("unclear")
    if not verdicts:
        tone = ""
    elif "worse" in verdicts:
        tone = "bad"
    elif all(v == "better" for v in verdicts):
        tone = "ok"
    else:
        tone = "warn"
    return lines, tone


def _first(items: Sequence[Any]) -> Any:
    return items[0] if items else None


def _last(items: Sequence[Any]) -> Any:
    return items[-1] if items else None
