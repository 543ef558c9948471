"""The live printer takes events from parallel steps (one thread each)."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from conductor.cli import ConsoleObserver


def test_parallel_steps_closing_and_updating_bars_never_crash() -> None:
    obs = ConsoleObserver(Console(file=io.StringIO(), force_terminal=False))
    errors: list[BaseException] = []
    go = threading.Barrier(2)

    def step(name: str) -> None:
        go.wait()
        try:
            for i in range(400):
                obs.event("progress", name, desc="fitting", done=i, total=400)
                obs.event("ran", name, seconds=0.0, summary="ok")
        except BaseException as exc:  # the test reports whatever escaped the printer
            errors.append(exc)

    threads = [threading.Thread(target=step, args=(n,)) for n in ("budget", "offers")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    obs.stop()
    assert errors == []
