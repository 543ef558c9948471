"""`conductor inbox` shows what each sign-off is about: an allocation's amounts, a copy's
text with the brand findings on it — not only artifact ids."""

from __future__ import annotations

import shutil

from conftest import ROOT, Cli

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
