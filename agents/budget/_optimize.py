"""Budget optimiser: water-filling on marginal returns, exact for S-shaped curves.

The problem is ``max sum_c f_c(x_c)`` subject to ``sum_c x_c = total`` and
``lo_c <= x_c <= hi_c``, where each ``f_c`` is a steady-state weekly response curve
(Hill or logistic). For a marginal price ``lam`` every channel's best spend is a
one-dimensional problem (``max f_c(x) - lam * x``) with a closed set of candidates, and
the total spend it implies falls as ``lam`` rises, so the price is found by a bracketed
root search (water-filling). When that total is continuous at the price the Lagrangian
solution is the global optimum (weak duality certifies it).

Hill curves with shape > 1 are S-shaped: a channel's best response jumps from its
minimum to a point past its inflection as the price falls, and the budget can land in
the jump (a duality gap). Then the optimum has every channel but one on its
water-filling path and one channel (among those jumping) taking the rest, possibly on the
convex part of its curve. :func:`maximise` searches exactly that family, one channel at a
time, and keeps the best.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from agents.budget._curves import FloatArray, ResponseCurves
from agents.budget._fill import _concave_fill, _concave_fills, _partial_scans, _price_of, _Scan

__all__ = ["FloatArray", "InfeasibleBounds", "ResponseCurves", "Solution", "maximise"]


@dataclass(frozen=True)
class Solution:
    """An optimal allocation.

    Attributes:
        x: Weekly spend per channel.
        price: Marginal return shared by the channels strictly inside their bounds.
        value: Total weekly response.
        certified: True when the Lagrangian bound proves global optimality (no duality gap).
    """

    x: FloatArray
    price: float
    value: float
    certified: bool


class InfeasibleBounds(ValueError):
    """The bounds cannot hold the total (the caller names the clashing constraints)."""

    def __init__(self, kind: str, total: float, lo_sum: float, hi_sum: float) -> None:
        super().__init__(f"{kind}: total {total}, minimums {lo_sum}, maximums {hi_sum}")
        self.kind = kind
        self.total = total
        self.lo_sum = lo_sum
        self.hi_sum = hi_sum


def _fill_rounding(x: FloatArray, total: float, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Spread a rounding-sized gap to ``total`` over channels with room, inside the bounds."""
    x = np.clip(x, lo, hi)
    for _ in range(4):
        gap = total - float(x.sum())
        if abs(gap) <= 1e-12 * max(1.0, abs(total)):
            break
        room = (hi - x) if gap > 0 else (x - lo)
        room = np.where(np.isfinite(room), room, abs(gap) + 1.0)
        if room.sum() <= 0:
            break
        x = np.clip(x + gap * room / room.sum(), lo, hi)
    return x


