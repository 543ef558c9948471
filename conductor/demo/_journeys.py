"""Customer journeys: touches and funnel events from a first-order chain, and its truth.

Every active customer walks a Markov chain over the channels until it absorbs in
conversion or null; converters may start another journey. The touches are laid on a
90-day timeline with a visit / cart / checkout funnel after each, and the chain itself is
solved exactly for the true removal-effect attribution (:class:`JourneyTruth`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from conductor.demo._data_common import (
    _US_PER_DAY,
    CHANNELS,
    EVENT_TYPES,
    BoolArray,
    FloatArray,
    IntArray,
    _midnight_us,
)
from conductor.demo._models import JourneyTruth

# The known model. Numbers are chosen to look like a mid-sized European e-tailer.

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


@dataclass(frozen=True)
class _Touches:
    """Every simulated touch, sorted by customer, journey and step."""

    cust: IntArray  # the customer's row
    ch: IntArray  # the channel's index in CHANNELS
    same_journey_next: BoolArray  # the next touch belongs to the same journey
    is_last: BoolArray  # the journey's last touch
    converting_last: BoolArray  # the last touch of a journey that converts


def _journeys(
    rng: np.random.Generator, n_customers: int, aov: npt.NDArray[np.generic], today: dt.date
) -> tuple[JourneyTruth, dict[str, npt.NDArray[np.generic]]]:
    # The steps draw from ``rng`` in this order; any change changes the demo's data.
    touches, n_journeys = _walk_journeys(rng, n_customers)
    t_touch, first_of_cust = _timeline(rng, touches, today)
    masks, at = _funnel(rng, touches, t_touch, first_of_cust)
    events, total_rev = _events(rng, touches, t_touch, masks, at, aov)
    n_conv = int(touches.converting_last.sum())
    return _journey_truth(n_journeys, touches.cust.size, n_conv, total_rev), events


def _walk_journeys(rng: np.random.Generator, n_customers: int) -> tuple[_Touches, int]:
    """Simulate journeys round by round: every active customer has one, converters may
    start another after their purchase. Returns the touches and the number of journeys."""
    cum = np.cumsum(_JOURNEY, axis=1)
    cum[:, -1] = 1.0
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
        cust, step, ch, outcome = _walk_round(rng, cum, who)
        touch_cust.append(cust)
        touch_round.append(np.full(cust.size, rnd, dtype=np.int64))
        touch_step.append(step)
        touch_ch.append(ch)
        converted_flags.append(outcome)
        round_owners.append(who)  # journey owners of this round, for the outcome lookup
        who = who[outcome & (rng.random(who.size) < _REPEAT_PROB)]
    touches = _sorted_touches(
        np.concatenate(touch_cust),
        np.concatenate(touch_round),
        np.concatenate(touch_step),
        np.concatenate(touch_ch),
        round_owners,
        converted_flags,
    )
    return touches, n_journeys


def _walk_round(
    rng: np.random.Generator, cum: FloatArray, who: IntArray
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """One journey for each customer in ``who``, the chain stepped on all live journeys at
    once: the touches' customers, steps and channels, and whether each journey converted."""
    n_ch = len(CHANNELS)
    touch_cust: list[IntArray] = []
    touch_step: list[IntArray] = []
    touch_ch: list[IntArray] = []
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
        touch_step.append(np.full(touched.size, step, dtype=np.int64))
        touch_ch.append(nxt[is_touch].astype(np.int64))
        # A touch is its journey's last when the chain absorbs at the next step; that
        # is only known later, so record the journey key and resolve after sorting.
        state[touched] = nxt[is_touch] + 1
        live = touched
        step += 1
    return (
        np.concatenate(touch_cust),
        np.concatenate(touch_step),
        np.concatenate(touch_ch),
        outcome,
    )


def _sorted_touches(
    cust: IntArray,
    rnd_arr: IntArray,
    step_arr: IntArray,
    ch: IntArray,
    round_owners: list[IntArray],
    converted_flags: list[BoolArray],
) -> _Touches:
    """The touches in customer, journey, step order, each with its journey's outcome."""
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
    return _Touches(
        cust=cust,
        ch=ch,
        same_journey_next=same_journey_next,
        is_last=is_last,
        converting_last=is_last & conv_of_touch,
    )


