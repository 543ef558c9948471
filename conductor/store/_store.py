"""Where runs live: the LangGraph checkpointer, the run index, the audit log, run locks.

SQLite files under ``.conductor/`` in the working directory by default (``CONDUCTOR_HOME``
overrides the folder); PostgreSQL when ``CONDUCTOR_DATABASE_URL=postgresql://...``. A run
id is the LangGraph thread id. The audit log is append-only: the database itself refuses
updates and deletes (triggers), so history cannot be rewritten by accident.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from conductor.errors import RunError, RunLocked

__all__ = ["AuditEvent", "RunRecord", "Store", "open_store"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RunRecord(BaseModel):
    """One row of the run index (``conductor runs``)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description="Run id (the LangGraph thread id).")
    pipeline: str = Field(description="Pipeline name.")
    pipeline_file: str = Field(description="Absolute path of the pipeline file.")
    status: str = Field(description="running, waiting, done, failed, blocked, rejected, stopped.")
    started: dt.datetime = Field(description="When the run started (UTC).")
    updated: dt.datetime = Field(description="Last change (UTC).")
    waiting_on: list[str] = Field(default_factory=list, description="Steps awaiting sign-off.")
    out_dir: str = Field(description="Run folder (result.json, summary.md, logs).")
    info: dict[str, Any] = Field(default_factory=dict, description="Cost, tokens, error line.")


class AuditEvent(BaseModel):
    """One append-only audit record."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, description="Sequence number (set by the store).")
    ts: dt.datetime = Field(default_factory=_now, description="When (UTC).")
    run_id: str = Field(description="Run.")
    pipeline: str = Field(default="", description="Pipeline name.")
    step: str | None = Field(default=None, description="Step, when the event is about one.")
    kind: str = Field(
        description="goal, plan, data, step, verdict, revision, approval, llm, run ..."
    )
    actor: str = Field(default="conductor", description="Who: a person's name or 'conductor'.")
    role: str | None = Field(default=None, description="The role they acted under.")
    spec_hash: str | None = Field(default=None, description="Hash of the step's spec.")
    detail: dict[str, Any] = Field(default_factory=dict, description="What happened.")


class Store(Protocol):
    """What the runtime needs from a backend."""

    kind: str

    def checkpointer(self) -> Any: ...
    def create_run(self, rec: RunRecord) -> None: ...
    def update_run(self, run_id: str, **fields: Any) -> None: ...
    def get_run(self, run_id: str) -> RunRecord: ...
    def list_runs(self, limit: int = 100) -> list[RunRecord]: ...
    def append_audit(self, event: AuditEvent) -> None: ...
    def audit_events(
        self,
        run_id: str | None = None,
        since: dt.datetime | None = None,
        pipeline: str | None = None,
    ) -> list[AuditEvent]: ...
    def lock(self, run_id: str) -> Any: ...
    def close(self) -> None: ...


_RUN_COLS: tuple[str, ...] = ("run_id", "pipeline", "pipeline_file", "status", "started", "updated")
_RUN_COLS += ("waiting_on", "out_dir", "info")


def _row_to_run(row: Mapping[str, Any]) -> RunRecord:
    data = dict(row)
    for k in ("waiting_on", "info"):
        if isinstance(data[k], str):
            data[k] = json.loads(data[k])
    for k in ("started", "updated"):
        if isinstance(data[k], str):
            data[k] = dt.datetime.fromisoformat(data[k])
    return RunRecord.model_validate(data)


def _row_to_event(row: Mapping[str, Any]) -> AuditEvent:
    data = dict(row)
    if isinstance(data["detail"], str):
        data["detail"] = json.loads(data["detail"])
    if isinstance(data["ts"], str):
        data["ts"] = dt.datetime.fromisoformat(data["ts"])
    return AuditEvent.model_validate(data)


def _unknown_run(run_id: str) -> RunError:
    return RunError(
        "no such run", run=run_id, code="run.unknown", hint="`conductor runs` lists the runs"
    )


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
            self._saver = SqliteSaver(self._saver_con)
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

    def append_audit(self, event: AuditEvent) -> None:
        d = event.model_dump(mode="json", exclude={"id"})
        d["detail"] = json.dumps(d["detail"], sort_keys=True, default=str)
        cols = list(d)
        with self._db_lock:
            self._con.execute(
                f"INSERT INTO audit ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [d[c] for c in cols],
            )

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
            self._saver = PostgresSaver(self._saver_con)
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


def conductor_home(env: Mapping[str, str] | None = None) -> Path:
    """The folder for local state: ``CONDUCTOR_HOME`` or ``./.conductor``."""
    env = os.environ if env is None else env
    return Path(env.get("CONDUCTOR_HOME") or Path.cwd() / ".conductor").resolve()


def open_store(env: Mapping[str, str] | None = None) -> SQLiteStore | PostgresStore:
    """The store the environment asks for (PostgreSQL if ``CONDUCTOR_DATABASE_URL`` is set)."""
    env = os.environ if env is None else env
    url = env.get("CONDUCTOR_DATABASE_URL", "").strip()
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise RunError(
                f"unsupported CONDUCTOR_DATABASE_URL {url.split(':', 1)[0]}://...",
                code="store.bad-url",
                hint="use postgresql://user@host:5432/db, or unset it for the SQLite default",
            )
        return PostgresStore(url)
    return SQLiteStore(conductor_home(env))
