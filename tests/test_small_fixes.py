"""Smaller behaviours that used to be silently wrong (issue 15, item 7), each end to end
through the real CLI where a user would meet it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli

from conductor.brand import check_copy, parse_brand

PLAIN_BRAND = """\
name: Plain Co
company:
  legal_name: Plain Co Ltd.
  postal_address: 1 High St, Leeds LS1 1AA
  unsubscribe_url: https://plain.example/unsubscribe
voice:
  banned: [act now]
"""


def _result(tmp_path: Path, run_id: str) -> dict:
    return json.loads((tmp_path / ".conductor" / "runs" / run_id / "result.json").read_text())


# --------------------------------------------------------------- brand without channels


def test_brand_without_channels_asks_no_channel_signoff(sqlite_cli: Cli, tmp_path: Path) -> None:
    """A brand file that lists no channels does not stop every run for a sign-off."""
    (tmp_path / "brand.yaml").write_text(PLAIN_BRAND)
    (tmp_path / "p.yaml").write_text(
        "pipeline: plain\n"
        "goal: {objective: grow_revenue, kpi: revenue}\n"
        "brand: brand.yaml\n"
        "steps:\n"
        '  copy: {agent: test_copy, with: {text: "Our new jackets keep you dry.", '
        "channel: email}}\n"
    )
    r = sqlite_cli("run", "p.yaml", "--run-id", "plain-1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _result(tmp_path, "plain-1")["steps"]["copy"]["status"] == "done"
    # the brand's own rules still apply
    bad = check_copy(parse_brand(PLAIN_BRAND), "email", "Act now: jackets for the trail.")
    assert {v.rule for v in bad.violations} == {"voice.banned-phrase"}
    assert bad.signoff == []


def test_brand_with_channels_still_signs_off_a_new_channel() -> None:
    """Once the file lists channels, copy for one it does not list needs a person."""
    b = parse_brand(PLAIN_BRAND + "channels:\n  email: {require_unsubscribe: true}\n")
    v = check_copy(b, "sms", "Our new jackets keep you dry.")
    assert any("new content category" in s for s in v.signoff)


def test_waiting_with_no_role_says_how_to_name_one(sqlite_cli: Cli, tmp_path: Path) -> None:
    """A sign-off nobody may give says so, instead of printing an empty role list."""
    (tmp_path / "brand.yaml").write_text(
        PLAIN_BRAND + "review_policy:\n  signoff:\n    steps: [copy]\n"
    )
    (tmp_path / "p.yaml").write_text(
        "pipeline: plain\n"
        "goal: {objective: grow_revenue, kpi: revenue}\n"
        "brand: brand.yaml\n"
        "steps:\n"
        '  copy: {agent: test_copy, with: {text: "Our new jackets keep you dry.", '
        "channel: email}}\n"
    )
    r = sqlite_cli("run", "p.yaml", "--run-id", "plain-2")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "roles: none (add `approvers:` to the pipeline)" in r.stdout
    inbox = sqlite_cli("inbox")
    assert "nobody yet (add `approvers:` to the pipeline)" in inbox.stdout


# --------------------------------------------------------------- audit of a refused sign-off


def test_audit_text_says_why_a_signoff_was_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    """The text audit matches the JSON: a refused sign-off reads as refused, with why."""
    (tmp_path / "p.yaml").write_text(
        "pipeline: gated\n"
        "goal: {objective: grow_revenue, kpi: revenue}\n"
        "steps:\n"
        "  budget: {agent: test_note, approve: [brand_manager]}\n"
        "approvers: {brand_manager: [bea], media_lead: [dana]}\n"
    )
    assert sqlite_cli("run", "p.yaml", "--run-id", "gate-1").returncode == 3
    assert sqlite_cli("approve", "gate-1", "budget", "--as", "dana").returncode == 2
    assert sqlite_cli("approve", "gate-1", "budget", "--as", "bea").returncode == 0
    (run,) = json.loads(sqlite_cli("audit", "--run", "gate-1", "--json").stdout)
    refused, given = run["approvals"]
    assert refused["refused"] is True
    assert refused["reason"] == "dana holds none of the roles brand_manager"
    assert given["refused"] is False
    text = sqlite_cli("audit", "--run", "gate-1").stdout
    assert (
        "sign-off: budget approve by dana — refused: dana holds none of the roles brand_manager"
        in text
    )
    assert "(None)" not in text
    assert "sign-off: budget approve by bea (brand_manager)" in text
    # the run's own files say the same
    folder = tmp_path / ".conductor" / "runs" / "gate-1"
    why = "approve — refused: dana holds none of the roles brand_manager"
    assert why in (folder / "summary.md").read_text()
    assert (
        "approve by dana — refused: dana holds none of the roles brand_manager"
        in (folder / "report.html").read_text()
    )


# --------------------------------------------------------------- resume after fixing `with:`

CHAIN = """\
pipeline: chain
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B, require_file: FILE}}
  c: {agent: test_follow, needs: [b], with: {label: C}}
