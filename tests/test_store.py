"""The store: run index round-trips, the audit log refuses rewrites, on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from conftest import PG_URL

from conductor.errors import RunError, RunLocked
from conductor.store import AuditEvent, PostgresStore, RunRecord, SQLiteStore


@pytest.fixture
def store(backend: str, tmp_path: Path) -> object:
    s = SQLiteStore(tmp_path / "home") if backend == "sqlite" else PostgresStore(PG_URL)
    yield s
    s.close()


def test_runs_and_audit_round_trip_and_audit_is_append_only(store: SQLiteStore) -> None:
    rid = f"s-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.UTC)
    store.create_run(
        RunRecord(
            run_id=rid,
            pipeline="p",
            pipeline_file="/p.yaml",
            status="running",
            started=now,
            updated=now,
            out_dir="/o",
        )
    )
    store.update_run(rid, status="waiting", waiting_on=["budget"])
    rec = store.get_run(rid)
    assert (rec.status, rec.waiting_on) == ("waiting", ["budget"])
    store.append_audit(
        AuditEvent(
            run_id=rid,
            pipeline="p",
            kind="approval",
            actor="dana",
            role="lead",
            detail={"decision": "approve"},
        )
    )
    events = store.audit_events(run_id=rid)
    assert [(e.actor, e.detail["decision"]) for e in events] == [("dana", "approve")]
    table = "audit" if isinstance(store, SQLiteStore) else "conductor_audit"
    with pytest.raises(Exception, match="append-only"):
        store._con.execute(f"UPDATE {table} SET actor = 'mallory' WHERE run_id = '{rid}'")
    with pytest.raises(Exception, match="append-only"):
        store._con.execute(f"DELETE FROM {table} WHERE run_id = '{rid}'")
    assert store.audit_events(run_id=rid)[0].actor == "dana"
    with pytest.raises(RunError, match="no such run"):
        store.get_run("nope-" + rid)


def test_run_lock_is_exclusive(store: SQLiteStore) -> None:
    rid = f"l-{uuid.uuid4().hex[:8]}"
    with store.lock(rid), pytest.raises(RunLocked):
        # A second holder is refused while the first holds it ...
        other = SQLiteStore(store.home) if isinstance(store, SQLiteStore) else PostgresStore(PG_URL)
        try:
            with other.lock(rid):
                pass
        finally:
            other.close()
    with store.lock(rid):  # ... and it is free again afterwards.
        pass


def test_run_lock_is_free_the_moment_its_holder_leaves(store: SQLiteStore) -> None:
    # A resumed run takes the lock right after the last holder let go; that must never
    # be refused (closing a Postgres connection frees its locks only later, on the server).
    rid = f"r-{uuid.uuid4().hex[:8]}"
    for _ in range(200):
        with store.lock(rid):
            pass
