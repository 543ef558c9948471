"""Exact Markov-chain attribution: absorbing-chain probabilities by linear algebra.

A journey is a walk ``start -> s1 -> s2 -> ... -> conversion | null``. For a chain of
order k a state is the tuple of the last k channels (shorter at the start of a path).
Transition probabilities are the observed transition counts normalised per state.

For the transient states, ``x = Q x + b`` gives the probability ``x[s]`` of ending in
conversion from ``s``; ``(I - Q) x = b`` is solved directly (sparse LU, or dense LU for
small chains), never simulated. A channel's *removal effect* is ``1 - x'[start] / x[start]``
where ``x'`` solves the same system with every state that contains the channel sent to
``null``, which is the same as dropping those states' rows and columns. Revenue uses the
same matrix with ``b`` replaced by the expected revenue absorbed from each state.

States are integer codes: a state ``(c_{i-k+1}, ..., c_i)`` of channel ids ``1..n`` is
``sum_j c_{i-j} * (n + 1) ** j`` (0 for positions before the path start), so ``0`` is the
start state; :data:`CONVERSION` and :data:`NULL` are negative codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from conductor import DataError

__all__ = [
    "CONVERSION",
    "NULL",
    "START",
    "ChainSolution",
    "allocate",
    "markov_from_paths",
    "solve_chain",
    "transitions_sql",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

START = 0
CONVERSION = -1
NULL = -2

# Above this many transient states the sparse LU wins over a dense solve.
_DENSE_LIMIT = 300


@dataclass(frozen=True)
class ChainSolution:
    """The solved chain.

    Attributes:
        order: Chain order.
        n_channels: Channels, with ids ``1..n_channels``.
        states: Transient states, including start.
        edges: Distinct observed transitions.
        conversion_probability: P(conversion) from start.
        value_per_journey: Expected revenue per journey from start.
        removal_effects: Per channel id ``i`` at index ``i - 1``.
        value_removal_effects: The same, for revenue.
    """

    order: int
    n_channels: int
    states: int
    edges: int
    conversion_probability: float
    value_per_journey: float
    removal_effects: FloatArray
    value_removal_effects: FloatArray


def _check_order(order: int, n_channels: int) -> None:
    if order not in (1, 2, 3):
        raise ValueError(f"markov order must be 1, 2 or 3, not {order}")
    if (n_channels + 1) ** order >= 2**62:
        raise DataError(
            f"too many channels ({n_channels:,}) for a Markov chain of order {order}",
            source="events",
            column="channel",
            code="data.too-many-channels",
            hint="group rare channels (the `channels` parameter) or use a lower markov_order",
        )


def transitions_sql(paths: str, order: int, n_channels: int) -> str:
    """SQL that turns an aggregated path table into transition counts.

    Args:
        paths: A table or view with ``path INTEGER[]`` (channel ids 1..n in time order),
            ``conversions`` (converting journeys, counted with multiplicity), ``nulls``
            (non-converting journeys) and ``revenue`` (their conversion revenue).
        order: Chain order, 1 to 3.
        n_channels: Number of channel ids.

    Returns:
        A query with columns ``src, dst, cnt, val`` (state codes, transition count and the
        revenue carried by transitions into conversion).
    """
    _check_order(order, n_channels)
    base = n_channels + 1
    terms = ["x::BIGINT"]
    for lag in range(1, order):
        terms.append(f"{base**lag}::BIGINT * (CASE WHEN i > {lag} THEN path[i - {lag}] ELSE 0 END)")
    code = " + ".join(terms)
    return f"""
        WITH c AS (
            SELECT conversions::DOUBLE AS conv, nulls::DOUBLE AS nul,
                   coalesce(revenue, 0)::DOUBLE AS rev,
                   list_transform(path, lambda x, i: {code}) AS codes
            FROM {paths}
            WHERE len(path) > 0 AND conversions + nulls > 0
        ), e AS (
            SELECT unnest(list_prepend(0::BIGINT, list_slice(codes, 1, len(codes) - 1))) AS src,
                   unnest(codes) AS dst, conv + nul AS cnt, 0.0 AS val
            FROM c
            UNION ALL
            SELECT codes[-1], {CONVERSION}, conv, rev FROM c WHERE conv > 0
            UNION ALL
            SELECT codes[-1], {NULL}, nul, 0.0 FROM c WHERE nul > 0
        )
        SELECT src, dst, sum(cnt) AS cnt, sum(val) AS val FROM e GROUP BY src, dst
    """


def solve_chain(
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    cnt: npt.ArrayLike,
    val: npt.ArrayLike,
    *,
    order: int,
    n_channels: int,
) -> ChainSolution:
    """Solve an absorbing chain from its transition counts, with exact removal effects.

    Args:
        src: Source state code of each edge (0 = start).
        dst: Destination code (a state, :data:`CONVERSION` or :data:`NULL`).
        cnt: Observed transitions on the edge.
        val: Revenue carried by the edge (non-zero only into conversion).
        order: Chain order, 1 to 3.
        n_channels: Number of channel ids.

    Returns:
        The conversion probability, expected revenue and every channel's removal effects.
    """
    _check_order(order, n_channels)
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    w = np.asarray(cnt, dtype=np.float64)
    v = np.asarray(val, dtype=np.float64)
    zero = np.zeros(n_channels)
    if s.size == 0 or w.sum() <= 0:
        return ChainSolution(order, n_channels, 0, 0, 0.0, 0.0, zero, zero.copy())
    states, si, di = _index_states(s, d)
    system, edges = _absorbing(states, si, di, d, w, v)
    base_x = system.solve(np.ones(states.size, dtype=bool))
    p, value = float(base_x[0]), float(base_x[1])
    effects, value_effects = _removal_effects(system, states, order, n_channels, p, value)
    return ChainSolution(
        order=order,
        n_channels=n_channels,
        states=states.size,
        edges=edges,
        conversion_probability=p,
        value_per_journey=value,
        removal_effects=effects,
        value_removal_effects=value_effects,
    )


def _index_states(s: IntArray, d: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """The transient state codes (sorted), and each edge's source and (for edges into a
    transient state) destination as indices into them."""
    inner = d >= 0
    top = int(max(s.max(), d.max(), START))
    if top <= 4 * s.size + 1_000_000:
        # Codes are small: index them with a lookup table instead of sorting.
        seen = np.zeros(top + 1, dtype=bool)
        seen[s] = True
        seen[START] = True
        if not seen[d[inner]].all():
            raise ValueError("a transition leads to a state with no outgoing transitions")
        lookup = np.cumsum(seen) - 1
        states = np.flatnonzero(seen)
        si, di = lookup[s], lookup[d[inner]]
    else:
        states = np.unique(np.append(s, START))
        si = np.searchsorted(states, s)
        di = np.searchsorted(states, d[inner])
        if np.any(di >= states.size) or np.any(states[np.minimum(di, states.size - 1)] != d[inner]):
            raise ValueError("a transition leads to a state with no outgoing transitions")
    return states, si, di


@dataclass(frozen=True)
class _Absorbing:
    """The system ``(I - Q) x = b`` over the transient states (dense or sparse ``I - Q``);
    ``b``'s columns are the conversion probability and revenue absorbed from each state."""

    matrix: Any
    b: FloatArray
    start: int

    def solve(self, keep: npt.NDArray[np.bool_]) -> FloatArray:
        """``x[start]`` with only the ``keep`` states (the others sent to null)."""
        idx = np.flatnonzero(keep)
        if isinstance(self.matrix, np.ndarray):
            x = np.linalg.solve(self.matrix[np.ix_(idx, idx)], self.b[idx])
        else:
            import scipy.sparse.linalg

            lu = scipy.sparse.linalg.splu(self.matrix[idx][:, idx].tocsc())
            x = lu.solve(self.b[idx])
        return np.asarray(x[int(np.searchsorted(idx, self.start))], dtype=np.float64)


