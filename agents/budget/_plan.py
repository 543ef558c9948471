"""The budget plan as the agent reports it, from the optimiser's split and the fit.

:func:`build_plan` turns the split into the typed :class:`BudgetPlan`: per-channel
amounts against the current mix and the bounds (with their reasons), ROI, marginal ROI
and curve parameters with bootstrap intervals, the expected KPI and uplift, the fit's
diagnostics, the ``Allocation`` artifact for the brand's budget rules, and insights.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from agents.budget._bounds import Bounds
from agents.budget._curves import FloatArray, ResponseCurves
from agents.budget._model import Fit, Params, contributions_of
from agents.budget._schema import (
    BudgetPlan,
    BudgetSpec,
    ChannelPlan,
    CurveParams,
    Estimate,
    FitDiagnostics,
    LiftCheck,
    Validation,
)
from conductor import Allocation, Insight


@dataclass(frozen=True)
class Solved:
    """The optimiser's split and what the plan is measured against (horizon amounts).

    Attributes:
        names: The planned channels.
        model_idx: Each planned channel's column in the fit (-1: no history, excluded).
        curves: The planned channels' response curves (weekly).
        x: The split.
        previous: The current mix applied to the budget.
        cur_weekly: The mix the uplift is measured against, weekly: each channel's recent
            spend (with ``decision`` 'current_mix', the plan itself).
        bounds: Per-channel bounds and their reasons.
        price: The marginal return at the optimum.
        certified: Whether the split is proven global.
        total: The budget the split may spend.
        baseline: The baseline KPI over the horizon.
        other_media: The KPI from channels outside the plan, at their current spend.
        horizon: The weeks the plan covers.
        frac: Share of those weeks' baseline that falls in the horizon.
        target: The KPI target, if any.
        decision: How the split was chosen ('point', 'resampled' or 'current_mix').
    """

    names: list[str]
    model_idx: npt.NDArray[np.intp]
    curves: ResponseCurves
    x: FloatArray
    previous: FloatArray
    cur_weekly: FloatArray
    bounds: Bounds
    price: float
    certified: bool
    total: float
    baseline: float
    other_media: float
    horizon: list[dt.date]
    frac: float
    target: float | None
    decision: str = "point"


def planned_curves(fit: Fit, model_idx: npt.NDArray[np.intp], p: Params) -> ResponseCurves:
    """One parameter set's curves for the planned channels, in plan order.

    A planned channel without history (an excluded one, ``model_idx`` -1) gets a
    placeholder curve with no effect (it is pinned at zero, so the curve never matters).
    """
    c = fit.curves(p).subset(np.maximum(model_idx, 0))
    has = model_idx >= 0
    return ResponseCurves(
        np.where(has, c.beta, 0.0), np.where(has, c.k, 1.0), np.where(has, c.shape, 1.0), c.logistic
    )


def build_plan(
    spec: BudgetSpec,
    fit: Fit,
    s: Solved,
    warnings: list[str],
    lift_checks: list[LiftCheck],
    out_dir: Path,
    caveats: Sequence[str] = (),
    validation: Validation | None = None,
) -> BudgetPlan:
    """The typed plan: per-channel amounts, ROI and curves with bootstrap intervals, the
    expected KPI and uplift, diagnostics, the ``Allocation`` artifact and insights.

    Args:
        spec: The step's spec.
        fit: The fitted response model.
        s: The optimiser's split and what it is measured against.
        warnings: The run's warnings so far (this adds to them).
        lift_checks: How the fit reads each lift test.
        out_dir: Where the fit table is written.
        caveats: Warnings that put the whole plan in doubt: they open ``warnings``.
        validation: The out-of-sample scores (None: the check was off or impossible).
    """
    w = spec.horizon_weeks
    est = _Interval((1 - spec.interval) / 2 * 100, (1 + spec.interval) / 2 * 100)
    k = _media_kpis(fit, s, w)
    expected = est(
        s.baseline + s.other_media + k.media,
        [b + s.other_media + m for b, m in zip(k.draw_base, k.draw_media, strict=True)],
    )
    channels = _channel_plans(spec, fit, s, k, est)
    if not s.certified:
        warnings.append(
            "S-shaped curves leave a gap in the marginal-price search; the split was found "
            "by searching which channels to fund (checked, but not proven global)"
        )
    period = spec.period or f"{s.horizon[0]} + {w:.3g} weeks"
    uplift = est(
        k.media - k.current, [m - cc for m, cc in zip(k.draw_media, k.draw_current, strict=True)]
    )
    gains = [m - cc for m, cc in zip(k.draw_media, k.draw_current, strict=True)]
    chance = float(np.mean([g > 0 for g in gains])) if gains else None
    if s.decision == "current_mix":  # the plan is its own reference: exactly no gain
        uplift = Estimate(value=0.0, low=0.0, high=0.0)
        chance = None
    insights = _insights(spec, channels, uplift, k.current, s.price, s.target, expected, chance)
    if s.decision == "current_mix":
        insights[0] = _kept_mix_insight(spec, validation)
    files = _write_files(fit, out_dir, warnings)
    target = s.target
    return BudgetPlan(
        kpi=spec.kpi,
        currency=spec.currency,
        budget=spec.budget,
        spend=k.spend,
        horizon_weeks=w,
        period=period,
        mode=spec.mode,
        channels=channels,
        expected_kpi=expected,
        media_kpi=est(k.media, k.draw_media),
        current_media_kpi=est(k.current, k.draw_current),
        uplift=uplift,
        uplift_probability=chance,
        marginal_price=float(s.price),
        certified=s.certified,
        decision=s.decision,
        validation=validation,
        target=target,
        target_met=None if target is None else expected.value >= target - 1e-6 * abs(target),
        diagnostics=_diagnostics(fit, lift_checks),
        allocation=_allocation(spec, channels, period),
        insights=insights,
        files=files,
        warnings=list(dict.fromkeys([*caveats, *warnings])),
        caveats=list(caveats),
    )


@dataclass(frozen=True)
class _Interval:
    """A point estimate with the bootstrap draws' percentile interval around it."""

    q_low: float
    q_high: float

    def __call__(self, point: float, samples: list[float]) -> Estimate:
        if not samples:
            return Estimate(value=point, low=point, high=point)
        lo_, hi_ = np.percentile(samples, (self.q_low, self.q_high))
        return Estimate(value=point, low=float(min(lo_, point)), high=float(max(hi_, point)))