def _timeline(
    rng: np.random.Generator, touches: _Touches, today: dt.date
) -> tuple[IntArray, BoolArray]:
    """Each touch's time (µs) and whether it is its customer's first.

    Timeline per customer: gaps between touches, a longer gap after a purchase, then
    squeeze into the window if needed and place it at a random offset.
    """
    cust = touches.cust
    n_t = cust.size
    first_of_cust = np.ones(n_t, dtype=bool)
    first_of_cust[1:] = cust[1:] != cust[:-1]
    new_journey = np.ones(n_t, dtype=bool)
    new_journey[1:] = ~touches.same_journey_next[:-1]
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
    return t_touch, first_of_cust


def _funnel(
    rng: np.random.Generator, touches: _Touches, t_touch: IntArray, first_of_cust: BoolArray
) -> tuple[list[BoolArray], IntArray]:
    """Which touches lead to each funnel event (touch, visit, cart, checkout, conversion),
    and the funnel events' times (µs), one column per event after the touch.

    Funnel after a touch: visit, and on a journey's last touch maybe add_to_cart and
    checkout; a converting journey always goes visit -> cart -> checkout -> conversion.
    All of it happens before the customer's next touch, so journeys stay well formed.
    """
    n_t = t_touch.size
    is_last, converting_last = touches.is_last, touches.converting_last
    room = np.full(n_t, 6 * 3600 * 1_000_000, dtype=np.int64)
    nxt_gap = np.diff(t_touch)
    has_next = ~first_of_cust[1:]
    room[:-1] = np.where(
        has_next, np.minimum(room[:-1], (nxt_gap * 0.9).astype(np.int64)), room[:-1]
    )
    visit = converting_last | (rng.random(n_t) < _VISIT_PROB[touches.ch])
    cart = converting_last | (visit & is_last & (rng.random(n_t) < 0.30))
    cart |= visit & ~is_last & (rng.random(n_t) < 0.08)
    checkout = converting_last | (cart & is_last & (rng.random(n_t) < 0.35))
    minutes = rng.exponential([20.0, 12.0, 6.0, 4.0], (n_t, 4)) + 0.05
    steps = np.cumsum(minutes, axis=1) * 60_000_000
    squeeze = np.minimum(1.0, room / steps[:, 3])
    at = (steps * squeeze[:, None]).astype(np.int64) + t_touch[:, None]
    return [np.ones(n_t, dtype=bool), visit, cart, checkout, converting_last], at


def _events(
    rng: np.random.Generator,
    touches: _Touches,
    t_touch: IntArray,
    masks: list[BoolArray],
    at: IntArray,
    aov: npt.NDArray[np.generic],
) -> tuple[dict[str, npt.NDArray[np.generic]], float]:
    """The event columns in time order, and the total revenue of the conversions."""
    cust, ch, converting_last = touches.cust, touches.ch, touches.converting_last
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
    return events, float(np.nansum(revenue))


def _journey_truth(n_journeys: int, n_touches: int, n_conv: int, total_rev: float) -> JourneyTruth:
    """The chain's exact removal-effect attribution, scaled to what was simulated."""
    full = _full_matrix()
    conv_prob, effects = _removal_effects(full)
    shares = effects / effects.sum()
    states = ["start", *CHANNELS, "conversion", "null"]
    return JourneyTruth(
        channels=list(CHANNELS),
        states=states,
        transition_matrix=full.tolist(),
        conversion_probability=conv_prob,
        removal_effects=dict(zip(CHANNELS, effects.tolist(), strict=True)),
        shares=dict(zip(CHANNELS, shares.tolist(), strict=True)),
        credits_conversions=dict(zip(CHANNELS, (shares * n_conv).tolist(), strict=True)),
        credits_revenue=dict(zip(CHANNELS, (shares * total_rev).tolist(), strict=True)),
        journeys=n_journeys,
        touches=n_touches,
        conversions=n_conv,
        revenue=round(total_rev, 2),
        window_days=_WINDOW_DAYS,
    )


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
