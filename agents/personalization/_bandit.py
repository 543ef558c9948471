"""Off-policy contextual bandit: per-action Bayesian reward models and Thompson decisions.

Every action has its own weight vector over the customer features, so the model holds
every customer x action interaction. Weights are fitted on the exposures log, each row
importance-weighted by 1 / logging propensity (clipped) so that the fit targets the whole
customer population rather than the customers the old policy happened to pick. The
weights are then rescaled to the Kish effective sample size, which keeps the Gaussian
posterior as wide as the data really warrant. Scoring is one matrix product per chunk of
customers: no Python loop per customer.
"""

# ruff: noqa: N803, N806  (X, W, P: matrix names as in the maths they implement)

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

# scipy is imported in the functions that use it: planning (`conductor validate`) imports
# the agent, and scipy would cost it a few tenths of a second for nothing.

__all__ = [
    "Decisions",
    "RewardModel",
    "decide",
    "estimate_propensities",
    "fit_reward_model",
    "importance_weights",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_CHUNK = 65_536


@dataclass(frozen=True)
class RewardModel:
    """Gaussian posterior over per-action weights.

    Attributes:
        kind: ``logistic`` (0/1 rewards; predictions are probabilities) or ``linear``.
        means: Posterior means, shape (actions, features).
        precision_chol: Lower Cholesky factors of the posterior precisions,
            shape (actions, features, features).
        trained: Per action, True when the log had rows for it.
        reward_floor: Predictions of a linear model are clipped at this value (or None).
    """

    kind: Literal["logistic", "linear"]
    means: FloatArray
    precision_chol: FloatArray
    trained: NDArray[np.bool_]
    reward_floor: float | None = None

    @property
    def n_actions(self) -> int:
        """Number of actions."""
        return int(self.means.shape[0])

    def link(self, scores: NDArray[np.floating]) -> NDArray[np.floating]:
        """Turn linear scores into expected rewards."""
        if self.kind == "logistic":
            out: NDArray[np.floating] = 0.5 * (1.0 + np.tanh(0.5 * scores))  # stable sigmoid
            return out
        if self.reward_floor is not None:
            floored: NDArray[np.floating] = np.maximum(scores, self.reward_floor)
            return floored
        return scores

    def predict(self, X: NDArray[np.floating]) -> NDArray[np.floating]:
        """Posterior-mean expected reward of every action for every row of ``X``."""
        out = np.empty((X.shape[0], self.n_actions), dtype=X.dtype)
        means = self.means.T.astype(X.dtype)
        for start in range(0, X.shape[0], _CHUNK):
            block = X[start : start + _CHUNK]
            out[start : start + _CHUNK] = self.link(block @ means)
        return out

    def sample(self, k: int, rng: np.random.Generator) -> FloatArray:
        """``k`` posterior draws of all weights, shape (k, actions, features)."""
        a, d = self.means.shape
        z = rng.standard_normal((a, d, k))
        draws = np.empty((k, a, d))
        from scipy import linalg

        for j in range(a):
            # precision = L L^T, so L^-T z has covariance precision^-1
            noise = linalg.solve_triangular(self.precision_chol[j], z[j], lower=True, trans="T")
            draws[:, j, :] = self.means[j] + noise.T
        return draws


def importance_weights(propensity: FloatArray | None, n: int, max_weight: float) -> FloatArray:
    """Clipped inverse-propensity weights (all ones when no propensities are known)."""
    if propensity is None:
        return np.ones(n)
    return np.minimum(1.0 / propensity, max_weight)


def _ess_scale(w: FloatArray) -> FloatArray:
    s1 = w.sum()
    s2 = float(np.square(w).sum())
    if s1 <= 0 or s2 <= 0:
        return w
    scaled: FloatArray = w * (s1 / s2)
    return scaled


def _fit_logistic(
    X: FloatArray, y: FloatArray, w: FloatArray, lam: float, iters: int = 25
) -> tuple[FloatArray, FloatArray]:
    d = X.shape[1]
    beta = np.zeros(d)
    eye = np.eye(d) * lam
    hess = eye
    from scipy import linalg

    for _ in range(iters):
        z = X @ beta
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        grad = X.T @ (w * (y - p)) - lam * beta
        s = w * p * (1.0 - p)
        hess = (X.T * s) @ X + eye
        step = linalg.solve(hess, grad, assume_a="pos")
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    z = X @ beta
    p = 0.5 * (1.0 + np.tanh(0.5 * z))
    hess = (X.T * (w * p * (1.0 - p))) @ X + eye
    return beta, hess


def _fit_linear(
    X: FloatArray, y: FloatArray, w: FloatArray, lam: float
) -> tuple[FloatArray, FloatArray]:
    d = X.shape[1]
    xtwx = (X.T * w) @ X
    xtwy = X.T @ (w * y)
    from scipy import linalg

    beta = linalg.solve(xtwx + lam * np.eye(d), xtwy, assume_a="pos")
    resid = y - X @ beta
    dof = max(float(w.sum()) - d, 1.0)
    sigma2 = max(float((w * resid * resid).sum()) / dof, 1e-9)
    hess = xtwx / sigma2 + lam * np.eye(d)
    beta = linalg.solve(hess, xtwy / sigma2, assume_a="pos")
    return beta, hess


def fit_reward_model(
    X: FloatArray,
    actions: IntArray,
    rewards: FloatArray,
    weights: FloatArray,
    n_actions: int,
    *,
    kind: Literal["logistic", "linear"],
    prior_precision: float = 1.0,
) -> RewardModel:
    """Fit one Bayesian reward model per action on a logged history.

    Args:
        X: Features of the logged customers (n x d); include an intercept column.
        actions: Index of the logged action per row.
        rewards: Observed reward per row (0/1 for ``logistic``).
        weights: Importance weight per row (see :func:`importance_weights`).
        n_actions: Size of the catalogue; actions absent from the log keep the prior.
        kind: ``logistic`` or ``linear``.
        prior_precision: Precision of the zero-mean Gaussian prior on every weight.

    Returns:
        The posterior (means and Cholesky factors of the precisions) per action.
    """
    from scipy import linalg

    d = X.shape[1]
    means = np.zeros((n_actions, d))
    chols = np.empty((n_actions, d, d))
    trained = np.zeros(n_actions, dtype=bool)
    prior_chol = np.eye(d) * np.sqrt(prior_precision)
    for a in range(n_actions):
        rows = actions == a
        if not rows.any():
            chols[a] = prior_chol
            continue
        Xa, ya = X[rows].astype(np.float64), rewards[rows].astype(np.float64)
        wa = _ess_scale(weights[rows].astype(np.float64))
        if kind == "logistic":
            beta, hess = _fit_logistic(Xa, ya, wa, prior_precision)
        else:
            beta, hess = _fit_linear(Xa, ya, wa, prior_precision)
        means[a] = beta
        chols[a] = linalg.cholesky(hess, lower=True)
        trained[a] = True
    floor = (
        float(rewards.min()) if kind == "linear" and rewards.size and rewards.min() >= 0 else None
    )
    return RewardModel(kind, means, chols, trained, floor)


@dataclass(frozen=True)
class Decisions:
    """What the policy decided for each customer.

    Attributes:
        action: Chosen action index per customer.
        propensity: Probability the policy gives that action to that customer.
        explored: True where the action came from uniform exploration.
        expected: Posterior-mean expected reward of every action, shape (n, actions).
        probs: Full action distribution per customer (only when asked for).
    """

    action: IntArray
    propensity: FloatArray
    explored: NDArray[np.bool_]
    expected: NDArray[np.floating]
    probs: FloatArray | None


def decide(
    model: RewardModel,
    X: NDArray[np.floating],
    *,
    allowed: NDArray[np.bool_] | None = None,
    exploration: float = 0.05,
    samples: int = 16,
    rng: np.random.Generator,
    return_probs: bool = False,
) -> Decisions:
    """Choose an action for every row of ``X`` by Thompson sampling with exploration.

    The policy is a uniform mixture of ``samples`` posterior draws (each customer follows
    one draw, picked at random) blended with uniform exploration over the allowed
    actions. Because the draws are shared, each customer's exact probability of every
    action is known, and it is recorded as the propensity for the next round of learning.

    Args:
        model: The fitted reward model.
        X: Customer features (n x d), same encoding as for fitting. float32 is fastest.
        allowed: Actions that may be chosen (default: all trained actions): one flag per
            action, or one row of flags per customer (n x actions, e.g. by consent).
        exploration: Share of customers given a uniformly random allowed action.
        samples: Posterior draws mixed (1 = greedy on the posterior mean).
        rng: Random generator (seeded by the caller).
        return_probs: Also return the full (n x actions) action distribution.

    Returns:
        The decisions.
    """
    if allowed is not None and allowed.ndim == 2:
        return _decide_per_row(model, X, allowed, exploration, samples, rng, return_probs)
    n = X.shape[0]
    n_act = model.n_actions
    ok = model.trained.copy() if allowed is None else (allowed & model.trained)
    allowed_idx = np.flatnonzero(ok)
    if allowed_idx.size == 0:
        raise ValueError("no action is both allowed and learnable from the log")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    draws = model.means[None, :, :] if samples == 1 else model.sample(samples, rng)
    k = draws.shape[0]
    # (d, k * a): one matrix product scores every draw of every action at once
    w_all = np.ascontiguousarray(draws.transpose(2, 0, 1).reshape(X.shape[1], k * n_act)).astype(
        dtype
    )
    w_mean = np.ascontiguousarray(model.means.T).astype(dtype)
    neg_inf = np.array(-np.inf, dtype=dtype)
    blocked = ~ok
    action = np.empty(n, dtype=np.int64)
    propensity = np.empty(n)
    explored: NDArray[np.bool_] = np.asarray(rng.random(n) < exploration)
    follow: IntArray = np.asarray(rng.integers(0, k, size=n), dtype=np.int64)
    random_pick = allowed_idx[rng.integers(0, allowed_idx.size, size=n)]
    expected = np.empty((n, n_act), dtype=dtype)
    probs_all = np.empty((n, n_act)) if return_probs else None
    explore_mass = exploration / allowed_idx.size
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        block = X[start:stop].astype(dtype, copy=False)
        m = stop - start
        scores = (block @ w_all).reshape(m, k, n_act)
        if blocked.any():
            scores[:, :, blocked] = neg_inf
        best: IntArray = np.argmax(scores, axis=2)
        counts = np.zeros((m, n_act))
        for a in allowed_idx:
            counts[:, a] = np.count_nonzero(best == a, axis=1)
        probs = (1.0 - exploration) * counts / k
        probs[:, allowed_idx] += explore_mass
        greedy = best[np.arange(m), follow[start:stop]]
        chosen = np.where(explored[start:stop], random_pick[start:stop], greedy)
        action[start:stop] = chosen
        propensity[start:stop] = probs[np.arange(m), chosen]
        expected[start:stop] = model.link(block @ w_mean)
        if probs_all is not None:
            probs_all[start:stop] = probs
    return Decisions(action, propensity, explored, expected, probs_all)


def _decide_per_row(
    model: RewardModel,
    X: NDArray[np.floating],
    allowed: NDArray[np.bool_],
    exploration: float,
    samples: int,
    rng: np.random.Generator,
    return_probs: bool,
) -> Decisions:
    """:func:`decide` with a row of allowed actions per customer.

    Customers sharing a row of flags are decided together (one call per pattern), so
    every customer's propensities stay exact.
    """
    n, n_act = X.shape[0], model.n_actions
    if allowed.shape != (n, n_act):
        raise ValueError(f"allowed has shape {allowed.shape}, expected {(n, n_act)}")
    if n_act <= 62:
        codes = allowed.astype(np.int64) @ (np.int64(1) << np.arange(n_act, dtype=np.int64))
        patterns, inverse = np.unique(codes, return_inverse=True)
    else:
        _, inverse = np.unique(allowed, axis=0, return_inverse=True)
        patterns = np.arange(int(inverse.max()) + 1 if n else 0)
    inverse = inverse.reshape(-1)
    action = np.empty(n, dtype=np.int64)
    propensity = np.empty(n)
    explored = np.zeros(n, dtype=bool)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    expected = np.empty((n, n_act), dtype=dtype)
    probs = np.zeros((n, n_act)) if return_probs else None
    for g in range(len(patterns)):
        rows = np.flatnonzero(inverse == g)
        d = decide(
            model,
            X[rows],
            allowed=allowed[rows[0]],
            exploration=exploration,
            samples=samples,
            rng=rng,
            return_probs=return_probs,
        )
        action[rows], propensity[rows], explored[rows] = d.action, d.propensity, d.explored
        expected[rows] = d.expected
        if probs is not None and d.probs is not None:
            probs[rows] = d.probs
    return Decisions(action, propensity, explored, expected, probs)


def estimate_propensities(
    X: FloatArray, actions: IntArray, n_actions: int, *, l2: float = 1.0
) -> FloatArray:
    """Estimate the logging policy's propensity of each logged action (multinomial logit).

    Used only when the log carries no ``propensity`` column.

    Returns:
        The estimated probability of the logged action per row, floored at 1e-3.
    """
    n, d = X.shape
    Y = np.zeros((n, n_actions))
    Y[np.arange(n), actions] = 1.0

    def loss(flat: FloatArray) -> tuple[float, FloatArray]:
        W = flat.reshape(d, n_actions)
        Z = X @ W
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)
        ll = -float(np.log(np.maximum(P[np.arange(n), actions], 1e-300)).sum())
        grad = X.T @ (P - Y) + l2 * W
        return ll + 0.5 * l2 * float(np.square(W).sum()), grad.ravel()

    from scipy import optimize

    res = optimize.minimize(loss, np.zeros(d * n_actions), jac=True, method="L-BFGS-B")
    W = res.x.reshape(d, n_actions)
    Z = X @ W
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P /= P.sum(axis=1, keepdims=True)
    out: FloatArray = np.maximum(P[np.arange(n), actions], 1e-3)
    return out