@dataclass(frozen=True)
class _MediaKpis:
    """The plan's and the current mix's media KPI over the horizon, at the fit and per draw.

    Attributes:
        spend: What the split spends.
        per_channel: Each planned channel's KPI under the split.
        media: Their sum.
        current: The media KPI of the current mix at the same spend.
        draw_channel: ``per_channel`` under each bootstrap draw.
        draw_media: ``media`` under each draw.
        draw_current: ``current`` under each draw.
        draw_base: The horizon's baseline under each draw.
        hist_contrib: Each draw's total historical contribution per fitted channel.
    """

    spend: float
    per_channel: FloatArray
    media: float
    current: float
    draw_channel: list[FloatArray]
    draw_media: list[float]
    draw_current: list[float]
    draw_base: list[float]
    hist_contrib: list[FloatArray]


def _media_kpis(fit: Fit, s: Solved, w: float) -> _MediaKpis:
    x, cur_weekly = s.x, s.cur_weekly
    spend = float(x.sum())
    prev_x = cur_weekly / max(float(cur_weekly.sum()), 1e-300) * spend * (cur_weekly.sum() > 0)
    per_draw = [planned_curves(fit, s.model_idx, p) for p in fit.draws]
    ch_kpi = s.curves.value(x / w) * w
    draw_ch = [c.value(x / w) * w for c in per_draw]
    return _MediaKpis(
        spend=spend,
        per_channel=ch_kpi,
        media=float(ch_kpi.sum()),
        current=float(s.curves.value(prev_x / w).sum()) * w,
        draw_channel=draw_ch,
        draw_media=[float(v.sum()) for v in draw_ch],
        draw_current=[float(c.value(prev_x / w).sum()) * w for c in per_draw],
        draw_base=[float(fit.base_at(s.horizon, p).sum()) * s.frac for p in fit.draws],
        hist_contrib=[contributions_of(fit, p).sum(axis=0) for p in fit.draws],
    )


