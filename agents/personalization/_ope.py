"""Offline policy evaluation: IPS, self-normalised IPS and doubly robust, with intervals.

All three estimate V(pi) = E_x[ sum_a pi(a|x) r(x, a) ] from rows logged by another
policy mu, with w_i = pi(a_i|x_i) / mu(a_i|x_i) clipped at ``max_weight``:

- IPS   = mean(w_i r_i)
- SNIPS = sum(w_i r_i) / sum(w_i)
- DR    = mean( sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)) )

Intervals are normal (CLT) on the per-row terms; SNIPS uses the delta method. Lifts
between two policies are computed on paired per-row DR terms, so their interval accounts
for the shared noise of the log.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from agents.personalization._models import Estimate

__all__ = ["OpeResult", "evaluate_policy", "lift"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class OpeResult:
    """Estimates for one target policy, plus its per-row DR terms (for lifts)."""

    estimates: list[Estimate]
    dr_terms: FloatArray
    weights: FloatArray
    clipped_share: float

    @property
    def effective_sample_size(self) -> float:
        """Kish effective sample size of the importance weights."""
        s2 = float(np.square(self.weights).sum())
        return float(self.weights.sum()) ** 2 / s2 if s2 > 0 else 0.0


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _mean_estimate(policy: str, estimator: str, terms: FloatArray, z: float) -> Estimate:
    n = terms.size
    value = float(terms.mean())
    se = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    return Estimate(
        policy=policy,
        estimator=estimator,
        value=value,
        std_error=se,
        ci_low=value - z * se,
        ci_high=value + z * se,
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
    snips = Estimate(
        policy=policy,
        estimator="snips",
        value=v,
        std_error=se,
        ci_low=v - z * se,
        ci_high=v + z * se,
    )
    direct = (target_probs * q_hat).sum(axis=1)
    dr_terms = direct + w * (rewards - q_hat[rows, logged])
    dr = _mean_estimate(policy, "dr", dr_terms, z)
    return OpeResult([ips, snips, dr], dr_terms, w, clipped)


def lift(name: str, a: OpeResult, b: OpeResult, *, confidence: float = 0.95) -> Estimate:
    """DR estimate of V(a) - V(b) on the same rows, with a paired interval."""
    return _mean_estimate(name, "dr", a.dr_terms - b.dr_terms, _z(confidence))
