"""``conductor demo``: generate data, run a pipeline end to end, sign off, summarise.

This build ships the engine and the example plugin agent (``weekday_insight``); the
demo exercises the whole run cycle with it: typed plan, run, brand review, an approval
gate that the demo signs off as a named demo approver, durable state and the run files.
The specialist agents (journey, budget, personalization) extend it as they land.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from conductor.agents import available_agents
from conductor.errors import AgentNotFound

__all__ = ["run_demo"]

DEMO_APPROVER = "demo-approver"


def _events(path: Path, customers: int, seed: int, today: dt.date) -> int:
    """Touches and conversions with a known weekday effect (weekends convert 1.6x)."""
    rng = np.random.default_rng(seed)
    n = customers * 4
    ids = rng.integers(0, customers, n)
    day_offsets = rng.integers(0, 90, n)
    days = np.datetime64(today) - day_offsets.astype("timedelta64[D]")
    weekday = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    p = np.where(weekday >= 5, 0.08, 0.05)
    is_conv = rng.random(n) < p
    seconds = rng.integers(0, 86_400, n).astype("timedelta64[s]")
    ts = days.astype("datetime64[s]") + seconds
    channels = np.array(["paid_search", "social", "email", "display"])
    table = pa.table(
        {
            "customer_id": pa.array([f"c{i:07d}" for i in ids]),
            "timestamp": pa.array(ts),
            "channel": pa.array(np.where(is_conv, "", channels[rng.integers(0, 4, n)])),
            "event_type": pa.array(np.where(is_conv, "conversion", "touch")),
            "revenue": pa.array(np.where(is_conv, np.round(rng.gamma(2.0, 40.0, n), 2), 0.0)),
        }
    )
    pq.write_table(table, path)
    return n


def run_demo(*, out_dir: Path, customers: int, seed: int, console: Console) -> int:
    """Run the demo; returns the process exit code."""
    from conductor._runtime import Runner
    from conductor.cli import ConsoleObserver

    if "weekday_insight" not in available_agents():
        raise AgentNotFound(
            "the demo needs the example agent 'weekday_insight'",
            agent="weekday_insight",
            hint="install it with `pip install -e examples/acme_plugin` (make demo does this)",
        )
    out_dir = out_dir.resolve()
    data = out_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    today = dt.date.today()
    console.print(f"[bold]Generating {customers:,} customers' events[/] (seed {seed}) …")
    rows = _events(data / "events.parquet", customers, seed, today)
    console.print(f"  {rows:,} events → {data / 'events.parquet'}")
    pipeline = out_dir / "demo.yaml"
    pipeline.write_text(
        "pipeline: demo\n"
        "description: Which weekday converts best, signed off by the marketing lead\n"
        "goal: {objective: convert, kpi: conversions}\n"
        "data: {events: data/events.parquet}\n"
        "steps:\n"
        "  weekdays: {agent: weekday_insight, approve: [marketing_lead]}\n"
        f"approvers: {{marketing_lead: [{DEMO_APPROVER}]}}\n"
    )
    obs = ConsoleObserver(console)
    runner = Runner(observer=obs)
    try:
        result = runner.run(pipeline, out_dir=out_dir / "run")
        if result.status == "waiting":
            console.print(
                f"[magenta]The run waits for sign-off; the demo signs it off as "
                f"'{DEMO_APPROVER}' (role marketing_lead).[/]"
            )
            result = runner.decide(
                result.run_id,
                "weekdays",
                who=DEMO_APPROVER,
                decision="approve",
                comment="signed off automatically by `conductor demo`",
            )
    finally:
        obs.stop()
        runner.close()
    if result.status != "done":
        console.print(f"[red]Demo run {result.status}[/]: {result.errors}")
        return 1
    report = result.outputs()["weekdays"]
    console.print(f"\n[bold green]Demo done[/] — run {result.run_id}")
    console.print(f"  best weekday: {report.best}; conversions by weekday: {report.counts}")
    console.print("  truth: the generator makes weekends convert 1.6× more often than weekdays")
    console.print(f"  files: {result.out_dir}/result.json, summary.md, run.log.jsonl")
    return 0
