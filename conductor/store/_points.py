"""Kill points on a LangGraph checkpointer's writes (see :mod:`conductor._crash`)."""

from __future__ import annotations

from typing import Any

from conductor._crash import point

__all__ = ["with_kill_points"]


def with_kill_points(saver: Any) -> Any:
    """``saver`` with a named point after each checkpoint and each batch of task writes.

    Both are durable state changes of a run: a kill just after either must leave a run
    that ``resume`` completes, which the crash test proves point by point.
    """
    put, put_writes = saver.put, saver.put_writes

    def _put(*args: Any, **kwargs: Any) -> Any:
        config = put(*args, **kwargs)
        point("checkpoint")
        return config

    def _put_writes(*args: Any, **kwargs: Any) -> None:
        put_writes(*args, **kwargs)
        point("checkpoint-writes")

    saver.put, saver.put_writes = _put, _put_writes
    return saver
