"""Marketing-mix response model: adstock + saturation + baseline, trend and seasonality.

Weekly KPI ``y[t] = base[t] + sum_c beta_c * h_c(a_c[t])`` where ``a_c`` is the channel's
normalised geometric adstock (``a[t] = decay * a[t-1] + (1 - decay) * x[t]``, so a steady
weekly spend ``x`` has adstock ``x`` and the curve reads directly in weekly spend), ``h_c``
is a Hill curve (or logistic) with half-saturation ``k_c``, and ``base`` is an intercept,
a linear trend and a Fourier seasonality whose swing may change with the trend (given two
years of history). Parameters are fitted by maximum a posteriori
(regularised non-linear least squares, ``scipy.optimize.least_squares`` with bounds and an
analytic Jacobian) from several starts; uncertainty comes from a moving-block residual
bootstrap that refits the model on resampled histories.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from agents.budget._curves import C_LOGISTIC, ResponseCurves

# scipy is imported in the functions that use it: planning (`conductor validate`) imports
# this module, and scipy costs it ~0.4 s of start-up for nothing.

FloatArray = npt.NDArray[np.float64]

_YEAR_DAYS = 365.25
_GROWING_SEASON_WEEKS = 104  # history long enough to see the seasonal swing change
# Priors (MAP), in normalised units: spend / channel mean, KPI / KPI mean.
_PRIOR_DECAY = (0.3, 0.3)
_PRIOR_LOGK = (0.0, 1.0)
_PRIOR_SHAPE = (1.0, 1.0)
_PRIOR_BETA_SD = 2.0
_PRIOR_TREND_SD = 1.0
_PRIOR_SEASON_SD = 0.5
_BOUNDS_DECAY = (0.0, 0.9)
_BOUNDS_LOGK = (math.log(0.05), math.log(20.0))
_BOUNDS_SHAPE = (0.5, 4.0)
_BOUNDS_BETA = (0.0, 20.0)
_STARTS = ((0.2, 0.0, 1.0), (0.5, 0.5, 2.0), (0.1, -0.5, 1.5), (0.6, 1.0, 1.2))


@dataclass(frozen=True)
class History:
    """Weekly history the model is fitted on.

    Attributes:
        weeks: Monday of each week.
        channels: Channel names (columns of ``spend``).
        spend: Weekly spend, shape (weeks, channels), >= 0.
        kpi: Weekly KPI, shape (weeks,).
    """

    weeks: list[dt.date]
    channels: list[str]
    spend: FloatArray
    kpi: FloatArray


@dataclass(frozen=True)
class LiftTest:
    """A measured lift that calibrates one channel's curve (see ``_lift``), weekly units.

    Attributes:
        channel: Index of the channel in the history.
        spend: Weekly spend before the test (>= 0).
        delta_spend: Change in weekly spend during the test (spend + delta_spend >= 0).
        delta_kpi: Measured change in the weekly KPI.
        sigma: Standard error of ``delta_kpi`` (> 0).
        weeks: How long the test ran: ``delta_kpi`` is then the average weekly lift while
            the carry-over builds up (or fades); 0 reads it at steady state.
    """

    channel: int
    spend: float
    delta_spend: float
    delta_kpi: float
    sigma: float
    weeks: float = 0.0


@dataclass(frozen=True)
class Params:
    """One set of fitted parameters, in natural units.

    Attributes:
        decay: Adstock carry-over per channel (0..1).
        k: Half-saturation weekly spend per channel.
        shape: Hill exponent per channel (1 for logistic).
        beta: Maximum weekly effect per channel, in KPI units.
        base: Intercept, trend per year, Fourier coefficients and (two years of history
            or more) the Fourier coefficients' change per year, in KPI units.
    """

    decay: FloatArray
    k: FloatArray
    shape: FloatArray
    beta: FloatArray
    base: FloatArray


@dataclass(frozen=True)
class Fit:
    """A fitted model with its diagnostics and bootstrap draws."""

    history: History
    logistic: bool
    order: int
    params: Params
    draws: list[Params]
    fitted: FloatArray
    contributions: FloatArray  # (weeks, channels)
    baseline: FloatArray
    r2: float
    mape: float
    noise_sd: float
    holdout_weeks: int
    holdout_mape: float | None
    holdout_r2: float | None
    lift_fits: list[float] = field(default_factory=list)  # fitted weekly lift per test

    def curves(self, p: Params | None = None) -> ResponseCurves:
        """Steady-state weekly response curves of a parameter set (default: the estimate)."""
        p = p or self.params
        n = len(p.k)
        return ResponseCurves(
            beta=p.beta.copy(),
            k=p.k.copy(),
            shape=p.shape.copy(),
            logistic=np.full(n, self.logistic),
        )

    def base_at(self, weeks: list[dt.date], p: Params | None = None) -> FloatArray:
        """Baseline KPI (no media) in the given weeks, extrapolating trend and season."""
        p = p or self.params
        x = _base_design(weeks, self.history.weeks[0], len(self.history.weeks), self.order)
        out: FloatArray = x @ p.base
        return out


def _base_design(weeks: list[dt.date], first: dt.date, n_hist: int, order: int) -> FloatArray:
    t = np.array([(w - first).days / 7.0 for w in weeks])
    trend = (t - (n_hist - 1) / 2.0) / 52.0
    cols = [np.ones_like(t), trend]
    doy = np.array([w.timetuple().tm_yday for w in weeks], dtype=np.float64)
    growing = []
    for j in range(1, order + 1):
        ang = 2 * math.pi * j * doy / _YEAR_DAYS
        cols += [np.sin(ang), np.cos(ang)]
        growing += [trend * np.sin(ang), trend * np.cos(ang)]
    # With two seasons or more, the seasonal swing may grow (or shrink) with the trend, as
    # it does when seasonality is proportional to the business's size; without these terms
    # that drift is left for the media channels (whose spend follows the season) to absorb.
    if n_hist >= _GROWING_SEASON_WEEKS:
        cols += growing
    return np.column_stack(cols)


def _adstock(x: FloatArray, decay: float) -> FloatArray:
    # a[0] = x[0]: the history starts as if spend had been steady before it.
    from scipy.signal import lfilter

    out, _ = lfilter([1.0 - decay], [1.0, -decay], x, zi=[decay * x[0]])
    return np.asarray(out, dtype=np.float64)


def _adstock_grad(x: FloatArray, a: FloatArray, decay: float) -> FloatArray:
    prev = np.concatenate([[x[0]], a[:-1]])
    from scipy.signal import lfilter

    out, _ = lfilter([1.0], [1.0, -decay], prev - x, zi=[0.0])
    return np.asarray(out, dtype=np.float64)


class _Problem:
    """Residuals and Jacobian of the MAP objective in normalised units."""

    def __init__(
        self,
        xs: FloatArray,
        y: FloatArray,
        base_x: FloatArray,
        logistic: bool,
        sigma: float,
        order: int,
        lifts: FloatArray | None = None,
    ) -> None:
        self.xs = xs  # (T, C), spend / channel mean
        # Lift tests (m, 6): channel, spend before and during (/ channel mean), measured
        # weekly lift and its standard error (/ KPI mean), weeks the test ran (0: steady).
        self.lifts = np.zeros((0, 6)) if lifts is None else lifts
        self.y = y  # (T,), KPI / KPI mean
        self.bx = base_x  # (T, P)
        self.logistic = logistic
        self.sigma = sigma
        self.T, self.C = xs.shape
        self.P = base_x.shape[1]
        self.order = order
        self.n = 4 * self.C + self.P
        prior_mu = np.zeros(self.n)
        prior_sd = np.full(self.n, np.inf)
        for c in range(self.C):
            prior_mu[4 * c : 4 * c + 3] = (_PRIOR_DECAY[0], _PRIOR_LOGK[0], _PRIOR_SHAPE[0])
            prior_sd[4 * c : 4 * c + 4] = (
                _PRIOR_DECAY[1],
                _PRIOR_LOGK[1],
                _PRIOR_SHAPE[1] if not logistic else 0.01,
                _PRIOR_BETA_SD,
            )
        prior_sd[4 * self.C + 1] = _PRIOR_TREND_SD
        prior_sd[4 * self.C + 2 :] = _PRIOR_SEASON_SD
        self.mask = np.isfinite(prior_sd)
        self.prior_mu = prior_mu[self.mask]
        self.prior_w = 1.0 / prior_sd[self.mask]

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        lo = np.full(self.n, -np.inf)
        hi = np.full(self.n, np.inf)
        for c in range(self.C):
            lo[4 * c : 4 * c + 4] = (
                _BOUNDS_DECAY[0],
                _BOUNDS_LOGK[0],
                _BOUNDS_SHAPE[0],
                _BOUNDS_BETA[0],
            )
            hi[4 * c : 4 * c + 4] = (
                _BOUNDS_DECAY[1],
                _BOUNDS_LOGK[1],
                _BOUNDS_SHAPE[1],
                _BOUNDS_BETA[1],
            )
        return lo, hi

    def media(self, theta: FloatArray, grad: bool = False) -> tuple[FloatArray, FloatArray | None]:
        """Saturated adstock per channel (T, C) and, optionally, d/d(decay, logk, shape)."""
        h = np.empty((self.T, self.C))
        dh = np.empty((self.T, self.C, 3)) if grad else None
        for c in range(self.C):
            decay, logk, shape = theta[4 * c : 4 * c + 3]
            a = np.maximum(_adstock(self.xs[:, c], decay), 1e-12)
            h[:, c], d = self._curve(a, logk, shape, grad)
            if dh is not None and d is not None:
                dh[:, c, 0] = d[0] * _adstock_grad(self.xs[:, c], a, decay)
                dh[:, c, 1:] = d[1:].T
        return h, dh

    def predict(self, theta: FloatArray) -> FloatArray:
        h, _ = self.media(theta)
        beta = theta[3 : 4 * self.C : 4]
        out: FloatArray = h @ beta + self.bx @ theta[4 * self.C :]
        return out

    def residuals(self, theta: FloatArray) -> FloatArray:
        r = (self.predict(theta) - self.y) / self.sigma
        prior = (theta[self.mask] - self.prior_mu) * self.prior_w
        return np.concatenate([r, prior, self.lift_terms(theta)[0]])

    def lift_terms(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Each lift test's standardised miss and its Jacobian row.

        A test of ``W`` weeks measures the average weekly lift while the adstock moves from
        the old spend towards the new (``a_t = x1 + (x0 - x1) decay^t``, t = 1..W); with
        ``W = 0`` the lift is read at steady state.
        """
        m = len(self.lifts)
        r, jac = np.zeros(m), np.zeros((m, self.n))
        for i, (c_f, x0, x1, lift, se, weeks) in enumerate(self.lifts):
            c = int(c_f)
            decay, logk, shape, beta = theta[4 * c : 4 * c + 4]
            n_w = int(weeks + 0.5)  # whole weeks
            t = np.arange(1, n_w + 1, dtype=np.float64)
            path = x1 + (x0 - x1) * decay**t if n_w else np.array([x1])
            h0, d0 = self._curve(np.array([x0]), logk, shape, grad=True)
            h, d = self._curve(path, logk, shape, grad=True)
            assert d0 is not None and d is not None
            dd = (x0 - x1) * t * decay ** (t - 1.0) if n_w else np.zeros(1)
            gap = float(np.mean(h) - h0[0])
            r[i] = (beta * gap - lift) / se
            jac[i, 4 * c] = beta * float(np.mean(d[0] * dd)) / se
            jac[i, 4 * c + 1] = beta * (float(np.mean(d[1])) - d0[1, 0]) / se
            jac[i, 4 * c + 2] = beta * (float(np.mean(d[2])) - d0[2, 0]) / se
            jac[i, 4 * c + 3] = gap / se
        return r, jac

    def _curve(
        self, a: FloatArray, logk: float, shape: float, grad: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        """The saturation curve at adstock ``a`` (>= 0) and, with ``grad``, its derivatives
        in a, log k and shape (rows); h(0) = 0 for both curves and nothing moves it there.
        """
        pos = a > 0
        safe = np.where(pos, a, 1.0)
        if self.logistic:
            k = math.exp(logk)
            h = np.tanh(C_LOGISTIC * safe / k)
            if not grad:
                return np.where(pos, h, 0.0), None
            slope = (1.0 - h * h) * C_LOGISTIC / k
            dk, ds = -slope * safe, np.zeros_like(h)
        else:
            u = np.log(safe) - logk
            from scipy.special import expit

            h = expit(shape * u)
            if not grad:
                return np.where(pos, h, 0.0), None
            q = h * (1.0 - h)
            slope, dk, ds = shape * q / safe, -shape * q, u * q
        return np.where(pos, h, 0.0), np.where(pos, np.stack([slope, dk, ds]), 0.0)

    def jacobian(self, theta: FloatArray) -> FloatArray:
        h, dh = self.media(theta, grad=True)
        assert dh is not None
        beta = theta[3 : 4 * self.C : 4]
        jac = np.zeros((self.T, self.n))
        for c in range(self.C):
            jac[:, 4 * c : 4 * c + 3] = dh[:, c, :] * beta[c]
            jac[:, 4 * c + 3] = h[:, c]
        jac[:, 4 * self.C :] = self.bx
        jac /= self.sigma
        prior = np.zeros((int(self.mask.sum()), self.n))
        prior[np.arange(prior.shape[0]), np.flatnonzero(self.mask)] = self.prior_w
        return np.vstack([jac, prior, self.lift_terms(theta)[1]])

    def linear_start(self, nonlin: tuple[float, float, float]) -> FloatArray:
        """Starting point: given curve parameters, solve the linear part by least squares."""
        theta = np.zeros(self.n)
        for c in range(self.C):
            theta[4 * c : 4 * c + 3] = nonlin
            if self.logistic:
                theta[4 * c + 2] = 1.0
        h, _ = self.media(theta)
        design = np.hstack([h, self.bx])
        coef, *_ = np.linalg.lstsq(design, self.y, rcond=None)
        beta = np.clip(coef[: self.C], 0.0, _BOUNDS_BETA[1])
        theta[3 : 4 * self.C : 4] = beta
        base, *_ = np.linalg.lstsq(self.bx, self.y - h @ beta, rcond=None)
        theta[4 * self.C :] = base
        return theta

    def solve(self, x0: FloatArray, max_nfev: int) -> tuple[FloatArray, float]:
        lo, hi = self.bounds()
        x0 = np.clip(x0, lo + 1e-9 * np.isfinite(lo), hi - 1e-9 * np.isfinite(hi))
        from scipy.optimize import least_squares

        res = least_squares(
            self.residuals,
            x0,
            jac=self.jacobian,
            bounds=(lo, hi),
            method="trf",
            x_scale="jac",
            max_nfev=max_nfev,
        )
        return np.asarray(res.x, dtype=np.float64), float(res.cost)


def _to_params(theta: FloatArray, c: int, xm: FloatArray, ym: float, logistic: bool) -> Params:
    return Params(
        decay=theta[0 : 4 * c : 4].copy(),
        k=np.exp(theta[1 : 4 * c : 4]) * xm,
        shape=np.ones(c) if logistic else theta[2 : 4 * c : 4].copy(),
        beta=theta[3 : 4 * c : 4] * ym,
        base=theta[4 * c :] * ym,
    )


def _fit_theta(prob: _Problem, starts: int) -> FloatArray:
    best: tuple[float, FloatArray] | None = None
    for nonlin in _STARTS[:starts]:
        theta, cost = prob.solve(prob.linear_start(nonlin), max_nfev=300)
        if best is None or cost < best[0]:
            best = (cost, theta)
    assert best is not None
    return best[1]


def fit_model(
    history: History,
    *,
    logistic: bool = False,
    order: int = 2,
    holdout_weeks: int = 0,
    bootstrap: int = 30,
    seed: int = 0,
    starts: int = 4,
    lifts: Sequence[LiftTest] = (),
    progress: Callable[[str, float, float | None], None] | None = None,
) -> Fit:
    """Fit the response model (MAP), its hold-out error and bootstrap draws.

    Args:
        history: Weekly spend and KPI.
        logistic: Use the logistic saturation instead of Hill.
        order: Number of yearly Fourier harmonics (0 = no seasonality).
        holdout_weeks: Final weeks held out to measure forecast error (0 = none).
        bootstrap: Number of moving-block residual bootstrap refits.
        seed: Random seed for the bootstrap.
        starts: Number of starting points for the non-linear fit.
        lifts: Lift tests: each adds the standardised miss between the curve's lift and
            the measured one to the objective; the bootstrap redraws each measurement
            from its standard error.
        progress: Called as ``(description, done, total)``.

    Returns:
        The fit.
    """
    sc = _scaled(history, logistic, order, lifts)
    total_steps = float(bootstrap + 2)

    def tick(i: float, what: str) -> None:
        if progress is not None:
            progress(what, i, total_steps)

    # Noise scale for the MAP weights: residual sd of a linear fit, then of the MAP fit.
    lin = np.hstack([sc.xs, sc.bx])
    coef, *_ = np.linalg.lstsq(lin, sc.y, rcond=None)
    sigma = max(float(np.std(sc.y - lin @ coef)), 1e-3)
    holdout_mape = holdout_r2 = None
    if holdout_weeks > 0:
        holdout_mape, holdout_r2 = _holdout_error(sc, history.kpi, sigma, holdout_weeks, starts)
    tick(1, "fitting response curves")
    m = _map_fit(sc, sigma, starts)
    tick(2, "fitting response curves")
    draws = _bootstrap_draws(sc, m, bootstrap, seed, tick)

    n_ch = history.spend.shape[1]
    params = _to_params(m.theta, n_ch, sc.xm, sc.ym, logistic)
    h, _ = m.prob.media(m.theta)
    fitted = m.fitted * sc.ym
    return Fit(
        history=history,
        logistic=logistic,
        order=order,
        params=params,
        draws=draws,
        fitted=fitted,
        contributions=h * params.beta,
        baseline=sc.bx @ params.base,
        r2=_r2(history.kpi, fitted),
        mape=_mape(history.kpi, fitted),
        noise_sd=m.sigma * sc.ym,
        holdout_weeks=holdout_weeks,
        holdout_mape=holdout_mape,
        holdout_r2=holdout_r2,
        lift_fits=[float(v) * sc.ym for v in m.fitted_lift],
    )


@dataclass(frozen=True)
class _Scaled:
    """The history in the fit's normalised units.

    Attributes:
        xs: Spend / each channel's mean spend (weeks, channels).
        y: KPI / its mean absolute value.
        bx: Baseline design (intercept, trend, seasonality).
        xm: Each channel's mean spend.
        ym: The KPI's mean absolute value.
        lift: The lift tests as :class:`_Problem` reads them (m, 6).
        logistic: Whether the curves are logistic.
        order: Fourier harmonics.
    """

    xs: FloatArray
    y: FloatArray
    bx: FloatArray
    xm: FloatArray
    ym: float
    lift: FloatArray
    logistic: bool
    order: int

    def problem(self, y_: FloatArray, sigma_: float, rows: slice = slice(None)) -> _Problem:
        """The MAP problem for a KPI series (normalised) over some weeks."""
        return _Problem(
            self.xs[rows], y_[rows], self.bx[rows], self.logistic, sigma_, self.order, self.lift
        )


def _scaled(history: History, logistic: bool, order: int, lifts: Sequence[LiftTest]) -> _Scaled:
    spend, y_raw = history.spend, history.kpi
    xm = np.maximum(spend.mean(axis=0), 1e-12)
    ym = float(np.mean(np.abs(y_raw))) or 1.0
    lift = np.array(
        [
            (
                t.channel,
                t.spend / xm[t.channel],
                (t.spend + t.delta_spend) / xm[t.channel],
                t.delta_kpi / ym,
                t.sigma / ym,
                t.weeks,
            )
            for t in lifts
        ]
    ).reshape(-1, 6)
    bx = _base_design(history.weeks, history.weeks[0], spend.shape[0], order)
    return _Scaled(spend / xm, y_raw / ym, bx, xm, ym, lift, logistic, order)


def _holdout_error(
    sc: _Scaled, y_raw: FloatArray, sigma: float, holdout_weeks: int, starts: int
) -> tuple[float, float]:
    """MAPE and R² on the final weeks, from a fit on the weeks before them."""
    cut = len(sc.y) - holdout_weeks
    th = _fit_theta(sc.problem(sc.y, sigma, slice(0, cut)), starts)
    pred = sc.problem(sc.y, sigma).predict(th)[cut:] * sc.ym
    obs = y_raw[cut:]
    return _mape(obs, pred), _r2(obs, pred)


class _MapFit(NamedTuple):
    prob: _Problem
    theta: FloatArray
    sigma: float
    fitted: FloatArray  # normalised
    resid: FloatArray  # normalised
    fitted_lift: FloatArray  # each lift test's fitted weekly lift, normalised


def _map_fit(sc: _Scaled, sigma: float, starts: int) -> _MapFit:
    """The MAP fit, refined once with the noise scale of its own residuals."""
    n_weeks = len(sc.y)
    prob = sc.problem(sc.y, sigma)
    theta = _fit_theta(prob, starts)
    resid = sc.y - prob.predict(theta)
    sigma = max(float(np.sqrt(np.sum(resid**2) / max(n_weeks - prob.n / 2, 1))), 1e-4)
    prob = sc.problem(sc.y, sigma)
    theta, _ = prob.solve(theta, max_nfev=300)
    fitted_n = prob.predict(theta)
    # The fitted lift of each test: its standardised miss times sigma, plus the measure.
    fitted_lift = prob.lift_terms(theta)[0] * sc.lift[:, 4] + sc.lift[:, 3]
    return _MapFit(prob, theta, sigma, fitted_n, sc.y - fitted_n, fitted_lift)


def _bootstrap_draws(
    sc: _Scaled, m: _MapFit, bootstrap: int, seed: int, tick: Callable[[float, str], None]
) -> list[Params]:
    """Refits on moving-block resampled residuals, warm-started at the MAP fit."""
    n_weeks, n_ch = sc.xs.shape
    lift = sc.lift
    rng = np.random.default_rng(seed)
    block = max(2, min(8, n_weeks // 13))
    draws: list[Params] = []
    for b in range(bootstrap):
        starts_idx = rng.integers(0, n_weeks - block + 1, size=n_weeks // block + 1)
        boot = np.concatenate([m.resid[s : s + block] for s in starts_idx])[:n_weeks]
        bp = sc.problem(m.fitted + boot, m.sigma)
        if len(lift):
            # Each measured lift redrawn around the fitted one, as the residuals are.
            bp.lifts = lift.copy()
            bp.lifts[:, 3] = m.fitted_lift + rng.normal(0.0, lift[:, 4])
        th_b, _ = bp.solve(m.theta, max_nfev=100)
        draws.append(_to_params(th_b, n_ch, sc.xm, sc.ym, sc.logistic))
        tick(3 + b, "bootstrapping uncertainty")
    return draws


def contributions_of(fit: Fit, p: Params) -> FloatArray:
    """Weekly media contribution per channel (weeks, channels) under parameters ``p``."""
    spend = fit.history.spend
    out = np.empty_like(spend)
    curves = fit.curves(p)
    for c in range(spend.shape[1]):
        a = _adstock(spend[:, c], float(p.decay[c]))
        sub = curves.subset(np.array([c]))
        out[:, c] = sub.value(a[:, None])[:, 0]
    return out


def _r2(obs: FloatArray, pred: FloatArray) -> float:
    sst = float(np.sum((obs - obs.mean()) ** 2))
    return 1.0 - float(np.sum((obs - pred) ** 2)) / sst if sst > 0 else 0.0


def _mape(obs: FloatArray, pred: FloatArray) -> float:
    ok = np.abs(obs) > 1e-12
    return float(np.mean(np.abs(obs[ok] - pred[ok]) / np.abs(obs[ok]))) if ok.any() else 0.0
