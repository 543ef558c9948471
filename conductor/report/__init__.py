"""A run's files: ``result.json`` for machines, ``summary.md`` and ``report.html`` for people.

:func:`write_run_files` writes all three from a run's result and its audit trail;
the HTML report (``_html`` and its sections ``_run``, ``_agents``, ``_audit``, with the
charts in ``_charts``) renders the Jinja template in ``templates/``.
"""

from conductor.report._files import (
    TRUTH_FILE,
    build_result,
    llm_usage,
    render_summary,
    write_run_files,
)
from conductor.report._words import decision_words

__all__ = [
    "TRUTH_FILE",
    "build_result",
    "decision_words",
    "llm_usage",
    "render_summary",
    "write_run_files",
]
