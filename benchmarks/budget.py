"""Benchmark of the budget allocation agent (issue 5).

(a) Regret of our optimiser against the true optimum on curves with known parameters.
(b) Speed for 10 and 50 channels against scipy SLSQP (the method PyMC-Marketing's budget
    optimiser uses), and our objective against the best of 20 random-start SLSQP runs.
(c) On synthetic weekly history drawn from known adstock + Hill curves: how well the fit
    recovers each channel's ROI, and the share of the true optimal uplift (over the current
    mix) that the agent's plan achieves when evaluated on the true curves.

Run: ``.venv/bin/python benchmarks/budget.py [--quick]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from agents.budget import BudgetAllocationAgent, BudgetSpec, ResponseCurves, maximise
from agents.budget._optimize import dp_maximise
from conductor import (
    BusinessGoal,
    DataCatalog,
    DataSource,
    Horizon,
    Inputs,
    Money,
    PlanContext,
    RunContext,
)


def random_curves(rng: np.random.Generator, n: int) -> ResponseCurves:
    # Half the channels S-shaped (shape 1.5-3.5), half concave (0.6-1.2): the hard mix.
    shape = np.where(rng.random(n) < 0.5, rng.uniform(1.5, 3.5, n), rng.uniform(0.6, 1.2, n))
    return ResponseCurves(rng.uniform(1e4, 6e4, n), rng.uniform(1e3, 8e3, n), shape)


def slsqp(c: ResponseCurves, total: float, x0: np.ndarray) -> tuple[float, float]:
    n = c.n
    t = time.perf_counter()
    res = minimize(
        lambda v: -c.value(v).sum() / total,
        x0,
        jac=lambda v: -c.marginal(np.maximum(v, 1e-9)) / total,
        bounds=[(0.0, total)] * n,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() / total - 1.0}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    dt_ = time.perf_counter() - t
    v = np.clip(res.x, 0.0, total)
    v *= total / v.sum()
    return float(c.value(v).sum()), dt_


def true_optimum(c: ResponseCurves, total: float, ours: float, rng: np.random.Generator) -> float:
    """Best of: a fine DP grid polished by SLSQP, 50 random-start SLSQP runs, and ours."""
    grid = dp_maximise(c, total, grid=400 if c.n <= 10 else 200)
    best = max(ours, float(c.value(grid).sum()), slsqp(c, total, grid)[0])
    for _ in range(50):
        best = max(best, slsqp(c, total, rng.dirichlet(np.ones(c.n)) * total)[0])
    return best


def bench_optimiser(n: int, problems: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    regrets, ours_t, slsqp_t, beats, certified = [], [], [], 0, 0
    for _ in range(problems):
        c = random_curves(rng, n)
        total = float(c.k.sum() * rng.uniform(0.3, 1.5))
        reps = []
        for _ in range(5):
            # A fresh copy each time: no precomputation cached on the curves carries over.
            fresh = ResponseCurves(c.beta.copy(), c.k.copy(), c.shape.copy())
            t = time.perf_counter()
            sol = maximise(fresh, total)
            reps.append(time.perf_counter() - t)
        ours_t.append(statistics.median(reps))
        certified += sol.certified
        runs = [slsqp(c, total, rng.dirichlet(np.ones(n)) * total) for _ in range(20)]
        slsqp_t.append(statistics.median(r[1] for r in runs))
        best20 = max(r[0] for r in runs)
        beats += sol.value >= best20 * (1 - 1e-9)
        truth = true_optimum(c, total, sol.value, rng)
        regrets.append((truth - sol.value) / truth)
    return {
        "n": n,
        "problems": problems,
        "certified": certified / problems,
        "regret_max": max(regrets),
        "regret_mean": statistics.fmean(regrets),
        "ours_ms_median": 1e3 * statistics.median(ours_t),
        "ours_ms_p90": 1e3 * float(np.percentile(ours_t, 90)),
        "slsqp_ms_median": 1e3 * statistics.median(slsqp_t),
        "speedup_median": statistics.median(s / o for s, o in zip(slsqp_t, ours_t, strict=True)),
        "beats_best_of_20": beats / problems,
    }


# ---------------------------------------------------------------------------- history

CHANNELS = {
    # decay, half-saturation, shape, max weekly effect, mean weekly spend, log-sd
    "paid_search": (0.15, 5500.0, 1.2, 62000.0, 7000.0, 0.35),
    "social": (0.45, 6500.0, 2.4, 58000.0, 4600.0, 0.45),
    "email": (0.30, 900.0, 1.0, 11000.0, 1300.0, 0.40),
    "display": (0.50, 2200.0, 1.0, 15000.0, 3600.0, 0.50),
    "affiliate": (0.10, 3000.0, 1.6, 24000.0, 2700.0, 0.40),
}
FIRST = dt.date(2024, 1, 1)
WEEKS = 104


def _season(dates: list[dt.date]) -> np.ndarray:
    doy = np.array([d.timetuple().tm_yday for d in dates])
    return np.cos(2 * np.pi * (doy - 340) / 365.25)


def base_kpi(dates: list[dt.date]) -> np.ndarray:
    """The KPI without media or noise in the given weeks (the history's and after it)."""
    t = np.array([(d - FIRST).days / 7 for d in dates])
    return 175000 * (1 + 0.06 * t / 52) * (1 + 0.12 * _season(dates))


def history(tmp: Path, seed: int, tests: int = 0) -> tuple[dict[str, float], dict[str, float]]:
    """Write spend.csv/outcomes.csv (and ``tests`` lift tests per channel in lifts.csv);
    return the true ROI and the last quarter's weekly spend."""
    rng = np.random.default_rng(seed)
    dates = [FIRST + dt.timedelta(weeks=i) for i in range(WEEKS)]
    season = _season(dates)
    media = np.zeros(WEEKS)
    spend, roi, current = {}, {}, {}
    for name, (decay, k, s, beta, mean, sd) in CHANNELS.items():
        x = mean * (1 + 0.08 * season) * rng.lognormal(-sd * sd / 2, sd, WEEKS)
        flight = rng.random(WEEKS)
        x = np.where(flight < 0.08, x * 0.15, np.where(flight > 0.92, x * 1.7, x))
        a, carry = np.empty(WEEKS), x[0]
        for t in range(WEEKS):
            carry = decay * carry + (1 - decay) * x[t]
            a[t] = carry
        contrib = beta * a**s / (a**s + k**s)
        media += contrib
        spend[name] = x
        roi[name] = float(contrib.sum() / x.sum())
        current[name] = float(x[-13:].mean())
    y = base_kpi(dates) + media + rng.normal(0, 4500, WEEKS)
    with (tmp / "spend.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "channel", "spend"])
        for i, d in enumerate(dates):
            w.writerows([d.isoformat(), n, f"{spend[n][i]:.2f}"] for n in CHANNELS)
    with (tmp / "outcomes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "revenue"])
        w.writerows([d.isoformat(), f"{y[i]:.2f}"] for i, d in enumerate(dates))
    if tests:
        write_lift_tests(tmp / "lifts.csv", current, tests, np.random.default_rng(10_000 + seed))
    return roi, current


def write_lift_tests(
    path: Path, current: dict[str, float], tests: int, rng: np.random.Generator
) -> None:
    """Per channel: switch it off (then, for a second test, raise it by half) from its
    recent weekly spend; the measured weekly lift has a 10% standard error."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["channel", "spend", "delta_spend", "delta_kpi", "sigma"])
        for name, (_, k, s, beta, _, _) in CHANNELS.items():
            x0 = current[name]
            for x1 in (0.0, 1.5 * x0)[:tests]:
                lift = beta * (x1**s / (x1**s + k**s) - x0**s / (x0**s + k**s))
                sigma = LIFT_SE * abs(lift)
                w.writerow([name, f"{x0:.2f}", f"{x1 - x0:.2f}",
                            f"{lift + sigma * rng.standard_normal():.2f}", f"{sigma:.2f}"])  # fmt: skip


LIFT_SE = 0.10  # a lift test's standard error, relative to the lift


def true_curves() -> ResponseCurves:
    p = np.array([v[:4] for v in CHANNELS.values()])
    return ResponseCurves(p[:, 3], p[:, 1], p[:, 2])


def bench_history(
    seeds: int, bootstrap: int, tests: int = 0, decision: str = "resampled"
) -> dict[str, object]:
    names = list(CHANNELS)
    curves = true_curves()
    errs: dict[str, list[float]] = {n: [] for n in names}
    widths: dict[str, list[float]] = {n: [] for n in names}
    shares, covered, times = [], 0, []
    weeks = 13.0
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            roi, current = history(tmp, seed, tests)
            cur = np.array([current[n] for n in names])
            budget = float(cur.sum() * weeks)
            goal = BusinessGoal(
                objective="grow_revenue",
                kpi="revenue",
                budget=Money(amount=budget),
                horizon=Horizon(start=dt.date(2026, 1, 5), end=dt.date(2026, 4, 5)),
            )
            agent = BudgetAllocationAgent()
            pctx = PlanContext(
                step="budget",
                goal=goal,
                params={"bootstrap": bootstrap, "decision": decision},
                spec_type=BudgetSpec,
            )
            spec = agent.plan(pctx)
            files = {"spend": "spend.csv", "outcomes": "outcomes.csv"}
            if tests:
                files["lift_tests"] = "lifts.csv"
            cat = DataCatalog({k: DataSource(path=tmp / f) for k, f in files.items()})
            ctx = RunContext(
                run_id="b", step="budget", agent=agent.name, goal=goal, out_dir=tmp / "out"
            )
            t = time.perf_counter()
            out = agent.run(spec, Inputs(upstream={}, catalog=cat), ctx)
            times.append(time.perf_counter() - t)
            cat.close()
            for c in out.channels:
                errs[c.channel].append(abs(c.history_roi.value / roi[c.channel] - 1))
                covered += c.history_roi.low <= roi[c.channel] <= c.history_roi.high
                widths[c.channel].append((c.history_roi.high - c.history_roi.low) / roi[c.channel])
            w = spec.horizon_weeks
            weekly_total = budget / w
            opt = maximise(curves, weekly_total)
            cur_mix = cur / cur.sum() * weekly_total
            plan_x = np.array([out.allocation.amounts[n] / w for n in names])
            v_opt = float(curves.value(opt.x).sum())
            v_cur = float(curves.value(cur_mix).sum())
            v_plan = float(curves.value(plan_x).sum())
            shares.append((v_plan - v_cur) / (v_opt - v_cur))
    return {
        "seeds": seeds,
        "roi_err_mean": {n: statistics.fmean(v) for n, v in errs.items()},
        "roi_err_max": {n: max(v) for n, v in errs.items()},
        "within_15pct": sum(e <= 0.15 for v in errs.values() for e in v)
        / sum(len(v) for v in errs.values()),
        "roi_interval_coverage": covered / sum(len(v) for v in errs.values()),
        "roi_interval_width": {n: statistics.median(v) for n, v in widths.items()},
        "uplift_share_mean": statistics.fmean(shares),
        "uplift_share_min": min(shares),
        "run_seconds_median": statistics.median(times),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer problems and seeds")
    ap.add_argument("--history-only", action="store_true", help="skip the optimiser timings")
    args = ap.parse_args()
    problems = 10 if args.quick else 30
    if not args.history_only:
        for size in (10, 50):
            report_optimiser(size, problems)
    for tests in (0, 1, 2):
        for decision in ("point", "resampled"):
            report_history(args.quick, tests, decision)


def report_optimiser(size: int, problems: int) -> None:
    r = bench_optimiser(size, problems if size == 10 else problems // 2, seed=size)
    print(
        f"optimiser n={size}: problems={r['problems']} certified={r['certified']:.0%} "
        f"regret max={r['regret_max']:.2e} mean={r['regret_mean']:.2e} | "
        f"ours median {r['ours_ms_median']:.2f} ms (p90 {r['ours_ms_p90']:.2f}) vs one SLSQP "
        f"{r['slsqp_ms_median']:.2f} ms: {r['speedup_median']:.1f}x | "
        f">= best of 20 SLSQP: {r['beats_best_of_20']:.0%}"
    )


def report_history(quick: bool, tests: int, decision: str) -> None:
    h = bench_history(
        3 if quick else 10, bootstrap=20 if quick else 40, tests=tests, decision=decision
    )
    what = ("history only", "+ one go-dark lift test per channel", "+ two lift tests per channel")
    print(
        f"history ({what[tests]}, decision {decision}): {h['seeds']} seeds, "
        f"run median {h['run_seconds_median']:.2f} s"
    )
    mean_err, max_err, width = h["roi_err_mean"], h["roi_err_max"], h["roi_interval_width"]
    assert isinstance(mean_err, dict) and isinstance(max_err, dict) and isinstance(width, dict)
    for name in CHANNELS:
        print(
            f"  ROI error {name:12s} mean {mean_err[name]:6.1%} max {max_err[name]:6.1%} | "
            f"90% interval width {width[name]:6.1%} of the true ROI"
        )
    print(
        f"  channel-seeds within 15%: {h['within_15pct']:.0%}; "
        f"ROI interval coverage: {h['roi_interval_coverage']:.0%}"
    )
    print(
        f"  share of true optimal uplift: mean {h['uplift_share_mean']:.1%}, "
        f"min {h['uplift_share_min']:.1%}"
    )


if __name__ == "__main__":
    main()
