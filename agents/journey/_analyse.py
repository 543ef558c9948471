"""Funnel, paths, timing and attribution from the journey tables (SQL + numpy)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from agents.journey._build import JourneyTables
from agents.journey._markov import ChainSolution, allocate, markov_from_paths
from agents.journey._models import (
    ChannelStats,
    ConversionTiming,
    DropOff,
    Funnel,
    FunnelSplit,
    FunnelStage,
    MarkovDetail,
    ModelCredits,
    PathStat,
)

__all__ = [
    "attribution",
    "channel_stats",
    "funnel",
    "timing",
    "top_paths",
    "wilson",
]

Z95 = 1.959963984540054
NONE_CHANNEL = "(none)"
ALL = "(all)"
PATH_SHOW = 20  # longest path shown whole in the output; longer ones show both ends


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Args:
        successes: Number of successes.
        trials: Number of trials (> 0).
        z: Normal quantile (1.96 for 95%).

    Returns:
        (low, high), within [0, 1].
    """
    if trials <= 0:
        raise ValueError("trials must be positive")
    p = successes / trials
    z2 = z * z
    denom = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def _stages(names: list[str], counts: list[int]) -> list[FunnelStage]:
    out: list[FunnelStage] = []
    first = counts[0] if counts else 0
    for i, (name, n) in enumerate(zip(names, counts, strict=True)):
        step = step_lo = step_hi = None
        if i > 0 and counts[i - 1] > 0:
            step = n / counts[i - 1]
            step_lo, step_hi = wilson(n, counts[i - 1])
        overall = over_lo = over_hi = None
        if i == 0 and first > 0:
            overall = over_lo = over_hi = 1.0  # the base, by definition
        elif first > 0:
            overall = n / first
            over_lo, over_hi = wilson(n, first)
        out.append(
            FunnelStage(
                stage=name,
                journeys=n,
                step_rate=step,
                step_low=step_lo,
                step_high=step_hi,
                overall_rate=overall,
                overall_low=over_lo,
                overall_high=over_hi,
            )
        )
    return out


def funnel(t: JourneyTables, stages: list[str]) -> Funnel:
    """Journeys reaching each stage, overall and by first-touch channel.

    A journey reaches stage k when it has an event of stage k and of every earlier stage
    (order of those events within the journey is not checked); 'conversion' is last.
    """
    con = t.con
    cond: list[str] = []
    acc = "TRUE"
    for s in stages:
        acc = f"{acc} AND {t.stage_flags[s]}" if s in t.stage_flags else "FALSE"
        cond.append(acc)
    cond.append(f"{acc} AND converted")
    names = [*stages, "conversion"]
    sums = ", ".join(f"count(*) FILTER (WHERE {c})" for c in cond)
    chans = "['" + "', '".join(ch.replace("'", "''") for ch in t.channels) + "']"
    first = f"CASE WHEN len(path) > 0 THEN {chans}[path[1]] ELSE '{NONE_CHANNEL}' END"
    if not t.channels:
        first = f"'{NONE_CHANNEL}'"
    rows = con.execute(
        f"SELECT {first} AS ch, {sums} FROM _journey_j GROUP BY ch ORDER BY ch"
    ).fetchall()
    # Conversions with no other event have no row in the journey table; they reach the
    # funnel only when it has no stage before conversion.
    extra = t.unmatched_journeys if not stages else 0
    totals = [sum(int(r[i + 1]) for r in rows) for i in range(len(names))]
    totals[-1] += extra
    overall = _stages(names, totals)
    splits = []
    for r in rows:
        counts = [int(x) for x in r[1:]]
        if r[0] == NONE_CHANNEL:
            counts[-1] += extra
        splits.append(FunnelSplit(channel=str(r[0]), stages=_stages(names, counts)))
    if extra and not any(r[0] == NONE_CHANNEL for r in rows):
        counts = [0] * len(names)
        counts[-1] = extra
        splits.append(FunnelSplit(channel=NONE_CHANNEL, stages=_stages(names, counts)))
    drop = None
    for prev, cur in itertools.pairwise(overall):
        if cur.step_rate is None or cur.step_low is None or cur.step_high is None:
            continue
        if drop is None or cur.step_rate < drop.continue_rate:
            drop = DropOff(
                from_stage=prev.stage,
                to_stage=cur.stage,
                lost=prev.journeys - cur.journeys,
                continue_rate=cur.step_rate,
                continue_low=cur.step_low,
                continue_high=cur.step_high,
            )
    return Funnel(stages=overall, biggest_drop_off=drop, by_first_touch=splits)


