"""Per-channel spend bounds of the budget plan, each with the reasons behind it.

Bounds come from the spec (minimums and maximums, shares, the brand's max share and max
change, exclusions and bans) and, by default, from the range of weekly spends each
channel's history covers (``history_range``), which yields to all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.budget._data import norm_channel
from agents.budget._optimize import FloatArray, InfeasibleBounds
from agents.budget._schema import BudgetSpec


class _HistoryReason(str):
    """A bound's reason that is the history range (told apart by type, not by its text)."""


@dataclass
class Bounds:
    """Horizon amounts per channel and why each bound is what it is."""

    lo: FloatArray
    hi: FloatArray
    lo_why: list[list[str]]
    hi_why: list[list[str]]

    def tighten(self, i: int, value: float, why: str, upper: bool) -> None:
        """Narrow one bound (a tie adds its reason)."""
        if upper:
            if value < self.hi[i] - 1e-9:
                self.hi[i] = value
                self.hi_why[i] = [why]
            elif abs(value - self.hi[i]) <= 1e-9:
                self.hi_why[i].append(why)
        elif value > self.lo[i] + 1e-9:
            self.lo[i] = value
            self.lo_why[i] = [why]
        elif abs(value - self.lo[i]) <= 1e-9 and value > 0:
            self.lo_why[i].append(why)


def plan_bounds(
    spec: BudgetSpec,
    names: list[str],
    total: float,
    previous: FloatArray,
    excluded: set[str],
    seen: FloatArray | None,
    floor: bool,
    warnings: list[str],
) -> Bounds:
    """Per-channel bounds (horizon amounts) with the reasons behind each.

    Args:
        spec: The step's spec.
        names: The planned channels.
        total: The budget.
        previous: The current mix applied to the budget.
        excluded: Channels that get nothing.
        seen: (2, channels) the range of weekly spend the history covers, scaled to the
            horizon (NaN where a channel has none), or None for no such limit.
        floor: Whether the range's lower edge applies (only when the whole budget is
            spent).
        warnings: Where to say that the range had to give way to the budget.
    """
    n = len(names)
    b = Bounds(np.zeros(n), np.full(n, total), [[] for _ in range(n)], [[] for _ in range(n)])
    cur = spec.currency
    mins = {norm_channel(k): v for k, v in spec.min_spend.items()}
    maxs = {norm_channel(k): v for k, v in spec.max_spend.items()}
    min_sh = {norm_channel(k): v for k, v in spec.min_share.items()}
    max_sh = {(k if k == "*" else norm_channel(k)): v for k, v in spec.max_share.items()}
    brand_sh = {(k if k == "*" else norm_channel(k)): v for k, v in spec.brand_max_share.items()}
    banned = {norm_channel(c) for c in spec.banned_channels}
    for i, c in enumerate(names):
        if c in mins:
            b.tighten(i, mins[c], f"min_spend {mins[c]:,.0f} {cur}", upper=False)
        if c in min_sh:
            b.tighten(i, min_sh[c] * total, f"min_share {min_sh[c]:.0%}", upper=False)
        if c in maxs:
            b.tighten(i, maxs[c], f"max_spend {maxs[c]:,.0f} {cur}", upper=True)
        share = max_sh.get(c, max_sh.get("*"))
        if share is not None:
            b.tighten(i, share * total, f"max_share {share:.0%}", upper=True)
        bshare = brand_sh.get(c, brand_sh.get("*"))
        if bshare is not None:
            b.tighten(i, bshare * total, f"brand max share {bshare:.0%}", upper=True)
        if spec.max_change is not None:
            mc = spec.max_change
            why = f"brand max change {mc:.0%} vs current {previous[i]:,.0f}"
            b.tighten(i, previous[i] * (1 + mc), why, upper=True)
            b.tighten(i, max(previous[i] * (1 - mc), 0.0), why, upper=False)
        if c in excluded:
            b.tighten(i, 0.0, "brand bans it" if c in banned else "excluded", upper=True)
    if seen is not None:
        _history_range(spec, names, total, seen, floor, b, warnings)
    return b