def _absorbing(
    states: IntArray, si: IntArray, di: IntArray, d: IntArray, w: FloatArray, v: FloatArray
) -> tuple[_Absorbing, int]:
    """The chain's linear system, and its number of distinct edges."""
    n = states.size
    inner = d >= 0
    out = np.bincount(si, weights=w, minlength=n)
    # Every state is a source (each path ends in an absorbing state), so out > 0; the
    # guard only protects the division.
    out_safe = np.where(out > 0, out, 1.0)
    prob = w[inner] / out_safe[si[inner]]
    conv = d == CONVERSION
    b = np.zeros((n, 2))
    b[:, 0] = np.bincount(si[conv], weights=w[conv], minlength=n) / out_safe
    b[:, 1] = np.bincount(si[conv], weights=v[conv], minlength=n) / out_safe
    start = int(np.searchsorted(states, START))

    null_edges = np.count_nonzero(np.bincount(si[d == NULL], minlength=n))
    terminal_edges = int(np.count_nonzero(b[:, 0]) + null_edges)
    if n <= _DENSE_LIMIT:
        q = np.bincount(si[inner] * n + di, weights=prob, minlength=n * n).reshape(n, n)
        edges = int(np.count_nonzero(q)) + terminal_edges
        return _Absorbing(np.eye(n) - q, b, start), edges
    import scipy.sparse.linalg

    q_sparse = scipy.sparse.csr_matrix((prob, (si[inner], di)), shape=(n, n))
    q_sparse.sum_duplicates()
    edges = int(q_sparse.nnz) + terminal_edges
    a = (scipy.sparse.identity(n, format="csr") - q_sparse).tocsr()
    return _Absorbing(a, b, start), edges


