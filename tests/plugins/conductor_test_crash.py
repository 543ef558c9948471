"""The crash test's operations on a run, done in a forked child or in the test itself.

In a child (:func:`operate`) one ``conductor`` operation -- ``run``, ``approve`` or
``resume`` -- runs with ``CONDUCTOR_KILL_AT`` set, and the hook in
:mod:`conductor._crash` sends it SIGKILL at that point.
"""

from __future__ import annotations

import faulthandler
import os
import signal
from pathlib import Path

import conductor_test_agents  # noqa: F401  (registers the test agents)

from conductor import _crash
from conductor.runtime import Runner


def operate(env: dict[str, str], op: tuple[str, ...], pipeline: str, run_id: str) -> None:
    """Do ``op`` on ``run_id`` with ``env`` as the environment (in a forked child)."""
    # A child that hangs shows where, when the test sends it SIGUSR1.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    os.environ.clear()
    os.environ.update(env)
    _crash.reset()
    apply(op, pipeline, run_id)
    os._exit(0)


def apply(op: tuple[str, ...], pipeline: str, run_id: str) -> None:
    """Do ``op`` in this process: ``("run",)``, ``("approve", STEP, WHO)`` or ``("resume",)``."""
    runner = Runner()
    try:
        if op[0] == "run":
            runner.run(Path(pipeline), run_id=run_id)
        elif op[0] == "approve":
            runner.decide(run_id, op[1], who=op[2], decision="approve", comment="ok")
        else:
            runner.resume(run_id)
    finally:
        runner.close()
