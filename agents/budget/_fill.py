"""Water-filling on concave response curves, and the scans for one channel on its convex part.

For a marginal price ``lam`` every channel's best spend on the concave branch of its
curve is its descending root; the total it implies falls as ``lam`` rises, so the price
that spends a budget is found by a bracketed Newton search in ``log lam``
(:func:`_concave_fills`). When one S-shaped channel may sit on the convex part of its
curve, :func:`_partial_scans` scans the others' price instead. :mod:`agents.budget._optimize`
builds the optimiser from these steps.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from agents.budget._curves import SPEND_FLOOR, FloatArray, ResponseCurves, second

_SCAN_POINTS = 16

_ROOT_ITERS = 100  # safeguarded Newton steps refining a scan's sign change

_SCAN_REFINE = 8  # rounds of halving the scan's price steps where spend moves fast


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
