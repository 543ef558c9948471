"""End-to-end demo benchmark: ``conductor demo --customers N``, time per phase and peak memory.

Run it with the project venv::

    .venv/bin/python benchmarks/demo.py                       # 1M customers, once
    .venv/bin/python benchmarks/demo.py --customers 20000 1000000 --repeat 3 --write

Each run is the real command in a fresh process (its own temporary ``--out`` folder and
``CONDUCTOR_HOME``), started from a small wrapper process so that the wrapper's
``ru_maxrss`` of its children is the demo's peak resident memory alone. Phases come from
the demo's ``timings.json`` (data generation, validation, the pipeline run including the
brand review, revision and the sign-off, the truth check) and per-step seconds from the
run's ``result.json``. Targets (issue 8): 1M customers in <= 2 minutes and <= 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "demo.md"
TARGET_SECONDS = 120.0
TARGET_GB = 4.0

# Runs the demo as a child and reports its wall time and peak RSS (kB on Linux).
_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": r.returncode, "wall": wall, "peak_kb": peak,
                  "stdout": r.stdout[-4000:], "stderr": r.stderr[-4000:]}))
"""


def run_once(customers: int, seed: int) -> dict[str, Any]:
    """One `conductor demo` in a temporary folder; its timings, memory and truth check."""
    with tempfile.TemporaryDirectory(prefix="conductor-demo-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONDUCTOR_"))}
        env["CONDUCTOR_HOME"] = str(Path(tmp) / ".conductor")
        env["COLUMNS"] = "160"
        cmd = [
            sys.executable,
            "-m",
            "conductor",
            "demo",
            "--customers",
            str(customers),
            "--seed",
            str(seed),
            "--out",
            str(Path(tmp) / "out"),
        ]
        done = subprocess.run(
            [sys.executable, "-c", _WRAPPER, *cmd],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        info = json.loads(done.stdout)
        if info["rc"] != 0:
            raise SystemExit(f"demo failed ({info['rc']}):\n{info['stdout']}\n{info['stderr']}")
        out = Path(tmp) / "out"
        timings = json.loads((out / "timings.json").read_text())["seconds"]
        result = json.loads((out / "run" / "result.json").read_text())
        check = result["truth_check"]
    return {
        "customers": customers,
        "wall": info["wall"],
        "peak_gb": info["peak_kb"] / 1024**2,
        "phases": timings,
        "steps": {sid: st["seconds"] for sid, st in result["steps"].items()},
        "rounds": {sid: len(st["rounds"]) for sid, st in result["steps"].items()},
        "mean_abs_error": check["attribution"]["mean_abs_error"],
        "uplift_share": check["budget"]["uplift_share"],
        "policy_value": check["personalization"]["policy_value"],
        "logging_value": check["personalization"]["logging_value"],
        "oracle_value": check["personalization"]["oracle_value"],
    }


def _span(values: list[float], fmt: str = "{:.1f}") -> str:
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else f"{lo}–{hi}"


def render(runs: dict[int, list[dict[str, Any]]]) -> str:
    """The results as Markdown."""
    load = os.getloadavg()
    lines = [
        "# End-to-end demo (`conductor demo`)",
        "",
        f"Machine: {platform.machine()} VM, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; shared with other sessions' tests and benchmarks "
        f"(load average {load[0]:.1f} when the results were written), so times are upper "
        "bounds. Each run is the real command in a fresh process: data generation, "
        "`pipelines/growth.yaml` end to end (journeys, budget, personalization with a brand "
        "revision round, the budget sign-off by the demo approver), the truth check, and "
        "the run files. Peak memory is the demo process's maximum resident set size "
        "(interpreter and imports included). Produced by `benchmarks/demo.py`.",
        "",
        "| customers | runs | wall (s) | peak RSS (GB) | target |",
        "|---:|---:|---:|---:|---|",
    ]
    for n, rs in runs.items():
        walls = [r["wall"] for r in rs]
        peaks = [r["peak_gb"] for r in rs]
        target = ""
        if n >= 1_000_000:
            ok = max(walls) <= TARGET_SECONDS and max(peaks) <= TARGET_GB
            target = f"<= {TARGET_SECONDS:.0f} s and <= {TARGET_GB:.0f} GB " + ("✔" if ok else "✘")
        lines.append(
            f"| {n:,} | {len(rs)} | {_span(walls)} | {_span(peaks, '{:.2f}')} | {target} |"
        )
    lines += ["", "Time per phase (seconds; range over runs):", ""]
    phases = ["data", "validate", "run", "truth_check", "total"]
    steps = ["journeys", "budget", "offers"]
    lines.append("| customers | " + " | ".join(phases + [f"step {s}" for s in steps]) + " |")
    lines.append("|---:|" + "---:|" * (len(phases) + len(steps)))
    for n, rs in runs.items():
        cells = [_span([r["phases"].get(p, 0.0) for r in rs]) for p in phases]
        cells += [_span([r["steps"].get(s, 0.0) for r in rs], "{:.2f}") for s in steps]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "`run` includes planning, the three steps (journeys first; budget and offers in "
        "parallel), the brand reviews, the offers step's revision round (it learns the policy "
        "again without `age` after the fairness finding, so `step offers` counts two "
        "executions), checkpointing and the sign-off; `truth_check` includes writing the run "
        "files again.",
        "",
        "Truth check at each size (first run):",
        "",
        "| customers | attribution mean abs error | budget: share of true optimal uplift | "
        "policy value | logging policy | oracle |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, rs in runs.items():
        r = rs[0]
        lines.append(
            f"| {n:,} | {r['mean_abs_error'] * 100:.2f} pp | {r['uplift_share']:.1%} | "
            f"{r['policy_value']:.4f} | {r['logging_value']:.4f} | {r['oracle_value']:.4f} |"
        )
    lines += [
        "",
        "Reproduce: `.venv/bin/python benchmarks/demo.py --customers 20000 1000000 "
        "--repeat 2 --write`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS}")
    args = parser.parse_args(argv)
    runs: dict[int, list[dict[str, Any]]] = {}
    for n in args.customers:
        for i in range(args.repeat):
            start = time.perf_counter()
            r = run_once(n, args.seed)
            runs.setdefault(n, []).append(r)
            print(
                f"{n:>10,} customers, run {i + 1}: {r['wall']:.1f}s wall, "
                f"{r['peak_gb']:.2f} GB peak, phases {r['phases']} "
                f"({time.perf_counter() - start:.1f}s)",
                flush=True,
            )
    text = render(runs)
    print()
    print(text)
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
