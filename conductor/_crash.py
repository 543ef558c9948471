"""Named points where a run's durable state changes, and a test hook that kills there.

Every write a run makes that another process can see -- a run-index row, an audit event,
a checkpoint, a run file being renamed into place -- calls :func:`point` just after it
(and a run file also just before its rename). The order of those writes is what makes a
run crash-consistent (docs/pipelines.md § Crash consistency); the hook lets a test prove it:

- ``CONDUCTOR_KILL_AT=N`` sends this process SIGKILL at the N-th point it reaches (1 is
  the first), as an out-of-memory killer or a pulled plug would: no ``finally``, no
  flush, no rollback.
- ``CONDUCTOR_KILL_TRACE=FILE`` appends each point's name to FILE as it is reached, so a
  test learns how many points a scenario has and what each one is.

Unset (the normal case) a point costs two dictionary look-ups.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

__all__ = ["point"]

_KILL_AT = "CONDUCTOR_KILL_AT"
_TRACE = "CONDUCTOR_KILL_TRACE"

_reached = 0
_lock = threading.Lock()  # parallel steps write their checkpoints from worker threads


def point(name: str) -> None:
    """Mark a durable state change named ``name`` (see the module docstring)."""
    global _reached
    kill_at, trace = os.environ.get(_KILL_AT), os.environ.get(_TRACE)
    if kill_at is None and trace is None:
        return
    with _lock:
        _reached += 1
        if trace:
            with Path(trace).open("a", encoding="utf-8") as fh:
                fh.write(f"{_reached}\t{name}\n")
        if kill_at is not None and kill_at.strip().isdigit() and int(kill_at) == _reached:
            os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Start counting points from zero again (a forked test child calls it)."""
    global _reached, _lock
    _reached = 0
    _lock = threading.Lock()  # a fork copies the lock as it was: maybe held


_lock = threading.Lock()  # parallel steps write their checkpoints from worker threads
