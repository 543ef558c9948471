"""Out-of-sample validation of the budget agent: media without effect keeps the current mix
(and says why first), strong media moves money with sane scores, ``cv_folds: 0`` turns the
check off, and the scores match hand-computed values."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_budget import FIRST, TRUE, goal, plan, run, simulate, write

from agents.budget import ForecastScores, History, validate
from agents.budget._bounds import nearest_within
from agents.budget._validate import CRPS_GAIN, beats, crps_gaussian, fold_windows, scores
from conductor import Constraint

FAST = {"bootstrap": 4}
WEEKS = 104


def no_media(seed: int) -> tuple[list[dt.date], np.ndarray, np.ndarray]:
    """Spend as in test_budget's world, but a KPI that ignores it (trend, season, noise)."""
    spend, _ = simulate(WEEKS, seed)
    weeks = [FIRST + dt.timedelta(weeks=i) for i in range(WEEKS)]
    doy = np.array([w.timetuple().tm_yday for w in weeks])
    t = np.arange(WEEKS)
    base = 150000 * (1 + 0.05 * t / 52) * (1 + 0.1 * np.cos(2 * np.pi * doy / 365.25))
    return weeks, spend, base + np.random.default_rng(seed + 100).normal(0, 3000, WEEKS)


def write_no_media(tmp: Path, seed: int = 0) -> dict[str, Path]:
    weeks, spend, y = no_media(seed)
    paths = {"spend": tmp / "spend.csv", "outcomes": tmp / "outcomes.csv"}
    with paths["spend"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "channel", "spend"])
        for i, d in enumerate(weeks):
            w.writerows([d.isoformat(), n, f"{spend[i, j]:.2f}"] for j, n in enumerate(TRUE))
    with paths["outcomes"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "revenue"])
        w.writerows([d.isoformat(), f"{y[i]:.2f}"] for i, d in enumerate(weeks))
    return paths


def test_media_without_effect_keeps_the_current_mix_and_says_why_first(tmp_path: Path) -> None:
    out = run(tmp_path, plan(goal(), FAST), write_no_media(tmp_path))
    v = out.validation
    assert v is not None and not v.beats_baseline and v.folds == 3 and v.test_weeks == 8
    assert out.decision == "current_mix"
    assert (out.uplift.value, out.uplift.low, out.uplift.high) == (0.0, 0.0, 0.0)
    for c in out.channels:  # the current mix at the same budget, untouched by any bound
        assert c.amount == pytest.approx(c.previous, rel=1e-9)
    assert sum(c.amount for c in out.channels) == pytest.approx(130000)
    caveat = out.caveats[0]
    assert caveat.startswith("the plan keeps the current mix: out of sample (3 rolling test")
    assert "no better than a baseline without media" in caveat and "no gain is claimed" in caveat
    assert out.warnings[0] == caveat
    summary = out.summary()
    assert summary.startswith(f"⚠ {caveat}\n")
    assert "kept in the current mix" in summary and "+0 [0, 0] vs the current mix" in summary
    assert "the media model does not beat the baseline" in summary
    assert out.insights[0].id == "budget/uplift"
    assert out.insights[0].statement.startswith("The plan keeps the current mix")
    assert out.allocation.amounts == {c.channel: round(c.previous, 2) for c in out.channels}


def test_the_kept_mix_moves_only_as_far_as_a_constraint_demands(tmp_path: Path) -> None:
    paths = write_no_media(tmp_path)
    free = run(tmp_path / "a", plan(goal(), FAST), paths)
    share = {c.channel: c.amount / 130000 for c in free.channels}
    top = max(share, key=lambda c: share[c])
    cap = share[top] - 0.05
    g = goal(constraints=[Constraint(kind="max_channel_share", channel=top, value=cap)])
    out = run(tmp_path / "b", plan(g, FAST), paths)
    assert out.decision == "current_mix"
    got = {c.channel: c.amount for c in out.channels}
    assert got[top] == pytest.approx(cap * 130000, rel=1e-6)
    assert sum(got.values()) == pytest.approx(130000)
    others = [c for c in out.channels if c.channel != top]
    extra = [got[c.channel] - c.previous for c in others]  # shared evenly: the nearest split
    assert extra[0] == pytest.approx(extra[1], rel=1e-6) and extra[0] > 0
    assert (out.uplift.value, out.uplift.low, out.uplift.high) == (0.0, 0.0, 0.0)


def test_strong_media_moves_money_with_sane_scores(tmp_path: Path) -> None:
    out = run(tmp_path, plan(goal(), FAST), write(tmp_path, weeks=WEEKS))
    v = out.validation
    assert v is not None and v.beats_baseline and out.decision == "resampled"
    assert v.crps_gain > 0.3 and v.media.sse < v.baseline.sse
    assert 0.5 < v.media.r2 <= 1 and v.media.r2 > v.baseline.r2
    assert 0 < v.media.mape < 0.05 and 0 < v.media.nrmse < 0.05 and v.media.crps > 0
    assert v.first_test_week == FIRST + dt.timedelta(weeks=80)
    assert max(abs(c.change) for c in out.channels) > 0.05 * 130000
    assert not any(c.startswith("the plan keeps the current mix") for c in out.warnings)
    summary = out.summary()
    assert "\nout of sample, 3 x 8 weeks" in summary and "the media model beats" in summary
    assert "media model" in summary and "baseline, no media" in summary