def maximise(
    curves: ResponseCurves,
    total: float,
    lo: FloatArray | None = None,
    hi: FloatArray | None = None,
) -> Solution:
    """Best split of a weekly ``total`` over channels within per-channel bounds.

    Args:
        curves: The channels' response curves.
        total: Weekly spend to allocate (the whole of it is spent).
        lo: Per-channel minimum weekly spend (default 0).
        hi: Per-channel maximum weekly spend (default ``total``).

    Returns:
        The optimum; ``x.sum() == total`` up to rounding and every bound holds.

    Raises:
        InfeasibleBounds: ``lo > hi`` somewhere, or the bounds cannot add up to ``total``.
    """
    lo, hi, lo_sum, hi_sum, tol = _checked_bounds(curves, total, lo, hi)
    if curves.n == 0:
        return Solution(np.zeros(0), 0.0, 0.0, True)
    if total - lo_sum <= tol:
        return _finish(curves, lo.copy(), lo, hi, total, certified=True)
    if hi_sum - total <= tol:
        return _finish(curves, hi.copy(), lo, hi, total, certified=True)
    infl = curves.inflection()
    bumpy = (~curves.logistic) & (curves.shape > 1.0) & (infl > lo + tol) & (hi > lo + tol)
    if not bumpy.any():
        x, lam = _concave_fill(curves, total, lo, hi)
        return _finish(curves, x, lo, hi, total, certified=True, price=lam)

    # S-shaped channels switch on one by one as the price falls; the demand at each
    # switch locates the budget with a binary search.
    pats = _patterns(curves, lo, hi, bumpy, infl)
    demands = _switch_demands(curves, pats)
    pos = _first_reaching(demands, total - tol)
    if pos % 2 == 1 or abs(demands[pos] - total) <= tol:
        # Between two switches (or exactly on one): one pattern, a concave problem.
        k = (pos + 1) // 2 - 1 if pos % 2 == 1 else pos // 2
        lo2, hi2 = pats.bounds(pats.ons[k])
        x, lam = _concave_fill(curves, total, lo2, hi2)
        return _finish(curves, x, lo, hi, total, certified=True, price=lam)

    best_x = _gap_search(curves, total, pats, pos // 2, tol)
    if best_x is None:  # pragma: no cover - the scan over g always finds a feasible split
        best_x = np.clip(lo + (total - lo_sum) * (hi - lo) / max(hi_sum - lo_sum, 1e-300), lo, hi)
    return _finish(curves, best_x, lo, hi, total, certified=False)


class _Bounds(NamedTuple):
    lo: FloatArray
    hi: FloatArray
    lo_sum: float
    hi_sum: float
    tol: float


def _checked_bounds(
    curves: ResponseCurves, total: float, lo: FloatArray | None, hi: FloatArray | None
) -> _Bounds:
    """The bounds with their defaults, capped at the total; raises when they cannot hold it."""
    n = curves.n
    lo = np.zeros(n) if lo is None else np.asarray(lo, dtype=np.float64)
    hi = np.full(n, float(total)) if hi is None else np.asarray(hi, dtype=np.float64)
    hi = np.minimum(hi, max(float(total), 0.0))
    lo_sum, hi_sum = float(lo.sum()), float(hi.sum())
    tol = 1e-9 * max(1.0, abs(total))
    if lo_sum > total + tol:
        raise InfeasibleBounds("below-minimums", total, lo_sum, hi_sum)
    if np.any(lo > hi + tol):
        raise InfeasibleBounds("min-above-max", total, lo_sum, hi_sum)
    hi = np.maximum(hi, lo)
    if hi_sum < total - tol:
        raise InfeasibleBounds("above-maximums", total, lo_sum, hi_sum)
    # An S-shaped channel with room under the rounding tolerance is held at its minimum:
    # a sliver of spend at the foot of its curve only loses (its marginal there is ~0).
    sliver = (~curves.logistic) & (curves.shape > 1.0) & (hi > lo) & (hi - lo <= tol)
    if sliver.any() and float(np.where(sliver, lo, hi).sum()) >= total - tol:
        hi = np.where(sliver, lo, hi)
        hi_sum = float(hi.sum())
    return _Bounds(lo, hi, lo_sum, hi_sum, tol)


@dataclass(frozen=True)
class _Patterns:
    """The funding patterns of the S-shaped channels, in switch-price order.

    An S-shaped channel's best response jumps from its minimum onto the concave branch
    when the price falls below its switch price (the slope of the tangent from its
    minimum). Sorting the switch prices orders the on/off patterns: in pattern ``p`` the
    first ``p`` S-shaped channels in switch order are on (row ``p`` of ``ons``).
    """

    lo: FloatArray
    hi: FloatArray
    bumpy: npt.NDArray[np.bool_]
    tops: FloatArray
    order: npt.NDArray[np.intp]
    price: FloatArray
    ons: npt.NDArray[np.bool_]

    def bounds(self, on: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        """Bounds under a pattern: a funded S-shaped channel starts at its inflection."""
        return (
            np.where(self.bumpy & on, np.maximum(self.lo, self.tops), self.lo),
            np.where(self.bumpy & ~on, self.lo, self.hi),
        )


def _patterns(
    curves: ResponseCurves,
    lo: FloatArray,
    hi: FloatArray,
    bumpy: npt.NDArray[np.bool_],
    infl: FloatArray,
) -> _Patterns:
    """The S-shaped channels' switch order and every funding pattern along it."""
    order, price = _switch_prices(curves, lo, hi, bumpy, infl)
    m = len(order)
    rank = np.full(curves.n, m + 1)
    rank[order] = np.arange(1, m + 1)
    ons = rank[None, :] <= np.arange(m + 1)[:, None]
    return _Patterns(lo, hi, bumpy, np.minimum(infl, hi), order, price, ons)


def _switch_demands(curves: ResponseCurves, pats: _Patterns) -> FloatArray:
    """Demand at each switch price, just before (position 2k - 1) and just after (2k) the
    k-th S-shaped channel turns on and jumps to its tangent point (position 0: unused)."""
    lo, hi, order = pats.lo, pats.hi, pats.order
    m = len(order)
    # One root solve for all the switch prices.
    lo_p, hi_p = pats.bounds(pats.ons)
    roots = curves.descending_root(pats.price[order])
    after = np.clip(roots, lo_p[1:], hi_p[1:])
    after[np.arange(m), order] = np.clip(_tangents(curves, lo, hi)[order], lo[order], hi[order])
    demands = np.empty(2 * m + 1)
    demands[1::2] = np.clip(roots, lo_p[:-1], hi_p[:-1]).sum(axis=1)
    demands[2::2] = after.sum(axis=1)
    return demands


def _first_reaching(demands: FloatArray, level: float) -> int:
    """First position from 1 whose demand reaches ``level`` (demand rises with position)."""
    first, last = 1, len(demands)
    while first < last:
        mid = (first + last) // 2
        if demands[mid] >= level:
            last = mid
        else:
            first = mid + 1
    return first


def _gap_search(
    curves: ResponseCurves, total: float, pats: _Patterns, k: int, tol: float
) -> FloatArray | None:
    """The best split when the total falls inside the k-th switching channel's jump.

    That is a duality gap: which S-shaped channels are funded is now a combinatorial
    choice. Search the patterns around the jump (g on or off, swapped with its neighbours
    in switch order), then let g (or a neighbour) take whatever the others leave, possibly
    on the convex part of its curve.
    """
    g = int(pats.order[k - 1])
    base_off = pats.ons[k - 1]
    price_g = pats.price[g]
    t_gap = math.log(float(price_g)) if 0 < price_g < math.inf else None
    best_x, best_v, best_on = _best_pattern(
        curves, total, pats, _patterns_near(pats, k), t_gap, tol
    )
    jobs = _gap_scan_jobs(pats, g, base_off, best_x, best_on)
    got = _partial_scans(curves, total, jobs)
    if got is not None and got[1] > best_v:
        best_x, best_v = got
    if curves.n <= _GRID_CHECK_MAX:
        # Few channels: a grid search over every split settles which S-shaped channels to
        # fund (the neighbourhood above can miss it when caps bind), then the same
        # continuous steps polish its pattern.
        got = _grid_polish(curves, total, pats.lo, pats.hi, pats.bumpy, pats.tops, pats.bounds)
        if best_x is None or got[1] > best_v + 1e-12 * max(1.0, abs(best_v)):
            best_x, best_v = got
    return best_x


def _patterns_near(pats: _Patterns, k: int) -> list[npt.NDArray[np.bool_]]:
    """Patterns around the k-th switch: g off, g on, and g's neighbours swapped in or out."""
    m = len(pats.order)
    base_off, base_on = pats.ons[k - 1], pats.ons[k]
    tries: list[npt.NDArray[np.bool_]] = [base_off, base_on]
    for r in range(1, _NEIGHBOURS + 1):
        if k - 1 - r >= 0:
            on = base_on.copy()
            on[pats.order[k - 1 - r]] = False
            tries.append(on)
        if k - 1 + r < m:
            on = base_off.copy()
            on[pats.order[k - 1 + r]] = True
            tries.append(on)
    return tries


def _best_pattern(
    curves: ResponseCurves,
    total: float,
    pats: _Patterns,
    tries: list[npt.NDArray[np.bool_]],
    t_gap: float | None,
    tol: float,
) -> tuple[FloatArray | None, float, npt.NDArray[np.bool_]]:
    """The best water-filled split among the patterns that can spend the total (with its
    value and pattern; None, -inf and the first pattern when none can)."""
    feasible = []
    for on in tries:
        lo2, hi2 = pats.bounds(on)
        if lo2.sum() <= total + tol and hi2.sum() >= total - tol:
            feasible.append((on, lo2, hi2))
    if not feasible:
        return None, -math.inf, tries[0]
    # One water-filling for all the patterns: they share every root solve.
    xs, _ = _concave_fills(
        curves,
        np.full(len(feasible), float(total)),
        np.array([f[1] for f in feasible]),
        np.array([f[2] for f in feasible]),
        None if t_gap is None else [t_gap] * len(feasible),
    )
    vals = curves.value(xs).sum(axis=1)
    i = int(np.argmax(vals))
    return xs[i], float(vals[i]), feasible[i][0]


def _gap_scan_jobs(
    pats: _Patterns,
    g: int,
    base_off: npt.NDArray[np.bool_],
    best_x: FloatArray | None,
    best_on: npt.NDArray[np.bool_],
) -> list[_Scan]:
    """Partial scans for the gap: g, and best-pattern channels stuck at their floor."""
    partial = {g}
    if best_x is not None:
        lo2, _ = pats.bounds(best_on)
        edge = pats.bumpy & best_on & (best_x <= lo2 + 1e-7 * np.maximum(1.0, best_x))
        partial.update(int(j) for j in np.flatnonzero(edge)[:2])
    scans = [(best_on, j) for j in sorted(partial)]
    if not np.array_equal(best_on, base_off):
        # The classic gap: the pattern before g's switch cannot spend the total on its own
        # (its caps bind), so g takes the rest, below its tangent point.
        scans.append((base_off, g))
    jobs: list[_Scan] = []
    seen: set[tuple[int, bytes]] = set()
    for pat, j in scans:
        on = pat.copy()
        on[j] = False
        if (j, on.tobytes()) in seen:  # g's scan from the pattern with g on is the same
            continue
        seen.add((j, on.tobytes()))
        lo2, hi2 = pats.bounds(on)
        jobs.append((j, lo2, hi2, float(pats.lo[j]), float(pats.hi[j])))
    return jobs


_GRID_CHECK_MAX = 12  # channels; the grid search costs about 0.2 ms per channel
_GRID = 240


def _grid_polish(
    curves: ResponseCurves,
    total: float,
    lo: FloatArray,
    hi: FloatArray,
    bumpy: npt.NDArray[np.bool_],
    tops: FloatArray,
    bounds: Callable[[npt.NDArray[np.bool_]], tuple[FloatArray, FloatArray]],
) -> tuple[FloatArray, float]:
    """Best split on a spend grid, then its funding pattern solved exactly.

    At a local optimum at most one S-shaped channel sits on the convex part of its curve
    (two could trade money and both gain), so the grid answer's pattern (channels past
    their inflection point are on) plus a scan of each channel it left in between give
    the continuous optimum of that pattern.
    """
    x_grid = dp_maximise(curves, total, lo, hi, grid=_GRID)
    best_x, best_v = x_grid, float(curves.value(x_grid).sum())
    step = (total - float(lo.sum())) / _GRID
    # Past (or within a grid step of) the inflection point means funded; left at its
    # minimum means not, even when the whole convex part is narrower than a step.
    on = bumpy & (x_grid >= tops - step) & (x_grid > lo + 0.5 * step)
    lo2, hi2 = bounds(on)
    tol = 1e-9 * max(1.0, total)
    if lo2.sum() <= total + tol and hi2.sum() >= total - tol:
        x, _ = _concave_fill(curves, total, lo2, hi2)
        v = float(curves.value(x).sum())
        if v > best_v:
            best_x, best_v = x, v
    jobs = [
        (int(j), lo2, hi2, float(lo[j]), float(hi[j]))
        for j in np.flatnonzero(bumpy & ~on & (x_grid > lo + 0.5 * step))
    ]
    got = _partial_scans(curves, total, jobs)
    if got is not None and got[1] > best_v:
        best_x, best_v = got
    return best_x, best_v


_NEIGHBOURS = 3


def _tangents(curves: ResponseCurves, lo: FloatArray, hi: FloatArray) -> FloatArray:
    cache = curves.__dict__.setdefault("_tangent_cache", {})
    key = (lo.tobytes(), hi.tobytes())
    got = cache.get(key)
    if got is not None:
        return got  # type: ignore[no-any-return]
    s = np.where(curves.logistic, 2.0, np.maximum(curves.shape, 1.0 + 1e-9))
    # From lo = 0 the tangent touches at k (s - 1)^(1/s); from lo > 0 solve
    # f'(x)(x - lo) = f(x) - f(lo) by bisection in log x (the left side minus the right
    # falls past the inflection point).
    xt = curves.k * (s - 1.0) ** (1.0 / s)
    need = lo > 0
    if need.any():
        idx = np.flatnonzero(need)
        sub = curves.subset(idx)
        a = np.log(np.maximum(sub.inflection(), lo[idx]) + 1e-300)
        b = np.log(np.maximum(sub.k, lo[idx]) * 1e6)
        flo = sub.value(lo[idx])
        for _ in range(80):
            mid = 0.5 * (a + b)
            xm = np.exp(mid)
            phi = sub.marginal(xm) * (xm - lo[idx]) - (sub.value(xm) - flo)
            a = np.where(phi > 0, mid, a)
            b = np.where(phi > 0, b, mid)
        xt[idx] = np.exp(0.5 * (a + b))
    xt = np.minimum(xt, hi)
    cache[key] = xt
    return xt


def _switch_prices(
    curves: ResponseCurves,
    lo: FloatArray,
    hi: FloatArray,
    bumpy: npt.NDArray[np.bool_],
    infl: FloatArray,
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """S-shaped channels by falling switch price, and every channel's switch price."""
    xt = _tangents(curves, lo, hi)
    span = np.maximum(xt - lo, 1e-300)
    chord = (curves.value(xt) - curves.value(lo)) / span
    price = np.where(bumpy, chord, np.inf)
    idx = np.flatnonzero(bumpy)
    order = idx[np.argsort(-price[idx], kind="stable")]
    return order.astype(np.intp), price


def _finish(
    curves: ResponseCurves,
    x: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    total: float,
    *,
    certified: bool,
    price: float | None = None,
) -> Solution:
    x = _fill_rounding(x, total, lo, hi)
    if price is None:
        price = _price_of(curves, x, lo, hi)
    return Solution(x, price, float(curves.value(x).sum()), certified)


def dp_maximise(
    curves: ResponseCurves,
    total: float,
    lo: FloatArray | None = None,
    hi: FloatArray | None = None,
    grid: int = 400,
) -> FloatArray:
    """Reference answer by dynamic programming over a spend grid (slow; for checks).

    Exact up to the grid step ``(total - sum(lo)) / grid`` for any curve shapes.
    """
    n = curves.n
    lo = np.zeros(n) if lo is None else np.asarray(lo, dtype=np.float64)
    hi = np.full(n, float(total)) if hi is None else np.asarray(hi, dtype=np.float64)
    free = total - float(lo.sum())
    step = free / grid
    units = np.arange(grid + 1)
    best = np.full(grid + 1, -np.inf)
    best[0] = 0.0
    choice = np.zeros((n, grid + 1), dtype=np.intp)
    for c in range(n):
        cap = min(grid, math.floor((hi[c] - lo[c]) / step + 1e-9)) if step > 0 else 0
        xs = lo[c] + units[: cap + 1] * step
        one = curves.subset(np.array([c])).value(xs[:, None])[:, 0] if cap >= 0 else np.zeros(1)
        # Max-plus convolution in one array: cand[u, t] = best[t - u] + one[u].
        shift = units[None, :] - units[: cap + 1, None]
        cand = np.where(shift >= 0, best[np.maximum(shift, 0)] + one[:, None], -np.inf)
        best, choice[c] = cand.max(axis=0), cand.argmax(axis=0)
    x = np.zeros(n)
    rem = grid
    for c in range(n - 1, -1, -1):
        u = int(choice[c, rem])
        x[c] = lo[c] + u * step
        rem -= u
    return x
