"""The default store: SQLite files in a folder (``.conductor/`` in the working directory)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from conductor._crash import point
from conductor.errors import RunLocked
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

__all__ = ["SQLiteStore"]


_JSON_TIME: TypeAdapter[dt.datetime] = TypeAdapter(dt.datetime)

# What the service keeps: the runs it was asked for, before they start (idempotency).
_SERVICE_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    key TEXT PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, pipeline_file TEXT NOT NULL,
    request_hash TEXT NOT NULL, owner TEXT NOT NULL, by TEXT NOT NULL, created TEXT NOT NULL,
    params TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started DESC, run_id DESC);
"""


class SQLiteStore:
    """The default store: SQLite files in a folder (``.conductor/``)."""

    kind = "sqlite"

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "locks").mkdir(exist_ok=True)
        self._db_lock = threading.Lock()
        self._con = sqlite3.connect(
            self.home / "runs.db", check_same_thread=False, timeout=30, isolation_level=None
        )
        self._con.row_factory = sqlite3.Row
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.executescript(
            """
            CREATE TABLE IF NOT EXISTS runs (
                run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_file TEXT NOT NULL,
                status TEXT NOT NULL, started TEXT NOT NULL, updated TEXT NOT NULL,
                waiting_on TEXT NOT NULL, out_dir TEXT NOT NULL, info TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, run_id TEXT NOT NULL,
                pipeline TEXT NOT NULL, step TEXT, kind TEXT NOT NULL, actor TEXT NOT NULL,
                role TEXT, spec_hash TEXT, detail TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS audit_run ON audit(run_id);
            CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            """
        )
        self._con.executescript(_SERVICE_SCHEMA)
        self._saver: Any = None
        self._saver_con: sqlite3.Connection | None = None
        self._locks: dict[str, Any] = {}

    def checkpointer(self) -> Any:
        """The LangGraph SQLite checkpointer (one per store)."""
        if self._saver is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            self._saver_con = sqlite3.connect(
                self.home / "checkpoints.db", check_same_thread=False, timeout=30
            )
            self._saver_con.execute("PRAGMA journal_mode=WAL")
            self._saver = with_kill_points(SqliteSaver(self._saver_con))
            self._saver.setup()
        return self._saver

    def create_run(self, rec: RunRecord) -> None:
        data = rec.model_dump(mode="json")
        data["waiting_on"] = json.dumps(data["waiting_on"])
        data["info"] = json.dumps(data["info"])
        with self._db_lock:
            self._con.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(_RUN_COLS)}) "
                f"VALUES ({', '.join('?' for _ in _RUN_COLS)})",
                [data[c] for c in _RUN_COLS],
            )
        point("run-created")

    def update_run(self, run_id: str, **fields: Any) -> None:
        fields["updated"] = _now().isoformat()
        sets, vals = [], []
        for k, v in fields.items():
            if k not in _RUN_COLS:
                raise ValueError(k)
            sets.append(f"{k} = ?")
            vals.append(json.dumps(v) if isinstance(v, list | dict) else v)
        with self._db_lock:
            self._con.execute(
                f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ?", [*vals, run_id]
            )
        point(f"run-{fields.get('status', 'updated')}")

    def get_run(self, run_id: str) -> RunRecord:
        with self._db_lock:
            row = self._con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            raise _unknown_run(run_id)
        return _row_to_run(row)

    def list_runs(self, limit: int = 100) -> list[RunRecord]:
        with self._db_lock:
            rows = self._con.execute(
                "SELECT * FROM runs ORDER BY started DESC LIMIT ?", [limit]
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
        q, args = "SELECT * FROM runs WHERE 1=1", list[Any]()
        if status:
            q += " AND status = ?"
            args.append(status)
        if pipeline:
            q += " AND pipeline = ?"
            args.append(pipeline)
        if cursor:
            started, run_id = decode_cursor(cursor)
            # Compared as text: spelled as the rows are (pydantic's JSON form of a time).
            when = _JSON_TIME.dump_python(started, mode="json")
            q += " AND (started < ? OR (started = ? AND run_id < ?))"
            args += [when, when, run_id]
        with self._db_lock:
            rows = self._con.execute(
                q + " ORDER BY started DESC, run_id DESC LIMIT ?", [*args, limit + 1]
            ).fetchall()
        runs = [_row_to_run(r) for r in rows[:limit]]
        more = len(rows) > limit
        return RunPage(runs=runs, next_cursor=encode_cursor(runs[-1]) if more else None)

    def add_submission(self, sub: Submission) -> Submission:
        """Record ``sub`` unless its key is known; return the one recorded (first wins)."""
        d = sub.model_dump(mode="json")
        d["params"] = json.dumps(d["params"])
        cols = list(d)
        with self._db_lock:
            self._con.execute(
                f"INSERT OR IGNORE INTO submissions ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                [d[c] for c in cols],
            )
            row = self._con.execute("SELECT * FROM submissions WHERE key = ?", [sub.key]).fetchone()
        assert row is not None  # inserted above, or there already
        return _row_to_submission(row)

    def submissions(self, owner: str | None = None) -> list[Submission]:
        q, args = "SELECT * FROM submissions", list[Any]()
        if owner:
            q += " WHERE owner = ?"
            args.append(owner)
        with self._db_lock:
            rows = self._con.execute(q + " ORDER BY created", args).fetchall()
        return [_row_to_submission(r) for r in rows]

    def run_ids(self, prefix: str) -> list[str]:
        with self._db_lock:
            rows = self._con.execute(
                "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\'", [_like_prefix(prefix)]
            ).fetchall()
        # SQLite's LIKE ignores case: keep only the ids that really start with the prefix.
        return [r["run_id"] for r in rows if r["run_id"].startswith(prefix)]

    def append_audit(self, event: AuditEvent) -> None:
        d = event.model_dump(mode="json", exclude={"id"})
        d["detail"] = json.dumps(d["detail"], sort_keys=True, default=str)
        cols = list(d)
        with self._db_lock:
            self._con.execute(
                f"INSERT INTO audit ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [d[c] for c in cols],
            )
        point(f"audit-{event.kind}")

    def audit_events(
        self,
        run_id: str | None = None,
        since: dt.datetime | None = None,
        pipeline: str | None = None,
    ) -> list[AuditEvent]:
        q, args = "SELECT * FROM audit WHERE 1=1", list[Any]()
        if run_id:
            q += " AND run_id = ?"
            args.append(run_id)
        if since:
            q += " AND ts >= ?"
            args.append(since.isoformat())
        if pipeline:
            q += " AND pipeline = ?"
            args.append(pipeline)
        with self._db_lock:
            rows = self._con.execute(q + " ORDER BY id", args).fetchall()
        return [_row_to_event(r) for r in rows]

    @contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """Hold the run's writer lock; raise :class:`RunLocked` if another process has it.

        A file lock: the kernel releases it when the holder dies, even by SIGKILL.
        """
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
        fh = (self.home / "locks" / f"{safe}.lock").open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RunLocked(
                "another conductor process is running this run right now",
                run=run_id,
                hint="wait for it to finish (or stop it), then try again",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    def close(self) -> None:
        with self._db_lock:
            self._con.close()
        if self._saver_con is not None:
            self._saver_con.close()
