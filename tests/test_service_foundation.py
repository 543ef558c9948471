"""What the service builds on, in the runtime and the store: a run stopped at a checkpoint
as ``cancelled``, a waiting run cancelled for good, a run's owner kept, an edit checked
from JSON data (violations on the error), the run index paged by cursor, and submissions
recorded once per idempotency key — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import conductor_test_agents  # noqa: F401  (registers the test agents)
import pytest
from conftest import PG_URL, Cli

from conductor.errors import ApprovalError, RunError
from conductor.store import PostgresStore, RunRecord, SQLiteStore, Submission

GATED = """\
pipeline: gated
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B}, approve: [lead]}
  c: {agent: test_follow, needs: [b], with: {label: C}}
approvers: {lead: [dana]}
"""

CHAIN = """\
pipeline: chain
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B}}
  c: {agent: test_follow, needs: [b], with: {label: C}}
"""


@pytest.fixture
def store(backend: str, tmp_path: Path) -> object:
    s = SQLiteStore(tmp_path / "home") if backend == "sqlite" else PostgresStore(PG_URL)
    yield s
    s.close()


def _runner(store: object, **kw: object) -> object:
    from conductor.runtime import Runner

    return Runner(store, **kw)  # type: ignore[arg-type]


def _ran(store: object, run_id: str) -> list[str]:
    events = store.audit_events(run_id=run_id)  # type: ignore[attr-defined]
    return [e.step for e in events if e.kind == "step" and e.detail.get("status") == "ran"]


def test_stop_requested_ends_the_run_cancelled_at_a_checkpoint(
    store: object, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(CHAIN)
    asked: list[str] = []

    def stop(run_id: str) -> bool:
        asked.append(run_id)
        return "a" in _ran(store, run_id)  # once the first step's checkpoint is saved

    rid = f"c-{uuid.uuid4().hex[:8]}"
    result = _runner(store, stop_requested=stop, owner="svc-1").run(  # type: ignore[attr-defined]
        tmp_path / "p.yaml", run_id=rid, out_dir=tmp_path / "out"
    )
    assert result.status == "cancelled"
    assert set(asked) == {rid}
    assert _ran(store, rid) == ["a"]
    rec = store.get_run(rid)  # type: ignore[attr-defined]
    assert rec.status == "cancelled" and rec.info["owner"] == "svc-1"
    with pytest.raises(RunError) as exc:
        _runner(store).resume(rid)  # type: ignore[attr-defined]
    assert exc.value.code == "run.finished"


def test_a_waiting_run_is_cancelled_for_good_and_audited(store: object, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GATED)
    rid = f"w-{uuid.uuid4().hex[:8]}"
    runner = _runner(store)
    assert runner.run(tmp_path / "p.yaml", run_id=rid, out_dir=tmp_path / "o").status == "waiting"  # type: ignore[attr-defined]
    from conductor.runtime import run_approvals

    items = run_approvals(store.get_run(rid), store)  # type: ignore[attr-defined]
    assert [(i["step"], i["people"]) for i in items] == [("b", ["dana"])]
    done = runner.cancel(rid, who="lee", reason="campaign dropped")  # type: ignore[attr-defined]
    assert done.status == "cancelled"
    rec = store.get_run(rid)  # type: ignore[attr-defined]
    assert (rec.status, rec.waiting_on) == ("cancelled", [])
    events = [e for e in store.audit_events(run_id=rid) if e.kind == "run"]  # type: ignore[attr-defined]
    assert (events[-1].actor, events[-1].detail["event"]) == ("lee", "cancelled")
    assert run_approvals(rec, store) == []
    with pytest.raises(RunError) as exc:
        runner.cancel(rid, who="lee")  # type: ignore[attr-defined]
    assert exc.value.code == "run.finished"
    with pytest.raises(ApprovalError) as refused:
        runner.decide(rid, "b", who="dana", decision="approve")  # type: ignore[attr-defined]
    assert refused.value.code == "approval.not-waiting"


def test_page_runs_visits_every_run_once_newest_first(store: object) -> None:
    name = f"pg-{uuid.uuid4().hex[:8]}"
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(23):
        store.create_run(  # type: ignore[attr-defined]
            RunRecord(
                run_id=f"{name}-{i:03d}",
                pipeline=name,
                pipeline_file="/p.yaml",
                status="waiting" if i % 3 == 0 else "done",
                started=base + dt.timedelta(minutes=i // 2),  # ties broken by run id
                updated=base,
                out_dir="/o",
            )
        )
    expected = sorted(
        (f"{name}-{i:03d}" for i in range(23)), key=lambda r: (int(r[-3:]) // 2, r), reverse=True
    )
    for limit in (1, 4, 7, 23, 50):
        seen: list[str] = []
        cursor = None
        while True:
            page = store.page_runs(limit, pipeline=name, cursor=cursor)  # type: ignore[attr-defined]
            assert len(page.runs) <= limit
            seen += [r.run_id for r in page.runs]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == expected, limit
    waiting = store.page_runs(100, pipeline=name, status="waiting").runs  # type: ignore[attr-defined]
    assert len(waiting) == 8 and {r.status for r in waiting} == {"waiting"}
    with pytest.raises(RunError) as exc:
        store.page_runs(5, cursor="not-a-cursor")  # type: ignore[attr-defined]
    assert exc.value.code == "run.bad-cursor"


def test_a_submission_is_recorded_once_per_key(store: object) -> None:
    key = uuid.uuid4().hex
    owner = f"svc-{key[:6]}"
    first = Submission(
        key=key,
        run_id=f"r-{key}",
        pipeline_file="/p.yaml",
        request_hash="h1",
        owner=owner,
        by="dana",
    )
    assert store.add_submission(first).run_id == f"r-{key}"  # type: ignore[attr-defined]
    again = first.model_copy(update={"run_id": "other", "request_hash": "h2"})
    kept = store.add_submission(again)  # type: ignore[attr-defined]
    assert (kept.run_id, kept.request_hash, kept.by) == (f"r-{key}", "h1", "dana")
    assert [s.key for s in store.submissions(owner)] == [key]  # type: ignore[attr-defined]
    assert store.submissions(owner + "-nobody") == []  # type: ignore[attr-defined]


def test_cancel_from_the_cli_then_nothing_can_reopen_it(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GATED)
    rid = f"x-{uuid.uuid4().hex[:8]}"
    assert sqlite_cli("run", "p.yaml", "--run-id", rid).returncode == 3
    done = sqlite_cli("cancel", rid[:6], "--as", "lee", "--reason", "dropped")
    assert done.returncode == 0, done.stderr
    assert f"run {rid} cancelled by lee" in done.stdout
    status = json.loads(sqlite_cli("status", rid, "--json").stdout)["run"]
    assert (status["status"], status["info"]["cancelled_by"]) == ("cancelled", "lee")
    again = sqlite_cli("cancel", rid, "--as", "lee")
    assert again.returncode == 2 and "already finished (cancelled)" in again.stderr
    assert "Traceback" not in again.stderr
    approve = sqlite_cli("approve", rid, "b", "--as", "dana")
    assert approve.returncode == 2 and "cancelled" in approve.stderr
    assert "cancelled" in (Path(status["out_dir"]) / "result.json").read_text()
