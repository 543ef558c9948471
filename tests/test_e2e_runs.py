"""End to end through the real `conductor` command, against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import Cli, counts

GATED = """\
pipeline: gated
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B}, approve: [lead]}
  c: {agent: test_note, with: {label: C}}
  d: {agent: test_follow, needs: [b, c], with: {label: D}}
approvers: {lead: [dana, lee]}
"""

SLOW = """\
pipeline: slow
goal: {objective: grow_revenue, kpi: revenue}
steps:
  first: {agent: test_note, with: {label: F}}
  second: {agent: test_follow, needs: [first], with: {label: S, hold_until: HOLD}}
"""


def test_gate_waits_then_approval_from_another_process_completes(
    cli: Cli, tmp_path: Path, run_id: str
) -> None:
    (tmp_path / "p.yaml").write_text(GATED)
    r = cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 3, r.stderr
    assert f"conductor approve {run_id} b --as NAME" in r.stdout
    assert "Traceback" not in r.stderr

    st = cli("status", run_id, "--json")
    data = json.loads(st.stdout)
    assert data["run"]["status"] == "waiting"
    assert data["run"]["waiting_on"] == ["b"]

    wrong = cli("approve", run_id, "b", "--as", "mallory")
    assert wrong.returncode == 2
    assert "may not sign off" in wrong.stderr and "dana" in wrong.stderr

    ok = cli("approve", run_id, "b", "--as", "lee", "--comment", "looks right")
    assert ok.returncode == 0, ok.stderr
    result = json.loads((tmp_path / ".conductor" / "runs" / run_id / "result.json").read_text())
    assert result["status"] == "done"
    assert result["steps"]["d"]["output"]["upstream"] == ["B", "A"]
    assert result["steps"]["b"]["approval"]["by"] == "lee"
    assert result["steps"]["b"]["approval"]["role"] == "lead"
    assert counts(tmp_path) == {"a": 1, "b": 1, "c": 1, "d": 1}

    audit = json.loads(cli("audit", "--run", run_id, "--json").stdout)
    approvals = audit[0]["approvals"]
    assert [(a["actor"], a.get("refused")) for a in approvals] == [
        ("mallory", True),
        ("lee", False),
    ]
    assert approvals[1]["spec_hash"].startswith("sha256:")


def test_reject_stops_downstream(cli: Cli, tmp_path: Path, run_id: str) -> None:
    (tmp_path / "p.yaml").write_text(GATED)
    assert cli("run", "p.yaml", "--run-id", run_id).returncode == 3
    r = cli("reject", run_id, "b", "--as", "dana", "--comment", "too risky")
    assert r.returncode == 1
    assert "rejected by dana" in r.stderr
    result = json.loads((tmp_path / ".conductor" / "runs" / run_id / "result.json").read_text())
    assert result["status"] == "rejected"
    assert result["steps"]["d"]["status"] == "skipped"
    assert "d" not in counts(tmp_path)
    # A rejection is a decision, not a failure: resuming does not undo it.
    again = cli("resume", run_id)
    assert again.returncode == 2 and "already finished (rejected)" in again.stderr


CHAIN = """\
pipeline: chain
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B, require_file: input.txt}}
  c: {agent: test_follow, needs: [b], with: {label: C}}
  d: {agent: test_note, with: {label: D}}
"""


def test_a_failed_run_is_retried_after_its_input_is_fixed(
    cli: Cli, tmp_path: Path, run_id: str
) -> None:
    (tmp_path / "p.yaml").write_text(CHAIN)
    r = cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 1 and "data source 'input'" in r.stderr
    assert f"retry:  conductor resume {run_id}" in r.stderr
    result_file = tmp_path / ".conductor" / "runs" / run_id / "result.json"
    failed = json.loads(result_file.read_text())
    assert {k: v["status"] for k, v in failed["steps"].items()} == {
        "a": "done", "b": "failed", "c": "skipped", "d": "done",
    }  # fmt: skip
    assert counts(tmp_path) == {"a": 1, "b": 1, "d": 1}

    (tmp_path / "input.txt").write_text("fixed")
    again = cli("resume", run_id)
    assert again.returncode == 0, again.stderr
    done = json.loads(result_file.read_text())
    assert done["status"] == "done"
    assert done["steps"]["c"]["output"]["upstream"] == ["B", "A"]
    assert not any(st.get("error") for st in done["steps"].values())
    # Only the failed step and the one skipped because of it ran again.
    assert counts(tmp_path) == {"a": 1, "b": 2, "c": 1, "d": 1}
    finished = cli("resume", run_id)
    assert finished.returncode == 2 and "already finished (done)" in finished.stderr


def _wait_for(path: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_resume_after_kill_gives_same_result(cli: Cli, tmp_path: Path, run_id: str) -> None:
    # The second step holds until a file appears: the kill surely lands mid-step.
    release = tmp_path / "release"
    (tmp_path / "p.yaml").write_text(SLOW.replace("HOLD", repr(str(release))))
    release.touch()
    reference = cli("run", "p.yaml", "--run-id", run_id + "-ref")
    assert reference.returncode == 0, reference.stderr
    for f in (tmp_path / "counts").glob("*"):
        f.unlink()
    release.unlink()

    proc = cli.popen("run", "p.yaml", "--run-id", run_id)
    try:
        _wait_for(tmp_path / "counts" / "second.count")
    finally:
        proc.kill()
        proc.wait()
    release.touch()
    r = cli("resume", run_id)
    assert r.returncode == 0, r.stderr
    assert counts(tmp_path) == {"first": 1, "second": 2}  # `first` was not run again

    def outputs(rid: str) -> dict[str, object]:
        res = json.loads((tmp_path / ".conductor" / "runs" / rid / "result.json").read_text())
        return {k: v["output"] for k, v in res["steps"].items()}

    assert outputs(run_id) == outputs(run_id + "-ref")
    again = cli("resume", run_id)
    assert again.returncode == 2 and "already finished" in again.stderr


def test_second_writer_is_refused_while_a_run_is_active(
    cli: Cli, tmp_path: Path, run_id: str
) -> None:
    # The second step holds until the test lets go, so the run is surely still active
    # when `resume` asks, however slowly that process starts on a busy machine.
    release = tmp_path / "release"
    (tmp_path / "p.yaml").write_text(SLOW.replace("HOLD", repr(str(release))))
    proc = cli.popen("run", "p.yaml", "--run-id", run_id)
    try:
        _wait_for(tmp_path / "counts" / "second.count")
        r = cli("resume", run_id)
        assert r.returncode != 0
        assert "another conductor process is running this run" in r.stderr
    finally:
        release.touch()
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert counts(tmp_path)["second"] == 1


def test_agent_crash_is_one_clear_line_and_the_log_has_the_traceback(
    sqlite_cli: Cli, tmp_path: Path, run_id: str
) -> None:
    (tmp_path / "p.yaml").write_text(
        "pipeline: crash\ngoal: {objective: grow_revenue, kpi: revenue}\n"
        "steps:\n  boom: {agent: test_note, with: {fail: true}}\n"
        "  ok: {agent: test_note}\n  after: {agent: test_follow, needs: [boom]}\n"
    )
    r = sqlite_cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr + r.stdout
    assert "RuntimeError: the test agent was told to fail" in r.stderr
    log = (tmp_path / ".conductor" / "runs" / run_id / "run.log.jsonl").read_text()
    assert "Traceback" in log
    result = json.loads((tmp_path / ".conductor" / "runs" / run_id / "result.json").read_text())
    assert result["steps"]["ok"]["status"] == "done"  # finished work is kept
    assert result["steps"]["after"]["status"] == "skipped"
