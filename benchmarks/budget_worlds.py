"""The budget agent on two simulated worlds with known truth (issue 18, items 2 and 5).

``base`` is the history of ``benchmarks/budget.py`` (5 channels, 104 weeks, yearly season,
steady trend), on which the agent's defaults were tuned. ``shifted`` is made differently
and held out: it was never used to tune anything.

shifted: 6 channels x 104 weeks; social and video spend move together (one shared
factor, correlation about 0.8), so do search and display (about 0.6); email's spend
barely varies (coefficient of variation about 0.03); radio is flighted (on for 4-8
weeks, then off for 4-8); every curve is S-shaped (Hill shape 1.4-3.0); the season is a
13-week cycle, not a yearly one; the trend breaks at week 62 (growth turns into decline);
and the file is the export shape that joins the KPI onto every channel's row of a long
table (``date, channel, spend, revenue``), with no ``outcomes`` source.

For each seed: the plan's share of the true optimal uplift over the current mix (true
curves, same spend, the unconstrained true optimum as in budget.py), whether the plan is
worse than the current mix in truth, and whether the stated 90% intervals hold the true
historical ROI of each channel, the true uplift and the true expected KPI over the
horizon (baseline + media, no noise). Run with and without the out-of-sample check
(``cv_folds: 3`` and ``cv_folds: 0``).

Run: ``.venv/bin/python benchmarks/budget_worlds.py --world shifted --seeds 20
[--out benchmarks/results/budget_worlds.md]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import budget as base_world  # benchmarks/budget.py: the tuned-on world, reused

from agents.budget import BudgetAllocationAgent, BudgetSpec, ResponseCurves, maximise
from conductor import (
    BusinessGoal,
    DataCatalog,
    DataSource,
    Inputs,
    Money,
    PlanContext,
    RunContext,
)

HORIZON = 13
WEEKS = 104
FIRST = dt.date(2024, 1, 1)
BREAK_WEEK = 62
SEASON_WEEKS = 13

SHIFTED = {
    # decay, half-saturation, shape, max weekly effect, mean weekly spend, log-sd
    "search": (0.10, 8000.0, 1.4, 70000.0, 8000.0, 0.30),
    "social": (0.40, 5000.0, 2.5, 40000.0, 5000.0, 0.40),
    "video": (0.60, 7000.0, 3.0, 45000.0, 6000.0, 0.40),
    "display": (0.30, 2500.0, 1.8, 12000.0, 3000.0, 0.40),
    "email": (0.20, 800.0, 1.5, 9000.0, 1000.0, 0.03),
    "radio": (0.50, 6000.0, 2.2, 30000.0, 5000.0, 0.20),
}
_PAIRS = {"video": ("social", 0.8), "display": ("search", 0.6)}  # follows, correlation


@dataclass
class World:
    """One seed's history on disk and its truth.

    Attributes:
        files: Source name -> file in the temporary directory.
        curves: The true steady-state weekly curves, in ``channels`` order.
        channels: The channels.
        roi: Each channel's true historical ROI (contribution / spend).
        current: Each channel's mean weekly spend over the last 13 weeks.
        baseline: The true KPI without media over the horizon's weeks (no noise).
    """

    files: dict[str, Path]
    curves: ResponseCurves
    channels: list[str]
    roi: dict[str, float]
    current: dict[str, float]
    baseline: float


def _adstock(x: np.ndarray, decay: float) -> np.ndarray:
    a, carry = np.empty(len(x)), x[0]
    for t in range(len(x)):
        carry = decay * carry + (1 - decay) * x[t]
        a[t] = carry
    return a


def _horizon(last: dt.date) -> list[dt.date]:
    return [last + dt.timedelta(weeks=i + 1) for i in range(HORIZON)]


def base(tmp: Path, seed: int) -> World:
    """benchmarks/budget.py's history, as it is."""
    roi, current = base_world.history(tmp, seed)
    last = base_world.FIRST + dt.timedelta(weeks=base_world.WEEKS - 1)
    return World(
        files={"spend": tmp / "spend.csv", "outcomes": tmp / "outcomes.csv"},
        curves=base_world.true_curves(),
        channels=list(base_world.CHANNELS),
        roi=roi,
        current=current,
        baseline=float(base_world.base_kpi(_horizon(last)).sum()),
    )


def shifted_base(t: np.ndarray) -> np.ndarray:
    """The shifted world's KPI without media at week index ``t`` (history and after)."""
    trend = np.where(t < BREAK_WEEK, 0.08 * t / 52, 0.08 * BREAK_WEEK / 52 - 0.10 * (t - BREAK_WEEK) / 52)  # fmt: skip
    season = 0.08 * np.sin(2 * np.pi * t / SEASON_WEEKS)
    return 200000 * (1 + trend) * (1 + season)


