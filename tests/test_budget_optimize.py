"""Properties of the budget optimiser: sums, bounds, KKT, global optimality, infeasibility."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from agents.budget import InfeasibleBounds, ResponseCurves, maximise
from agents.budget._optimize import dp_maximise


@st.composite
def problems(draw: st.DrawFn) -> tuple[ResponseCurves, float, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 6))
    f = st.floats(0.5, 10.0)
    beta = np.array(draw(st.lists(f, min_size=n, max_size=n)))
    k = np.array(draw(st.lists(st.floats(0.3, 3.0), min_size=n, max_size=n)))
    shape = np.array(draw(st.lists(st.floats(0.6, 3.5), min_size=n, max_size=n)))
    logistic = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    total = draw(st.floats(0.1, 12.0))
    lo = np.array(
        [draw(st.sampled_from([0.0, 0.0, draw(st.floats(0.0, total / n))])) for _ in range(n)]
    )
    hi = np.array(
        [draw(st.sampled_from([total, lo[i] + draw(st.floats(0.0, total))])) for i in range(n)]
    )
    return ResponseCurves(beta, k, shape, logistic), total, lo, hi


def _feasible(total: float, lo: np.ndarray, hi: np.ndarray) -> bool:
    hi = np.minimum(hi, total)
    tol = 1e-9 * max(1.0, total)
    return bool(np.all(lo <= hi + tol) and lo.sum() <= total + tol and hi.sum() >= total - tol)


def _check_kkt(c: ResponseCurves, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    # A Hill curve with shape < 1 has an infinite slope at exactly 0 that only exceeds a
    # finite price below any representable spend (shape 0.99999: below e^-30000), so
    # unfunded channels are judged a hair above 0: the optimiser's rounding (1e-9 of the
    # total), since a spend below that is none to it. (At 1e-12, shape 0.906 still has a
    # slope above a price of 1.92: the optimum gives it 5e-12 of 0.25.)
    m = c.marginal(np.maximum(x, 1e-9 * max(1.0, float(x.sum()))))
    scale = np.maximum(1.0, x)
    free = hi > lo + 1e-7 * scale  # a channel pinned by lo == hi has no condition
    inside = free & (x > lo + 1e-7 * scale) & (x < hi - 1e-7 * scale)
    at_lo = free & ~inside & (x <= lo + 1e-7 * scale)
    at_hi = free & ~inside & ~at_lo
    if inside.any():
        lam = float(np.median(m[inside]))
        assert np.allclose(m[inside], lam, rtol=1e-5, atol=1e-9), (m, x, lo, hi)
        assert np.all(m[at_lo] <= lam * (1 + 1e-5) + 1e-9)
        assert np.all(m[at_hi] >= lam * (1 - 1e-5) - 1e-9)
    elif at_lo.any() and at_hi.any():
        assert m[at_lo].max() <= m[at_hi].min() * (1 + 1e-5) + 1e-9


# BUDGET_EXAMPLES raises the number of examples for a stress run.
@settings(
    max_examples=int(os.environ.get("BUDGET_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problems())
@example(  # shape just below 1: an infinite slope at 0 that no representable spend reaches
    (
        ResponseCurves(
            np.array([0.5, 1, 1, 1, 1, 1.0]), np.ones(6), np.array([0.99999, 1, 1, 1, 1, 1.0])
        ),
        1.0,
        np.zeros(6),
        np.ones(6),
    )
)
@example(  # S-shaped, the first channel capped below its tangent: the second fills the gap
    (
        ResponseCurves(np.ones(2), np.array([1.0, 2.0]), np.array([2.0, 3.0])),
        2.0,
        np.zeros(2),
        np.array([1.0, 2.0]),
    )
)
@example(  # the best split funds a concave channel with shape < 1 a little: slope ∞ at 0
    (
        ResponseCurves(np.ones(2), np.array([0.5, 2.0]), np.array([2.0, 0.75])),
        0.25,
        np.zeros(2),
        np.array([0.25, 0.25]),
    )
)
@example(  # caps leave the gap search a channel pinned at zero
    (
        ResponseCurves(np.ones(6), np.ones(6), np.array([2.0, 1, 2, 2, 1, 2])),
        1.0,
        np.zeros(6),
        np.array([1.0, 0, 1, 1, 0.125, 1]),
    )
)
@example(  # shapes just under 1: roots far below any real spend are held at a floor
    (
        ResponseCurves(np.array([1, 2, 2, 1, 1.0]), np.ones(5), np.array([1, 1, 1, 2, 0.96875])),
        0.125,
        np.zeros(5),
        np.full(5, 0.125),
    )
)
@example(
    (
        ResponseCurves(
            np.array([1, 2, 1, 4, 1, 1.0]),
            np.ones(6),
            np.array([2, 2, 0.9921875, 1, 0.9921875, 1]),
        ),
        2.0,
        np.zeros(6),
        np.array([2, 2, 2, 2, 2, 0.0]),
    )
)
@example(  # a logistic channel pushed deep into saturation: its root stays precise
    (
        ResponseCurves(np.ones(2), np.array([0.375, 1.0]), np.ones(2), np.array([True, False])),
        12.0,
        np.zeros(2),
        np.array([12.0, 1.0]),
    )
)
@example(  # a price scan over three decades (shape 0.75 at 0): the narrow peak is found
    (
        ResponseCurves(
            np.array([2.0, 1, 1, 5]), np.array([0.5, 1, 1, 1.5]), np.array([0.75, 1, 1, 1.0625])
        ),
        0.125,
        np.zeros(4),
        np.full(4, 0.125),
    )
)
@example(  # an S-shaped channel with room under the rounding tolerance gets none
    (
        ResponseCurves(np.array([2.0, 1.0]), np.ones(2), np.array([2.0, 2.0])),
        0.5,
        np.zeros(2),
        np.array([0.5, 1e-9]),
    )
)
@example(  # the second channel's S-curve is narrower than a grid step: it stays unfunded
    (
        ResponseCurves(
            np.array([1.0, 1, 1, 2, 0.5]),
            np.array([0.3125, 1, 1, 0.5, 0.375]),
            np.array([3.0, 2, 2, 2, 1.75]),
        ),
        0.640625,
        np.array([0, 0, 0.0234375, 0, 0]),
        np.array([0.640625, 0.00195312, 0.640625, 0.5, 0.640625]),
    )
)
@example(  # shape 0.906 unfunded beside an all-convex channel holding the whole total
    (
        ResponseCurves(
            np.array([1.0, 0.5, 1.5]), np.array([1.0, 3, 0.5]), np.array([1, 0.90625, 2])
        ),
        0.25,
        np.zeros(3),
        np.full(3, 0.25),
    )
)
@example(  # the same with shape 0.867: the optimum's sliver is 1.5e-10 of 0.1
    (
        ResponseCurves(
            np.array([1.0, 9, 1]), np.array([1, 0.3125, 1]), np.array([1, 1.5, 0.8671875])
        ),
        0.1015625,
        np.zeros(3),
        np.full(3, 0.1015625),
    )
)
@example(  # the first channel's optimum lies on its convex part within one price step
    (
        ResponseCurves(
            np.array([2.0, 7, 1.875, 1, 6, 5]),
            np.array([2.65625, 0.84375, 1, 0.5625, 1, 0.34375]),
            np.array([1.28125, 2.25, 1, 1.75, 1, 1]),
            np.array([False, False, True, False, False, False]),
        ),
        9.3125,
        np.array([0.25, 0, 0, 0, 0, 0]),
        np.array([9.3125, 9.3125, 9.3125, 9.3125, 2.34375, 9.3125]),
    )
)
def test_allocation_sums_respects_bounds_and_kkt(p: tuple) -> None:
    c, total, lo, hi = p
    if not _feasible(total, lo, hi):
        with pytest.raises(InfeasibleBounds):
            maximise(c, total, lo, hi)
        return
    sol = maximise(c, total, lo, hi)
    assert sol.x.sum() == pytest.approx(total, rel=1e-8, abs=1e-10)
    assert np.all(sol.x >= lo - 1e-9 * max(1, total))
    assert np.all(sol.x <= np.minimum(hi, total) + 1e-9 * max(1, total))
    _check_kkt(c, sol.x, lo, np.minimum(hi, total))
    # Never worse than the exact optimum on a grid (which any split can be rounded to).
    grid = dp_maximise(c, total, lo, np.minimum(hi, total), grid=120)
    assert sol.value >= c.value(grid).sum() - 1e-9 * max(1.0, abs(sol.value))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 5.0), min_size=1, max_size=5),
    st.floats(0.1, 10.0),
)
@example([1.0000000033211207], 1.0)
def test_infeasible_minimums_always_raise(mins: list[float], total: float) -> None:
    n = len(mins)
    c = ResponseCurves(np.ones(n), np.ones(n), np.full(n, 2.0))
    lo = np.array(mins)
    # maximise() treats a clash under 1e-9 of the total as rounding (it spends the minimums).
    if lo.sum() > total + 1e-9 * max(1.0, total):
        with pytest.raises(InfeasibleBounds) as info:
            maximise(c, total, lo)
        assert info.value.kind == "below-minimums"
    else:
        assert maximise(c, total, lo).x.sum() == pytest.approx(total, rel=1e-8)


def test_caps_below_total_raise() -> None:
    c = ResponseCurves(np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(InfeasibleBounds) as info:
        maximise(c, 10.0, None, np.array([3.0, 4.0]))
    assert info.value.kind == "above-maximums"
    with pytest.raises(InfeasibleBounds) as info:
        maximise(c, 10.0, np.array([5.0, 0.0]), np.array([4.0, 10.0]))
    assert info.value.kind == "min-above-max"


def _slsqp_best(c: ResponseCurves, total: float, starts: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    n = c.n
    best = -np.inf
    for _ in range(starts):
        x0 = rng.dirichlet(np.ones(n)) * total
        res = minimize(
            lambda v: -c.value(v).sum(),
            x0,
            jac=lambda v: -c.marginal(np.maximum(v, 1e-12)),
            bounds=[(0.0, total)] * n,
            constraints=[{"type": "eq", "fun": lambda v: v.sum() - total}],
            method="SLSQP",
            options={"ftol": 1e-12, "maxiter": 300},
        )
        v = np.clip(res.x, 0.0, total)
        if abs(v.sum() - total) < 1e-6 * total:
            best = max(best, float(c.value(v).sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_matches_or_beats_multistart_slsqp_on_s_curves(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5
    c = ResponseCurves(rng.uniform(1, 10, n), rng.uniform(0.5, 3, n), rng.uniform(1.2, 3.5, n))
    total = float(c.k.sum() * rng.uniform(0.2, 1.2))
    ours = maximise(c, total).value
    assert ours >= _slsqp_best(c, total, 20, seed) - 1e-9 * ours


def test_concave_curves_are_certified_and_equalise_marginals() -> None:
    c = ResponseCurves(np.array([5.0, 3.0, 1.0]), np.array([1.0, 2.0, 0.5]), np.ones(3))
    sol = maximise(c, 2.0)
    assert sol.certified
    m = c.marginal(sol.x)[sol.x > 0]
    assert np.allclose(m, sol.price, rtol=1e-8)


def test_s_curve_channel_is_funded_past_inflection_or_not_at_all() -> None:
    # One strongly S-shaped channel and one concave channel; a small budget should all go to
    # the concave one, a large one should fund the S-curve past its inflection point.
    c = ResponseCurves(np.array([10.0, 2.0]), np.array([4.0, 1.0]), np.array([3.0, 1.0]))
    small = maximise(c, 0.5)
    assert small.x[0] == pytest.approx(0.0, abs=1e-9)
    big = maximise(c, 8.0)
    assert big.x[0] > c.inflection()[0]
