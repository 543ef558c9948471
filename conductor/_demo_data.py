"""Synthetic data for ``conductor demo``, generated from models whose answers are known.

A fictional online retailer: customers with features and consent flags, 90 days of
touchpoints and funnel events drawn from a first-order journey chain, two years of weekly
spend and outcomes drawn from adstock + Hill response curves, and an exposures log drawn
from a softmax logging policy over a logistic reward model. Because every generator is
known, the right answers are too, and they are written beside the data as ``truth.json``
(:class:`DemoTruth`): exact Markov removal-effect attribution, each channel's response curve
and ROI with the true optimal budget split, and the true value of any personalization
policy. The scoring helpers at the end compare an agent's answer with that truth.

Everything is vectorised (numpy, pyarrow, DuckDB), so a million customers take seconds.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from conductor._demo_models import (
    BudgetTruth,
    ChannelCurve,
    DemoTruth,
    JourneyTruth,
    PlanTruth,
    PolicyTruth,
)
from conductor.errors import ConductorError, DataError

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "EVENT_TYPES",
    "ChannelCurve",
    "DemoTruth",
    "JourneyTruth",
    "PlanTruth",
    "PolicyTruth",
    "generate_demo_data",
    "load_truth",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Progress = Callable[[str, float, float | None], None]

CHANNELS: tuple[str, ...] = ("paid_search", "social", "email", "display", "affiliate")
ACTIONS: tuple[str, ...] = (
    "winback_discount_email",
    "loyalty_points_email",
    "new_arrivals_push",
    "free_shipping_sms",
    "no_offer",
)
_NO_ACTION = "no_offer"
EVENT_TYPES: tuple[str, ...] = ("touch", "visit", "add_to_cart", "checkout", "conversion")

# ---------------------------------------------------------------------------------------
# The known models. Numbers are chosen to look like a mid-sized European e-tailer.
# ---------------------------------------------------------------------------------------

# Journey chain, rows: start then each channel; columns: each channel, conversion, null.
# Display and social mostly assist (they hand over to search and email), search and
# affiliate close: the attribution models disagree, which is what the demo should show.
_JOURNEY = np.array(
    [
        # ps    social email display affil  conv  null
        [0.30, 0.25, 0.10, 0.20, 0.15, 0.00, 0.00],  # start
        [0.08, 0.05, 0.10, 0.04, 0.08, 0.12, 0.53],  # paid_search
        [0.20, 0.12, 0.08, 0.08, 0.05, 0.03, 0.44],  # social
        [0.10, 0.04, 0.15, 0.03, 0.05, 0.10, 0.53],  # email
        [0.18, 0.10, 0.06, 0.12, 0.06, 0.02, 0.46],  # display
        [0.06, 0.03, 0.05, 0.02, 0.06, 0.18, 0.60],  # affiliate
    ]
)
_VISIT_PROB = np.array([0.55, 0.25, 0.35, 0.12, 0.50])  # a touch leads to a site visit
_ACTIVE_SHARE = 0.85  # customers with at least one journey in the window
_REPEAT_PROB = 0.30  # a converter starts another journey
_MAX_ROUNDS = 3
_WINDOW_DAYS = 90

# Marketing mix: per channel (decay, half-saturation $/week, shape, max weekly revenue,
# mean weekly spend, log-sd of weekly spend, share of dark weeks). Social is S-shaped
# (shape 2.4) and sits near its inflection point; display is saturated; so the current mix
# is improvable. Dark weeks (paused campaigns) pin down each curve's level: without
# them a saturated channel's effect is indistinguishable from the baseline.
_MMM: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "paid_search": (0.15, 5500.0, 1.2, 62000.0, 7000.0, 0.30, 0.05),
    "social": (0.45, 6500.0, 2.4, 58000.0, 4600.0, 0.45, 0.12),
    "email": (0.30, 1200.0, 1.0, 12000.0, 1300.0, 0.45, 0.12),
    "display": (0.40, 2200.0, 1.0, 15000.0, 3600.0, 0.50, 0.18),
    "affiliate": (0.10, 3000.0, 1.6, 24000.0, 2700.0, 0.40, 0.10),
}
_HISTORY_WEEKS = 104
_CURRENT_WEEKS = 13  # "current mix" = the last quarter's spend shares
_BASELINE = 175_000.0  # weekly revenue with no paid media
_TREND = 0.06  # baseline growth per year
_SEASON_AMPLITUDE = 0.12
_SEASON_PEAK_DOY = 340  # early December
_NOISE_SD = 2_000.0
_REVENUE_PER_CONVERSION = 85.0

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

# Customers who asked not to be contacted (the brand's `suppressed` exclusion), whatever
# their consent flag says.
_SUPPRESSED_SHARE = 0.02
_COUNTRIES = ("GB", "DE", "FR", "NL", "ES", "IE")
_COUNTRY_P = (0.34, 0.22, 0.16, 0.10, 0.10, 0.08)
_GENDERS = ("female", "male", "non_binary")
_GENDER_P = (0.52, 0.45, 0.03)
_FIRST_NAMES = (
    "Alex", "Sam", "Maria", "Jonas", "Chloe", "Luca", "Emma", "Noah", "Sofia", "Liam",
    "Anna", "Finn", "Julia", "Hugo", "Mia", "Oscar", "Lea", "Ruben", "Ines", "Sean",
)  # fmt: skip

_US_PER_DAY = 86_400_000_000


# ---------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------


def generate_demo_data(
    out_dir: Path,
    *,
    customers: int = 20_000,
    seed: int = 7,
    today: dt.date,
    on_progress: Progress | None = None,
) -> DemoTruth:
    """Generate the demo retailer's data and its truth into ``out_dir``.

    Writes ``customers.parquet``, ``events.parquet``, ``exposures.parquet``,
    ``truth_rewards.parquet``, ``spend.csv``, ``outcomes.csv``, ``actions.csv`` and
    ``truth.json``. The same ``seed``, ``customers`` and ``today`` give identical data.

    Args:
        out_dir: Folder to write into (created when missing; our files are overwritten).
        customers: Number of customers (100 to 20,000,000).
        seed: Random seed.
        today: The day the data ends; all events, spend and exposures are before it.
        on_progress: Called as ``on_progress(phase, done, total)`` before each phase
            (``customers``, ``journeys``, ``events``, ``spend``, ``exposures``, ``truth``)
            and once with ``done``; ``done`` counts finished phases out of ``total``.

    Returns:
        The truth, also written to ``out_dir/truth.json``.

    Raises:
        ConductorError: ``customers`` is out of range or the folder cannot be written.
    """
    if not 100 <= customers <= 20_000_000:
        raise ConductorError(
            f"cannot generate {customers:,} customers",
            code="demo.bad-size",
            hint="use --customers between 100 and 20,000,000",
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConductorError(
            f"cannot create the demo data folder {out_dir}: {exc.strerror}",
            code="demo.unwritable",
            hint="choose another folder with --out",
        ) from None
    phases = ("customers", "journeys", "events", "spend", "exposures", "truth", "done")

    def tick(i: int) -> None:
        if on_progress is not None:
            on_progress(phases[i], float(i), float(len(phases) - 1))

    if isinstance(today, dt.datetime):
        today = today.date()
    try:
        truth = _generate(out_dir, customers, seed, today, tick)
    except OSError as exc:
        raise ConductorError(
            f"cannot write the demo data into {out_dir}: {exc}",
            code="demo.unwritable",
            hint="check the folder is writable and the disk has space, or use --out",
        ) from None
    tick(6)
    return truth


def _generate(
    out_dir: Path, customers: int, seed: int, today: dt.date, tick: Callable[[int], None]
) -> DemoTruth:
    # Independent streams: the spend history depends on the seed only, so the budget
    # story is the same whatever the number of customers.
    rng, rng_spend, rng_exp, rng_suppr = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    tick(0)
    ids = _customer_ids(customers)
    cust = _customers(rng, customers)
    # A separate stream, so adding the flag left every other draw unchanged.
    cust["suppressed"] = rng_suppr.random(customers) < _SUPPRESSED_SHARE
    tick(1)
    journey, ev = _journeys(rng, customers, cust["aov"], today)
    tick(2)
    _write_parquet(out_dir / "events.parquet", _events_table(ids, ev))
    _write_parquet(out_dir / "customers.parquet", _customers_table(ids, cust))
    feats = _features(cust, ev, customers, today)
    del ev
    tick(3)
    budget = _spend_outcomes(rng_spend, out_dir, today)
    tick(4)
    policy = _exposures(rng_exp, out_dir=out_dir, ids=ids, c=cust, feats=feats, today=today)
    _write_actions(out_dir / "actions.csv")
    tick(5)
    truth = DemoTruth(
        seed=seed,
        customers=customers,
        today=today,
        files={
            "events": "events.parquet",
            "customers": "customers.parquet",
            "exposures": "exposures.parquet",
            "spend": "spend.csv",
            "outcomes": "outcomes.csv",
            "actions": "actions.csv",
        },
        journey=journey,
        budget=budget,
        policy=policy,
    )
    (out_dir / "truth.json").write_text(truth.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return truth


def load_truth(out_dir: Path) -> DemoTruth:
    """Read ``truth.json`` from a demo data folder.

    Raises:
        DataError: The file is missing or not a demo truth.
    """
    path = out_dir / "truth.json"
    try:
        return DemoTruth.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            "no truth.json in the demo data folder",
            file=path,
            code="demo.no-truth",
            hint="generate the data with `conductor demo` first",
        ) from None
    except ValueError as exc:
        raise DataError(
            f"truth.json is not a demo truth: {str(exc).splitlines()[0]}",
            file=path,
            code="demo.bad-truth",
            hint="regenerate the data with `conductor demo`",
        ) from None


def _customer_ids(n: int) -> pa.Array:
    width = max(7, len(str(n - 1)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise("C", digits, "")


def _customers(rng: np.random.Generator, n: int) -> dict[str, npt.NDArray[np.generic]]:
    age = np.clip(np.round(rng.normal(41.0, 14.0, n)), 16, 88).astype(np.int32)
    tenure = np.maximum(1, np.round(rng.exponential(700.0, n))).astype(np.int32)
    aov = np.round(np.exp(rng.normal(4.3, 0.45, n)), 2)
    # Interest in health products rises with age; it is sensitive, so it never enters the
    # reward model: any fairness gap an agent shows comes through age, not through it.
    health = rng.random(n) < 0.08 + 0.004 * (age - 16)
    return {
        "first_name": rng.integers(0, len(_FIRST_NAMES), n).astype(np.int32),
        "consent": rng.random(n) < 0.85,
        "age": age,
        "country": rng.choice(len(_COUNTRIES), n, p=_COUNTRY_P).astype(np.int32),
        "tenure": tenure,
        "aov": aov,
        "loyalty": rng.random(n) < 0.15 + 0.2 * (tenure > 730),
        "gender": rng.choice(len(_GENDERS), n, p=_GENDER_P).astype(np.int32),
        "health": health,
    }


def _customers_table(ids: pa.Array, c: Mapping[str, npt.NDArray[np.generic]]) -> pa.Table:
    def pick(values: Sequence[str], idx: npt.NDArray[np.generic]) -> pa.Array:
        return pa.array(values, pa.string()).take(pa.array(idx))

    return pa.table(
        {
            "customer_id": ids,
            "first_name": pick(_FIRST_NAMES, c["first_name"]),
            "consent_marketing": pa.array(c["consent"]),
            "age": pa.array(c["age"]),
            "country": pick(_COUNTRIES, c["country"]),
            "tenure_days": pa.array(c["tenure"]),
            "avg_order_value": pa.array(c["aov"]),
            "loyalty_member": pa.array(c["loyalty"]),
            "gender": pick(_GENDERS, c["gender"]),
            "health_interest": pa.array(c["health"]),
            "suppressed": pa.array(c["suppressed"]),
        }
    )


def _full_matrix() -> FloatArray:
    """The journey chain as a square matrix over start, channels, conversion, null."""
    n_ch = len(CHANNELS)
    full = np.zeros((n_ch + 3, n_ch + 3))
    full[: n_ch + 1, 1:] = _JOURNEY
    full[n_ch + 1, n_ch + 1] = full[n_ch + 2, n_ch + 2] = 1.0
    return full


def _conversion_probability(full: FloatArray) -> float:
    """P(absorbed in conversion | start), from the fundamental matrix of the chain."""
    t = full.shape[0] - 2  # transient states: start and the channels
    q, r = full[:t, :t], full[:t, t]
    return float(np.linalg.solve(np.eye(t) - q, r)[0])


def _removal_effects(full: FloatArray) -> tuple[float, FloatArray]:
    """Conversion probability and each channel's removal effect, solved exactly.

    ``full`` is square over start, the channels, conversion and null, in that order.
    """
    base = _conversion_probability(full)
    null = full.shape[0] - 1
    effects = np.empty(full.shape[0] - 3)
    for i in range(effects.size):
        c = i + 1
        removed = full.copy()
        removed[:, null] += removed[:, c]  # every hand-over to the channel is lost
        removed[:, c] = 0.0
        removed[c, :] = 0.0
        removed[c, null] = 1.0
        effects[i] = 1.0 - _conversion_probability(removed) / base
    return base, effects


def _journeys(
    rng: np.random.Generator, n_customers: int, aov: npt.NDArray[np.generic], today: dt.date
) -> tuple[JourneyTruth, dict[str, npt.NDArray[np.generic]]]:
    n_ch = len(CHANNELS)
    cum = np.cumsum(_JOURNEY, axis=1)
    cum[:, -1] = 1.0
    # Simulate journeys round by round: every active customer has one, converters may
    # start another after their purchase. Within a round, step the chain on all live
    # journeys at once.
    touch_cust: list[IntArray] = []
    touch_round: list[IntArray] = []
    touch_step: list[IntArray] = []
    touch_ch: list[IntArray] = []
    round_owners: list[IntArray] = []
    converted_flags: list[BoolArray] = []
    who = np.flatnonzero(rng.random(n_customers) < _ACTIVE_SHARE)
    n_journeys = 0
    for rnd in range(_MAX_ROUNDS):
        if who.size == 0:
            break
        n_journeys += who.size
        live = np.arange(who.size)
        state = np.zeros(who.size, dtype=np.int64)
        outcome = np.zeros(who.size, dtype=bool)
        step = 0
        while live.size:
            u = rng.random(live.size)
            nxt = (u[:, None] >= cum[state[live]]).sum(axis=1)
            is_touch = nxt < n_ch
            ended = ~is_touch
            outcome[live[ended]] = nxt[ended] == n_ch
            touched = live[is_touch]
            touch_cust.append(who[touched])
            touch_round.append(np.full(touched.size, rnd, dtype=np.int64))
            touch_step.append(np.full(touched.size, step, dtype=np.int64))
            touch_ch.append(nxt[is_touch].astype(np.int64))
            # A touch is its journey's last when the chain absorbs at the next step; that
            # is only known later, so record the journey key and resolve after sorting.
            state[touched] = nxt[is_touch] + 1
            live = touched
            step += 1
        converted_flags.append(outcome)
        round_owners.append(who)  # journey owners of this round, for the outcome lookup
        who = who[outcome & (rng.random(who.size) < _REPEAT_PROB)]

    cust = np.concatenate(touch_cust)
    rnd_arr = np.concatenate(touch_round)
    step_arr = np.concatenate(touch_step)
    ch = np.concatenate(touch_ch)
    order = np.lexsort((step_arr, rnd_arr, cust))
    cust, rnd_arr, ch = cust[order], rnd_arr[order], ch[order]
    n_t = cust.size
    same_journey_next = np.zeros(n_t, dtype=bool)
    same_journey_next[:-1] = (cust[1:] == cust[:-1]) & (rnd_arr[1:] == rnd_arr[:-1])
    is_last = ~same_journey_next
    # Journey outcome for each touch: look it up by (round, customer).
    conv_of_touch = np.zeros(n_t, dtype=bool)
    for rnd, (owners, flags) in enumerate(zip(round_owners, converted_flags, strict=True)):
        in_round = rnd_arr == rnd
        pos = np.searchsorted(owners, cust[in_round])
        conv_of_touch[in_round] = flags[pos]
    converting_last = is_last & conv_of_touch

    # Timeline per customer: gaps between touches, a longer gap after a purchase, then
    # squeeze into the window if needed and place it at a random offset.
    first_of_cust = np.ones(n_t, dtype=bool)
    first_of_cust[1:] = cust[1:] != cust[:-1]
    new_journey = np.ones(n_t, dtype=bool)
    new_journey[1:] = ~same_journey_next[:-1]
    gap = rng.exponential(3.0, n_t)
    gap = np.where(new_journey, 1.0 + rng.exponential(10.0, n_t), gap)
    gap[first_of_cust] = 0.0
    rel = np.cumsum(gap)
    starts = np.flatnonzero(first_of_cust)
    sizes = np.diff(np.append(starts, n_t))
    rel -= np.repeat(rel[starts], sizes)
    duration = np.repeat(rel[np.append(starts[1:], n_t) - 1], sizes)
    # A squeezed timeline fills a slightly random share of the window, so long-lived
    # customers do not all start at the window's first microsecond.
    window = np.repeat((_WINDOW_DAYS - 3.0) * (0.9 + 0.1 * rng.random(starts.size)), sizes)
    scale = np.minimum(1.0, window / np.maximum(duration, 1e-9))
    offset = np.repeat(rng.random(starts.size), sizes) * (window - duration * scale)
    day0 = _midnight_us(today) - _WINDOW_DAYS * _US_PER_DAY
    t_touch = day0 + np.round((offset + rel * scale) * _US_PER_DAY).astype(np.int64)

    # Funnel after a touch: visit, and on a journey's last touch maybe add_to_cart and
    # checkout; a converting journey always goes visit -> cart -> checkout -> conversion.
    # All of it happens before the customer's next touch, so journeys stay well formed.
    room = np.full(n_t, 6 * 3600 * 1_000_000, dtype=np.int64)
    nxt_gap = np.diff(t_touch)
    has_next = ~first_of_cust[1:]
    room[:-1] = np.where(
        has_next, np.minimum(room[:-1], (nxt_gap * 0.9).astype(np.int64)), room[:-1]
    )
    visit = converting_last | (rng.random(n_t) < _VISIT_PROB[ch])
    cart = converting_last | (visit & is_last & (rng.random(n_t) < 0.30))
    cart |= visit & ~is_last & (rng.random(n_t) < 0.08)
    checkout = converting_last | (cart & is_last & (rng.random(n_t) < 0.35))
    minutes = rng.exponential([20.0, 12.0, 6.0, 4.0], (n_t, 4)) + 0.05
    steps = np.cumsum(minutes, axis=1) * 60_000_000
    squeeze = np.minimum(1.0, room / steps[:, 3])
    at = (steps * squeeze[:, None]).astype(np.int64) + t_touch[:, None]

    masks = [np.ones(n_t, dtype=bool), visit, cart, checkout, converting_last]
    e_cust = np.concatenate([cust[m] for m in masks])
    e_time = np.concatenate([t_touch] + [at[m, i] for i, m in enumerate(masks[1:])])
    e_kind = np.concatenate([np.full(int(m.sum()), k, dtype=np.int8) for k, m in enumerate(masks)])
    e_ch = np.concatenate([ch + 1] + [np.zeros(int(m.sum()), dtype=np.int64) for m in masks[1:]])
    n_conv = int(converting_last.sum())
    revenue = np.full(e_cust.size, np.nan)
    conv_cust = cust[converting_last]
    revenue[e_kind == 4] = np.round(
        np.asarray(aov, dtype=np.float64)[conv_cust] * rng.lognormal(-0.045, 0.3, n_conv), 2
    )
    order = np.argsort(e_time, kind="stable")
    events: dict[str, npt.NDArray[np.generic]] = {
        "cust": e_cust[order].astype(np.int64),
        "time": e_time[order],
        "channel": e_ch[order].astype(np.int8),
        "kind": e_kind[order],
        "revenue": revenue[order],
    }
    full = _full_matrix()
    conv_prob, effects = _removal_effects(full)
    shares = effects / effects.sum()
    total_rev = float(np.nansum(revenue))
    states = ["start", *CHANNELS, "conversion", "null"]
    truth = JourneyTruth(
        channels=list(CHANNELS),
        states=states,
        transition_matrix=full.tolist(),
        conversion_probability=conv_prob,
        removal_effects=dict(zip(CHANNELS, effects.tolist(), strict=True)),
        shares=dict(zip(CHANNELS, shares.tolist(), strict=True)),
        credits_conversions=dict(zip(CHANNELS, (shares * n_conv).tolist(), strict=True)),
        credits_revenue=dict(zip(CHANNELS, (shares * total_rev).tolist(), strict=True)),
        journeys=n_journeys,
        touches=n_t,
        conversions=n_conv,
        revenue=round(total_rev, 2),
        window_days=_WINDOW_DAYS,
    )
    return truth, events


def _midnight_us(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * _US_PER_DAY


def _events_table(ids: pa.Array, ev: Mapping[str, npt.NDArray[np.generic]]) -> pa.Table:
    is_conv = ev["kind"] == 4
    return pa.table(
        {
            "customer_id": ids.take(pa.array(ev["cust"])),
            "timestamp": pa.array(ev["time"], pa.timestamp("us")),
            "channel": pa.array(["", *CHANNELS], pa.string()).take(pa.array(ev["channel"])),
            "event_type": pa.array(EVENT_TYPES, pa.string()).take(pa.array(ev["kind"])),
            "revenue": pa.array(ev["revenue"], pa.float64(), mask=~is_conv),
        }
    )


def _write_parquet(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd")


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


# ---------------------------------------------------------------------------------------
# Marketing mix
# ---------------------------------------------------------------------------------------


def _spend_outcomes(rng: np.random.Generator, out_dir: Path, today: dt.date) -> BudgetTruth:
    last_week = today - dt.timedelta(days=today.weekday() + 7)
    first_week = last_week - dt.timedelta(weeks=_HISTORY_WEEKS - 1)
    dates = [first_week + dt.timedelta(weeks=i) for i in range(_HISTORY_WEEKS)]
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    season = np.cos(2 * math.pi * (doy - _SEASON_PEAK_DOY) / 365.25)
    t_years = np.arange(_HISTORY_WEEKS) / 52.0
    spend: dict[str, FloatArray] = {}
    curves: dict[str, ChannelCurve] = {}
    media = np.zeros(_HISTORY_WEEKS)
    for name, (decay, k, shape, beta, mean, sd, dark) in _MMM.items():
        # Independent log-normal noise plus flighting (dark weeks, bursts) gives every
        # channel spend on both sides of its half-saturation point: identifiable curves.
        x = mean * (1 + 0.08 * season) * rng.lognormal(-sd * sd / 2, sd, _HISTORY_WEEKS)
        flight = rng.random(_HISTORY_WEEKS)
        x = np.where(flight < dark, 0.0, np.where(flight > 0.92, x * 1.7, x))
        x = np.round(x, 2)
        a = np.empty(_HISTORY_WEEKS)
        carry = x[0]
        for t in range(_HISTORY_WEEKS):
            carry = decay * carry + (1 - decay) * x[t]
            a[t] = carry
        contrib = beta * a**shape / (a**shape + k**shape)
        media += contrib
        spend[name] = x
        cur = float(x[-_CURRENT_WEEKS:].mean())
        curve = ChannelCurve(
            channel=name,
            decay=decay,
            half_saturation=k,
            shape=shape,
            max_weekly_effect=beta,
            mean_weekly_spend=float(x.mean()),
            current_weekly_spend=cur,
            contribution=float(contrib.sum()),
            roi=float(contrib.sum() / x.sum()),
            marginal_roi_current=0.0,
        )
        curves[name] = curve.model_copy(update={"marginal_roi_current": curve.marginal(cur)})
    base = _BASELINE * (1 + _TREND * t_years + _SEASON_AMPLITUDE * season)
    revenue = np.round(base + media + rng.normal(0.0, _NOISE_SD, _HISTORY_WEEKS), 2)
    conversions = np.round(
        revenue / _REVENUE_PER_CONVERSION * rng.lognormal(0.0, 0.02, _HISTORY_WEEKS)
    ).astype(np.int64)
    with (out_dir / "spend.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "channel", "spend"])
        for i, d in enumerate(dates):
            w.writerows([d.isoformat(), n, f"{spend[n][i]:.2f}"] for n in _MMM)
    with (out_dir / "outcomes.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "revenue", "conversions"])
        w.writerows(
            [d.isoformat(), f"{revenue[i]:.2f}", int(conversions[i])] for i, d in enumerate(dates)
        )
    cur_total = sum(c.current_weekly_spend for c in curves.values())
    mix = {n: c.current_weekly_spend / cur_total for n, c in curves.items()}
    draft = BudgetTruth(
        first_week=first_week,
        last_week=last_week,
        weeks=_HISTORY_WEEKS,
        curves=curves,
        baseline_weekly=_BASELINE,
        trend_per_year=_TREND,
        seasonality_amplitude=_SEASON_AMPLITUDE,
        seasonality_peak_day=_SEASON_PEAK_DOY,
        noise_sd=_NOISE_SD,
        revenue_per_conversion=_REVENUE_PER_CONVERSION,
        current_mix=mix,
        reference_plan=PlanTruth(
            budget=0.0,
            weeks=0.0,
            allocation={},
            revenue=0.0,
            current_allocation={},
            current_revenue=0.0,
            uplift=0.0,
            uplift_pct=0.0,
        ),
    )
    plan = draft.optimal_plan(cur_total * _CURRENT_WEEKS, float(_CURRENT_WEEKS))
    return draft.model_copy(update={"reference_plan": plan})
