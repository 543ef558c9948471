"""Out-of-sample validation: does the media model forecast better than no media at all?

Rolling-origin time-series cross-validation. The last ``folds`` blocks of the history
are successive test windows (104 weeks, 3 folds: weeks 81-88, 89-96 and 97-104); for
each, the response model is refitted on every week before the window (the MAP fit,
without bootstrap refits: one fit per fold keeps the cost to a fraction of a second)
and forecasts the window from the spend actually seen in it. A baseline-only model
(the same intercept, trend and seasonality, no media: a ridge fit with the media
model's priors on trend and season) is refitted and scored on the same windows.

Scores, pooled over the windows' weeks:

- R² ``1 - SSE / sum((y - mean(y))**2)`` around the test weeks' own mean;
- MAPE, the mean absolute percentage error;
- NRMSE, the root mean squared error over the test weeks' mean KPI;
- CRPS, the continuous ranked probability score of a Gaussian predictive distribution
  (the fold's forecast, with the standard deviation of the fold fit's residuals) — the
  mean absolute error of a forecast that states its spread, in KPI units; lower is
  better. Both models' predictives leave out parameter uncertainty alike.

The media model beats the baseline when its CRPS is at least :data:`CRPS_GAIN` (5%)
lower and its squared error is lower too; otherwise its curves explain nothing the
calendar does not, and the plan keeps the current mix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from agents.budget._curves import FloatArray
from agents.budget._model import (
    _PRIOR_SEASON_SD,
    _PRIOR_TREND_SD,
    _STARTS,
    History,
    LiftTest,
    _base_design,
    _Problem,
    _scaled,
)
from agents.budget._schema import ForecastScores, Validation

__all__ = ["CRPS_GAIN", "beats", "crps_gaussian", "fold_windows", "scores", "validate"]

CRPS_GAIN = 0.05  # the media model's CRPS must be this much lower than the baseline's
_MIN_TRAIN = 13  # weeks a fold fits on, at the least (and half the history)


def beats(media: ForecastScores, baseline: ForecastScores) -> bool:
    """The rule: CRPS at least ``CRPS_GAIN`` lower than the baseline's and a lower SSE."""
    return _gain(media, baseline) >= CRPS_GAIN and media.sse < baseline.sse


def _gain(media: ForecastScores, baseline: ForecastScores) -> float:
    return 1.0 - media.crps / baseline.crps if baseline.crps > 0 else 0.0


