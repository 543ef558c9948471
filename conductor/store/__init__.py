"""The store: where runs live. SQLite by default, PostgreSQL when ``CONDUCTOR_DATABASE_URL`` says so.

It is the source of truth for a run: the LangGraph checkpoints, the run index
(:class:`RunRecord`), the append-only audit log (:class:`AuditEvent`) and the lock that
keeps two processes from advancing one run. :func:`open_store` picks the backend.
"""

from conductor.store._store import (
    AuditEvent,
    PostgresStore,
    RunRecord,
    SQLiteStore,
    Store,
    conductor_home,
    open_store,
)

__all__ = [
    "AuditEvent",
    "PostgresStore",
    "RunRecord",
    "SQLiteStore",
    "Store",
    "conductor_home",
    "open_store",
]
