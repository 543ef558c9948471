"""The exact Markov engine: hand-computed chains and an independent dense solver."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.journey import _markov as markov
from agents.journey import markov_from_paths, solve_chain, transitions_sql
from agents.journey._markov import CONVERSION, NULL, allocate, transition_counts
from conductor import DataError


def _paths_table(rows: list[tuple[list[int], int, int, float]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE p (path INTEGER[], conversions BIGINT, nulls BIGINT, revenue DOUBLE)")
    con.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", rows)
    return con


# Channels: A = 1, B = 2.
HAND = [
    ([1, 2], 1, 0, 100.0),  # A > B, converts with 100
    ([1], 0, 1, 0.0),  # A, no conversion
    ([2], 1, 1, 40.0),  # B twice: once converting (40), once not
]


def test_order_one_hand_computed() -> None:
    # start -> A 2/4, -> B 2/4; A -> B 1/2, A -> null 1/2; B -> conv 2/3, B -> null 1/3.
    # P(B) = 2/3, P(A) = 1/3, P(start) = 1/2. Without A: 1/3 (effect 1/3); without B: 0.
    sol = markov_from_paths(_paths_table(HAND), "p", order=1, n_channels=2)
    assert sol.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert sol.removal_effects == pytest.approx([1 / 3, 1.0], abs=1e-12)
    # Revenue: B absorbs 140 over 3 exits, so E[rev | B] = 140/3, E[rev | A] = 70/3,
    # E[rev] = 35; without A: 70/3 (effect 1/3); without B: 0.
    assert sol.value_per_journey == pytest.approx(35.0, abs=1e-9)
    assert sol.value_removal_effects == pytest.approx([1 / 3, 1.0], abs=1e-12)
    assert allocate(2.0, sol.removal_effects) == pytest.approx([0.5, 1.5], abs=1e-12)
    assert allocate(140.0, sol.value_removal_effects) == pytest.approx([35.0, 105.0], abs=1e-9)


ORDER2 = [
    ([1, 2], 1, 0, 10.0),  # A > B converts
    ([2, 1], 0, 1, 0.0),  # B > A does not
    ([1], 1, 0, 10.0),  # A converts
    ([2], 0, 1, 0.0),  # B does not
]


def test_order_one_and_two_differ_as_computed_by_hand() -> None:
    con = _paths_table(ORDER2)
    # Order 1: A and B each go to the other, convert or drop with 1/3: x = 1/2 each.
    # Without A: P(B) = 1/3, start = 1/6, effect 2/3; B symmetric.
    one = markov_from_paths(con, "p", order=1, n_channels=2)
    assert one.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert one.removal_effects == pytest.approx([2 / 3, 2 / 3], abs=1e-12)
    # Order 2: states (A), (B), (A,B), (B,A). (A,B) converts, (B,A) does not,
    # (A) -> (A,B) or conv, (B) -> (B,A) or null. Without A nothing converts (effect 1);
    # without B only (A) -> conv survives: start = 1/4, effect 1/2.
    two = markov_from_paths(con, "p", order=2, n_channels=2)
    assert two.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert two.states == 5  # start, (A), (B), (A,B), (B,A)
    assert two.removal_effects == pytest.approx([1.0, 0.5], abs=1e-12)
    assert allocate(2.0, two.removal_effects) == pytest.approx([4 / 3, 2 / 3], abs=1e-12)


def test_self_loops_do_not_change_absorption() -> None:
    # A > A > B converting: a repeated touch delays but never changes where a walk ends.
    looped = markov_from_paths(
        _paths_table([([1, 1, 2], 1, 0, 5.0), ([1], 0, 1, 0.0), ([2], 1, 1, 5.0)]),
        "p",
        order=1,
        n_channels=2,
    )
    plain = markov_from_paths(
        _paths_table([([1, 2], 1, 0, 5.0), ([1], 0, 1, 0.0), ([2], 1, 1, 5.0)]),
        "p",
        order=1,
        n_channels=2,
    )
    assert looped.removal_effects == pytest.approx(plain.removal_effects, abs=1e-12)
    assert looped.conversion_probability == pytest.approx(plain.conversion_probability)


def test_transition_counts_from_sql() -> None:
    con = _paths_table(HAND)
    rows = con.execute(transitions_sql("p", 1, 2) + " ORDER BY src, dst").fetchall()
    assert rows == [
        (0, 1, 2.0, 0.0),
        (0, 2, 2.0, 0.0),
        (1, NULL, 1.0, 0.0),
        (1, 2, 1.0, 0.0),
        (2, NULL, 1.0, 0.0),
        (2, CONVERSION, 2.0, 140.0),
    ]


def test_no_conversions_gives_zero_effects() -> None:
    sol = markov_from_paths(_paths_table([([1, 2], 0, 3, 0.0)]), "p", order=1, n_channels=2)
    assert sol.conversion_probability == 0.0
    assert sol.removal_effects.tolist() == [0.0, 0.0]
    assert allocate(0.0, sol.removal_effects).tolist() == [0.0, 0.0]


def test_empty_chain() -> None:
    sol = solve_chain([], [], [], [], order=1, n_channels=3)
    assert sol.states == 0 and sol.removal_effects.tolist() == [0.0, 0.0, 0.0]


def test_order_out_of_range_and_too_many_channels() -> None:
    with pytest.raises(ValueError, match="order"):
        transitions_sql("p", 4, 3)
    with pytest.raises(DataError) as info:
        transitions_sql("p", 3, 3_000_000)
    assert info.value.code == "data.too-many-channels"


def _dense_reference(paths: list[tuple[list[int], int, int]], n: int) -> tuple[float, np.ndarray]:
    """First-order removal effects the textbook way: full matrix, fundamental matrix."""
    size = n + 3  # start, channels, conversion, null
    conv, null = n + 1, n + 2
    counts = np.zeros((size, size))
    for path, c, z in paths:
        w = c + z
        prev = 0
        for ch in path:
            counts[prev, ch] += w
            prev = ch
        counts[prev, conv] += c
        counts[prev, null] += z
    rows = counts.sum(axis=1, keepdims=True)
    m = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    m[conv, conv] = m[null, null] = 1.0
    for s in range(n + 1):
        if rows[s, 0] == 0:
            m[s, null] = 1.0  # unreachable state, keep the matrix stochastic

    def p_conv(mat: np.ndarray) -> float:
        q, r = mat[: n + 1, : n + 1], mat[: n + 1, conv]
        return float(np.linalg.solve(np.eye(n + 1) - q, r)[0])

    base = p_conv(m)
    effects = np.zeros(n)
    for ch in range(1, n + 1):
        removed = m.copy()
        removed[:, null] += removed[:, ch]
        removed[:, ch] = 0.0
        removed[ch, :] = 0.0
        removed[ch, null] = 1.0
        effects[ch - 1] = 1.0 - p_conv(removed) / base if base > 0 else 0.0
    return base, effects


path_rows = st.lists(
    st.tuples(
        st.lists(st.integers(1, 4), min_size=1, max_size=6),
        st.integers(0, 3),
        st.integers(0, 3),
    ).filter(lambda r: r[1] + r[2] > 0),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(path_rows)
def test_matches_independent_dense_solver(rows: list[tuple[list[int], int, int]]) -> None:
    con = _paths_table([(p, c, z, float(c) * 10) for p, c, z in rows])
    sol = markov_from_paths(con, "p", order=1, n_channels=4)
    base, effects = _dense_reference(rows, 4)
    assert sol.conversion_probability == pytest.approx(base, abs=1e-9)
    assert sol.removal_effects == pytest.approx(effects, abs=1e-9)
    # Every conversion is worth 10, so revenue effects equal conversion effects.
    assert sol.value_removal_effects == pytest.approx(effects, abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(path_rows, st.integers(1, 3))
def test_removal_effects_are_probabilities_and_credits_add_up(
    rows: list[tuple[list[int], int, int]], order: int
) -> None:
    con = _paths_table([(p, c, z, float(c) * 3.5) for p, c, z in rows])
    sol = markov_from_paths(con, "p", order=order, n_channels=4)
    assert np.all(sol.removal_effects >= -1e-12) and np.all(sol.removal_effects <= 1 + 1e-12)
    total = sum(c for _, c, _ in rows)
    credits = allocate(float(total), sol.removal_effects)
    assert credits.sum() == pytest.approx(total, abs=1e-9)
    # The chain reproduces the observed conversion rate exactly.
    journeys = sum(c + z for _, c, z in rows)
    assert sol.conversion_probability == pytest.approx(total / journeys, abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(path_rows, st.integers(1, 3))
def test_numpy_and_sql_transition_counts_agree(
    rows: list[tuple[list[int], int, int]], order: int
) -> None:
    con = _paths_table([(p, c, z, float(c) * 2) for p, c, z in rows])
    sql = {(s, d): (c, v) for s, d, c, v in con.execute(transitions_sql("p", order, 4)).fetchall()}
    lengths = [len(p) for p, _, _ in rows]
    src, dst, cnt, val = transition_counts(
        np.concatenate(([0], np.cumsum(lengths))),
        np.concatenate([p for p, _, _ in rows]),
        [c for _, c, _ in rows],
        [z for _, _, z in rows],
        [float(c) * 2 for _, c, _ in rows],
        order=order,
        n_channels=4,
    )
    summed: dict[tuple[int, int], tuple[float, float]] = {}
    for s, d, c, v in zip(src.tolist(), dst.tolist(), cnt.tolist(), val.tolist(), strict=True):
        old = summed.get((s, d), (0.0, 0.0))
        summed[(s, d)] = (old[0] + c, old[1] + v)
    assert summed.keys() == sql.keys()
    for key, (c, v) in sql.items():
        assert summed[key] == pytest.approx((c, v), abs=1e-9)


def test_sparse_and_dense_solvers_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        ([1, 2, 3], 2, 1, 8.0),
        ([3, 1], 0, 4, 0.0),
        ([2, 2, 1, 3], 1, 0, 5.0),
        ([4], 1, 2, 1.0),
    ]
    con = _paths_table(rows)
    dense = markov_from_paths(con, "p", order=2, n_channels=4)
    monkeypatch.setattr(markov, "_DENSE_LIMIT", 0)
    sparse = markov_from_paths(con, "p", order=2, n_channels=4)
    assert sparse.removal_effects == pytest.approx(dense.removal_effects, abs=1e-12)
    assert sparse.value_removal_effects == pytest.approx(dense.value_removal_effects, abs=1e-12)
    assert (sparse.states, sparse.edges) == (dense.states, dense.edges)
