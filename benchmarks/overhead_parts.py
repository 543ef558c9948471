"""Where the conductor's orchestration overhead goes (issue 19, item 4).

``benchmarks/overhead.py`` compares the conductor's compiled graph with a plain
LangGraph chain. This splits the difference: bare LangGraph graphs, no conductor code
in their nodes, that replay the exact state updates the conductor's step nodes return
(recorded from one real run), adding one conductor ingredient at a time:

- ``plain``: the reference of ``overhead.py`` (one ``outputs`` channel);
- ``schema``: the conductor's ``RunState`` schema and input, a node writes only ``outputs``;
- ``writes``: the same, a node writes every channel the conductor's step writes;
- ``command``: the same writes, routed with ``Command(goto=...)`` instead of edges;
- ``one-book``: the writes folded into ``outputs``, ``outbox`` and one merged
  bookkeeping channel (the candidate "one record per step"), routed with edges;
- ``conductor``: the real compiled graph (agent, brand review, gate nodes, retry policy).

All interleaved in one process, ``durability="sync"``, median per run.

Usage: python benchmarks/overhead_parts.py [--runs N]
"""

from __future__ import annotations

import argparse
import copy
import operator
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from overhead import STEPS, conductor_pipeline, plain_graph

from conductor.pipeline import plan_pipeline
from conductor.runtime import Services, build_graph, initial_state
from conductor.runtime import _compile as compile_mod


class OneBook(TypedDict, total=False):
    run_id: str
    goal: dict[str, Any]
    plans: dict[str, dict[str, Any]]
    status: Annotated[dict[str, str], compile_mod._merge]
    outputs: Annotated[dict[str, Any], compile_mod._merge]
    book: Annotated[dict[str, Any], compile_mod._merge]
    outbox: Annotated[list[dict[str, Any]], operator.add]


def recorded_updates(graph: Any, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each step node's update in one real run of the conductor's graph."""
    seen: dict[str, dict[str, Any]] = {}
    real = compile_mod._Step.run_node

    def spy(self: Any, st: Any) -> dict[str, Any]:
        update: dict[str, Any] = real(self, st)
        seen[self.sid] = copy.deepcopy(update)
        return update

    compile_mod._Step.run_node = spy  # type: ignore[method-assign,assignment]
    try:
        graph.invoke(state, {"configurable": {"thread_id": "record"}}, durability="sync")
    finally:
        compile_mod._Step.run_node = real  # type: ignore[method-assign]
    return seen


def command_node(upd: dict[str, Any], nxt: str) -> Callable[[compile_mod.RunState], Command[str]]:
    def node(_state: compile_mod.RunState) -> Command[str]:
        return Command(update=upd, goto=nxt)

    return node


def update_node(upd: dict[str, Any]) -> Callable[[compile_mod.RunState], dict[str, Any]]:
    def node(_state: compile_mod.RunState) -> dict[str, Any]:
        return upd

    return node


def replay_graph(kind: str, updates: dict[str, dict[str, Any]]) -> Any:
    g: Any = StateGraph(OneBook if kind == "one-book" else compile_mod.RunState)
    for k, sid in enumerate(STEPS):
        nxt = STEPS[k + 1] if k + 1 < len(STEPS) else END
        u = updates[sid]
        if kind == "schema":
            upd: dict[str, Any] = {"outputs": u["outputs"]}
        elif kind == "one-book":
            rest = {c: v[sid] for c, v in u.items() if c not in ("outputs", "outbox", "status")}
            upd = {
                "outputs": u["outputs"],
                "outbox": u["outbox"],
                "status": u["status"],
                "book": {sid: rest},
            }
        else:
            upd = u
        if kind == "command":
            g.add_node(sid, command_node(upd, nxt), destinations=(nxt,))
        else:
            g.add_node(sid, update_node(upd))
            g.add_edge(sid, nxt)
    g.add_edge(START, STEPS[0])
    return g


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="overhead-parts-"))
    pipeline, goal = conductor_pipeline(folder)
    plans = plan_pipeline(pipeline, goal)
    svc = Services(
        pipeline=pipeline, run_id="x", out_dir=folder / "out", catalog=pipeline.catalog()
    )
    kinds = ["plain", "schema", "writes", "command", "one-book", "conductor"]
    print(f"{'mode':8} " + " ".join(f"{k:>10}" for k in kinds))
    for mode in ("memory", "sqlite"):

        def saver() -> Any:
            if mode == "memory":
                return InMemorySaver()
            con = sqlite3.connect(folder / f"{time.time_ns()}.db", check_same_thread=False)
            s = SqliteSaver(con)
            s.setup()
            return s

        conductor = build_graph(plans, goal, svc).compile(checkpointer=saver())
        updates = recorded_updates(conductor, initial_state("r", plans, goal))
        graphs: dict[str, Any] = {"plain": plain_graph().compile(checkpointer=saver())}
        for kind in kinds[1:-1]:
            graphs[kind] = replay_graph(kind, updates).compile(checkpointer=saver())
        graphs["conductor"] = conductor
        inputs: dict[str, Callable[[int], dict[str, Any]]] = {
            k: (lambda i: initial_state(f"r{i}", plans, goal)) for k in kinds
        }
        inputs["plain"] = lambda _i: {}
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for i in range(-5, args.runs):  # five warm-up rounds, not timed
            for k in kinds:
                state = inputs[k](i)
                t0 = time.perf_counter()
                graphs[k].invoke(
                    state, {"configurable": {"thread_id": f"{k}{i}"}}, durability="sync"
                )
                if i >= 0:
                    times[k].append(time.perf_counter() - t0)
        base = statistics.median(times["plain"])
        print(f"{mode:8} " + " ".join(f"{statistics.median(times[k]) * 1e3:8.2f}ms" for k in kinds))
        print(
            f"{'ratio':8} " + " ".join(f"{statistics.median(times[k]) / base:9.2f}x" for k in kinds)
        )


if __name__ == "__main__":
    main()
