"""The user's cache folder: derived results kept between processes, keyed by their inputs.

Work that costs a noticeable part of a command's start-up and depends only on files that
rarely change (the trained semantic model, the built-in rule packs) is kept here as a
pickle under a key made of everything it depends on, and reused by the next process.
The folder is the user's own (never a shared or downloaded one). Anything wrong with an
entry — unreadable, truncated, another version — reads as absent, so the caller does
the work again and replaces it; a folder that cannot be written costs speed, never a
result.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "digest", "read_cached", "write_cached"]

_OFF = {"", "0", "off", "no", "false", "none"}


def cache_dir() -> Path | None:
    """Where cached results are kept: ``$CONDUCTOR_CACHE_DIR`` (``off`` turns the cache
    off), else ``$XDG_CACHE_HOME/conductor``, else ``~/.cache/conductor``."""
    configured = os.environ.get("CONDUCTOR_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in _OFF else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conductor"


def digest(*parts: bytes | str) -> str:
    """A short hash of ``parts`` (each kept apart from the next, so ``ab|c`` ≠ ``a|bc``)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:32]


def read_cached(path: Path, kind: type | tuple[type, ...]) -> Any | None:
    """The object pickled at ``path`` when it is an instance of ``kind``, else None."""
    try:
        with path.open("rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - our own file in the user's cache folder
    except Exception:  # a missing or damaged entry means: do the work again
        return None
    return obj if isinstance(obj, kind) else None


def write_cached(path: Path, obj: Any) -> None:
    """Pickle ``obj`` to ``path`` atomically; a folder that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a process killed mid-write, or two writing at once, never
        # leave a half file under the real name.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            Path(tmp).replace(path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass  # a read-only or full disk, or an object that will not pickle: speed, not result
