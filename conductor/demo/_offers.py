"""Personalization: the offer catalogue, the reward model and the logged exposures.

Rewards are drawn from a logistic model over documented customer features; the exposures
log from a softmax logging policy (a marketer's rule of thumb) over consented customers.
Writes ``exposures.parquet``, ``truth_rewards.parquet`` (every customer's true reward
probability per action) and ``actions.csv``; the policy values come back as
:class:`PolicyTruth`.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from conductor.demo._customers import _COUNTRIES
from conductor.demo._data_common import (
    _US_PER_DAY,
    ACTIONS,
    FloatArray,
    _midnight_us,
    _write_parquet,
)
from conductor.demo._models import PolicyTruth

# The known model. Numbers are chosen to look like a mid-sized European e-tailer.

# Personalization: reward = sigmoid(base + action effect), features defined in _features().
_FEATURES: dict[str, str] = {
    "age": "(age - 40) / 15",
    "tenure": "(ln(1 + tenure_days) - 6) / 1",
    "aov": "(ln(avg_order_value) - 4.3) / 0.45",
    "recency": "(min(days since the customer's last event, 120) - 45) / 30; 120 with no events",
    "frequency": "min(conversions in events.parquet, 3)",
    "loyalty": "1 if loyalty_member else 0",
    "ship_sensitive": "1 if country in (ES, IE) else 0",
}
_BASE_INTERCEPT = -3.1
_BASE_WEIGHTS = {"frequency": 0.35, "recency": -0.25, "aov": 0.15, "loyalty": 0.2}
_ACTION_INTERCEPTS = {
    "winback_discount_email": -0.15,
    "loyalty_points_email": -0.10,
    "new_arrivals_push": -0.05,
    "free_shipping_sms": -0.10,
    "no_offer": 0.0,
}
_ACTION_WEIGHTS: dict[str, dict[str, float]] = {
    "winback_discount_email": {"recency": 0.65, "frequency": -0.2, "aov": -0.1},
    "loyalty_points_email": {"tenure": 0.5, "loyalty": 0.45, "frequency": 0.25},
    "new_arrivals_push": {"age": -0.6, "recency": -0.3},
    "free_shipping_sms": {"aov": -0.5, "ship_sensitive": 0.55},
    "no_offer": {},
}
# The logging policy is a marketer's rule of thumb, softened by a softmax.
_LOG_TEMPERATURE = 1.5
_LOG_INTERCEPTS = {
    "winback_discount_email": 0.0,
    "loyalty_points_email": 0.0,
    "new_arrivals_push": -0.2,
    "free_shipping_sms": -0.3,
    "no_offer": -0.5,
}
_LOG_WEIGHTS: dict[str, dict[str, float]] = {
    "winback_discount_email": {"recency": 0.8},
    "loyalty_points_email": {"tenure": 0.6},
    "new_arrivals_push": {"age": -0.5},
    "free_shipping_sms": {"aov": -0.4},
    "no_offer": {},
}
_EXPOSURE_DAYS = 60

# id, channel, offer, template (Jinja2), subject (email only). Friendly and plain, no
# false urgency; the brand strategy appends the legally required footers per channel.
_HI = "Hi {{ first_name | default('there') }}, "
_ACTION_CATALOGUE: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "winback_discount_email",
        "email",
        "15% off the next order",
        _HI + "it has been a while and we have missed you. Here is 15% off your next order "
        "with code {{ code | default('WELCOME15') }}, valid for 14 days.",
        "A little something to welcome you back",
    ),
    (
        "loyalty_points_email",
        "email",
        "200 bonus loyalty points",
        _HI + "thank you for shopping with {{ brand_name | default('us', true) }}. We have "
        "added {{ points | default(200) }} bonus points to your account, ready for your "
        "next order.",
        "200 bonus points, with our thanks",
    ),
    (
        "new_arrivals_push",
        "push",
        "new arrivals picked for you",
        _HI + "new arrivals have just landed and we picked a few we think you will like.",
        "",
    ),
    (
        "free_shipping_sms",
        "sms",
        "free delivery this week",
        _HI + "delivery is on us this week, with no minimum spend.",
        "",
    ),
    # Doing nothing is an action the log knows; it has no message.
    ("no_offer", "none", "nothing sent", "", ""),
)


def _features(
    c: Mapping[str, npt.NDArray[np.generic]],
    ev: Mapping[str, npt.NDArray[np.generic]],
    n: int,
    today: dt.date,
) -> dict[str, FloatArray]:
    """The reward model's features, exactly as documented in ``_FEATURES``."""
    cust = np.asarray(ev["cust"], dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, cust, np.asarray(ev["time"], dtype=np.int64))
    days = np.where(last > np.iinfo(np.int64).min, (_midnight_us(today) - last) / _US_PER_DAY, 120)
    conv = np.bincount(cust[np.asarray(ev["kind"]) == 4], minlength=n)
    country = np.asarray(c["country"])
    ship = np.isin(country, [_COUNTRIES.index("ES"), _COUNTRIES.index("IE")])
    return {
        "age": (np.asarray(c["age"], dtype=np.float64) - 40.0) / 15.0,
        "tenure": np.log1p(np.asarray(c["tenure"], dtype=np.float64)) - 6.0,
        "aov": (np.log(np.asarray(c["aov"], dtype=np.float64)) - 4.3) / 0.45,
        "recency": (np.minimum(days, 120.0) - 45.0) / 30.0,
        "frequency": np.minimum(conv, 3).astype(np.float64),
        "loyalty": np.asarray(c["loyalty"], dtype=np.float64),
        "ship_sensitive": ship.astype(np.float64),
    }