def _names_sql(t: JourneyTables) -> str:
    return "['" + "', '".join(ch.replace("'", "''") for ch in t.channels) + "']"


def _show(path: list[str]) -> list[str]:
    if len(path) <= PATH_SHOW:
        return path
    head = PATH_SHOW // 2
    tail = PATH_SHOW - head - 1
    return [*path[:head], f"… ({len(path) - head - tail} more)", *path[-tail:]]


def top_paths(t: JourneyTables, n: int) -> tuple[list[PathStat], list[PathStat]]:
    """The ``n`` paths with most conversions, and with most non-converting journeys."""
    if not t.channels:
        return [], []
    names = _names_sql(t)
    out: list[list[PathStat]] = []
    for order in ("conversions", "nulls"):
        rows = t.con.execute(
            f"""SELECT list_transform(path, lambda x: {names}[x]) AS p, len(path), journeys,
                       conversions, converting
                FROM _journey_paths WHERE {order} > 0
                ORDER BY {order} DESC, journeys DESC, p LIMIT {int(n)}"""
        ).fetchall()
        out.append(
            [
                PathStat(
                    path=_show(list(p)),
                    length=int(length),
                    journeys=int(j),
                    conversions=int(c),
                    conversion_rate=int(k) / int(j),
                )
                for p, length, j, c, k in rows
            ]
        )
    return out[0], out[1]


def timing(t: JourneyTables) -> list[ConversionTiming]:
    """Path length and days from first touch to conversion, overall and by first touch."""
    if not t.channels:
        return []
    names = _names_sql(t)
    rows = t.con.execute(
        f"""WITH c AS (
                SELECT {names}[path[1]] AS ch, len(path) AS n,
                       ages[1] AS days
                FROM _journey_j WHERE converted AND len(path) > 0
            )
            SELECT coalesce(ch, '{ALL}') AS ch, count(*),
                   quantile_cont(n, 0.5), quantile_cont(n, 0.9),
                   quantile_cont(days, 0.5), quantile_cont(days, 0.9)
            FROM c GROUP BY GROUPING SETS ((), (ch)) ORDER BY ch IS NOT NULL, ch"""
    ).fetchall()
    return [
        ConversionTiming(
            channel=str(ch),
            converting_journeys=int(k),
            path_length_median=float(a),
            path_length_p90=float(b),
            days_to_convert_median=float(c),
            days_to_convert_p90=float(d),
        )
        for ch, k, a, b, c, d in rows
        if k
    ]


def channel_stats(t: JourneyTables) -> list[ChannelStats]:
    """Touches, journeys, opens, closes and assists per channel."""
    n = len(t.channels)
    if n == 0:
        return []
    rows = t.con.execute(
        """WITH u AS (
                SELECT unnest(path) AS ch, journeys FROM _journey_paths
            ), d AS (
                SELECT unnest(list_distinct(path)) AS ch, journeys, converting
                FROM _journey_paths
            ), a AS (
                SELECT unnest(list_distinct(list_slice(path, 1, len(path) - 1))) AS ch,
                       conversions
                FROM _journey_paths WHERE conversions > 0
            )
            SELECT 't', ch, sum(journeys) FROM u GROUP BY ch
            UNION ALL SELECT 'j', ch, sum(journeys) FROM d GROUP BY ch
            UNION ALL SELECT 'k', ch, sum(converting) FROM d GROUP BY ch
            UNION ALL SELECT 'f', path[1], sum(conversions) FROM _journey_paths GROUP BY path[1]
            UNION ALL SELECT 'l', path[-1], sum(conversions) FROM _journey_paths GROUP BY path[-1]
            UNION ALL SELECT 'a', ch, sum(conversions) FROM a GROUP BY ch"""
    ).fetchall()
    table = {k: np.zeros(n, dtype=np.int64) for k in "tjkfla"}
    for kind, ch, value in rows:
        if ch is not None:
            table[kind][int(ch) - 1] = int(value or 0)
    return [
        ChannelStats(
            channel=name,
            touches=int(table["t"][i]),
            journeys=int(table["j"][i]),
            converting_journeys=int(table["k"][i]),
            first_touch_conversions=int(table["f"][i]),
            last_touch_conversions=int(table["l"][i]),
            assisted_conversions=int(table["a"][i]),
        )
        for i, name in enumerate(t.channels)
    ]


