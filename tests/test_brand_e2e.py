"""Brand review end to end through the real CLI: revise until clean, escalate what cannot
be fixed, sign-off from the inbox with an edit that is checked again, and the audit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, Cli, counts

PIPELINE = """\
pipeline: launch-copy
goal: {objective: grow_revenue, kpi: revenue}
brand: acme.yaml
steps:
  fixable: {agent: test_copy, with: {text: "FIXABLE", channel: social}}
  stubborn: {agent: test_copy, with: {text: "STUBBORN", channel: social, fixable: false}}
approvers: {brand_manager: [bea], media_lead: [dana]}
review: {max_rounds: 2, on_exhausted: escalate}
"""

FIXABLE = "Our cheap rain jackets keep you dry on every trail. Act now."
STUBBORN = "Warmer than anything from Summit Supply, and it packs small."
EDITED = "Warm, light and it packs small: our new down jacket for the trail."


def _setup(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pipelines" / "brands" / "acme.yaml", tmp_path / "acme.yaml")
    (tmp_path / "p.yaml").write_text(
        PIPELINE.replace("FIXABLE", FIXABLE).replace("STUBBORN", STUBBORN)
    )


def _result(tmp_path: Path, run_id: str) -> dict:
    return json.loads((tmp_path / ".conductor" / "runs" / run_id / "result.json").read_text())


def test_revise_escalate_inbox_edit_and_audit(cli: Cli, tmp_path: Path, run_id: str) -> None:
    _setup(tmp_path)
    r = cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert f"conductor approve {run_id} stubborn --as NAME" in r.stdout

    result = _result(tmp_path, run_id)
    fixable = result["steps"]["fixable"]
    # Round 0 found the banned phrases, round 1 (after the agent's revision) is clean.
    assert [rd["decision"] for rd in fixable["rounds"]] == ["revise", "pass"]
    rules = {v["rule"] for v in fixable["rounds"][0]["verdict"]["violations"]}
    assert "voice.banned-phrase" in rules
    text = fixable["output"]["copies"][0]["text"]
    assert "cheap" not in text.lower() and "act now" not in text.lower()
    assert "affordable" in text and "shop today" in text.lower()
    assert fixable["status"] == "done"

    stubborn = result["steps"]["stubborn"]
    assert [rd["decision"] for rd in stubborn["rounds"]] == ["revise", "revise", "escalate"]
    assert stubborn["status"] == "waiting"
    assert counts(tmp_path) == {"fixable": 2, "stubborn": 3}

    inbox = json.loads(cli("inbox", "--json").stdout)
    (item,) = [i for i in inbox if i["run_id"] == run_id]
    assert item["step"] == "stubborn"
    assert item["roles"] == ["brand_manager"]
    assert "bea" in json.dumps(item)
    assert any(v["rule"] == "competitors.named" for v in item["violations"])
    assert "Summit Supply" in json.dumps(item)
    human = cli("inbox")
    assert "stubborn" in human.stdout and "competitors.named" in human.stdout

    # An edit that still names the competitor is refused; the run keeps waiting.
    still_bad = tmp_path / "still_bad.json"
    still_bad.write_text(
        json.dumps({"kind": "copy", "id": "c1", "channel": "social", "text": STUBBORN})
    )
    refused = cli("edit", run_id, "stubborn", "--as", "bea", "--artifact", str(still_bad))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "competitors.named" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert json.loads(cli("status", run_id, "--json").stdout)["run"]["status"] == "waiting"

    # Someone without the brand role may not decide.
    wrong = cli("approve", run_id, "stubborn", "--as", "dana")
    assert wrong.returncode == 2
    assert "may not sign off" in wrong.stderr

    good = tmp_path / "good.json"
    good.write_text(json.dumps({"kind": "copy", "id": "c1", "channel": "social", "text": EDITED}))
    done = cli(
        "edit",
        run_id,
        "stubborn",
        "--as",
        "bea",
        "--artifact",
        str(good),
        "--comment",
        "dropped the competitor",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = _result(tmp_path, run_id)
    assert result["status"] == "done"
    assert result["steps"]["stubborn"]["output"]["copies"][0]["text"] == EDITED
    assert result["steps"]["stubborn"]["approval"]["by"] == "bea"
    assert counts(tmp_path) == {"fixable": 2, "stubborn": 3}  # the edit re-ran nothing
    assert [i for i in json.loads(cli("inbox", "--json").stdout) if i["run_id"] == run_id] == []

    audit = json.loads(cli("audit", "--run", run_id, "--json").stdout)
    (run,) = audit
    steps = {s["step"]: s for s in run["steps"]}
    assert steps["fixable"]["rounds"] == 2 and steps["fixable"]["decision"] == "pass"
    assert steps["stubborn"]["rounds"] == 3 and steps["stubborn"]["decision"] == "escalate"
    assert steps["stubborn"]["findings"] >= 3
    decisions = [(a["actor"], a["decision"], a["refused"]) for a in run["approvals"]]
    assert decisions == [("dana", "approve", True), ("bea", "edit", False)]
    assert run["status"] == "done"
