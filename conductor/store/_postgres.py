"""The PostgreSQL store (``CONDUCTOR_DATABASE_URL=postgresql://...``), shared by many processes."""

from __future__ import annotations

import datetime as dt
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from conductor._crash import point
from conductor.errors import RunError, RunLocked
from conductor.store._points import with_kill_points
from conductor.store._records import (
    _RUN_COLS,
    AuditEvent,
    RunPage,
    RunRecord,
    Submission,
    _like_prefix,
    _now,
    _row_to_event,
    _row_to_run,
    _row_to_submission,
    _unknown_run,
    decode_cursor,
    encode_cursor,
)

__all__ = ["PostgresStore"]


# What the service keeps: the runs it was asked for, before they start (idempotency).
_SERVICE_SCHEMA = """
CREATE TABLE IF NOT EXISTS conductor_submissions (
    key TEXT PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, pipeline_file TEXT NOT NULL,
    request_hash TEXT NOT NULL, owner TEXT NOT NULL, by TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL, params JSONB NOT NULL);
CREATE INDEX IF NOT EXISTS conductor_runs_started ON conductor_runs(started DESC, run_id DESC);
"""


class PostgresStore:
    """PostgreSQL backend (``CONDUCTOR_DATABASE_URL=postgresql://...``)."""

    kind = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg.rows import dict_row

        self.url = url
        try:
            self._con = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise RunError(
                f"cannot connect to PostgreSQL: {str(exc).strip().splitlines()[0]}",
                code="store.unreachable",
                hint="check CONDUCTOR_DATABASE_URL (unset it to use the local SQLite store)",
            ) from None
        self._db_lock = threading.Lock()
        with self._db_lock:
            # Serialise schema creation across processes starting at the same time.
            self._con.execute("SELECT pg_advisory_lock(7423001)")
            try:
                self._con.execute(
                    """
                    CREATE TABLE IF NOT EXISTS conductor_runs (
                        run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL,
                        pipeline_file TEXT NOT NULL, status TEXT NOT NULL,
                        started TIMESTAMPTZ NOT NULL, updated TIMESTAMPTZ NOT NULL,
                        waiting_on JSONB NOT NULL, out_dir TEXT NOT NULL, info JSONB NOT NULL);
                    CREATE TABLE IF NOT EXISTS conductor_audit (
                        id BIGSERIAL PRIMARY KEY, ts TIMESTAMPTZ NOT NULL, run_id TEXT NOT NULL,
                        pipeline TEXT NOT NULL, step TEXT, kind TEXT NOT NULL,
                        actor TEXT NOT NULL, role TEXT, spec_hash TEXT, detail JSONB NOT NULL);
                    CREATE INDEX IF NOT EXISTS conductor_audit_run ON conductor_audit(run_id);
                    CREATE OR REPLACE FUNCTION conductor_audit_append_only() RETURNS trigger
                        AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$
                        LANGUAGE plpgsql;
                    DROP TRIGGER IF EXISTS conductor_audit_ro ON conductor_audit;
                    CREATE TRIGGER conductor_audit_ro BEFORE UPDATE OR DELETE ON conductor_audit
                        FOR EACH ROW EXECUTE FUNCTION conductor_audit_append_only();
                    """
                )
                self._con.execute(_SERVICE_SCHEMA)
            finally:
                self._con.execute("SELECT pg_advisory_unlock(7423001)")
        self._saver: Any = None
        self._saver_con: Any = None
        self._lock_cons: dict[str, Any] = {}

    def checkpointer(self) -> Any:
        if self._saver is None:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row

            self._saver_con = psycopg.connect(
                self.url, autocommit=True, prepare_threshold=0, row_factory=dict_row
            )
            self._saver = with_kill_points(PostgresSaver(self._saver_con))
            with self._db_lock:
                self._con.execute("SELECT pg_advisory_lock(7423002)")
                try:
                    self._saver.setup()
                finally:
                    self._con.execute("SELECT pg_advisory_unlock(7423002)")
        return self._saver

    def create_run(self, rec: RunRecord) -> None:
        from psycopg.types.json import Jsonb

        d = rec.model_dump(mode="json")
        d["waiting_on"] = Jsonb(d["waiting_on"])
        d["info"] = Jsonb(d["info"])
        with self._db_lock:
            self._con.execute(
                f"INSERT INTO conductor_runs ({', '.join(_RUN_COLS)}) "
                f"VALUES ({', '.join('%s' for _ in _RUN_COLS)}) ON CONFLICT (run_id) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in _RUN_COLS[1:]),
                [d[c] for c in _RUN_COLS],
            )
        point("run-created")

    def update_run(self, run_id: str, **fields: Any) -> None:
        from psycopg.types.json import Jsonb

        fields["updated"] = _now()
        sets, vals = [], []
        for k, v in fields.items():
            if k not in _RUN_COLS:
                raise ValueError(k)
            sets.append(f"{k} = %s")
            vals.append(Jsonb(v) if isinstance(v, list | dict) else v)
        with self._db_lock:
            self._con.execute(
                f"UPDATE conductor_runs SET {', '.join(sets)} WHERE run_id = %s", [*vals, run_id]
            )
        point(f"run-{fields.get('status', 'updated')}")

    def get_run(self, run_id: str) -> RunRecord:
        with self._db_lock:
            row = self._con.execute(
                "SELECT * FROM conductor_runs WHERE run_id = %s", [run_id]
            ).fetchone()
        if row is None:
            raise _unknown_run(run_id)
        return _row_to_run(row)

    def list_runs(self, limit: int = 100) -> list[RunRecord]:
        with self._db_lock:
            rows = self._con.execute(
                "SELECT * FROM conductor_runs ORDER BY started DESC LIMIT %s", [limit]
            ).fetchall()
        return [_row_to_run(r) for r in rows]

    def page_runs(
        self,
        limit: int = 50,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        cursor: str | None = None,
    ) -> RunPage:
        """Runs newest first, filtered, ``limit`` at a time (keyset pagination)."""
        q, args = "SELECT * FROM conductor_runs WHERE TRUE", list[Any]()
        if status:
            q += " AND status = %s"
            args.append(status)
        if pipeline:
            q += " AND pipeline = %s"
            args.append(pipeline)
        if cursor:
            started, run_id = decode_cursor(cursor)
            q += " AND (started, run_id) < (%s, %s)"
            args += [started, run_id]
        with self._db_lock:
            rows = self._con.execute(
                q + " ORDER BY started DESC, run_id DESC LIMIT %s", [*args, limit + 1]
            ).fetchall()
        runs = [_row_to_run(r) for r in rows[:limit]]
        more = len(rows) > limit
        return RunPage(runs=runs, next_cursor=encode_cursor(runs[-1]) if more else None)

    def add_submission(self, sub: Submission) -> Submission:
        """Record ``sub`` unless its key is known; return the one recorded (first wins)."""
        from psycopg.types.json import Jsonb

        d = sub.model_dump(mode="json")
        d["params"] = Jsonb(d["params"])
        cols = list(d)
        with self._db_lock:
            self._con.execute(
                f"INSERT INTO conductor_submissions ({', '.join(cols)}) "
                f"VALUES ({', '.join('%s' for _ in cols)}) ON CONFLICT (key) DO NOTHING",
                [d[c] for c in cols],
            )
            row = self._con.execute(
                "SELECT * FROM conductor_submissions WHERE key = %s", [sub.key]
            ).fetchone()
        assert row is not None  # inserted above, or there already
        return _row_to_submission(row)

    def submissions(self, owner: str | None = None) -> list[Submission]:
        q, args = "SELECT * FROM conductor_submissions", list[Any]()
        if owner:
            q += " WHERE owner = %s"
            args.append(owner)
        with self._db_lock:
            rows = self._con.execute(q + " ORDER BY created", args).fetchall()
        return [_row_to_submission(r) for r in rows]

    def run_ids(self, prefix: str) -> list[str]:
        with self._db_lock:
            rows = self._con.execute(
                "SELECT run_id FROM conductor_runs WHERE run_id LIKE %s ESCAPE '\\'",
                [_like_prefix(prefix)],
            ).fetchall()
        # SQLite's LIKE ignores case: keep only the ids that really start with the prefix.
        return [r["run_id"] for r in rows if r["run_id"].startswith(prefix)]

    def append_audit(self, event: AuditEvent) -> None:
        from psycopg.types.json import Jsonb

        d = event.model_dump(mode="json", exclude={"id"})
        d["detail"] = Jsonb(json.loads(json.dumps(d["detail"], default=str)))
        cols = list(d)
        with self._db_lock:
            self._con.execute(
                f"INSERT INTO conductor_audit ({', '.join(cols)}) "
                f"VALUES ({', '.join('%s' for _ in cols)})",
                [d[c] for c in cols],
            )
        point(f"audit-{event.kind}")

    def audit_events(
        self,
        run_id: str | None = None,
        since: dt.datetime | None = None,
        pipeline: str | None = None,
    ) -> list[AuditEvent]:
        q, args = "SELECT * FROM conductor_audit WHERE TRUE", list[Any]()
        if run_id:
            q += " AND run_id = %s"
            args.append(run_id)
        if since:
            q += " AND ts >= %s"
            args.append(since)
        if pipeline:
            q += " AND pipeline = %s"
            args.append(pipeline)
        with self._db_lock:
            rows = self._con.execute(q + " ORDER BY id", args).fetchall()
        return [_row_to_event(r) for r in rows]

    @contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """A session-level advisory lock: released by the server if this process dies."""
        import psycopg

        key = zlib.crc32(run_id.encode()) - 2**31
        con = psycopg.connect(self.url, autocommit=True)
        got = con.execute("SELECT pg_try_advisory_lock(%s, %s)", [4242, key]).fetchone()
        if not got or not got[0]:
            con.close()
            raise RunLocked(
                "another conductor process is running this run right now",
                run=run_id,
                hint="wait for it to finish (or stop it), then try again",
            )
        try:
            yield
        finally:
            # Unlock explicitly: closing alone frees the lock only once the server's
            # backend has exited, which can be after a next holder asks for it.
            # A broken connection has lost the lock with its session: nothing to free.
            with suppress(psycopg.Error):
                con.execute("SELECT pg_advisory_unlock(%s, %s)", [4242, key])
            con.close()

    def close(self) -> None:
        with self._db_lock:
            self._con.close()
        if self._saver_con is not None:
            self._saver_con.close()