def _channel_plans(
    spec: BudgetSpec, fit: Fit, s: Solved, k: _MediaKpis, est: _Interval
) -> list[ChannelPlan]:
    """Each planned channel's amount against the current mix and its bounds, its returns
    and its curve, with intervals from the bootstrap draws."""
    curves, x, w = s.curves, s.x, spec.horizon_weeks
    marg = curves.marginal(x / w)
    sat = curves.saturation_point(0.8)
    infl = curves.inflection()
    channels: list[ChannelPlan] = []
    for j, c in enumerate(s.names):
        i = int(s.model_idx[j])
        hs = float(fit.history.spend[:, i].sum()) if i >= 0 else 0.0
        weekly = fit.history.spend[:, i] if i >= 0 and fit.history.spend.shape[0] else None
        hc = float(fit.contributions[:, i].sum()) if i >= 0 else 0.0
        p = fit.params

        def par(arr: str, pt: float, i: int = i) -> Estimate:
            return est(pt, [float(getattr(d, arr)[i]) for d in fit.draws] if i >= 0 else [])

        curve = CurveParams(
            kind=spec.saturation,
            decay=par("decay", float(p.decay[i]) if i >= 0 else 0.0),
            half_saturation=par("k", float(curves.k[j])),
            shape=None if fit.logistic else par("shape", float(curves.shape[j])),
            max_weekly_effect=par("beta", float(curves.beta[j])),
            saturation_weekly=float(sat[j]),
            inflection_weekly=float(infl[j]),
        )
        prev = float(s.previous[j])
        channels.append(
            ChannelPlan(
                channel=c,
                amount=float(x[j]),
                weekly=float(x[j] / w),
                share=float(x[j] / k.spend) if k.spend > 0 else 0.0,
                previous=prev,
                change=float(x[j] - prev),
                change_pct=float((x[j] - prev) / prev) if prev > 0 else None,
                min_amount=float(s.bounds.lo[j]),
                max_amount=float(min(s.bounds.hi[j], s.total)),
                bound_reasons=[*s.bounds.lo_why[j], *s.bounds.hi_why[j]],
                marginal_roi=float(marg[j]) if math.isfinite(float(marg[j])) else 0.0,
                roi=float(k.per_channel[j] / x[j]) if x[j] > 0 else 0.0,
                expected_kpi=est(float(k.per_channel[j]), [float(v[j]) for v in k.draw_channel]),
                curve=curve,
                history_spend=hs,
                history_contribution=est(
                    hc, [float(v[i]) for v in k.hist_contrib] if i >= 0 else []
                ),
                history_roi=est(
                    hc / hs if hs > 0 else 0.0,
                    [float(v[i]) / hs for v in k.hist_contrib] if hs > 0 else [],
                ),
                history_weekly_min=float(weekly.min()) if weekly is not None else None,
                history_weekly_max=float(weekly.max()) if weekly is not None else None,
            )
        )
    return channels


def _allocation(spec: BudgetSpec, channels: list[ChannelPlan], period: str) -> Allocation:
    """The artifact the brand's budget rules review."""
    return Allocation(
        id="budget/allocation",
        amounts={c.channel: round(c.amount, 2) for c in channels},
        currency=spec.currency,
        previous={c.channel: round(c.previous, 2) for c in channels},
        period=period,
    )


def _write_files(fit: Fit, out_dir: Path, warnings: list[str]) -> dict[str, str]:
    """The plan's files; one that cannot be written is a warning, not a failure."""
    files: dict[str, str] = {}
    try:
        files["fit"] = str(write_fit(fit, out_dir))
    except OSError as exc:
        warnings.append(f"could not write the fit table: {exc}")
    return files


def _diagnostics(fit: Fit, lift_checks: list[LiftCheck]) -> FitDiagnostics:
    hist = fit.history
    return FitDiagnostics(
        weeks=len(hist.weeks),
        first_week=hist.weeks[0],
        last_week=hist.weeks[-1],
        r2=fit.r2,
        mape=fit.mape,
        holdout_weeks=fit.holdout_weeks,
        holdout_mape=fit.holdout_mape,
        holdout_r2=fit.holdout_r2,
        noise_sd=fit.noise_sd,
        bootstrap=len(fit.draws),
        seasonality=fit.order,
        lift_tests=lift_checks,
    )


