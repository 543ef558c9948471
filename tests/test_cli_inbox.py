"""`conductor inbox` shows what each sign-off is about: an allocation's amounts, a copy's
text with the brand findings on it — not only artifact ids."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, Cli, python_json

from conductor.cli._show import artifact_lines

PIPELINE = """\
pipeline: signoffs
goal: {objective: grow_revenue, kpi: revenue}
brand: acme.yaml
steps:
  spend: {agent: test_spend, with: {amounts: {search: 120000, social: 45000.5}}, approve: [media_lead]}
  stubborn: {agent: test_copy, with: {text: "Warmer than anything from Summit Supply, and it packs small.", channel: social, fixable: false}}
approvers: {brand_manager: [bea], media_lead: [dana]}
review: {max_rounds: 1, on_exhausted: escalate}
"""


def test_inbox_shows_amounts_and_copy_with_findings(sqlite_cli: Cli, tmp_path) -> None:
    shutil.copy(ROOT / "pipelines" / "brands" / "acme.yaml", tmp_path / "acme.yaml")
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = sqlite_cli("run", "p.yaml", "--run-id", "inbox-1")
    assert r.returncode == 3, r.stdout + r.stderr
    inbox = sqlite_cli("inbox")
    assert inbox.returncode == 0, inbox.stderr
    text = inbox.stdout
    assert "allocation budget: 165,000 USD" in text
    assert "search" in text and "120,000 USD" in text and "45,000 USD" in text
    assert "“Warmer than anything from Summit Supply, and it packs small.”" in text
    assert "! competitors.named" in text
    assert "Traceback" not in text + inbox.stderr


def _paused(sqlite_cli: Cli, tmp_path: Path, run_id: str) -> Path:
    shutil.copy(ROOT / "pipelines" / "brands" / "acme.yaml", tmp_path / "acme.yaml")
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = sqlite_cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 3, r.stdout + r.stderr
    found = list(tmp_path.rglob(f"{run_id}/result.json"))
    assert len(found) == 1, found
    return found[0]


def _inbox_json(sqlite_cli: Cli) -> list[dict[str, object]]:
    r = sqlite_cli("inbox", "--json")
    assert r.returncode == 0, r.stderr
    items: list[dict[str, object]] = json.loads(r.stdout)
    return items


def test_inbox_reads_the_paused_run_file_without_the_graph(sqlite_cli: Cli, tmp_path) -> None:
    _paused(sqlite_cli, tmp_path, "inbox-fast")
    probe = (
        "import sys, json\n"
        "from conductor.runtime import pending_approvals\n"
        "items = pending_approvals()\n"
        "print(json.dumps([len(items), [m for m in ('langgraph', 'agents', 'duckdb') "
        "if m in sys.modules]]))"
    )
    count, loaded = python_json(probe, env=sqlite_cli.env, cwd=tmp_path)
    assert count == 2  # spend (media lead) and stubborn (escalated to the brand manager)
    assert loaded == []


def test_inbox_is_the_same_from_the_file_and_from_the_checkpoint(sqlite_cli: Cli, tmp_path) -> None:
    result = _paused(sqlite_cli, tmp_path, "inbox-same")
    quick = _inbox_json(sqlite_cli)
    assert {it["step"] for it in quick} == {"spend", "stubborn"}
    assert {p for it in quick for p in it["people"]} == {"bea", "dana"}  # type: ignore[attr-defined]
    doc = json.loads(result.read_text())
    # A file from another pause (other steps waiting) is not believed: rebuilt instead.
    doc["waiting"] = [dict(doc["waiting"][0], step="elsewhere")]
    result.write_text(json.dumps(doc))
    assert _inbox_json(sqlite_cli) == quick
    # Nor a damaged one.
    result.write_text("{ not json")
    assert _inbox_json(sqlite_cli) == quick


def test_allocation_lines_show_the_change_against_the_previous_period() -> None:
    lines = artifact_lines(
        {
            "kind": "allocation",
            "id": "plan",
            "currency": "EUR",
            "period": "2027-Q3",
            "amounts": {"search": 110.0, "tv": 0.0, "social": 90.0},
            "previous": {"search": 100.0, "tv": 50.0, "social": 90.0},
        },
        [],
    )
    assert lines[0] == "allocation plan for 2027-Q3: 200 EUR (was 240 EUR)"
    body = "\n".join(lines[1:])
    assert "+10 (+10.0%)" in body  # search up by 10
    assert "-50 (-100.0%)" in body  # tv cut to nothing
    assert "+0 (+0.0%)" in body  # social unchanged
    assert lines[1].strip().startswith("search")  # largest amount first


def test_long_copy_is_shortened_and_findings_attach_to_their_artifact() -> None:
    art = {"kind": "copy", "id": "c1", "channel": "email", "subject": "Hi", "text": "word " * 200}
    other = {"artifact_id": "c2", "rule": "voice.banned-phrase", "message": "x"}
    mine = {
        "artifact_id": "c1",
        "rule": "claims.superlative",
        "message": "unsourced",
        "excerpt": "best",
    }
    lines = artifact_lines(art, [other, mine])
    assert lines[0] == "copy c1 (email)"
    assert lines[1] == "  subject: Hi"
    assert lines[2].endswith("…”") and len(lines[2]) < 320
    assert lines[3:] == ["  ! claims.superlative: unsourced “best”"]
