"""Conductor's orchestration overhead against plain LangGraph (issue 2, item 11).

Five no-op steps in a chain, run through the conductor's compiled graph and through
the same five nodes written directly as a LangGraph ``StateGraph``, in one process,
(a) in memory and (b) with the SQLite checkpointer. Both sides use the same
checkpointer class and the same durability mode, so the difference is what the
conductor adds: typed specs and outputs, brand review and approval-gate nodes,
audit records, state merging.

Also reported: a full ``Runner.run`` (validation, planning, run index, audit log,
result.json/summary.md) for context — that is per-run bookkeeping a plain graph
does not do at all.

Usage: python benchmarks/overhead.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "plugins"))

import conductor_test_agents  # noqa: F401  (registers test_note / test_follow)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from conductor.goals import BusinessGoal
from conductor.pipeline import Pipeline, plan_pipeline
from conductor.runtime import Services, build_graph, initial_state

STEPS = ["s1", "s2", "s3", "s4", "s5"]


def conductor_pipeline(folder: Path) -> tuple[Pipeline, BusinessGoal]:
    steps: dict[str, Any] = {"s1": {"agent": "test_note", "with": {"label": "s1"}}}
    for prev, cur in zip(STEPS, STEPS[1:], strict=False):
        steps[cur] = {"agent": "test_follow", "needs": [prev], "with": {"label": cur}}
    p = Pipeline.model_validate(
        {
            "pipeline": "overhead",
            "goal": {"objective": "grow_revenue", "kpi": "revenue"},
            "steps": steps,
            "source": folder / "p.yaml",
        }
    )
    return p, BusinessGoal(objective="grow_revenue", kpi="revenue")


class PlainState(TypedDict, total=False):
    outputs: dict[str, Any]


def plain_graph() -> StateGraph[PlainState]:
    g = StateGraph(PlainState)

    def make(name: str, prev: str | None) -> Any:
        def node(state: PlainState) -> dict[str, Any]:
            outs = dict(state.get("outputs", {}))
            up = outs.get(prev, {}) if prev else {}
            outs[name] = {"label": name, "upstream": [up.get("label")] if up else []}
            return {"outputs": outs}

        return node

    prev: str | None = None
    for s in STEPS:
        g.add_node(s, make(s, prev))
        g.add_edge(prev or START, s)
        prev = s
    g.add_edge(prev or START, END)
    return g


def time_runs(invoke: Any, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        t0 = time.perf_counter()
        invoke(i)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="overhead-"))
    pipeline, goal = conductor_pipeline(folder)
    plans = plan_pipeline(pipeline, goal)
    svc = Services(
        pipeline=pipeline, run_id="x", out_dir=folder / "out", catalog=pipeline.catalog()
    )
    results: dict[str, dict[str, float]] = {}

    import sqlite3

    for mode in ("memory", "sqlite"):

        def saver() -> Any:
            if mode == "memory":
                return InMemorySaver()
            con = sqlite3.connect(folder / f"{mode}-{time.time_ns()}.db", check_same_thread=False)
            s = SqliteSaver(con)
            s.setup()
            return s

        cg = build_graph(plans, goal, svc).compile(checkpointer=saver())
        pg = plain_graph().compile(checkpointer=saver())
        # Warm up both (imports, first compile caches).
        for k in range(5):
            cg.invoke(
                initial_state("w", plans, goal),
                {"configurable": {"thread_id": f"wc{k}"}},
                durability="sync",
            )
            pg.invoke({}, {"configurable": {"thread_id": f"wp{k}"}}, durability="sync")
        c_times: list[float] = []
        p_times: list[float] = []
        # Interleave the two so machine noise hits both equally.
        for i in range(args.runs):
            t0 = time.perf_counter()
            cg.invoke(
                initial_state(f"c{i}", plans, goal),
                {"configurable": {"thread_id": f"c{i}"}},
                durability="sync",
            )
            c_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pg.invoke({}, {"configurable": {"thread_id": f"p{i}"}}, durability="sync")
            p_times.append(time.perf_counter() - t0)
        assert cg.get_state({"configurable": {"thread_id": f"c{args.runs - 1}"}}).values[
            "status"
        ] == dict.fromkeys(STEPS, "done"), "the conductor graph did not run every step"
        c, p = statistics.median(c_times), statistics.median(p_times)
        results[mode] = {"conductor_ms": c * 1e3, "langgraph_ms": p * 1e3, "ratio": c / p}

    # Full runner for context (bookkeeping included).
    import os

    os.environ["CONDUCTOR_HOME"] = str(folder / "home")
    (folder / "p.yaml").write_text(
        "pipeline: overhead\ngoal: {objective: grow_revenue, kpi: revenue}\nsteps:\n"
        + "  s1: {agent: test_note, with: {label: s1}}\n"
        + "".join(
            f"  {cur}: {{agent: test_follow, needs: [{prev}], with: {{label: {cur}}}}}\n"
            for prev, cur in zip(STEPS, STEPS[1:], strict=False)
        )
    )
    from conductor.runtime import Runner

    runner = Runner()
    full = time_runs(
        lambda i: runner.run(folder / "p.yaml", run_id=f"full{i}"), max(10, args.runs // 10)
    )
    runner.close()

    print(f"{'mode':8} {'conductor ms':>13} {'langgraph ms':>13} {'ratio':>7}")
    for mode, r in results.items():
        print(f"{mode:8} {r['conductor_ms']:13.2f} {r['langgraph_ms']:13.2f} {r['ratio']:7.2f}")
    print(
        f"full Runner.run with SQLite store (median of {len(full)}): {statistics.median(full) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
