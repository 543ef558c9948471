"""Marketing mix: two years of weekly spend and outcomes, and the budget truth.

Each channel's weekly spend is log-normal with flighting (dark weeks, bursts); revenue is
a trending, seasonal baseline plus each channel's adstock + Hill response and noise.
Written as ``spend.csv`` and ``outcomes.csv``; the curves, ROIs and the true optimal
budget split come back as :class:`BudgetTruth`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np

from conductor.demo._data_common import FloatArray
from conductor.demo._models import BudgetTruth, ChannelCurve, PlanTruth

# The known model. Numbers are chosen to look like a mid-sized European e-tailer.

# Marketing mix: per channel (decay, half-saturation $/week, shape, max weekly revenue,
# mean weekly spend, log-sd of weekly spend, share of dark weeks). Social is S-shaped
# (shape 2.4) and sits near its inflection point; display is saturated; so the current mix
# is improvable. Dark weeks (paused campaigns) pin down each curve's level: without
# them a saturated channel's effect is indistinguishable from the baseline.
_MMM: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "paid_search": (0.15, 5500.0, 1.2, 62000.0, 7000.0, 0.30, 0.05),
    "social": (0.45, 6500.0, 2.4, 58000.0, 4600.0, 0.45, 0.12),
    "email": (0.30, 1200.0, 1.0, 12000.0, 1300.0, 0.45, 0.12),
    "display": (0.40, 2200.0, 1.0, 15000.0, 3600.0, 0.50, 0.18),
    "affiliate": (0.10, 3000.0, 1.6, 24000.0, 2700.0, 0.40, 0.10),
}
_HISTORY_WEEKS = 104
_CURRENT_WEEKS = 13  # "current mix" = the last quarter's spend shares
_BASELINE = 175_000.0  # weekly revenue with no paid media
_TREND = 0.06  # baseline growth per year
_SEASON_AMPLITUDE = 0.12
_SEASON_PEAK_DOY = 340  # early December
_NOISE_SD = 2_000.0
_REVENUE_PER_CONVERSION = 85.0


def _spend_outcomes(rng: np.random.Generator, out_dir: Path, today: dt.date) -> BudgetTruth:
    last_week = today - dt.timedelta(days=today.weekday() + 7)
    first_week = last_week - dt.timedelta(weeks=_HISTORY_WEEKS - 1)
    dates = [first_week + dt.timedelta(weeks=i) for i in range(_HISTORY_WEEKS)]
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    season = np.cos(2 * math.pi * (doy - _SEASON_PEAK_DOY) / 365.25)
    t_years = np.arange(_HISTORY_WEEKS) / 52.0
    spend: dict[str, FloatArray] = {}
    curves: dict[str, ChannelCurve] = {}
    media = np.zeros(_HISTORY_WEEKS)
    for name, (decay, k, shape, beta, mean, sd, dark) in _MMM.items():
        # Independent log-normal noise plus flighting (dark weeks, bursts) gives every
        # channel spend on both sides of its half-saturation point: identifiable curves.
        x = mean * (1 + 0.08 * season) * rng.lognormal(-sd * sd / 2, sd, _HISTORY_WEEKS)
        flight = rng.random(_HISTORY_WEEKS)
        x = np.where(flight < dark, 0.0, np.where(flight > 0.92, x * 1.7, x))
        x = np.round(x, 2)
        a = np.empty(_HISTORY_WEEKS)
        carry = x[0]
        for t in range(_HISTORY_WEEKS):
            carry = decay * carry + (1 - decay) * x[t]
            a[t] = carry
        contrib = beta * a**shape / (a**shape + k**shape)
        media += contrib
        spend[name] = x
        cur = float(x[-_CURRENT_WEEKS:].mean())
        curve = ChannelCurve(
            channel=name,
            decay=decay,
            half_saturation=k,
            shape=shape,
            max_weekly_effect=beta,
            mean_weekly_spend=float(x.mean()),
            current_weekly_spend=cur,
            contribution=float(contrib.sum()),
            roi=float(contrib.sum() / x.sum()),
            marginal_roi_current=0.0,
        )
        curves[name] = curve.model_copy(update={"marginal_roi_current": curve.marginal(cur)})
    base = _BASELINE * (1 + _TREND * t_years + _SEASON_AMPLITUDE * season)
    revenue = np.round(base + media + rng.normal(0.0, _NOISE_SD, _HISTORY_WEEKS), 2)
    conversions = np.round(
        revenue / _REVENUE_PER_CONVERSION * rng.lognormal(0.0, 0.02, _HISTORY_WEEKS)
    ).astype(np.int64)
    with (out_dir / "spend.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "channel", "spend"])
        for i, d in enumerate(dates):
            w.writerows([d.isoformat(), n, f"{spend[n][i]:.2f}"] for n in _MMM)
    with (out_dir / "outcomes.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "revenue", "conversions"])
        w.writerows(
            [d.isoformat(), f"{revenue[i]:.2f}", int(conversions[i])] for i, d in enumerate(dates)
        )
    cur_total = sum(c.current_weekly_spend for c in curves.values())
    mix = {n: c.current_weekly_spend / cur_total for n, c in curves.items()}
    draft = BudgetTruth(
        first_week=first_week,
        last_week=last_week,
        weeks=_HISTORY_WEEKS,
        curves=curves,
        baseline_weekly=_BASELINE,
        trend_per_year=_TREND,
        seasonality_amplitude=_SEASON_AMPLITUDE,
        seasonality_peak_day=_SEASON_PEAK_DOY,
        noise_sd=_NOISE_SD,
        revenue_per_conversion=_REVENUE_PER_CONVERSION,
        current_mix=mix,
        reference_plan=PlanTruth(
            budget=0.0,
            weeks=0.0,
            allocation={},
            revenue=0.0,
            current_allocation={},
            current_revenue=0.0,
            uplift=0.0,
            uplift_pct=0.0,
        ),
    )
    plan = draft.optimal_plan(cur_total * _CURRENT_WEEKS, float(_CURRENT_WEEKS))
    return draft.model_copy(update={"reference_plan": plan})