def _shifted_spend(rng: np.random.Generator, t: np.ndarray) -> dict[str, np.ndarray]:
    season = np.sin(2 * np.pi * t / SEASON_WEEKS)
    z = {n: rng.standard_normal(len(t)) for n in SHIFTED}
    for follower, (leader, rho) in _PAIRS.items():
        z[follower] = rho * z[leader] + np.sqrt(1 - rho * rho) * z[follower]
    spend = {}
    for name, (_, _, _, _, mean, sd) in SHIFTED.items():
        x = mean * np.exp(sd * z[name] - sd * sd / 2)
        if name in ("search", "social"):
            x = x * (1 + 0.10 * season)  # spend leans into the season a little
        spend[name] = x
    # Radio: flights of 4-8 weeks on (at twice its mean) and 4-8 weeks off.
    on, flights, week = rng.random() < 0.5, np.zeros(len(t)), 0
    while week < len(t):
        span = int(rng.integers(4, 9))
        flights[week : week + span] = on
        week, on = week + span, not on
    spend["radio"] = spend["radio"] * 2 * flights
    return spend


def shifted(tmp: Path, seed: int) -> World:
    """The held-out world (see the module docstring)."""
    rng = np.random.default_rng(50_000 + seed)
    t = np.arange(WEEKS, dtype=np.float64)
    dates = [FIRST + dt.timedelta(weeks=i) for i in range(WEEKS)]
    spend = _shifted_spend(rng, t)
    media = np.zeros(WEEKS)
    roi, current = {}, {}
    for name, (decay, k, s, beta, _, _) in SHIFTED.items():
        x = spend[name]
        a = _adstock(x, decay)
        contrib = beta * a**s / (a**s + k**s)
        media += contrib
        roi[name] = float(contrib.sum() / x.sum())
        current[name] = float(x[-13:].mean())
    y = shifted_base(t) + media + rng.normal(0, 5000, WEEKS)
    path = tmp / "spend.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "channel", "spend", "revenue"])
        for i, d in enumerate(dates):
            w.writerows([d.isoformat(), n, f"{spend[n][i]:.2f}", f"{y[i]:.2f}"] for n in SHIFTED)
    p = np.array([v[:4] for v in SHIFTED.values()])
    return World(
        files={"spend": path},
        curves=ResponseCurves(p[:, 3], p[:, 1], p[:, 2]),
        channels=list(SHIFTED),
        roi=roi,
        current=current,
        baseline=float(shifted_base(np.arange(WEEKS, WEEKS + HORIZON, dtype=np.float64)).sum()),
    )


WORLDS: dict[str, Callable[[Path, int], World]] = {"base": base, "shifted": shifted}


@dataclass
class SeedResult:
    """One seed's plan against the truth."""

    seed: int
    share: float
    decision: str
    claimed: tuple[float, float, float]
    true_uplift: float
    uplift_covered: bool
    kpi_covered: bool
    roi_covered: int
    roi_total: int
    seconds: float
    validation: str = ""
    roi_err: list[float] = field(default_factory=list)


def run_seed(
    world: str, seed: int, cv_folds: int | None, decision: str | None = None
) -> SeedResult:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        wd = WORLDS[world](tmp, seed)
        names = wd.channels
        cur = np.array([wd.current[n] for n in names])
        budget = float(cur.sum() * HORIZON)
        goal = BusinessGoal(objective="grow_revenue", kpi="revenue", budget=Money(amount=budget))
        agent = BudgetAllocationAgent()
        params: dict[str, object] = {"horizon_weeks": HORIZON}
        if cv_folds is not None:
            params["cv_folds"] = cv_folds
        if decision is not None:
            params["decision"] = decision
        spec = agent.plan(
            PlanContext(step="budget", goal=goal, params=params, spec_type=BudgetSpec)
        )
        cat = DataCatalog({k: DataSource(path=v) for k, v in wd.files.items()})
        ctx = RunContext(run_id="w", step="budget", agent=agent.name, goal=goal, out_dir=tmp / "o")
        t0 = time.perf_counter()
        try:
            out = agent.run(spec, Inputs(upstream={}, catalog=cat), ctx)
        finally:
            cat.close()
        seconds = time.perf_counter() - t0
    weekly = budget / HORIZON
    curves = wd.curves
    v_opt = float(curves.value(maximise(curves, weekly).x).sum())
    v_cur = float(curves.value(cur / cur.sum() * weekly).sum())
    plan_x = np.array([out.allocation.amounts[n] / HORIZON for n in names])
    v_plan = float(curves.value(plan_x).sum())
    true_uplift = (v_plan - v_cur) * HORIZON
    true_kpi = wd.baseline + v_plan * HORIZON
    tol = 1e-6 * max(1.0, abs(true_kpi))  # a plan equal to the current mix: 0 within rounding
    u = out.uplift
    roi_cov = sum(
        c.history_roi.low <= wd.roi[c.channel] <= c.history_roi.high for c in out.channels
    )
    val = getattr(out, "validation", None)
    return SeedResult(
        seed=seed,
        share=(v_plan - v_cur) / (v_opt - v_cur),
        decision=out.decision,
        claimed=(u.value, u.low, u.high),
        true_uplift=true_uplift,
        uplift_covered=u.low - tol <= true_uplift <= u.high + tol,
        kpi_covered=out.expected_kpi.low <= true_kpi <= out.expected_kpi.high,
        roi_covered=int(roi_cov),
        roi_total=len(out.channels),
        seconds=seconds,
        validation=_validation_text(val),
        roi_err=[abs(c.history_roi.value / wd.roi[c.channel] - 1) for c in out.channels],
    )


