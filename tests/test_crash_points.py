"""Kill a run at every durable state change, on SQLite and PostgreSQL, and resume it.

Each write another process can see -- a run-index row, an audit event, a checkpoint, a
run file before and after its rename -- is a named point (conductor/_crash.py). A child
process does one operation of the scenario (``run``, then ``approve``) with
``CONDUCTOR_KILL_AT=N`` and dies by SIGKILL at the N-th point; then the operator does
what the docs tell them -- ``conductor resume RUN``, and the sign-off again if the run
still waits for it -- and the run must end as an uninterrupted one did: the same
outputs, every step executed once in the checkpoint, one approval in the audit log, one
"ran" event per step, current files (``result.json`` names the last checkpoint) and no
temporary file left behind. Every point of both operations is covered, not a sample.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
import uuid
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import conductor_test_crash as child
import pytest
from conftest import PG_URL, PLUGINS

from conductor.errors import ApprovalError, RunError, RunLocked
from conductor.runtime import Runner

PIPELINE = """\
pipeline: crashy
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B}, approve: [lead]}
  c: {agent: test_note, with: {label: C}}
  d: {agent: test_follow, needs: [b, c], with: {label: D}}
approvers: {lead: [lee]}
"""

SCENARIO: list[tuple[str, ...]] = [("run",), ("approve", "b", "lee")]


@pytest.fixture
def world(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("CONDUCTOR_PLUGINS", "conductor_test_agents")
    monkeypatch.setenv("CONDUCTOR_TEST_COUNTS", str(tmp_path / "counts"))
    (tmp_path / "counts").mkdir()
    if backend == "postgres":
        monkeypatch.setenv("CONDUCTOR_DATABASE_URL", PG_URL)
    pipeline = tmp_path / "crashy.yaml"
    pipeline.write_text(PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUCTOR_KILL")}
    env["PYTHONPATH"] = str(PLUGINS)
    return {"env": env, "pipeline": str(pipeline), "tmp": tmp_path}


def _in_child(world: dict[str, Any], op: tuple[str, ...], run_id: str, **env: str) -> int:
    """Do ``op`` in a forked child; its exit code (-9 when the hook killed it).

    A fork, not a new interpreter: the child starts with everything imported, so the
    ~80 kills of a scenario take seconds, not minutes. It opens its own store.
    """
    # The child must never finalise the parent's objects (a PostgreSQL connection's
    # finaliser would wait for ever on a lock a parent thread held at the fork): frozen,
    # they are out of the garbage collector's reach in the child.
    gc.disable()
    gc.freeze()
    with warnings.catch_warnings():
        # Python 3.12 warns on fork() in a process with threads (pytest-xdist has one);
        # the child touches none of their locks: its own store, no shared connection.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        gc.unfreeze()
    gc.enable()
    if pid == 0:  # the child
        try:
            child.operate({**world["env"], **env}, op, world["pipeline"], run_id)
        finally:
            os._exit(70)  # only when operate raised: it ends with os._exit(0)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGUSR1)  # the child prints its stacks (faulthandler)
    time.sleep(1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"{op} with {env} hung")


def _points(world: dict[str, Any]) -> list[list[str]]:
    """The named points each operation of the scenario reaches, in order."""
    run_id = f"trace-{uuid.uuid4().hex[:8]}"
    names: list[list[str]] = []
    for i, op in enumerate(SCENARIO):
        trace = world["tmp"] / f"trace-{i}.txt"
        assert _in_child(world, op, run_id, CONDUCTOR_KILL_TRACE=str(trace)) == 0
        names.append([line.split("\t")[1] for line in trace.read_text().splitlines()])
    return names


def _retry_locked(fn: Any) -> Any:
    # A killed PostgreSQL client's advisory lock goes when the server notices the drop.
    for _ in range(100):
        try:
            return fn()
        except RunLocked:
            time.sleep(0.1)
    return fn()


def _recover(world: dict[str, Any], run_id: str, remaining: list[tuple[str, ...]]) -> None:
    """What an operator does after the kill: resume, then the operations not yet done."""

    def do(op: tuple[str, ...]) -> None:
        _retry_locked(lambda: child.apply(op, world["pipeline"], run_id))

    try:
        do(("resume",))
    except RunError as exc:
        if exc.code == "run.unknown":
            do(("run",))  # killed before the run was recorded: start it again
        elif exc.code not in ("run.waiting", "run.finished"):
            raise
    for op in remaining:
        try:
            do(op)
        except ApprovalError as exc:
            # The kill came after the sign-off was applied: nothing waits any more.
            if exc.code != "approval.not-waiting":
                raise
    assert _status(run_id) == "done"


def _status(run_id: str) -> str:
    runner = Runner()
    try:
        return runner.store.get_run(run_id).status
    finally:
        runner.close()


def _outcome(run_id: str) -> dict[str, Any]:
    """What must match an uninterrupted run, and the consistency checks of the files."""
    runner = Runner()
    try:
        rec = runner.store.get_run(run_id)
        state = runner.state(run_id)
        audit = runner.store.audit_events(run_id=run_id)
        tup = runner.store.checkpointer().get_tuple({"configurable": {"thread_id": run_id}})
    finally:
        runner.close()
    out = Path(rec.out_dir)
    result = json.loads((out / "result.json").read_text())
    assert result["checkpoint"] == tup.config["configurable"]["checkpoint_id"], "stale files"
    assert result["status"] == "done"
    assert "done" in (out / "summary.md").read_text()
    assert (out / "report.html").stat().st_mtime <= (out / "result.json").stat().st_mtime
    assert not list(out.glob("*.tmp")), "a temporary file was left behind"
    approvals = [e for e in audit if e.kind == "approval" and not e.detail.get("refused")]
    ran = Counter(e.step for e in audit if e.kind == "step" and e.detail.get("status") == "ran")
    runs = [e.detail.get("event") for e in audit if e.kind == "run"]
    assert runs[-1] in ("done", "files-rewritten"), runs
    return {
        "status": rec.status,
        "outputs": {s: v["output"] for s, v in result["steps"].items()},
        "steps": {s: v["status"] for s, v in result["steps"].items()},
        "executions": state["executions"],
        "approvals": [(e.step, e.actor, e.role, e.detail["decision"]) for e in approvals],
        "ran": dict(ran),
        "verdicts": dict(Counter(e.step for e in audit if e.kind == "verdict")),
        "plans": dict(Counter(e.step for e in audit if e.kind == "plan")),
    }


def test_a_kill_at_every_point_resumes_to_the_uninterrupted_result(
    world: dict[str, Any],
) -> None:
    points = _points(world)
    assert all(points), points
    reference_id = f"ref-{uuid.uuid4().hex[:8]}"
    for op in SCENARIO:
        _in_child(world, op, reference_id)
    reference = _outcome(reference_id)
    assert reference["executions"] == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert reference["approvals"] == [("b", "lee", "lead", "approve")]

    covered = Counter[str]()
    for i, names in enumerate(points):
        for n, name in enumerate(names, start=1):
            run_id = f"k{i}-{n}-{uuid.uuid4().hex[:6]}"
            for op in SCENARIO[:i]:
                child.apply(op, world["pipeline"], run_id)
            code = _in_child(world, SCENARIO[i], run_id, CONDUCTOR_KILL_AT=str(n))
            assert code == -9, f"{SCENARIO[i][0]} point {n} ({name}) was not reached: {code}"
            # The killed operation is done again if it is a sign-off (a run is started
            # again only if it was never recorded: see _recover).
            _recover(world, run_id, SCENARIO[max(i, 1) :])
            got = _outcome(run_id)
            assert got == reference, f"killed in {SCENARIO[i][0]} at point {n} ({name})"
            covered[name] += 1
    # Every kind of durable change was hit, in both operations.
    assert {"run-created", "checkpoint", "checkpoint-writes", "audit-step"} <= set(covered)
    assert any(k.startswith("file-written-") for k in covered), covered
    print(f"kill points covered: {sum(covered.values())} ({dict(covered)})")
