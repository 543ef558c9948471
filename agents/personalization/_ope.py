"""Offline policy evaluation: IPS, self-normalised IPS and doubly robust, with intervals.

All three estimate V(pi) = E_x[ sum_a pi(a|x) r(x, a) ] from rows logged by another
policy mu, with w_i = pi(a_i|x_i) / mu(a_i|x_i) clipped at ``max_weight``:

- IPS   = mean(w_i r_i)
- SNIPS = sum(w_i r_i) / sum(w_i)
- DR    = mean( sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)) )

Without ``bounds``, intervals are normal (CLT) on the per-row terms; SNIPS uses the delta
method; lifts between two policies use paired per-row DR terms.

With ``bounds`` (what a mean reward can be: ``(0, 1)`` for 0/1 rewards, ``(0, None)`` for
non-negative values) every value and interval is kept inside them: a value outside (IPS
above 1, DR below 0 when rewards are rare) is clipped and marked ``clipped``, with the
raw value kept. For rates, the normal approximation fails when there are few successes
(a CLT interval on 2 clicks in 2,101 rows reaches below 0 and, with none in the sample,
is the single point 0), so:

- the logging policy's value (its on-policy mean: every weight is 1) gets the exact
  Clopper-Pearson interval on k successes in n rows;
- an off-policy estimate gets a Clopper-Pearson interval on its effective sample size
  n* = v(1 - v) / se^2 (capped at n), the Korn-Graubard interval of survey statistics:
  bounded, never empty at 0 successes, and close to its stated coverage on rare rewards
  (tests/test_personalization_ope_bounds.py simulates it);
- a lift between two such estimates combines their intervals (MOVER, Zou and Donner)
  with the correlation of their paired per-row terms, within [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agents.personalization._models import Estimate

__all__ = ["OpeResult", "evaluate_policy", "lift", "reward_bounds"]

FloatArray = NDArray[np.float64]
Bounds = tuple[float, float | None]


@dataclass(frozen=True)
class OpeResult:
    """Estimates for one target policy, plus its per-row DR terms (for lifts).

    Attributes:
        estimates: IPS, SNIPS and DR, in that order.
        dr_terms: Per-row DR terms.
        weights: The (clipped) importance weights.
        clipped_share: Share of weights clipped at ``max_weight``.
        bounds: The value bounds the estimates were kept within (None: unbounded).
    """

    estimates: list[Estimate]
    dr_terms: FloatArray
    weights: FloatArray
    clipped_share: float
    bounds: Bounds | None = None

    @property
    def effective_sample_size(self) -> float:
        """Kish effective sample size of the importance weights."""
        s2 = float(np.square(self.weights).sum())
        return float(self.weights.sum()) ** 2 / s2 if s2 > 0 else 0.0


def reward_bounds(rewards: FloatArray) -> Bounds | None:
    """What a policy's mean reward can be: (0, 1) for rates, (0, None) for values >= 0."""
    if rewards.size == 0 or float(rewards.min()) < 0:
        return None
    return (0.0, 1.0) if float(rewards.max()) <= 1.0 else (0.0, None)