def _heuristics(t: JourneyTables, half_life: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Rule-based credits per channel id, for conversions and revenue."""
    n = len(t.channels)
    out = {
        m: (np.zeros(n), np.zeros(n))
        for m in ("first_touch", "last_touch", "linear", "position_based", "time_decay")
    }
    if n == 0:
        return out
    pos = (
        "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 "
        "WHEN i = 1 OR i = n THEN 0.4 ELSE 0.2 / (n - 2) END"
    )
    rows = t.con.execute(
        f"""WITH p AS (
                SELECT path, conversions::DOUBLE AS c, revenue AS r, len(path) AS n
                FROM _journey_paths WHERE conversions > 0
            ), u AS (
                SELECT c, r, n, unnest(path) AS ch, unnest(range(1, n + 1)) AS i FROM p
            )
            SELECT ch,
                   coalesce(sum(c) FILTER (WHERE i = 1), 0), coalesce(sum(r) FILTER (WHERE i = 1), 0),
                   coalesce(sum(c) FILTER (WHERE i = n), 0), coalesce(sum(r) FILTER (WHERE i = n), 0),
                   sum(c / n), sum(r / n),
                   sum(c * {pos}), sum(r * {pos})
            FROM u GROUP BY ch"""
    ).fetchall()
    for ch, *vals in rows:
        i = int(ch) - 1
        for k, m in enumerate(("first_touch", "last_touch", "linear", "position_based")):
            out[m][0][i] = float(vals[2 * k])
            out[m][1][i] = float(vals[2 * k + 1])
    # Weights relative to the journey's last touch, so they never underflow to 0/0.
    rows = t.con.execute(
        f"""WITH j AS (
                SELECT path, n_conv::DOUBLE AS c, rev AS r,
                       list_transform(ages, lambda a: pow(0.5, (a - list_min(ages)) / {half_life!r}))
                           AS w
                FROM _journey_j WHERE converted AND len(path) > 0
            ), u AS (
                SELECT c, r, list_sum(w) AS tot, unnest(path) AS ch, unnest(w) AS wi FROM j
            )
            SELECT ch, sum(c * wi / tot), sum(r * wi / tot) FROM u GROUP BY ch"""
    ).fetchall()
    for ch, c, r in rows:
        out["time_decay"][0][int(ch) - 1] = float(c)
        out["time_decay"][1][int(ch) - 1] = float(r)
    return out


def _fix_total(values: np.ndarray, total: float) -> np.ndarray:
    """Absorb floating-point dust so the credits add up to the total."""
    if values.size == 0 or total == 0:
        return values
    diff = total - float(values.sum())
    if diff != 0.0:
        j = int(np.argmax(values))
        values = values.copy()
        values[j] += diff
    return values


def attribution(
    t: JourneyTables,
    models: list[str],
    *,
    half_life_days: float,
    conversions: int,
    revenue: float,
) -> tuple[list[ModelCredits], list[MarkovDetail]]:
    """Credits for each requested model, and the detail of each Markov chain."""
    heur = _heuristics(t, half_life_days) if any(not m.startswith("markov") for m in models) else {}
    credits: list[ModelCredits] = []
    details: list[MarkovDetail] = []
    solved: dict[int, ChainSolution] = {}
    for m in models:
        if m.startswith("markov_"):
            order = int(m.split("_")[1])
            if order not in solved:
                solved[order] = markov_from_paths(
                    t.con, "_journey_paths", order=order, n_channels=len(t.channels)
                )
            sol = solved[order]
            conv = allocate(float(conversions), sol.removal_effects)
            rev = allocate(float(revenue), sol.value_removal_effects)
            details.append(
                MarkovDetail(
                    order=order,
                    states=sol.states,
                    transitions=sol.edges,
                    conversion_probability=sol.conversion_probability,
                    revenue_per_journey=sol.value_per_journey,
                    removal_effects=dict(
                        zip(t.channels, sol.removal_effects.tolist(), strict=True)
                    ),
                    revenue_removal_effects=dict(
                        zip(t.channels, sol.value_removal_effects.tolist(), strict=True)
                    ),
                )
            )
        else:
            conv, rev = heur[m]
        conv = _fix_total(conv, float(conversions))
        rev = _fix_total(rev, float(revenue))
        credits.append(
            ModelCredits(
                model=m,
                conversions=dict(zip(t.channels, conv.tolist(), strict=True)),
                revenue=dict(zip(t.channels, rev.tolist(), strict=True)),
            )
        )
    return credits, details