def _linear(
    feats: Mapping[str, FloatArray], intercept: float, weights: Mapping[str, float]
) -> FloatArray:
    n = next(iter(feats.values())).size
    out = np.full(n, intercept)
    for name, w in weights.items():
        out += w * feats[name]
    return out


def _reward_probs(feats: Mapping[str, FloatArray]) -> FloatArray:
    """customers x actions matrix of true reward probabilities."""
    base = _linear(feats, _BASE_INTERCEPT, _BASE_WEIGHTS)
    cols = [base + _linear(feats, _ACTION_INTERCEPTS[a], _ACTION_WEIGHTS[a]) for a in ACTIONS]
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.stack(cols, axis=1)))
    return out


def _logging_probs(feats: Mapping[str, FloatArray]) -> FloatArray:
    scores = np.stack(
        [_linear(feats, _LOG_INTERCEPTS[a], _LOG_WEIGHTS[a]) for a in ACTIONS], axis=1
    )
    scores = scores / _LOG_TEMPERATURE
    scores -= scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def _exposures(
    rng: np.random.Generator,
    *,
    out_dir: Path,
    ids: pa.Array,
    c: Mapping[str, npt.NDArray[np.generic]],
    feats: Mapping[str, FloatArray],
    today: dt.date,
) -> PolicyTruth:
    consent = np.asarray(c["consent"], dtype=bool)
    probs = _reward_probs(feats)
    logp = _logging_probs(feats)
    # Only consented customers were ever sent anything; each got one to three sends.
    eligible = np.flatnonzero(consent)
    reps = 1 + rng.poisson(0.5, eligible.size).clip(max=2)
    who = np.repeat(eligible, reps)
    u = rng.random(who.size)
    cum = np.cumsum(logp[who], axis=1)
    cum[:, -1] = 1.0
    action = (u[:, None] >= cum).sum(axis=1)
    propensity = logp[who, action]
    reward = (rng.random(who.size) < probs[who, action]).astype(np.int8)
    day0 = _midnight_us(today) - _EXPOSURE_DAYS * _US_PER_DAY
    ts = day0 + rng.integers(0, _EXPOSURE_DAYS * _US_PER_DAY, who.size)
    order = np.argsort(ts, kind="stable")
    who, action, propensity, reward, ts = (
        who[order],
        action[order],
        propensity[order],
        reward[order],
        ts[order],
    )
    _write_parquet(
        out_dir / "exposures.parquet",
        pa.table(
            {
                "customer_id": ids.take(pa.array(who)),
                "timestamp": pa.array(ts, pa.timestamp("us")),
                "action": pa.array(list(ACTIONS), pa.string()).take(pa.array(action)),
                "reward": pa.array(reward),
                "propensity": pa.array(propensity),
            }
        ),
    )
    table = {"customer_id": ids, "consent_marketing": pa.array(consent)}
    table.update({f"p_{a}": pa.array(probs[:, i]) for i, a in enumerate(ACTIONS)})
    _write_parquet(out_dir / "truth_rewards.parquet", pa.table(table))

    p_el = probs[eligible]
    values = p_el.mean(axis=0)
    best = int(np.argmax(values))
    return PolicyTruth(
        actions=list(ACTIONS),
        features=dict(_FEATURES),
        base_intercept=_BASE_INTERCEPT,
        base_weights=dict(_BASE_WEIGHTS),
        action_intercepts=dict(_ACTION_INTERCEPTS),
        action_weights={a: dict(w) for a, w in _ACTION_WEIGHTS.items()},
        logging_temperature=_LOG_TEMPERATURE,
        logging_intercepts=dict(_LOG_INTERCEPTS),
        logging_weights={a: dict(w) for a, w in _LOG_WEIGHTS.items()},
        population="customers with consent_marketing = true; unassigned ones count as no_offer",
        eligible_customers=int(eligible.size),
        exposures=int(who.size),
        action_values=dict(zip(ACTIONS, values.tolist(), strict=True)),
        best_single_action=ACTIONS[best],
        best_single_value=float(values[best]),
        logging_value=float((p_el * logp[eligible]).sum(axis=1).mean()),
        oracle_value=float(p_el.max(axis=1).mean()),
        reward_table="truth_rewards.parquet",
    )


def _write_actions(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "channel", "offer", "template", "subject"])
        w.writerows(_ACTION_CATALOGUE)