def _history_range(
    spec: BudgetSpec,
    names: list[str],
    total: float,
    seen: FloatArray,
    floor: bool,
    b: Bounds,
    warnings: list[str],
) -> None:
    """Keep each channel where its curve was fitted, unless the budget cannot fit."""
    w = spec.horizon_weeks
    known = np.isfinite(seen).all(axis=0)
    g_lo = np.clip(np.where(known, seen[0], b.lo), b.lo, b.hi)
    g_hi = np.clip(np.where(known, seen[1], b.hi), g_lo, b.hi)
    pct = f"{spec.history_range:.0%}"
    why = [
        _HistoryReason(
            f"history range: {pct} of its weekly spends were {seen[0, i] / w:,.0f} to "
            f"{seen[1, i] / w:,.0f} {spec.currency}"
        )
        for i in range(len(names))
    ]
    if g_hi.sum() < total:
        warnings.append(
            "the budget is more than the channels' historical weekly spends add up to: "
            "the plan goes beyond them, where the curves are extrapolated"
        )
    else:
        for i in np.flatnonzero(known):
            b.tighten(int(i), float(g_hi[i]), why[i], upper=True)
    if not floor:
        return
    if g_lo.sum() > total:
        warnings.append(
            "the budget is less than the channels' lowest historical weekly spends add up "
            "to: the plan goes below them, where the curves are extrapolated"
        )
    else:
        for i in np.flatnonzero(known):
            b.tighten(int(i), float(g_lo[i]), why[i], upper=False)


def nearest_within(target: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """The split nearest ``target`` (least squares) with the same total within the bounds.

    ``clip(target + t, lo, hi)`` for the shift ``t`` that keeps the total (its sum grows
    with ``t``, so a bisection finds it); a target already within the bounds is kept.
    The total must lie between ``lo.sum()`` and ``hi.sum()``; outside, the nearest end.
    """
    total = float(target.sum())
    hi = np.maximum(hi, lo)
    if np.all(target >= lo) and np.all(target <= hi):
        return target.copy()
    a = float(np.min(lo - target)) - 1.0
    b = float(np.max(np.where(np.isfinite(hi), hi, target + total) - target)) + 1.0
    for _ in range(200):
        mid = 0.5 * (a + b)
        if float(np.clip(target + mid, lo, hi).sum()) < total:
            a = mid
        else:
            b = mid
        if b - a <= 1e-9 * max(1.0, total):
            break
    out: FloatArray = np.clip(target + b, lo, hi)
    return out


def history_range_notes(spec: BudgetSpec, names: list[str], x: FloatArray, b: Bounds) -> list[str]:
    """Where the plan stops at the edge of the spends the history has seen."""
    w, cur = spec.horizon_weeks, spec.currency
    notes = []
    for i, c in enumerate(names):
        tol = 1e-6 * max(1.0, float(b.hi[i]))
        if b.hi_why[i][:1] and isinstance(b.hi_why[i][0], _HistoryReason) and x[i] >= b.hi[i] - tol:
            edge, more = "top", "higher"
        elif (
            b.lo_why[i][:1] and isinstance(b.lo_why[i][0], _HistoryReason) and x[i] <= b.lo[i] + tol
        ):
            edge, more = "bottom", "lower"
        else:
            continue
        notes.append(
            f"{c} is held at the {edge} of its historical weekly spend "
            f"({x[i] / w:,.0f} {cur}/week): beyond it the curve is extrapolated; a test at "
            f"{more} spend would show whether to go further (`history_range: null` lifts "
            "this limit)"
        )
    return notes


def infeasible(
    exc: InfeasibleBounds, names: list[str], total: float, b: Bounds, cur: str
) -> tuple[str, str, str]:
    """The message, code and hint naming every constraint in a clash."""
    lo, hi, lo_why, hi_why = b.lo, b.hi, b.lo_why, b.hi_why
    if exc.kind == "min-above-max":
        parts = [
            f"{names[i]}: minimum {lo[i]:,.0f} ({'; '.join(lo_why[i])}) is above maximum "
            f"{hi[i]:,.0f} ({'; '.join(hi_why[i]) or 'the budget'})"
            for i in range(len(names))
            if lo[i] > hi[i] + 1e-9 * max(1.0, total)
        ]
        return (
            "infeasible budget constraints: " + "; ".join(parts),
            "budget.infeasible",
            "loosen one of the clashing constraints for each channel listed",
        )
    if exc.kind == "below-minimums":
        parts = [
            f"{names[i]} {lo[i]:,.0f} ({'; '.join(lo_why[i])})"
            for i in range(len(names))
            if lo[i] > 0
        ]
        return (
            f"infeasible budget constraints: the minimums add up to {lo.sum():,.0f} {cur}, "
            f"more than the budget of {total:,.0f} {cur}: " + ", ".join(parts),
            "budget.infeasible",
            "raise the budget or lower these minimums",
        )
    parts = [
        f"{names[i]} {hi[i]:,.0f} ({'; '.join(hi_why[i])})" for i in range(len(names)) if hi_why[i]
    ]
    return (
        f"infeasible budget constraints: the channel maximums add up to {hi.sum():,.0f} "
        f"{cur}, less than the budget of {total:,.0f} {cur}: " + ", ".join(parts),
        "budget.infeasible",
        "loosen the caps or exclusions, add channels, or lower the budget",
    )