def _validation_text(val: object) -> str:
    if val is None:
        return "-"
    media, base_ = getattr(val, "media", None), getattr(val, "baseline", None)
    if media is None or base_ is None:
        return "-"
    return f"CRPS {media.crps:,.0f} vs {base_.crps:,.0f}, R² {media.r2:.2f} vs {base_.r2:.2f}"


WORSE_TOL = 0.001  # a share below -0.1% of the optimal uplift counts as worse than the mix


def summary(results: list[SeedResult]) -> dict[str, float]:
    shares = [r.share for r in results]
    return {
        "seeds": len(results),
        "share_mean": statistics.fmean(shares),
        "share_min": min(shares),
        "worse": sum(s < -WORSE_TOL for s in shares),
        "current_mix": sum(r.decision == "current_mix" for r in results),
        "roi_cov": sum(r.roi_covered for r in results) / sum(r.roi_total for r in results),
        "uplift_cov": statistics.fmean(r.uplift_covered for r in results),
        "kpi_cov": statistics.fmean(r.kpi_covered for r in results),
        "roi_err_median": statistics.median(e for r in results for e in r.roi_err),
        "seconds_median": statistics.median(r.seconds for r in results),
    }


def markdown(world: str, cv: int | None, results: list[SeedResult], decision: str | None) -> str:
    s = summary(results)
    label = "default (cv_folds 3)" if cv is None else f"cv_folds {cv}"
    label += f", decision {decision or 'resampled (default)'}"
    lines = [
        f"### {world}, {label}",
        "",
        f"share of the true optimal uplift: mean {s['share_mean']:.1%}, min "
        f"{s['share_min']:.1%}; worse than the current mix: {s['worse']}/{s['seeds']}; "
        f"kept the current mix: {s['current_mix']}/{s['seeds']}; 90% intervals holding the "
        f"truth: channel ROI {s['roi_cov']:.0%}, uplift {s['uplift_cov']:.0%}, expected KPI "
        f"{s['kpi_cov']:.0%}; median ROI error {s['roi_err_median']:.0%}; run median "
        f"{s['seconds_median']:.2f} s",
        "",
        "| seed | share | decision | claimed uplift [90%] | true uplift | uplift in | KPI in "
        "| ROI in | out of sample (media vs baseline) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        v, lo, hi = r.claimed
        lines.append(
            f"| {r.seed} | {r.share:.1%} | {r.decision} | {v:+,.0f} [{lo:+,.0f}, {hi:+,.0f}] "
            f"| {r.true_uplift:+,.0f} | {'yes' if r.uplift_covered else 'no'} "
            f"| {'yes' if r.kpi_covered else 'no'} | {r.roi_covered}/{r.roi_total} "
            f"| {r.validation} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", choices=[*WORLDS, "both"], default="both")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument(
        "--cv-folds",
        default="default,0",
        help="comma-separated cv_folds settings ('default' = the agent's default)",
    )
    ap.add_argument("--decision", help="the step's `decision:` (default: the agent's)")
    ap.add_argument("--out", type=Path, help="write the per-seed tables here (markdown)")
    args = ap.parse_args()
    worlds = list(WORLDS) if args.world == "both" else [args.world]
    settings = [None if c == "default" else int(c) for c in args.cv_folds.split(",")]
    parts = []
    for world in worlds:
        for cv in settings:
            results = [run_seed(world, seed, cv, args.decision) for seed in range(args.seeds)]
            s = summary(results)
            print(
                f"{world:8s} cv={'default' if cv is None else cv} decision="
                f"{args.decision or 'default'}: {s['seeds']} seeds, share "
                f"mean {s['share_mean']:.1%} min {s['share_min']:.1%}, worse {s['worse']}, "
                f"current_mix {s['current_mix']}, coverage ROI {s['roi_cov']:.0%} uplift "
                f"{s['uplift_cov']:.0%} KPI {s['kpi_cov']:.0%}, run median "
                f"{s['seconds_median']:.2f} s",
                flush=True,
            )
            parts.append(markdown(world, cv, results, args.decision))
    if args.out:
        args.out.write_text("\n".join(parts), encoding="utf-8")


if __name__ == "__main__":
    main()