def _removal_effects(
    system: _Absorbing, states: IntArray, order: int, n_channels: int, p: float, value: float
) -> tuple[FloatArray, FloatArray]:
    """Each channel's removal effect on the conversion probability and on revenue."""
    # Digits of each state code are the channels in it; a removal drops every state
    # that contains the channel anywhere in its history window.
    radix = n_channels + 1
    digits = (states[:, None] // radix ** np.arange(order, dtype=np.int64)) % radix
    effects = np.zeros(n_channels)
    value_effects = np.zeros(n_channels)
    present = np.unique(digits[digits > 0])
    for ch in present:
        keep = ~(digits == ch).any(axis=1)
        x = system.solve(keep)
        effects[ch - 1] = 1.0 - x[0] / p if p > 0 else 0.0
        value_effects[ch - 1] = 1.0 - x[1] / value if value > 0 else 0.0
    return effects, value_effects


def allocate(total: float, weights: FloatArray) -> FloatArray:
    """Split ``total`` in proportion to non-negative ``weights`` (zeros when they sum to 0)."""
    wts = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    tot = float(wts.sum())
    if tot <= 0 or total == 0:
        return np.zeros_like(wts)
    return np.asarray(total * wts / tot, dtype=np.float64)


def transition_counts(
    offsets: npt.ArrayLike,
    values: npt.ArrayLike,
    conversions: npt.ArrayLike,
    nulls: npt.ArrayLike,
    revenue: npt.ArrayLike,
    *,
    order: int,
    n_channels: int,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Transition counts of an aggregated path table, vectorised with numpy.

    The same result as :func:`transitions_sql`, from the table's
    flat (Arrow-style) layout: path ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    Args:
        offsets: Path boundaries, length paths + 1.
        values: Channel ids 1..n of all paths, concatenated.
        conversions: Converting journeys per path (with multiplicity).
        nulls: Non-converting journeys per path.
        revenue: Conversion revenue per path.
        order: Chain order, 1 to 3.
        n_channels: Number of channel ids.

    Returns:
        ``src, dst, cnt, val``, one entry per distinct edge.
    """
    _check_order(order, n_channels)
    off = np.asarray(offsets, dtype=np.int64)
    vals = np.asarray(values, dtype=np.int64)
    conv = np.asarray(conversions, dtype=np.float64)
    nul = np.asarray(nulls, dtype=np.float64)
    rev = np.nan_to_num(np.asarray(revenue, dtype=np.float64))
    lengths = np.diff(off)
    keep = (lengths > 0) & (conv + nul > 0)
    if not keep.all():
        # Re-pack without empty or weightless paths.
        pos = np.repeat(keep, lengths)
        vals, lengths = vals[pos], lengths[keep]
        conv, nul, rev = conv[keep], nul[keep], rev[keep]
        off = np.concatenate(([0], np.cumsum(lengths)))
    if vals.size == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        return empty_i, empty_i.copy(), np.zeros(0), np.zeros(0)
    first = off[:-1]
    last = off[1:] - 1
    radix = n_channels + 1
    # Order 1 reads the ids as they are; higher orders build codes in a copy. (Every
    # array here is a few MB: on this machine a fresh one costs page faults, not only
    # arithmetic, so the order-1 path allocates as few as it can.)
    code = vals.copy() if order > 1 else vals
    if order > 1:
        position = np.arange(vals.size) - np.repeat(first, lengths)
        for lag in range(1, order):
            shifted = np.zeros_like(vals)
            shifted[lag:] = vals[:-lag]
            code += np.where(position >= lag, shifted, 0) * radix**lag
    weight = np.repeat(conv + nul, lengths)
    has_conv = conv > 0
    has_null = nul > 0
    ends = code[last]
    width = radix**order + 2  # destinations: NULL, CONVERSION, then every state code
    if width * width <= 4 * code.size + 1_000_000:
        # Small state space: sum per edge with bincounts straight from the flat arrays,
        # without materialising one row per edge occurrence.
        size = width * width
        # The edge key prev * width + code + 2, built in one array: prev is the code
        # before, START at a path's first touch.
        key = np.empty_like(code)
        np.multiply(code[:-1], width, out=key[1:])
        key[first] = START * width
        key += code
        key += 2
        inner = np.bincount(key, weights=weight, minlength=size)
        to_conv = ends[has_conv] * width + (CONVERSION + 2)
        to_null = ends[has_null] * width + (NULL + 2)
        c = inner
        c += np.bincount(to_conv, weights=conv[has_conv], minlength=size)
        c += np.bincount(to_null, weights=nul[has_null], minlength=size)
        v = np.bincount(to_conv, weights=rev[has_conv], minlength=size)
        return _edges_from_bins(c, v, width)
    prev = np.empty_like(code)
    prev[1:] = code[:-1]
    prev[first] = START
    src = np.concatenate((prev, ends[has_conv], ends[has_null]))
    dst = np.concatenate(
        (
            code,
            np.full(int(has_conv.sum()), CONVERSION, dtype=np.int64),
            np.full(int(has_null.sum()), NULL, dtype=np.int64),
        )
    )
    cnt = np.concatenate((weight, conv[has_conv], nul[has_null]))
    val = np.concatenate((np.zeros(code.size), rev[has_conv], np.zeros(int(has_null.sum()))))
    return _sum_edges(src, dst, cnt, val)


def _edges_from_bins(
    c: npt.NDArray[Any], v: npt.NDArray[Any], width: int
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    nz = np.flatnonzero(c).astype(np.int64)
    return (
        nz // width,
        nz % width - 2,
        np.asarray(c[nz], dtype=np.float64),
        np.asarray(v[nz], dtype=np.float64),
    )


def _sum_edges(
    src: IntArray, dst: IntArray, cnt: FloatArray, val: FloatArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Sum counts and values per distinct (src, dst) edge."""
    width = int(dst.max()) + 3  # destinations start at NULL = -2
    span = int(src.max()) + 1
    if span * width <= 4 * src.size + 1_000_000:
        # Few possible edges (low order, few channels): one bincount, no sort.
        key = src * width + (dst + 2)
        c = np.bincount(key, weights=cnt, minlength=span * width)
        v = np.bincount(key, weights=val, minlength=span * width)
        return _edges_from_bins(c, v, width)
    pairs, inverse = np.unique(np.stack((src, dst), axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    c = np.bincount(inverse, weights=cnt, minlength=len(pairs))
    v = np.bincount(inverse, weights=val, minlength=len(pairs))
    return (
        np.asarray(pairs[:, 0], dtype=np.int64),
        np.asarray(pairs[:, 1], dtype=np.int64),
        np.asarray(c, dtype=np.float64),
        np.asarray(v, dtype=np.float64),
    )


def markov_from_paths(con: Any, paths: str, *, order: int, n_channels: int) -> ChainSolution:
    """Solve the chain of an aggregated path table held in DuckDB.

    Args:
        con: A DuckDB connection or cursor.
        paths: Table, view or parenthesised subquery (see :func:`transitions_sql` for its
            columns).
        order: Chain order, 1 to 3.
        n_channels: Number of channel ids used in ``path``.

    Returns:
        The solved chain.
    """
    # A result that execute() left half-read (e.g. after fetchone()) blocks sql().
    finish = getattr(con, "complete", None)
    if finish is not None:
        finish()
    table = con.sql(
        f"SELECT path, conversions, nulls, revenue FROM {paths} WHERE len(path) > 0"
    ).to_arrow_table()
    flat = table.column("path").combine_chunks()
    offsets = flat.offsets.to_numpy()
    src, dst, cnt, val = transition_counts(
        offsets - offsets[0] if offsets.size else offsets,
        flat.flatten().to_numpy(zero_copy_only=False),
        table.column("conversions").to_numpy(),
        table.column("nulls").to_numpy(),
        table.column("revenue").fill_null(0.0).to_numpy(),
        order=order,
        n_channels=n_channels,
    )
    return solve_chain(src, dst, cnt, val, order=order, n_channels=n_channels)
