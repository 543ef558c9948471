"""A plugin's findings reach the report, even when its output builds them."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli

NOTES = """\
pipeline: notes
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: Alpha}}
  b: {agent: test_note, with: {label: Beta}}
"""


def test_insights_a_plugin_builds_are_kept_and_shown(cli: Cli, tmp_path: Path, run_id: str) -> None:
    # test_note's output has no Insight field: artifacts() makes one from its label.
    (tmp_path / "p.yaml").write_text(NOTES)
    r = cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 0, r.stderr
    run_dir = tmp_path / ".conductor" / "runs" / run_id
    result = json.loads((run_dir / "result.json").read_text())
    kept = result["steps"]["a"]["artifacts"]
    assert [(a["kind"], a["id"], a["statement"]) for a in kept] == [
        ("insight", "note/Alpha", "Note Alpha")
    ]
    html = (run_dir / "report.html").read_text()
    findings = html[html.index('id="findings"') :]
    findings = findings[: findings.index("</section>")]
    assert "Note Alpha" in findings and "Note Beta" in findings
    assert "No findings were reported" not in findings