"""


def test_resume_after_fixing_a_steps_with_runs_the_fixed_spec(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    """The retry hint says to resume once the input is fixed: a fixed `with:` counts."""
    from conftest import counts

    (tmp_path / "present.txt").write_text("here")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(CHAIN.replace("FILE", str(tmp_path / "typo.txt")))
    assert sqlite_cli("validate", "p.yaml").returncode == 0  # only the run finds out
    r = sqlite_cli("run", "p.yaml", "--run-id", "fix-1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "retry:  conductor resume fix-1  (once the input is fixed)" in r.stderr
    before = _result(tmp_path, "fix-1")
    old_hash = before["steps"]["b"]["spec_hash"]

    pipeline.write_text(CHAIN.replace("FILE", str(tmp_path / "present.txt")))
    again = sqlite_cli("resume", "fix-1")
    assert again.returncode == 0, again.stdout + again.stderr
    done = _result(tmp_path, "fix-1")
    assert done["status"] == "done"
    assert done["steps"]["b"]["spec"]["require_file"] == str(tmp_path / "present.txt")
    assert done["steps"]["b"]["spec_hash"] != old_hash
    assert done["steps"]["c"]["output"]["upstream"] == ["B", "A"]
    # the step that finished kept its output; the failed one ran on its new spec
    assert counts(tmp_path) == {"a": 1, "b": 2, "c": 1}

    (run,) = json.loads(sqlite_cli("audit", "--run", "fix-1", "--json").stdout)
    steps = {s["step"]: s for s in run["steps"]}
    assert list(steps) == ["a", "b", "c"]
    assert steps["b"]["replaced_specs"] == [old_hash]
    assert steps["b"]["spec_hash"] == done["steps"]["b"]["spec_hash"]
    assert steps["a"]["replaced_specs"] == [] and steps["c"]["replaced_specs"] == []
    text = sqlite_cli("audit", "--run", "fix-1").stdout
    assert f"(re-planned on retry, was {old_hash[:19]})" in text
    html = (tmp_path / ".conductor" / "runs" / "fix-1" / "report.html").read_text()
    assert "again on retry, from the pipeline as fixed" in html


# --------------------------------------------------------------- an edit is a sign-off

STUBBORN = "Warmer than anything from Summit Supply, and it packs small."
EDITED = "Warm, light and it packs small: our new down jacket for the trail."


def _escalated_copy(cli: Cli, tmp_path: Path, run_id: str) -> Path:
    import shutil

    from conftest import ROOT

    shutil.copy(ROOT / "pipelines" / "brands" / "acme.yaml", tmp_path / "acme.yaml")
    (tmp_path / "p.yaml").write_text(
        "pipeline: launch-copy\n"
        "goal: {objective: grow_revenue, kpi: revenue}\n"
        "brand: acme.yaml\n"
        "steps:\n"
        f'  stubborn: {{agent: test_copy, with: {{text: "{STUBBORN}", channel: social, '
        "fixable: false}}\n"
        "approvers: {brand_manager: [bea]}\n"
        "review: {max_rounds: 1, on_exhausted: escalate}\n"
    )
    r = cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 3, r.stdout + r.stderr
    folder = tmp_path / ".conductor" / "runs" / run_id
    assert "flagged (escalate)" in (folder / "report.html").read_text()
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"kind": "copy", "id": "c1", "channel": "social", "text": EDITED}))
    return good


def test_an_edit_by_an_approver_is_their_signoff_and_the_audit_says_so(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    good = _escalated_copy(sqlite_cli, tmp_path, "ed-1")
    done = sqlite_cli("edit", "ed-1", "stubborn", "--as", "bea", "--artifact", str(good))
    assert done.returncode == 0, done.stdout + done.stderr
    result = _result(tmp_path, "ed-1")
    assert result["status"] == "done"
    approval = result["steps"]["stubborn"]["approval"]
    assert (approval["decision"], approval["by"], approval["edited"]) == ("edit", "bea", ["c1"])

    (run,) = json.loads(sqlite_cli("audit", "--run", "ed-1", "--json").stdout)
    (signoff,) = run["approvals"]
    assert (signoff["decision"], signoff["edited"], signoff["refused"]) == ("edit", ["c1"], False)
    text = sqlite_cli("audit", "--run", "ed-1").stdout
    assert "sign-off: stubborn edited and approved (c1 edited) by bea (brand_manager)" in text
    folder = tmp_path / ".conductor" / "runs" / "ed-1"
    summary = (folder / "summary.md").read_text()
    assert "**stubborn** edited and approved (c1 edited) by bea (brand_manager)" in summary
    assert "editd" not in summary
    assert "edited and approved (c1 edited) by bea" in (folder / "report.html").read_text()


def test_the_report_does_not_flag_an_edited_copy_that_passes(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    good = _escalated_copy(sqlite_cli, tmp_path, "ed-2")
    assert (
        sqlite_cli("edit", "ed-2", "stubborn", "--as", "bea", "--artifact", str(good)).returncode
        == 0
    )
    html = (tmp_path / ".conductor" / "runs" / "ed-2" / "report.html").read_text()
    assert "flagged" not in html
    assert "edited and approved by bea; passes the brand check" in html
    assert EDITED.replace("'", "&#39;") in html


def test_an_outsider_who_edits_is_refused_before_the_brand_check(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    # The brand check ran first: the outsider got the brand's violations of their text.
    _escalated_copy(sqlite_cli, tmp_path, "ed-3")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "copy", "id": "c1", "channel": "social", "text": STUBBORN}))
    r = sqlite_cli("edit", "ed-3", "stubborn", "--as", "mallory", "--artifact", str(bad))
    assert r.returncode != 0
    assert "approval.not-allowed" in r.stderr + r.stdout, r.stdout + r.stderr
    assert "approval.edit-violates" not in r.stderr + r.stdout
    assert "bea" in r.stderr + r.stdout  # the hint says who may
    assert sqlite_cli("status", "ed-3").stdout.count("waiting") >= 1


def test_a_missing_artifact_file_is_an_approval_error_with_its_path(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    _escalated_copy(sqlite_cli, tmp_path, "ed-4")
    missing = tmp_path / "nope.json"
    r = sqlite_cli("edit", "ed-4", "stubborn", "--as", "bea", "--artifact", str(missing))
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "internal error" not in out and "Traceback" not in out
    assert "approval.artifact-file" in out and "nope.json" in out, out


# --------------------------------------------------------------- goal warnings in summary.md


def test_summary_and_report_show_the_goals_warnings(sqlite_cli: Cli, tmp_path: Path) -> None:
    """Words the goal parser did not use are said near the top of summary.md and the report."""
    (tmp_path / "p.yaml").write_text(
        "pipeline: lift\n"
        'goal: "Lift repeat purchases 8% next quarter"\n'
        "today: 2026-11-23\n"
        "steps:\n"
        "  a: {agent: test_note}\n"
    )
    r = sqlite_cli("run", "p.yaml", "--run-id", "warn-1")
    assert r.returncode == 0, r.stdout + r.stderr
    folder = tmp_path / ".conductor" / "runs" / "warn-1"
    summary = (folder / "summary.md").read_text()
    line = next(x for x in summary.splitlines() if "words not used" in x)
    assert line.startswith('- ⚠ **warning:** words not used: "repeat"')
    assert summary.index("words not used") < summary.index("## Steps")
    assert "words not used: &#34;repeat&#34;" in (folder / "report.html").read_text()
