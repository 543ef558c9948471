"""How fast the ``conductor`` command answers (issue 20, item 1).

Each command runs as a fresh subprocess (wall clock, median of ``--runs``), measured
against a bare ``python -c pass`` interleaved with it, so the ratio shares the machine's
noise. The set-up writes the demo's data (``--customers``, default the demo's 20,000)
and its pipeline into a temporary folder, runs it once so that ``runs``, ``status`` and
``inbox`` have something to show (the run waits for the media lead's sign-off), and
then times:

- ``conductor --help`` and ``conductor validate --help`` (target ≤ 0.3 s),
- ``runs``, ``status RUN``, ``inbox`` (≤ 0.6 s),
- ``validate`` of the demo pipeline (≤ 1.5 s),
- ``check-copy`` of one SMS against the Acme brand, with its default (semantic) checks,
  first in a fresh cache folder and then again (≤ 0.5 s).

Python's bytecode cache is on, as in a default install (a ``PYTHONDONTWRITEBYTECODE``
in the environment is removed for the commands measured).

Usage: python benchmarks/cli.py [--runs N] [--customers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLI = [PY, "-m", "conductor"]
COPY = "Free delivery this week on everything you order. Reply STOP to opt out."


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return took


def _setup(folder: Path, customers: int, env: dict[str, str]) -> tuple[Path, str]:
    """The demo's data and pipeline in ``folder``, and one run waiting for sign-off."""
    sys.path.insert(0, str(ROOT))
    from conductor.demo import generate_demo_data, prepare_pipeline

    today = dt.date(2026, 6, 30)
    data = folder / "data"
    generate_demo_data(data, customers=customers, seed=7, today=today)
    pipeline = prepare_pipeline(
        ROOT / "pipelines" / "growth.yaml", data, folder / "growth.yaml", today
    )
    subprocess.run(
        [*CLI, "run", str(pipeline), "--quiet", "--run-id", "bench-run"],
        env=env,
        cwd=folder,
        capture_output=True,
        check=False,
    )
    return pipeline, "bench-run"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = dict(os.environ)
        env["CONDUCTOR_HOME"] = str(folder / "home")
        env["CONDUCTOR_CACHE_DIR"] = str(folder / "cache")
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("CONDUCTOR_PLUGINS", None)
        # Python keeps compiled modules (.pyc) unless told not to; this machine's shell
        # tells it not to (PYTHONDONTWRITEBYTECODE=1), which makes every command compile
        # Conductor's source again. Measured as a default install runs.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPYCACHEPREFIX", None)
        pipeline, run_id = _setup(folder, args.customers, env)
        brand = str(ROOT / "pipelines" / "brands" / "acme.yaml")
        check = [*CLI, "check-copy", "--brand", brand, "--channel", "sms", COPY]
        commands: list[tuple[str, list[str], float]] = [
            ("conductor --help", [*CLI, "--help"], 0.3),
            ("conductor validate --help", [*CLI, "validate", "--help"], 0.3),
            ("conductor runs", [*CLI, "runs"], 0.6),
            ("conductor status RUN", [*CLI, "status", run_id], 0.6),
            ("conductor inbox", [*CLI, "inbox"], 0.6),
            ("conductor validate (demo pipeline)", [*CLI, "validate", str(pipeline)], 1.5),
            ("conductor check-copy (warm cache)", check, 0.5),
        ]
        # The first check-copy in a fresh cache folder: what a first use costs (the
        # semantic model is trained, the packs read and checked).
        first = _timed(check, {**env, "CONDUCTOR_CACHE_DIR": str(folder / "fresh")}, folder)
        times: dict[str, list[float]] = {name: [] for name, _, _ in commands}
        base: list[float] = []
        for _ in range(args.runs):
            for name, cmd, _ in commands:
                base.append(_timed([PY, "-c", "pass"], env, folder))
                times[name].append(_timed(cmd, env, folder))

    py = statistics.median(base)
    print(f"python -c pass: {py * 1000:.0f} ms (median of {len(base)})")
    print(f"check-copy, first use (fresh cache folder): {first:.2f} s")
    print(f"{'command':<38} {'median':>8} {'× python':>9} {'target':>7}  met")
    rows = []
    for name, _, target in commands:
        med = statistics.median(times[name])
        met = "yes" if med <= target else "no"
        print(f"{name:<38} {med:>7.2f}s {med / py:>8.1f}× {target:>6.1f}s  {met}")
        rows.append({"command": name, "median_s": med, "ratio": med / py, "target_s": target})
    if args.json:
        args.json.write_text(
            json.dumps({"python_s": py, "check_copy_first_s": first, "commands": rows}, indent=2)
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
