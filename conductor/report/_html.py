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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from conductor.errors import error_text
from conductor.report._agents import _AgentSections
from conductor.report._audit import _AuditSections
from conductor.report._charts import _money, _num, _pct, _when
from conductor.report._run import _RunSections

__all__ = ["SECTIONS", "present", "render_html"]

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
"""Section ids (HTML anchors) and titles, in page order. A report has the first three
and those of the others the run produced (see :func:`present`)."""

_ALWAYS = frozenset({"overview", "goal", "steps"})


def present(sid: str, data: Mapping[str, Any]) -> bool:
    """Whether the page shows section ``sid``, from its template data.

    Overview, goal and steps always; the others only when the run gave them something to
    show: a step of that kind (done, failed or waiting), artifacts, a sign-off, a known
    truth, a model call, audit events. A section that could not be built is shown, so
    the reader learns that it failed.
    """
    if sid in _ALWAYS or data.get("broken"):
        return True
    keys = {
        "journeys": ("blocks", "missing"),
        "budget": ("blocks", "missing"),
        "segments": ("blocks", "audiences", "missing"),
        "messages": ("cards", "review"),
        "findings": ("rows",),
        "approvals": ("rows", "pending"),
        "truth": ("checks", "att_chart", "bud_chart", "per_chart"),
        "llm": ("calls", "failed"),
        "audit": ("rows",),
    }[sid]
    return any(data.get(k) for k in keys)


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
    nav = []
    for sid, title in SECTIONS:
        data = ctx.section(sid)
        if not present(sid, data):
            continue
        nav.append((sid, title))
        try:
            sections.append(getattr(module, f"section_{sid}")(data, header))
        except Exception as exc:
            log.warning("report section failed", section=sid, error=repr(exc))
            broken = getattr(module, "section_broken")  # noqa: B009 - a template macro
            sections.append(broken(sid, title, f"{type(exc).__name__}: {exc}"))
    return template.render(
        r=header,
        nav=nav,
        sections=sections,
        plotly_js=Markup(_plotly_js()),  # noqa: S704 - plotly.js itself, not user text
    )


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


# --------------------------------------------------------------------------- the context


class _Context(_RunSections, _AgentSections, _AuditSections):
    """Reads a result dict once and builds each section's template data.

    The reading and helpers are in :mod:`conductor.report._context`, the section builders
    (``_s_<id>``, one per entry of :data:`SECTIONS`) in the three mixins.
    """