def test_cv_folds_0_turns_the_check_off(tmp_path: Path) -> None:
    out = run(tmp_path, plan(goal(), {**FAST, "cv_folds": 0}), write_no_media(tmp_path))
    assert out.validation is None and out.decision == "resampled"
    assert "out of sample" not in out.summary()
    assert not any("keeps the current mix" in w for w in out.warnings)


def test_a_history_too_short_for_a_fold_is_noted(tmp_path: Path) -> None:
    out = run(tmp_path, plan(goal(), FAST), write(tmp_path, weeks=16))
    assert out.validation is None
    assert any("too few for the out-of-sample check" in w for w in out.warnings)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rule_across_seeds(seed: int) -> None:
    weeks, spend, y = no_media(seed)
    none = validate(History(weeks, list(TRUE), spend, y))
    strong_spend, strong_y = simulate(WEEKS, seed)
    strong = validate(History(weeks, list(TRUE), strong_spend, strong_y))
    assert none is not None and strong is not None
    assert not none.beats_baseline and strong.beats_baseline


# ------------------------------------------------------------------ the metrics by hand


def test_scores_match_hand_computed_values() -> None:
    obs, pred = np.array([10.0, 20.0, 30.0]), np.array([12.0, 18.0, 33.0])
    s = scores(obs, pred, np.zeros(3))
    assert s.sse == pytest.approx(17.0)  # 4 + 4 + 9
    assert s.r2 == pytest.approx(1 - 17 / 200)  # sum of squares around 20: 100 + 0 + 100
    assert s.mape == pytest.approx((0.2 + 0.1 + 0.1) / 3)
    assert s.nrmse == pytest.approx(math.sqrt(17 / 3) / 20)
    assert s.crps == pytest.approx(7 / 3)  # no spread: the mean absolute error


def test_gaussian_crps_matches_its_definition() -> None:
    # At the mean: sd (2 phi(0) - 1/sqrt(pi)) = sd (sqrt(2) - 1) / sqrt(pi).
    assert crps_gaussian(np.array([5.0]), np.array([5.0]), 2.0)[0] == pytest.approx(
        2 * (math.sqrt(2) - 1) / math.sqrt(math.pi)
    )
    # Anywhere: the integral of (F(x) - 1{x >= y})² over x, by the trapezoid rule.
    from scipy.stats import norm

    mu, sd, y = 1.0, 1.5, 3.2
    x = np.linspace(mu - 12 * sd, mu + 12 * sd, 200_001)
    integral = np.trapezoid((norm.cdf(x, mu, sd) - (x >= y)) ** 2, x)
    got = crps_gaussian(np.array([y]), np.array([mu]), sd)[0]
    assert got == pytest.approx(integral, rel=1e-4)


def _scores(crps: float, sse: float) -> ForecastScores:
    return ForecastScores(r2=0.0, mape=0.0, nrmse=0.0, crps=crps, sse=sse)


def test_the_rule_needs_5_percent_lower_crps_and_lower_sse() -> None:
    base = _scores(100.0, 1000.0)
    assert CRPS_GAIN == 0.05
    assert beats(_scores(95.0, 999.0), base)
    assert not beats(_scores(95.1, 999.0), base)  # 4.9% lower
    assert not beats(_scores(80.0, 1000.0), base)  # squared error not lower


def test_fold_windows_are_the_last_blocks() -> None:
    assert fold_windows(104, 3) == [(80, 88), (88, 96), (96, 104)]
    assert fold_windows(52, 3) == [(40, 44), (44, 48), (48, 52)]
    assert fold_windows(20, 3) == [(16, 20)]  # the others would train on less than half
    assert fold_windows(16, 3) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1e5), min_size=2, max_size=6),
    st.lists(st.floats(0, 1), min_size=6, max_size=6),
    st.lists(st.floats(0, 1), min_size=6, max_size=6),
)
def test_the_nearest_split_keeps_the_total_within_the_bounds(
    target: list[float], a: list[float], b: list[float]
) -> None:
    t = np.array(target)
    n, total = len(t), float(np.sum(target))
    lo = np.minimum(a[:n], b[:n]) * total / n
    hi = np.maximum(a[:n], b[:n]) * total * 2
    if not (lo.sum() <= total <= hi.sum()):
        return
    x = nearest_within(t, lo, hi)
    assert np.all(x >= lo - 1e-6) and np.all(x <= hi + 1e-6)
    assert float(x.sum()) == pytest.approx(total, rel=1e-6, abs=1e-6)
