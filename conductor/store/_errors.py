"""Resource failures (a full disk, a read-only file system, a lost database connection)
read as :class:`~conductor.errors.StoreError`, never as a bug.

They can surface anywhere a run writes: the run index, the audit, LangGraph's
checkpointer, the run's files. :func:`resource_error` recognises them by type and
message on the exception or anything in its cause chain.
"""

from __future__ import annotations

import errno
import sqlite3

from conductor.errors import StoreError

__all__ = ["resource_error"]

_RESUME = "then `conductor resume RUN` (finished steps are kept; run it again if `conductor runs` does not list it)"
_SQLITE = (
    ("disk is full", "store.full", "the store's disk is full", f"free some space, {_RESUME}"),
    (
        "readonly database",
        "store.read-only",
        "the store cannot be written (read-only file or file system)",
        f"make CONDUCTOR_HOME writable, {_RESUME}",
    ),
    (
        "unable to open database",
        "store.unavailable",
        "the store's database file cannot be opened",
        "check CONDUCTOR_HOME exists and is writable",
    ),
    ("disk i/o error", "store.io", "the disk failed while writing the store", _RESUME),
)
_OS = {
    errno.ENOSPC: ("store.full", "the disk is full", f"free some space, {_RESUME}"),
    errno.EDQUOT: ("store.full", "the disk quota is used up", f"free some space, {_RESUME}"),
    errno.EROFS: (
        "store.read-only",
        "the file system is read-only",
        f"write the run to a writable folder, {_RESUME}",
    ),
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 20:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def resource_error(exc: BaseException) -> StoreError | None:
    """The :class:`StoreError` ``exc`` stands for, or None when it is no resource failure."""
    for e in _chain(exc):
        if isinstance(e, StoreError):
            return e
        if isinstance(e, sqlite3.OperationalError | sqlite3.DatabaseError):
            text = str(e).lower()
            for needle, code, message, hint in _SQLITE:
                if needle in text:
                    return StoreError(
                        f"{message} ({e})", where="SQLite store", code=code, hint=hint
                    )
        if isinstance(e, OSError) and e.errno in _OS:
            code, message, hint = _OS[e.errno]
            where = f"writing {e.filename}" if e.filename else None
            return StoreError(message, where=where, code=code, hint=hint)
        if type(e).__module__.startswith("psycopg") and type(e).__name__ in (
            "OperationalError",
            "InterfaceError",
        ):
            return StoreError(
                f"the PostgreSQL store cannot be reached ({str(e).splitlines()[0] if str(e) else type(e).__name__})",
                where="PostgreSQL store",
                code="store.unavailable",
                hint=f"check CONDUCTOR_DATABASE_URL and that the server is up, {_RESUME}",
            )
    return None
