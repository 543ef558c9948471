"""Offline evaluation of the learned policy on a hold-out of the exposures log.

A reward model fitted on the rest of the log decides for the held-out rows (each row with
the actions its customer may now be sent); the decisions are scored by IPS, SNIPS and DR
against the logging policy and the best single action. Rates (0/1 rewards) are kept
within [0, 1] with bounded intervals (see :mod:`agents.personalization._ope`), and a
relative gain is only stated when today's value is known well enough to divide by.
"""

# ruff: noqa: N803, N806  (X: the design matrix, as in the maths it feeds)

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from agents.personalization._bandit import RewardModel, decide, fit_reward_model
from agents.personalization._models import (
    Estimate,
    PersonalizationSpec,
    PolicyEvaluation,
    gain_text,
)
from agents.personalization._ope import Bounds, OpeResult, evaluate_policy, lift, reward_bounds
from conductor.numbers import percent, significant

__all__ = ["LogRows", "evaluate"]


@dataclass(frozen=True)
class LogRows:
    """The exposures log as the evaluation reads it.

    Attributes:
        X: Features of each row's customer.
        action: Logged action per row.
        reward: Logged reward per row.
        propensity: The logging policy's propensity per row (logged or estimated).
        weights: Importance weights for fitting.
        allowed: Per row, the actions its customer may now be sent (rows x actions).
        logged: True when the propensities came from the log.
    """

    X: NDArray[np.float64]
    action: NDArray[np.int64]
    reward: NDArray[np.float64]
    propensity: NDArray[np.float64]
    weights: NDArray[np.float64]
    allowed: NDArray[np.bool_]
    logged: bool


def evaluate(
    spec: PersonalizationSpec,
    X: NDArray[np.float64],
    population: NDArray[np.bool_],
    log: LogRows,
    allowed: NDArray[np.bool_],
    kind: Literal["logistic", "linear"],
    rng: np.random.Generator,
) -> PolicyEvaluation:
    """Fit on part of the log, evaluate new / logging / best single on the rest."""
    n_log = log.action.size
    hold = rng.random(n_log) < spec.holdout_share
    if hold.sum() < 2 or (~hold).sum() < 2:
        hold = np.arange(n_log) % 2 == 0
    tr = ~hold
    model: RewardModel = fit_reward_model(
        log.X[tr],
        log.action[tr],
        log.reward[tr],
        log.weights[tr],
        allowed.size,
        kind=kind,
        prior_precision=spec.prior_precision,
    )
    Xh = log.X[hold]
    q_hat = model.predict(Xh).astype(np.float64)
    usable = allowed & model.trained
    per_row = log.allowed[hold] & model.trained
    per_row[~per_row.any(axis=1)] = usable  # nothing learnable on this fit: what anyone may get
    dec = decide(
        model,
        Xh,
        allowed=per_row,
        exploration=spec.exploration,
        samples=spec.thompson_samples,
        rng=rng,
        return_probs=True,
    )
    assert dec.probs is not None
    pop = X[population] if population.any() else log.X[tr]
    if pop.shape[0] > 200_000:
        pop = pop[rng.choice(pop.shape[0], 200_000, replace=False)]
    mean_pred = model.predict(pop).mean(axis=0)
    best = int(np.flatnonzero(usable)[np.argmax(mean_pred[usable])])
    bounds = reward_bounds(log.reward)
    r, a, p = log.reward[hold], log.action[hold], log.propensity[hold]
    conf = spec.confidence
    mw = spec.max_weight
    new = evaluate_policy("new", r, a, p, dec.probs, q_hat, max_weight=mw, confidence=conf, bounds=bounds)  # fmt: skip
    onehot = np.zeros_like(q_hat)
    onehot[:, best] = 1.0
    single = evaluate_policy("best_single", r, a, p, onehot, q_hat, max_weight=mw, confidence=conf, bounds=bounds)  # fmt: skip
    logged_probs = np.zeros_like(q_hat)
    logged_probs[np.arange(r.size), a] = p
    logging = evaluate_policy("logging", r, a, p, logged_probs, np.zeros_like(q_hat), confidence=conf, bounds=bounds)  # fmt: skip
    vs_log = lift("new-logging", new, logging, confidence=conf)
    vs_single = lift("new-best_single", new, single, confidence=conf)
    estimates = [*new.estimates, *logging.estimates, *single.estimates, vs_log, vs_single]
    return PolicyEvaluation(
        n=int(hold.sum()),
        confidence=conf,
        propensities="logged" if log.logged else "estimated",
        estimates=estimates,
        effective_sample_size=new.effective_sample_size,
        clipped_share=new.clipped_share,
        better_than_logging=bool(vs_log.ci_low > 0),
        conclusion=_conclusion(spec, new, logging, vs_log),
        bounds=list(bounds) if bounds is not None else None,
        notes=_notes(bounds, estimates, r),
    )


def _conclusion(spec: PersonalizationSpec, new: OpeResult, old: OpeResult, gain: Estimate) -> str:
    """One sentence for the marketer: better, worse, or not distinguishable."""
    conf = spec.confidence
    new_dr, log_dr = new.estimates[2], old.estimates[2]
    rel = gain_text(new_dr, log_dr, gain, conf)
    inner = "; " + rel.strip()[1:-1]  # the same, inside the sentence's own parentheses
    # Rates read as percentages (3.12%), other rewards to four significant figures.
    rate = new.bounds is not None and new.bounds[1] is not None
    nv, lv = (
        (percent(new_dr.value, 2), percent(log_dr.value, 2))
        if rate
        else (significant(new_dr.value, 4), significant(log_dr.value, 4))
    )
    if gain.ci_low > 0:
        return (
            f"The new policy is expected to earn {nv} {spec.reward_label} per customer "
            f"against {lv} for the current one{rel}; the gain is above zero at "
            f"{conf:.0%} confidence."
        )
    if gain.ci_high < 0:
        return (
            f"The new policy looks worse than the current one ({nv} vs {lv} "
            f"{spec.reward_label} per customer{inner}); do not roll it out."
        )
    return (
        f"The new policy's estimated value ({nv} vs {lv} "
        f"{spec.reward_label} per customer{inner}) is not distinguishable from the current "
        f"one at {conf:.0%} confidence; roll it out to a test group first."
    )


def _notes(
    bounds: Bounds | None, estimates: list[Estimate], rewards: NDArray[np.float64]
) -> list[str]:
    """How the values were kept possible, in words."""
    if bounds is None:
        return ["rewards can be negative: values and intervals are not bounded (normal intervals)"]
    if bounds[1] is None:
        notes = ["rewards are never negative: values and intervals are kept at or above 0"]
    else:
        k, n = float(rewards.sum()), rewards.size
        notes = [
            "rewards are rates (0 to 1): every value and interval is kept within [0, 1]; "
            f"today's policy has an exact (Clopper-Pearson) interval on {k:g} in {n:,} rows, "
            "the off-policy estimates a Clopper-Pearson interval on their effective sample "
            "size (Korn-Graubard), and the lifts combine the two (MOVER)"
        ]
    for e in estimates:
        if e.clipped and e.unclipped_value is not None:
            notes.append(
                f"{e.policy} {e.estimator.upper()}: the raw estimate {e.unclipped_value:.4g} is "
                f"outside what the reward allows and is reported as {e.value:.4g}"
            )
    return notes