def fold_windows(n_weeks: int, folds: int) -> list[tuple[int, int]]:
    """The test windows ``(start, end)`` as week indices, earliest first.

    Each window is ``n_weeks // 12`` weeks (4 to 13); folds whose training part would be
    shorter than half the history (or 13 weeks) are dropped.
    """
    h = max(4, min(13, n_weeks // 12))
    need = max(_MIN_TRAIN, n_weeks // 2)
    out = [(n_weeks - (folds - i) * h, n_weeks - (folds - i - 1) * h) for i in range(folds)]
    return [(a, b) for a, b in out if a >= need]


def crps_gaussian(y: FloatArray, mu: FloatArray, sd: float | FloatArray) -> FloatArray:
    """CRPS of normal predictive distributions N(mu, sd²) at the observations ``y``.

    ``sd * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))`` with ``z = (y - mu) / sd``
    (Gneiting and Raftery 2007); with ``sd`` 0 it is the absolute error.
    """
    y, mu = np.asarray(y, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    sd_a = np.broadcast_to(np.asarray(sd, dtype=np.float64), y.shape)
    err = np.abs(y - mu)
    safe = np.where(sd_a > 0, sd_a, 1.0)
    z = (y - mu) / safe
    from scipy.special import ndtr

    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    crps = safe * (z * (2 * ndtr(z) - 1) + 2 * pdf - 1 / math.sqrt(math.pi))
    out: FloatArray = np.where(sd_a > 0, crps, err)
    return out


def scores(obs: FloatArray, pred: FloatArray, sd: FloatArray) -> ForecastScores:
    """R², MAPE, NRMSE, CRPS and SSE of forecasts ``pred`` (predictive sd ``sd``)."""
    resid = obs - pred
    sse = float(np.sum(resid**2))
    sst = float(np.sum((obs - obs.mean()) ** 2))
    ok = np.abs(obs) > 1e-12
    level = float(np.mean(np.abs(obs)))
    return ForecastScores(
        r2=1.0 - sse / sst if sst > 0 else 0.0,
        mape=float(np.mean(np.abs(resid[ok]) / np.abs(obs[ok]))) if ok.any() else 0.0,
        nrmse=math.sqrt(sse / len(obs)) / level if level > 0 else 0.0,
        crps=float(np.mean(crps_gaussian(obs, pred, sd))),
        sse=sse,
    )


def validate(
    history: History,
    *,
    folds: int = 3,
    logistic: bool = False,
    order: int = 2,
    lifts: Sequence[LiftTest] = (),
) -> Validation | None:
    """Score the media model and the baseline-only model on rolling-origin folds.

    Args:
        history: The weekly history the plan's model is fitted on.
        folds: Test windows (the last ``folds`` blocks of the history).
        logistic: The media model's saturation, as in the plan's fit.
        order: Yearly Fourier harmonics, as in the plan's fit.
        lifts: The lift tests the plan's fit uses (they calibrate each fold's fit too).

    Returns:
        The scores, or None when the history is too short for one fold.
    """
    windows = fold_windows(len(history.weeks), folds)
    if not windows:
        return None
    obs, m_pred, m_sd, b_pred, b_sd = [], [], [], [], []
    theta: FloatArray | None = None
    for cut, end in windows:
        train = History(
            history.weeks[:cut], history.channels, history.spend[:cut], history.kpi[:cut]
        )
        pred, sd, theta = _media_forecast(history, train, end, logistic, order, lifts, theta)
        bp, bsd = _baseline_forecast(history, cut, end, order)
        obs.append(history.kpi[cut:end])
        m_pred.append(pred)
        b_pred.append(bp)
        m_sd.append(np.full(end - cut, sd))
        b_sd.append(np.full(end - cut, bsd))
    y = np.concatenate(obs)
    media = scores(y, np.concatenate(m_pred), np.concatenate(m_sd))
    baseline = scores(y, np.concatenate(b_pred), np.concatenate(b_sd))
    return Validation(
        folds=len(windows),
        test_weeks=windows[0][1] - windows[0][0],
        first_test_week=history.weeks[windows[0][0]],
        media=media,
        baseline=baseline,
        crps_gain=_gain(media, baseline),
        beats_baseline=beats(media, baseline),
    )


def _media_forecast(
    history: History,
    train: History,
    end: int,
    logistic: bool,
    order: int,
    lifts: Sequence[LiftTest],
    warm: FloatArray | None,
) -> tuple[FloatArray, float, FloatArray]:
    """The MAP fit on ``train`` forecasting weeks ``len(train.weeks)..end``, its residual
    sd, and its parameters (the next, longer fold starts from them: it never saw the
    weeks this fold is tested on either)."""
    sc = _scaled(train, logistic, order, lifts)
    cut = len(train.weeks)
    lin = np.hstack([sc.xs, sc.bx])
    coef, *_ = np.linalg.lstsq(lin, sc.y, rcond=None)
    sigma = max(float(np.std(sc.y - lin @ coef)), 1e-3)
    prob = sc.problem(sc.y, sigma)
    candidates = [prob.linear_start(_STARTS[0])] + ([warm] if warm is not None and len(warm) == prob.n else [prob.linear_start(_STARTS[1])])  # fmt: skip
    best: tuple[float, FloatArray] | None = None
    for x0 in candidates:
        th, cost = prob.solve(x0, max_nfev=200)
        if best is None or cost < best[0]:
            best = (cost, th)
    assert best is not None
    theta = best[1]
    resid = sc.y - prob.predict(theta)
    sd = max(float(np.sqrt(np.sum(resid**2) / max(cut - prob.n / 2, 1))), 1e-4)
    bx = _base_design(history.weeks[:end], history.weeks[0], cut, order)
    full = _Problem(history.spend[:end] / sc.xm, np.zeros(end), bx, logistic, sd, order, sc.lift)
    return full.predict(theta)[cut:end] * sc.ym, sd * sc.ym, theta


def _baseline_forecast(
    history: History, cut: int, end: int, order: int
) -> tuple[FloatArray, float]:
    """Intercept, trend and seasonality alone (ridge with the media model's priors)."""
    bx = _base_design(history.weeks[:end], history.weeks[0], cut, order)
    y_raw = history.kpi[:cut]
    ym = float(np.mean(np.abs(y_raw))) or 1.0
    y = y_raw / ym
    x = bx[:cut]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    sigma = max(float(np.std(y - x @ coef)), 1e-3)
    prior = np.full(x.shape[1], _PRIOR_SEASON_SD)
    prior[0], prior[1] = np.inf, _PRIOR_TREND_SD
    a = x.T @ x / sigma**2 + np.diag(1.0 / prior**2)
    beta = np.linalg.solve(a, x.T @ y / sigma**2)
    resid = y - x @ beta
    sd = max(float(np.sqrt(np.sum(resid**2) / max(cut - x.shape[1], 1))), 1e-4)
    return bx[cut:end] @ beta * ym, sd * ym
