"""Steady-state response curves (Hill or logistic) and their falling-marginal roots.

Each channel's weekly response to a steady weekly spend ``x``; the optimiser needs, for a
marginal price ``lam``, the spend on the curve's concave branch where the marginal equals
``lam`` (:meth:`ResponseCurves.descending_root`), for one price or a grid of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# scipy is imported in the functions that use it: planning (`conductor validate`) imports
# this module, and scipy costs it ~0.4 s of start-up for nothing.

FloatArray = npt.NDArray[np.float64]

C_LOGISTIC = math.atanh(0.5)  # tanh(c x / K) is 1/2 at x = K: K is the half-saturation
_NEWTON_ITERS = 60
SPEND_FLOOR = 1e-12  # spend / k below which spend counts as none (roots are held there)
_V_FLOOR = math.log(SPEND_FLOOR)


@dataclass(frozen=True)
class ResponseCurves:
    """Steady-state weekly response of each channel to a constant weekly spend ``x``.

    Hill: ``beta * x**shape / (x**shape + k**shape)``; logistic:
    ``beta * tanh(atanh(1/2) * x / k)``. In both ``k`` is the half-saturation spend.

    Attributes:
        beta: Maximum weekly effect (KPI units per week), one per channel.
        k: Half-saturation weekly spend, one per channel (> 0).
        shape: Hill exponent (ignored for logistic channels); above 1 the curve is S-shaped.
        logistic: True where the channel uses the logistic curve.
    """

    beta: FloatArray
    k: FloatArray
    shape: FloatArray
    logistic: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        n = len(self.beta)
        if len(self.logistic) != n:
            object.__setattr__(self, "logistic", np.zeros(n, dtype=bool))

    @property
    def n(self) -> int:
        """Number of channels."""
        return len(self.beta)

    def subset(self, idx: npt.NDArray[np.intp]) -> ResponseCurves:
        """The curves of some channels (the same object for the same channels, so the
        subset keeps its own cached precomputations across calls)."""
        cache = self.__dict__.setdefault("_subsets", {})
        key = np.asarray(idx, dtype=np.intp).tobytes()
        got = cache.get(key)
        if got is None:
            got = ResponseCurves(self.beta[idx], self.k[idx], self.shape[idx], self.logistic[idx])
            cache[key] = got
        return got  # type: ignore[no-any-return]

    def value(self, x: FloatArray) -> FloatArray:
        """Weekly response of each channel at weekly spend ``x``."""
        x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
        with np.errstate(divide="ignore"):
            lx = np.log(x)
        from scipy.special import expit

        hill = expit(self.shape * (lx - np.log(self.k)))
        logi = np.tanh(C_LOGISTIC * x / self.k)
        out: FloatArray = self.beta * np.where(self.logistic, logi, hill)
        return out

    def marginal(self, x: FloatArray) -> FloatArray:
        """Derivative of :meth:`value` (extra weekly KPI per extra unit of weekly spend)."""
        x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
        pos = x > 0
        xs = np.where(pos, x, 1.0)
        from scipy.special import expit

        h = expit(self.shape * (np.log(xs) - np.log(self.k)))
        hill = self.beta * self.shape * h * (1.0 - h) / xs
        at0 = np.where(
            self.beta <= 0,
            0.0,
            np.where(
                self.shape < 1.0, np.inf, np.where(self.shape == 1.0, self.beta / self.k, 0.0)
            ),
        )
        hill = np.where(pos, hill, at0)
        t = np.tanh(C_LOGISTIC * x / self.k)
        logi = self.beta * C_LOGISTIC / self.k * (1.0 - t * t)
        out: FloatArray = np.where(self.logistic, logi, hill)
        return out

    def inflection(self) -> FloatArray:
        """Weekly spend where the marginal return peaks (0 for concave curves)."""
        s = self.shape
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(s > 1.0, (s - 1.0) / (s + 1.0), 0.0)
            out: FloatArray = np.where(
                (s > 1.0) & ~self.logistic, self.k * ratio ** (1.0 / np.maximum(s, 1e-9)), 0.0
            )
        return out

    def peak_marginal(self) -> FloatArray:
        """Highest marginal return over all spends (inf for Hill shape < 1)."""
        return self.marginal(self.inflection())

    def saturation_point(self, level: float = 0.8) -> FloatArray:
        """Weekly spend at which the response reaches ``level`` of its maximum."""
        hill = self.k * (level / (1.0 - level)) ** (1.0 / self.shape)
        logi = self.k / C_LOGISTIC * math.atanh(level)
        out: FloatArray = np.where(self.logistic, logi, hill)
        return out

    def descending_root(
        self, lam: float | FloatArray, warm: FloatArray | None = None
    ) -> FloatArray:
        """Spend on the concave (falling-marginal) branch where the marginal equals ``lam``.

        Returns 0 where no such spend exists (``lam`` above the curve's peak marginal).

        Args:
            lam: The marginal return sought (> 0), or a 1-D array of them: the answer then
                has one row per price (one vectorised solve instead of a loop).
            warm: A previous answer to start Newton's method from (fewer iterations).
        """
        lams = np.asarray(lam, dtype=np.float64)
        rows = lams.reshape(-1, 1)  # (prices, 1)
        out = np.zeros((rows.shape[0], self.n))
        positive = rows[:, 0] > 0
        out[~positive] = np.inf
        rows = np.where(positive[:, None], rows, 1.0)
        lg = self.logistic
        if lg.any():  # closed form
            q = rows * self.k[lg] / (self.beta[lg] * C_LOGISTIC)
            # arctanh(sqrt(1 - q)) = ln((1 + sqrt(1 - q)) / sqrt(q)), written so that a
            # tiny q (a price deep in saturation) keeps its precision.
            qc = np.clip(q, 1e-300, 1.0)
            t = np.log((1.0 + np.sqrt(1.0 - qc)) / np.sqrt(qc))
            sub = np.where(q < 1.0, self.k[lg] / C_LOGISTIC * t, 0.0)
            out[:, lg] = np.where(positive[:, None], sub, np.inf)
        hl = ~lg
        if hl.any():
            pre = self._hill_pre()
            target = np.log(rows)
            idx = np.flatnonzero(hl & (pre.lnm_peak > float(target.min())))
            if idx.size:
                w = None if warm is None else np.broadcast_to(warm, out.shape)[:, idx]
                roots = _hill_roots(pre, idx, target, w)
                out[:, idx] = np.where(positive[:, None], roots, np.inf)
        return out if lams.ndim else out[0]

    def _hill_pre(self) -> _HillPre:
        pre = self.__dict__.get("_pre")
        if pre is None:
            s = np.where(self.logistic, 1.0, self.shape)
            lnk = np.log(self.k)
            with np.errstate(divide="ignore"):  # beta = 0: no root, ln f' = -inf
                c0 = np.log(self.beta * s) - lnk
                vpeak = np.where(
                    s > 1.0, np.log(np.maximum((s - 1.0) / (s + 1.0), 1e-300)) / s, 0.0
                )
            lnm_peak = np.where(
                s > 1.0,
                c0 + (s - 1.0) * vpeak - 2.0 * np.logaddexp(0.0, s * vpeak),
                np.where(s == 1.0, c0, np.where(np.isfinite(c0), np.inf, -np.inf)),
            )
            vstart = np.where(s > 1.0, vpeak + 0.5 / s, -np.inf)
            pre = _HillPre(s, s - 1.0, c0, lnk, lnm_peak, vstart)
            object.__setattr__(self, "_pre", pre)
        return pre


@dataclass(frozen=True)
class _HillPre:
    s: FloatArray
    sm1: FloatArray
    c0: FloatArray
    lnk: FloatArray
    lnm_peak: FloatArray
    vstart: FloatArray


def _hill_roots(
    pre: _HillPre, idx: npt.NDArray[np.intp], target: FloatArray, warm: FloatArray | None
) -> FloatArray:
    """Falling-marginal roots of Hill channels ``idx`` for log prices ``target`` (rows).

    Returns 0 where the price is above the channel's peak marginal (no root).
    """
    s, sm1, c0, lnk = pre.s[idx], pre.sm1[idx], pre.c0[idx], pre.lnk[idx]
    has = pre.lnm_peak[idx] > target
    # A price with no root is swapped for one that has, to keep the iteration finite.
    tgt = np.where(has, target, pre.lnm_peak[idx] - 1.0)
    # In v = ln(x / k): ln f'(x) = ln(beta s / k) + (s - 1) v - 2 softplus(s v), concave
    # in v, so Newton converges monotonically from the right of the root, and a step
    # from the left of it lands on the right.
    v = (c0 - tgt) / (s + 1.0)
    if warm is not None:
        ok = warm > 0
        if ok.any():
            v = np.where(ok, np.log(np.where(ok, warm, 1.0)) - lnk, v)
    # Spend below 1e-12 of the half-saturation point is no spend: a Hill curve with
    # shape just under 1 only reaches a high marginal there (shape 0.99 needs
    # x < 1e-40 k to double its slope), so such roots are held at that floor.
    v = np.maximum(v, np.maximum(pre.vstart[idx], _V_FLOOR))
    from scipy.special import expit

    for _ in range(_NEWTON_ITERS):
        sv = s * v
        g = c0 + sm1 * v - 2.0 * np.logaddexp(0.0, sv) - tgt
        e = expit(sv)
        d = np.minimum(sm1 - 2.0 * s * e, -1e-12)
        # Halley's step (cubic convergence); g'' = -2 s^2 e (1 - e) <= 0, so the
        # denominator 2 d^2 - g g'' keeps the Newton step's sign and shortens it by at
        # most half: the monotone approach from the right is kept.
        dd = -2.0 * s * s * e * (1.0 - e)
        step = 2.0 * g * d / np.maximum(2.0 * d * d - g * dd, d * d)
        v = np.maximum(v - np.clip(step, -50.0, 50.0), _V_FLOOR)
        if float(np.max(np.abs(np.where(v <= _V_FLOOR, 0.0, g)))) < 1e-13:
            break
    out: FloatArray = np.where(has, np.exp(v + lnk), 0.0)
    return out


def second(curves: ResponseCurves, x: FloatArray) -> FloatArray:
    """Second derivative of each channel's curve at ``x`` (negative on the concave part)."""
    xs = np.maximum(x, 1e-150 * curves.k)
    from scipy.special import expit

    h = expit(curves.shape * (np.log(xs) - np.log(curves.k)))
    m = curves.beta * curves.shape * h * (1.0 - h) / xs
    hill = m / xs * ((curves.shape - 1.0) - 2.0 * curves.shape * h)
    t = np.tanh(C_LOGISTIC * x / curves.k)
    logi = -2.0 * curves.beta * (C_LOGISTIC / curves.k) ** 2 * t * (1.0 - t * t)
    out: FloatArray = np.where(curves.logistic, logi, hill)
    return out
