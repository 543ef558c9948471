"""The store: where runs live. SQLite by default, PostgreSQL when ``CONDUCTOR_DATABASE_URL`` says so.

It is the source of truth for a run: the LangGraph checkpoints, the run index
(:class:`RunRecord`), the append-only audit log (:class:`AuditEvent`) and the lock that
keeps two processes from advancing one run. :func:`open_store` (``_open``) picks the
backend, ``_sqlite`` or ``_postgres``; both implement the records and the protocol of
``_records``. A run id is the LangGraph thread id. The audit log is append-only: the
database itself refuses updates and deletes (triggers), so history cannot be rewritten
by accident. A full disk, a read-only file system or a lost connection is a
:class:`~conductor.errors.StoreError` (``_errors``), never a bug.
"""

from conductor.store._errors import resource_error
from conductor.store._open import conductor_home, open_store
from conductor.store._postgres import PostgresStore
from conductor.store._records import (
    AuditEvent,
    RunPage,
    RunRecord,
    Store,
    Submission,
    resolve_run_id,
)
from conductor.store._sqlite import SQLiteStore

__all__ = [
    "AuditEvent",
    "PostgresStore",
    "RunPage",
    "RunRecord",
    "SQLiteStore",
    "Store",
    "Submission",
    "conductor_home",
    "open_store",
    "resolve_run_id",
    "resource_error",
]