def _z(confidence: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _normal(policy: str, estimator: str, value: float, se: float, z: float) -> Estimate:
    return Estimate(
        policy=policy,
        estimator=estimator,
        value=value,
        std_error=se,
        ci_low=value - z * se,
        ci_high=value + z * se,
    )


def _mean_estimate(policy: str, estimator: str, terms: FloatArray, z: float) -> Estimate:
    n = terms.size
    se = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    return _normal(policy, estimator, float(terms.mean()), se, z)


def clopper_pearson(k: float, n: float, confidence: float) -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials (k, n may be fractional)."""
    alpha = 1.0 - confidence
    if n <= 0:
        return 0.0, 1.0
    k = min(max(k, 0.0), n)
    from scipy import stats

    lo = float(stats.beta.ppf(alpha / 2, k, n - k + 1)) if k > 0 else 0.0
    hi = float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k)) if k < n else 1.0
    return lo, hi


def _rate_interval(
    value: float, se: float, n: int, ess: float | None, confidence: float
) -> tuple[float, float]:
    """Korn-Graubard: Clopper-Pearson on the estimate's effective sample size.

    The effective sample size is v(1 - v) / se^2, capped at n. When that amounts to less
    than one success (no success among the rows the policy would have chosen, so no
    variance to read), it is the weights' Kish effective sample size ``ess`` instead.
    """
    if not math.isfinite(se) or n <= 0:
        return 0.0, 1.0
    v = min(max(value, 0.0), 1.0)
    n_eff = float(n)
    if se > 0 and 0.0 < v < 1.0:
        n_eff = min(float(n), v * (1.0 - v) / (se * se))
    if v * n_eff < 1.0 and ess is not None and ess > 0:
        n_eff = min(float(n), ess)
    lo, hi = clopper_pearson(v * n_eff, n_eff, confidence)
    return min(lo, v), max(hi, v)


def _bounded(
    est: Estimate,
    bounds: Bounds,
    *,
    n: int,
    confidence: float,
    successes: float | None = None,
    n_cap: float | None = None,
) -> Estimate:
    """The estimate kept within ``bounds`` (value clipped; a rate's interval recomputed)."""
    lo_b, hi_b = bounds[0], bounds[1] if bounds[1] is not None else math.inf
    v = min(max(est.value, lo_b), hi_b)
    if hi_b == 1.0 and lo_b == 0.0:
        if successes is not None:
            lo, hi = clopper_pearson(successes, n, confidence)
            method = "clopper-pearson"
        else:
            lo, hi = _rate_interval(est.value, est.std_error, n, n_cap, confidence)
            method = "korn-graubard"
    else:
        lo, hi, method = est.ci_low, est.ci_high, "normal"
    lo, hi = min(max(lo, lo_b), v), max(min(hi, hi_b), v)
    clipped = v != est.value
    return est.model_copy(
        update={
            "value": v,
            "ci_low": lo,
            "ci_high": hi,
            "interval": method,
            "clipped": clipped,
            "unclipped_value": est.value if clipped else None,
        }
    )


def evaluate_policy(
    policy: str,
    rewards: FloatArray,
    logged: NDArray[np.int64],
    logging_propensity: FloatArray,
    target_probs: FloatArray,
    q_hat: FloatArray,
    *,
    max_weight: float = np.inf,
    confidence: float = 0.95,
    bounds: Bounds | None = None,
) -> OpeResult:
    """IPS, SNIPS and DR estimates of one target policy's mean reward per customer.

    Args:
        policy: Name to put on the estimates (e.g. ``new``).
        rewards: Logged reward per row.
        logged: Index of the logged action per row.
        logging_propensity: Probability the logging policy chose the logged action, in (0, 1].
        target_probs: The target policy's action distribution per row, shape (n, actions).
        q_hat: A reward model's prediction per row and action, shape (n, actions), fitted
            on other rows than these.
        max_weight: Importance weights are clipped at this value.
        confidence: Confidence level of the intervals.
        bounds: What the mean reward can be (see :func:`reward_bounds`); None keeps the
            plain normal intervals.

    Returns:
        The three estimates and the per-row DR terms.
    """
    n = rewards.size
    rows = np.arange(n)
    raw = target_probs[rows, logged] / logging_propensity
    w = np.minimum(raw, max_weight)
    clipped = float(np.mean(raw > max_weight)) if n else 0.0
    z = _z(confidence)
    ips = _mean_estimate(policy, "ips", w * rewards, z)
    sw = float(w.sum())
    if sw > 0:
        v = float((w * rewards).sum() / sw)
        mean_w = sw / n
        infl = w * (rewards - v) / mean_w
        se = float(np.sqrt(np.mean(infl * infl) / n))
    else:
        v, se = 0.0, float("inf")
    snips = _normal(policy, "snips", v, se, z)
    direct = (target_probs * q_hat).sum(axis=1)
    dr_terms = direct + w * (rewards - q_hat[rows, logged])
    dr = _mean_estimate(policy, "dr", dr_terms, z)
    estimates = [ips, snips, dr]
    if bounds is not None:
        # On-policy (every weight 1, no model): all three are the plain mean of the log.
        on_policy = n > 0 and bool(np.all(w == 1.0)) and not np.any(q_hat)
        k = float(rewards.sum()) if on_policy else None
        s2 = float(np.square(w).sum())
        ess = sw * sw / s2 if s2 > 0 else 0.0
        estimates = [
            _bounded(e, bounds, n=n, confidence=confidence, successes=k, n_cap=ess)
            for e in estimates
        ]
    return OpeResult(estimates, dr_terms, w, clipped, bounds)


def lift(name: str, a: OpeResult, b: OpeResult, *, confidence: float = 0.95) -> Estimate:
    """DR estimate of V(a) - V(b) on the same rows, with a paired interval.

    When both are rates (bounds (0, 1)) the interval is MOVER on their bounded intervals,
    with the correlation of their per-row terms, and stays within [-1, 1].
    """
    paired = _mean_estimate(name, "dr", a.dr_terms - b.dr_terms, _z(confidence))
    if a.bounds != (0.0, 1.0) or b.bounds != (0.0, 1.0):
        return paired
    ea, eb = a.estimates[2], b.estimates[2]
    rho = 0.0
    if a.dr_terms.size > 1 and a.dr_terms.std() > 0 and b.dr_terms.std() > 0:
        rho = float(np.corrcoef(a.dr_terms, b.dr_terms)[0, 1])
    d = ea.value - eb.value
    down_a, up_a = ea.value - ea.ci_low, ea.ci_high - ea.value
    down_b, up_b = eb.value - eb.ci_low, eb.ci_high - eb.value
    lo = d - math.sqrt(max(down_a**2 + up_b**2 - 2 * rho * down_a * up_b, 0.0))
    hi = d + math.sqrt(max(up_a**2 + down_b**2 - 2 * rho * up_a * down_b, 0.0))
    return paired.model_copy(
        update={
            "value": d,
            "ci_low": max(lo, -1.0),
            "ci_high": min(hi, 1.0),
            "interval": "mover",
            "clipped": ea.clipped or eb.clipped,
        }
    )
