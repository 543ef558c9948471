"""Choosing the store from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from conductor.errors import RunError
from conductor.store._postgres import PostgresStore
from conductor.store._sqlite import SQLiteStore

__all__ = ["conductor_home", "open_store"]


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
