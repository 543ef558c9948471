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

import numpy as np
import numpy.typing as npt

from agents.budget._curves import SPEND_FLOOR, FloatArray, ResponseCurves, second

__all__ = ["FloatArray", "InfeasibleBounds", "ResponseCurves", "Solution", "maximise"]

_SCAN_POINTS = 16
_ROOT_ITERS = 100  # safeguarded Newton steps refining a scan's sign change
_SCAN_REFINE = 8  # rounds of halving the scan's price steps where spend moves fast


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
    if n == 0:
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

    # An S-shaped channel's best response jumps from its minimum onto the concave branch
    # when the price falls below its switch price (the slope of the tangent from its
    # minimum). Sorting the switch prices orders the on/off patterns, and the demand at
    # each switch locates the budget with a binary search.
    order, price = _switch_prices(curves, lo, hi, bumpy, infl)
    m = len(order)
    tops = np.minimum(infl, hi)

    def bounds(on: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        return (
            np.where(bumpy & on, np.maximum(lo, tops), lo),
            np.where(bumpy & ~on, lo, hi),
        )

    # Funding pattern p: the first p S-shaped channels in switch order are on.
    rank = np.full(n, m + 1)
    rank[order] = np.arange(1, m + 1)
    ons = rank[None, :] <= np.arange(m + 1)[:, None]

    # Demand at each switch price, just before (position 2k - 1) and just after (2k) the
    # k-th S-shaped channel turns on and jumps to its tangent point; one root solve for
    # all the switch prices.
    lo_p, hi_p = bounds(ons)
    roots = curves.descending_root(price[order])
    after = np.clip(roots, lo_p[1:], hi_p[1:])
    after[np.arange(m), order] = np.clip(_tangents(curves, lo, hi)[order], lo[order], hi[order])
    demands = np.empty(2 * m + 1)
    demands[1::2] = np.clip(roots, lo_p[:-1], hi_p[:-1]).sum(axis=1)
    demands[2::2] = after.sum(axis=1)

    # First position whose demand reaches the total (demand rises with position).
    first, last = 1, 2 * m + 1
    while first < last:
        mid = (first + last) // 2
        if demands[mid] >= total - tol:
            last = mid
        else:
            first = mid + 1
    pos = first
    if pos % 2 == 1 or abs(demands[pos] - total) <= tol:
        # Between two switches (or exactly on one): one pattern, a concave problem.
        k = (pos + 1) // 2 - 1 if pos % 2 == 1 else pos // 2
        lo2, hi2 = bounds(ons[k])
        x, lam = _concave_fill(curves, total, lo2, hi2)
        return _finish(curves, x, lo, hi, total, certified=True, price=lam)

    # The total falls inside channel g's jump: a duality gap. Which S-shaped channels are
    # funded is now a combinatorial choice; search the patterns around the jump (g on or
    # off, swapped with its neighbours in switch order), then let g (or a neighbour) take
    # whatever the others leave, possibly on the convex part of its curve.
    k = pos // 2
    g = int(order[k - 1])
    base_off = ons[k - 1]
    base_on = ons[k]
    tries: list[npt.NDArray[np.bool_]] = [base_off, base_on]
    for r in range(1, _NEIGHBOURS + 1):
        if k - 1 - r >= 0:
            on = base_on.copy()
            on[order[k - 1 - r]] = False
            tries.append(on)
        if k - 1 + r < m:
            on = base_off.copy()
            on[order[k - 1 + r]] = True
            tries.append(on)
    best_x: FloatArray | None = None
    best_v = -math.inf
    best_on = base_off
    t_gap = math.log(float(price[g])) if 0 < price[g] < math.inf else None
    feasible = []
    for on in tries:
        lo2, hi2 = bounds(on)
        if lo2.sum() <= total + tol and hi2.sum() >= total - tol:
            feasible.append((on, lo2, hi2))
    if feasible:
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
        best_x, best_v, best_on = xs[i], float(vals[i]), feasible[i][0]
    partial = {g}
    if best_x is not None:
        lo2, hi2 = bounds(best_on)
        edge = bumpy & best_on & (best_x <= lo2 + 1e-7 * np.maximum(1.0, best_x))
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
        lo2, hi2 = bounds(on)
        jobs.append((j, lo2, hi2, float(lo[j]), float(hi[j])))
    got = _partial_scans(curves, total, jobs)
    if got is not None and got[1] > best_v:
        best_x, best_v = got
    if n <= _GRID_CHECK_MAX:
        # Few channels: a grid search over every split settles which S-shaped channels to
        # fund (the neighbourhood above can miss it when caps bind), then the same
        # continuous steps polish its pattern.
        got = _grid_polish(curves, total, lo, hi, bumpy, tops, bounds)
        if best_x is None or got[1] > best_v + 1e-12 * max(1.0, abs(best_v)):
            best_x, best_v = got
    if best_x is None:  # pragma: no cover - the scan over g always finds a feasible split
        best_x = np.clip(lo + (total - lo_sum) * (hi - lo) / max(hi_sum - lo_sum, 1e-300), lo, hi)
    return _finish(curves, best_x, lo, hi, total, certified=False)


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


def _price_of(curves: ResponseCurves, x: FloatArray, lo: FloatArray, hi: FloatArray) -> float:
    """The shared marginal return of channels strictly inside their bounds."""
    inside = (x > lo + 1e-9 * np.maximum(1.0, x)) & (x < hi - 1e-9 * np.maximum(1.0, x))
    m = curves.marginal(x)
    if inside.any():
        return float(np.median(m[inside]))
    if np.isfinite(m).any():
        return float(np.median(m[np.isfinite(m)]))
    return 0.0


def _concave_fill(
    curves: ResponseCurves,
    total: float,
    lo: FloatArray,
    hi: FloatArray,
    t0: float | None = None,
) -> tuple[FloatArray, float]:
    """Water-filling when every curve is concave on its bounds (one problem)."""
    x, lam = _concave_fills(
        curves, np.array([total]), lo[None, :], hi[None, :], None if t0 is None else [t0]
    )
    return x[0], float(lam[0])


def _concave_fills(
    curves: ResponseCurves,
    totals: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    t0: list[float] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Water-filling for several bound sets at once: Newton on each row's log price.

    Row ``i`` spends ``totals[i]`` within ``lo[i], hi[i]`` (every curve concave there).
    The demand ``sum clip(root(lam), lo, hi)`` is continuous and falling in the price, so
    a bracketed Newton iteration (bisection when a step leaves the bracket) converges
    fast; the rows share each vectorised root solve.

    Returns:
        The spends (rows, channels) and each row's price.
    """
    rows, n = lo.shape
    scale = np.maximum(1.0, np.abs(totals))
    x_out = lo.copy()
    t = np.zeros(rows)
    free = hi > lo
    # Channels with no room take no part in the starting price (a Hill curve with shape
    # < 1 pinned at zero has an infinite marginal there).
    mid = np.clip(totals[:, None] / n, lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = curves.marginal(np.maximum(mid, 1e-12 * np.maximum(totals[:, None], 1.0)))
        usable = np.isfinite(m) & (m > 0) & free
        for r in range(rows):
            if t0 is not None:
                t[r] = t0[r]
            elif usable[r].any():
                t[r] = math.log(float(np.median(m[r][usable[r]])))
    active = totals - lo.sum(axis=1) > 1e-12 * scale
    lam_out = np.zeros(rows)
    for idle in np.flatnonzero(~active):
        lam_out[idle] = _price_of(curves, lo[idle], lo[idle], hi[idle])
    a = np.full(rows, -math.inf)
    b = np.full(rows, math.inf)
    warm = np.zeros((rows, n))
    for _ in range(200):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        ti = t[idx]
        root = curves.descending_root(np.exp(ti), warm[idx])
        warm[idx] = np.where(np.isfinite(root), root, 0.0)
        lo_i, hi_i = lo[idx], hi[idx]
        x = np.clip(root, lo_i, hi_i)
        x_out[idx] = x
        f = x.sum(axis=1) - totals[idx]
        ok = np.abs(f) <= 1e-13 * scale[idx]
        ai = np.where(f > 0, ti, a[idx])
        bi = np.where(f > 0, b[idx], ti)
        a[idx], b[idx] = ai, bi
        sec = second(curves, x)
        inside = _moving(curves, x, lo_i, hi_i, sec)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.sum(
                np.where(inside, np.exp(ti)[:, None] / np.where(inside, sec, -1.0), 0.0), axis=1
            )
            t_new = np.where(slope < 0, ti - f / np.where(slope < 0, slope, -1.0), math.nan)
        good = (slope < 0) & (ai < t_new) & (t_new < bi) & np.isfinite(t_new)
        fallback = np.where(
            np.isinf(ai),
            np.where(np.isfinite(bi), bi - 2.0, ti - 2.0),
            np.where(np.isinf(bi), ai + 2.0, 0.5 * (ai + bi)),
        )
        t_new = np.where(good, t_new, fallback)
        closed = np.isfinite(ai) & np.isfinite(bi) & (bi - ai < 1e-15 * np.maximum(1.0, np.abs(ti)))
        stop = ok | closed
        lam_out[idx] = np.exp(ti)
        t[idx] = np.where(stop, ti, np.clip(t_new, -700.0, 700.0))  # exp() stays finite
        active[idx[stop]] = False
    return x_out, lam_out


def _moving(
    curves: ResponseCurves, x: FloatArray, lo: FloatArray, hi: FloatArray, sec: FloatArray
) -> npt.NDArray[np.bool_]:
    """Channels whose demand moves with the price at ``x``: strictly inside their bounds,
    on the concave part (``sec``: second derivative there) and above the spend floor (a
    root held at the floor does not move)."""
    floor = curves.k * (SPEND_FLOOR * (1.0 + 1e-6))
    out: npt.NDArray[np.bool_] = (x > lo) & (x < hi) & (sec < 0) & (x > floor)
    return out


_Scan = tuple[int, FloatArray, FloatArray, float, float]  # j, lo2, hi2, low, top


def _partial_scans(
    curves: ResponseCurves, total: float, jobs: list[_Scan]
) -> tuple[FloatArray, float] | None:
    """Best split where one channel ``j`` may sit anywhere in ``[low, top]``.

    For each job the other channels (concave within ``lo2, hi2``) water-fill the rest.
    The value ``f_j(x) + F(total - x)`` peaks at an end or where ``f_j'(x)`` equals the
    others' price ``F'(total - x)`` with the difference falling (possibly on the convex
    part of ``f_j``). The scan runs over the others' price ``lam`` rather than over
    ``x``: at price ``lam`` the others spend their demand ``D(lam)`` and channel ``j``
    the rest, which rises with ``lam``, so one vectorised root solve over a price grid
    gives the whole scan, and each sign change of ``f_j'(total - D(lam)) - lam`` is
    refined by a root search in ``lam``. The jobs' end points share one water-filling.
    """
    ready: list[tuple[int, FloatArray, FloatArray, float, float]] = []
    rows_lo: list[FloatArray] = []
    rows_hi: list[FloatArray] = []
    for j, lo2, hi2, low, top in jobs:
        xmin = max(low, total - (float(hi2.sum()) - float(hi2[j])))
        xmax = min(top, total - (float(lo2.sum()) - float(lo2[j])))
        if xmax < xmin or curves.n < 2:
            continue
        for xj in (xmin, xmax):  # channel j pinned at an end, the others fill the rest
            lo_r, hi_r = lo2.copy(), hi2.copy()
            lo_r[j] = hi_r[j] = xj
            rows_lo.append(lo_r)
            rows_hi.append(hi_r)
        ready.append((j, lo2, hi2, xmin, xmax))
    if not ready:
        return None
    ends, prices = _concave_fills(
        curves, np.full(len(rows_lo), float(total)), np.array(rows_lo), np.array(rows_hi)
    )
    found: list[FloatArray] = []
    room_tol = 1e-12 * max(1.0, total)
    for i, (j, lo2, hi2, xmin, xmax) in enumerate(ready):
        found += [ends[2 * i], ends[2 * i + 1]]
        if xmax - xmin <= room_tol:
            continue
        # The price range over which the others' demand moves between its two ends: when
        # they sit at their caps (or minimums) the fill's price is not that edge.
        others = np.arange(curves.n) != j
        free = others & (hi2 > lo2)
        if not free.any():
            continue
        with np.errstate(divide="ignore"):
            m_hi = curves.marginal(hi2)[free]
            m_lo = curves.marginal(np.maximum(lo2, curves.k * SPEND_FLOOR * 10.0))[free]
        capped = total - xmin >= float(hi2[others].sum()) - room_tol
        at_min = total - xmax <= float(lo2[others].sum()) + room_tol
        lam_a = float(m_hi.min()) if capped else float(prices[2 * i])
        lam_b = float(m_lo.max()) if at_min else float(prices[2 * i + 1])
        t_a = math.log(max(lam_a, 1e-300))
        t_b = math.log(max(min(lam_b, 1e300), 1e-300))
        if t_b > t_a:
            found += _price_scan(curves, j, total, lo2, hi2, (xmin, xmax), (t_a, t_b))
    vals = curves.value(np.array(found)).sum(axis=1)
    best = int(np.argmax(vals))
    return found[best], float(vals[best])


def _price_scan(
    curves: ResponseCurves,
    j: int,
    total: float,
    lo2: FloatArray,
    hi2: FloatArray,
    x_range: tuple[float, float],
    t_range: tuple[float, float],
) -> list[FloatArray]:
    """Local maxima of the split between channel ``j`` and the others, by log price."""
    one = curves.subset(np.array([j], dtype=np.intp))
    xmin, xmax = x_range

    def split(root: FloatArray) -> FloatArray:
        # The others at their demand, channel j the rest (rows: prices).
        x: FloatArray = np.clip(root, lo2, hi2)
        x[..., j] = 0.0
        x[..., j] = np.clip(total - x.sum(axis=-1), xmin, xmax)
        return x

    ts = np.linspace(t_range[0], t_range[1], _SCAN_POINTS)
    grid = split(curves.descending_root(np.exp(ts)))
    # Where channel j's spend moves fast with the price, halve the price steps until no
    # step moves it by more than a scan step of its range, or of its convex part while it
    # is on it: there a narrow peak can sit between two scan points (past the inflection
    # f_j' falls as the others' price rises, so one crossing, which no grid misses).
    most = (xmax - xmin) / (_SCAN_POINTS - 1)
    infl = float(one.inflection()[0])
    most_convex = max(min(infl, xmax) - xmin, 0.0) / (_SCAN_POINTS - 1)
    for _ in range(_SCAN_REFINE):
        left = grid[:-1, j]
        wide = np.diff(grid[:, j]) > np.where(left < infl, min(most, most_convex), most)
        if not wide.any():
            break
        mids = 0.5 * (ts[:-1] + ts[1:])[wide]
        ts = np.concatenate([ts, mids])
        grid = np.concatenate([grid, split(curves.descending_root(np.exp(mids)))])
        keep = np.argsort(ts, kind="stable")
        ts, grid = ts[keep], grid[keep]
    chi = one.marginal(grid[:, j : j + 1])[:, 0] - np.exp(ts)
    others = np.arange(curves.n) != j
    warm: list[FloatArray] = [grid[0]]

    def at(t: float) -> tuple[FloatArray, float, float]:
        # The split at log price t, chi and d chi / dt: the others' demand falls by
        # lam / f_i'' per unit of t, and channel j takes what they give up.
        x = split(curves.descending_root(math.exp(t), warm[0]))
        warm[0] = x
        lam = math.exp(t)
        sec = second(curves, x)
        moving = others & _moving(curves, x, lo2, hi2, sec)
        dxj = -float(np.sum(lam / sec[moving])) if xmin < x[j] < xmax else 0.0
        mj = float(one.marginal(x[j : j + 1])[0])
        return x, mj - lam, float(sec[j]) * dxj - lam

    out: list[FloatArray] = []
    for i in np.flatnonzero((chi[:-1] > 0) & (chi[1:] <= 0)):
        # Newton's method kept inside the bracket (bisection when a step leaves it).
        a, b = float(ts[i]), float(ts[i + 1])
        ca, cb = float(chi[i]), float(chi[i + 1])
        t = a + (b - a) * ca / (ca - cb) if ca > cb else 0.5 * (a + b)
        x = grid[i]
        for _ in range(_ROOT_ITERS):
            x, c, d = at(t)
            if abs(c) <= 1e-12 * math.exp(t):
                break
            a, b = (t, b) if c > 0 else (a, t)
            if b - a <= 1e-13 * max(1.0, abs(t)):
                break
            step = t - c / d if d < 0 else math.nan
            t = step if a < step < b else 0.5 * (a + b)
        out.append(x.copy())
    return out


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
