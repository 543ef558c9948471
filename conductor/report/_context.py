"""The view model of ``report.html``: a ``result.json`` read once, and the shared helpers.

:class:`_ContextBase` holds the run's steps, audit trail and truth check, numbers the
charts, and finds outputs and artifacts by their shape. The section builders
(``_s_<id>`` methods) live in mixins beside it: :mod:`conductor.report._run`,
:mod:`conductor.report._agents` and :mod:`conductor.report._audit`; :mod:`conductor.report._html`
puts them together and renders the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import structlog

from conductor.report._charts import _d, _l, _slug, _when

log = structlog.get_logger("conductor.report")

_ARTIFACT_KINDS = ("copy", "allocation", "audience", "insight")


# --------------------------------------------------------------------------- the context


class _ContextBase:
    """Reads a result dict once and builds each section's template data.

    :meth:`section` calls the ``_s_<id>`` builder of a section; those are defined by the
    mixins that :class:`conductor.report._html._Context` combines.
    """

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
        """(step, artifact) of one kind: those in the output's fields, then those only the
        agent's ``artifacts()`` listed (kept in result.json beside the output)."""
        for sid, st in self.steps.items():
            seen: set[str] = set()
            for art in _walk_artifacts(st.get("output")):
                seen.add(f"{art.get('kind')}/{art.get('id')}")
                if art.get("kind") == kind:
                    yield sid, art
            for art in _l(st.get("artifacts")):
                art = _d(art)
                if art.get("kind") == kind and f"{kind}/{art.get('id')}" not in seen:
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