def _kept_mix_insight(spec: BudgetSpec, v: Validation | None) -> Insight:
    """The headline when the media model lost to the baseline out of sample."""
    ev: dict[str, float] = {"uplift": 0.0, "uplift_low": 0.0, "uplift_high": 0.0}
    if v is not None:
        ev |= {
            "crps_media": round(v.media.crps, 2),
            "crps_baseline": round(v.baseline.crps, 2),
            "crps_gain": round(v.crps_gain, 4),
        }
    return Insight(
        id="budget/uplift",
        statement=(
            f"The plan keeps the current mix over {spec.horizon_weeks:.3g} weeks and claims "
            f"no gain in {spec.kpi}: out of sample the response model forecasts no better "
            "than a baseline without media."
        ),
        evidence=ev,
    )


def _insights(
    spec: BudgetSpec,
    channels: list[ChannelPlan],
    uplift: Estimate,
    cur_pt: float,
    price: float,
    target: float | None,
    expected: Estimate,
    chance: float | None = None,
) -> list[Insight]:
    cur, kpi = spec.currency, spec.kpi
    out: list[Insight] = []
    pct = uplift.value / cur_pt if cur_pt > 0 else 0.0
    odds = f"; it beats the current mix in {chance:.0%} of the refits" if chance is not None else ""
    band = f"{spec.interval:.0%} interval {uplift.low:,.0f} to {uplift.high:,.0f}"
    if uplift.low > 0 or uplift.value <= 0:
        verb = "adds" if uplift.value >= 0 else "changes"
        statement = (
            f"The recommended split {verb} {uplift.value:,.0f} {kpi} ({pct:+.1%}) over "
            f"{spec.horizon_weeks:.3g} weeks vs the current mix at the same spend "
            f"({band}{odds})."
        )
    else:  # an interval that reaches zero: no gain is claimed
        statement = (
            f"The recommended split is expected to change {kpi} by {uplift.value:+,.0f} "
            f"({pct:+.1%}) over {spec.horizon_weeks:.3g} weeks vs the current mix at the "
            f"same spend, but its {band} includes zero: not a demonstrated gain{odds}."
        )
    evidence = {
        "uplift": round(uplift.value, 2),
        "uplift_low": round(uplift.low, 2),
        "uplift_high": round(uplift.high, 2),
        "uplift_pct": round(pct, 4),
    }
    if chance is not None:
        evidence["uplift_probability"] = round(chance, 4)
    out.append(Insight(id="budget/uplift", statement=statement, evidence=evidence))
    for c in channels:
        if c.history_spend <= 0:
            continue
        s80 = c.curve.saturation_weekly
        cur_weekly = c.previous / spec.horizon_weeks
        where = "above" if c.weekly > s80 else "below"
        out.append(
            Insight(
                id=f"budget/saturation/{c.channel}",
                statement=(
                    f"{c.channel} is saturated above {s80:,.0f} {cur}/week (80% of its "
                    f"maximum effect); the plan's {c.weekly:,.0f} {cur}/week is {where} "
                    f"that, with a marginal return of {c.marginal_roi:.2f} {kpi} per {cur}."
                ),
                evidence={
                    "saturation_weekly": round(s80, 2),
                    "recommended_weekly": round(c.weekly, 2),
                    "current_weekly": round(cur_weekly, 2),
                    "marginal_roi": round(c.marginal_roi, 4),
                    "history_roi": round(c.history_roi.value, 4),
                },
            )
        )
    if target is not None:
        met = expected.value >= target
        out.append(
            Insight(
                id="budget/target",
                statement=(
                    f"Expected {kpi} over the horizon is {expected.value:,.0f} "
                    f"({expected.low:,.0f} to {expected.high:,.0f}): the target of "
                    f"{target:,.0f} is {'reached' if met else 'not reached'}."
                ),
                evidence={"target": round(target, 2), "expected": round(expected.value, 2)},
            )
        )
    return out


def write_fit(fit: Fit, out_dir: Path) -> Path:
    """Write the weekly fit (KPI, fitted, baseline, spend and contribution per channel)."""
    hist = fit.history
    cols: dict[str, Any] = {
        "week": pa.array(hist.weeks, pa.date32()),
        "kpi": pa.array(hist.kpi),
        "fitted": pa.array(fit.fitted),
        "baseline": pa.array(fit.baseline),
    }
    for i, c in enumerate(hist.channels):
        cols[f"spend_{c}"] = pa.array(hist.spend[:, i])
        cols[f"contribution_{c}"] = pa.array(fit.contributions[:, i])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "budget_fit.parquet"
    pq.write_table(pa.table(cols), path)
    return path
