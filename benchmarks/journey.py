"""Journey analytics benchmark: exact Markov attribution against ChannelAttribution.

Run it with the project venv (ChannelAttribution and pandas live in a separate venv,
called as a subprocess, because ChannelAttribution is GPL-3.0 and never a dependency)::

    .venv/bin/python benchmarks/journey.py --rows 1000000 10000000 \
        --reference-python /work/bench-venv-journey/bin/python

It generates seeded events under ``benchmarks/.data/`` (git-ignored), then measures:

1. engine alone, from one aggregated path table: our exact solver against
   ``ChannelAttribution.markov_model`` at its defaults, and the reference's Monte-Carlo
   answer converging to ours as its simulation count grows;
2. end to end, raw events -> Markov credits: the agent (``JourneyAnalyticsAgent`` with
   only the Markov model, and with every model) against the reference fed by the
   fastest path building we could write for it (pandas, and DuckDB ``string_agg``);
3. peak memory of our end-to-end run (in a child process, ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"

CHANNELS = (
    "paid_search",
    "organic_search",
    "social",
    "email",
    "display",
    "video",
    "affiliate",
    "sms",
)


def journey_chain(seed: int = 7) -> np.ndarray:
    """A first-order journey chain: rows start + channels, columns channels + conv + null.

    Upper-funnel channels (social, display, video) mostly hand over to others; search,
    affiliate and email close more often, so the attribution models disagree.
    """
    rng = np.random.default_rng(seed)
    n = len(CHANNELS)
    close = np.array([0.11, 0.09, 0.025, 0.08, 0.015, 0.02, 0.15, 0.06])
    stay = np.array([0.42, 0.40, 0.55, 0.50, 0.52, 0.50, 0.35, 0.45])  # continue to a touch
    m = np.zeros((n + 1, n + 2))
    start = rng.dirichlet(np.full(n, 3.0))
    m[0, :n] = start
    for i in range(n):
        nxt = rng.dirichlet(np.full(n, 1.5))
        m[i + 1, :n] = stay[i] * nxt
        m[i + 1, n] = close[i]
        m[i + 1, n + 1] = 1.0 - stay[i] - close[i]
    return m


CHUNK_ROWS = 10_000_000


def generate_events(n_rows: int, seed: int, path: Path) -> dict[str, float]:
    """Write about ``n_rows`` seeded events to a Parquet file and return facts about them.

    Above 10M rows the file is written in 10M-row slices of disjoint customers (each its
    own seed), so generating 100M events needs the memory of 10M.
    """
    if n_rows <= CHUNK_ROWS:
        table, facts = _event_table(n_rows, seed, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, row_group_size=1_000_000)
        return facts
    path.parent.mkdir(parents=True, exist_ok=True)
    total: dict[str, float] = {}
    offset = 0
    with pq.ParquetWriter(path, _event_table(10, seed, 0)[0].schema) as writer:
        for k, start in enumerate(range(0, n_rows, CHUNK_ROWS)):
            table, facts = _event_table(min(CHUNK_ROWS, n_rows - start), seed + k, offset)
            writer.write_table(table, row_group_size=1_000_000)
            offset += int(facts["customers"]) + 1000
            for key, v in facts.items():
                total[key] = total.get(key, 0.0) + v
            print(f"  generated {start + table.num_rows:,} of {n_rows:,} rows", file=sys.stderr)
    return total


def _event_table(n_rows: int, seed: int, id_offset: int) -> tuple[pa.Table, dict[str, float]]:
    """About ``n_rows`` seeded events of customers numbered from ``id_offset``.

    Customers live journeys drawn from :func:`journey_chain`; a converter starts another
    journey with probability 0.3. Each touch may lead to a visit; a journey's last touch
    may go on to add_to_cart and checkout, and a converting one always goes visit ->
    add_to_cart -> checkout -> conversion. Rows are shuffled so nothing relies on order.
    """
    rng = np.random.default_rng(seed)
    chain = journey_chain()
    n_ch = len(CHANNELS)
    cum = np.cumsum(chain, axis=1)
    cum[:, -1] = 1.0
    # ~3.3 rows per customer with this chain; generate a little more and cut exactly.
    n_cust = int(n_rows / 3.0) + 1000
    t_cust: list[np.ndarray] = []
    t_jour: list[np.ndarray] = []
    t_ch: list[np.ndarray] = []
    t_conv: list[tuple[np.ndarray, np.ndarray]] = []
    who = np.arange(n_cust)
    jid_base = 0
    for _round in range(4):
        if who.size == 0:
            break
        jids = jid_base + np.arange(who.size)
        jid_base += who.size
        state = np.zeros(who.size, dtype=np.int64)
        live = np.arange(who.size)
        converted = np.zeros(who.size, dtype=bool)
        while live.size:
            u = rng.random(live.size)
            nxt = (u[:, None] >= cum[state[live]]).sum(axis=1)
            touch = nxt < n_ch
            ended = live[~touch]
            converted[ended] = nxt[~touch] == n_ch
            moved = live[touch]
            t_cust.append(who[moved])
            t_jour.append(jids[moved])
            t_ch.append(nxt[touch])
            state[moved] = nxt[touch] + 1
            live = moved
        # a converter starts another journey
        t_conv.append((jids, converted))
        who = who[converted & (rng.random(who.size) < 0.3)]
    cust = np.concatenate(t_cust)
    jour = np.concatenate(t_jour)
    ch = np.concatenate(t_ch)
    order = np.argsort(jour, kind="stable")  # touches of a journey in their step order
    cust, jour, ch = cust[order], jour[order], ch[order]
    conv_of = np.zeros(jid_base, dtype=bool)
    for jids, flags in t_conv:
        conv_of[jids] = flags
    n_t = cust.size
    last = np.ones(n_t, dtype=bool)
    last[:-1] = jour[1:] != jour[:-1]
    conv_last = last & conv_of[jour]
    # Time: journeys of a customer follow each other; touches 0.2-5 days apart.
    gap = rng.exponential(1.5, n_t) * 86400.0 + 600.0
    first_of_jour = np.ones(n_t, dtype=bool)
    first_of_jour[1:] = jour[1:] != jour[:-1]
    gap[first_of_jour] += rng.exponential(20.0, int(first_of_jour.sum())) * 86400.0
    # cumulative time per customer (journeys of one customer have increasing ids)
    corder = np.lexsort((jour, cust))
    cust, jour, ch, conv_last, last, gap = (
        cust[corder],
        jour[corder],
        ch[corder],
        conv_last[corder],
        last[corder],
        gap[corder],
    )
    first_of_cust = np.ones(n_t, dtype=bool)
    first_of_cust[1:] = cust[1:] != cust[:-1]
    t = np.cumsum(gap)
    starts = np.flatnonzero(first_of_cust)
    t -= np.repeat(
        t[starts] - rng.random(starts.size) * 200 * 86400.0, np.diff(np.append(starts, n_t))
    )
    visit_p = np.array([0.6, 0.7, 0.25, 0.4, 0.1, 0.15, 0.5, 0.3])
    visit = conv_last | (rng.random(n_t) < visit_p[ch])
    cart = conv_last | (visit & last & (rng.random(n_t) < 0.3))
    checkout = conv_last | (cart & last & (rng.random(n_t) < 0.4))
    mins = np.cumsum(rng.exponential([15.0, 10.0, 5.0, 3.0], (n_t, 4)) + 0.1, axis=1) * 60.0
    kinds = ("touch", "visit", "add_to_cart", "checkout", "conversion")
    masks = [np.ones(n_t, dtype=bool), visit, cart, checkout, conv_last]
    e_cust = np.concatenate([cust[m] for m in masks])
    e_t = np.concatenate([t] + [t[m] + mins[m, i] for i, m in enumerate(masks[1:])])
    e_kind = np.concatenate([np.full(int(m.sum()), k, dtype=np.int8) for k, m in enumerate(masks)])
    e_ch = np.concatenate([ch + 1] + [np.zeros(int(m.sum()), dtype=np.int64) for m in masks[1:]])
    # Cut to exactly n_rows by whole customers, then shuffle rows.
    per_cust = np.bincount(e_cust, minlength=n_cust)
    keep_cust = np.cumsum(per_cust) <= n_rows
    keep = keep_cust[e_cust]
    e_cust, e_t, e_kind, e_ch = e_cust[keep], e_t[keep], e_kind[keep], e_ch[keep]
    perm = rng.permutation(e_cust.size)
    e_cust, e_t, e_kind, e_ch = e_cust[perm], e_t[perm], e_kind[perm], e_ch[perm]
    revenue = np.where(e_kind == 4, np.round(rng.lognormal(4.3, 0.5, e_cust.size), 2), np.nan)
    epoch = dt.datetime(2026, 1, 1).timestamp()
    table = pa.table(
        {
            "customer_id": pa.array(
                np.char.add("c", (e_cust + id_offset).astype(str)).astype(object), pa.string()
            ),
            "timestamp": pa.array(((epoch + e_t) * 1e6).astype(np.int64), pa.timestamp("us")),
            "channel": pa.array(["", *CHANNELS], pa.string()).take(pa.array(e_ch)),
            "event_type": pa.array(list(kinds), pa.string()).take(pa.array(e_kind)),
            "revenue": pa.array(revenue, pa.float64(), mask=e_kind != 4),
        }
    )
    return table, {
        "rows": float(e_cust.size),
        "customers": float(keep_cust.sum()),
        "touches": float((e_kind == 0).sum()),
        "conversions": float((e_kind == 4).sum()),
    }


def true_shares() -> dict[str, float]:
    """Removal-effect shares of the generating chain (what an infinite sample converges to)."""
    m = journey_chain()
    n = len(CHANNELS)
    full = np.zeros((n + 3, n + 3))
    full[: n + 1, 1:] = m
    full[n + 1, n + 1] = full[n + 2, n + 2] = 1.0

    def p_conv(mat: np.ndarray) -> float:
        q, r = mat[: n + 1, : n + 1], mat[: n + 1, n + 1]
        return float(np.linalg.solve(np.eye(n + 1) - q, r)[0])

    base = p_conv(full)
    effects = []
    for c in range(1, n + 1):
        rem = full.copy()
        rem[:, n + 2] += rem[:, c]
        rem[:, c] = 0.0
        rem[c, :] = 0.0
        rem[c, n + 2] = 1.0
        effects.append(1.0 - p_conv(rem) / base)
    tot = sum(effects)
    return {ch: e / tot for ch, e in zip(CHANNELS, effects, strict=True)}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _shares(credits: dict[str, float]) -> dict[str, float]:
    tot = sum(credits.values())
    return {k: v / tot for k, v in sorted(credits.items())}


# ---------------------------------------------------------------------------------------
# Child commands (each runs in its own process, so memory and imports are isolated)
# ---------------------------------------------------------------------------------------


def child_ours_e2e(events: Path, models: str) -> dict[str, Any]:
    """The agent, raw events -> report, in this (project) environment."""
    from agents.journey import JourneyAnalyticsAgent, JourneySpec
    from conductor import BusinessGoal, DataCatalog, DataSource, Inputs, RunContext

    t0 = time.perf_counter()
    catalog = DataCatalog({"events": DataSource(path=events)})
    spec = JourneySpec(
        attribution=None if models == "all" else models.split(","), write_tables=False
    )
    ctx = RunContext(
        run_id="bench",
        step="journeys",
        agent="journey_analytics",
        goal=BusinessGoal(objective="grow_revenue", kpi="revenue"),
        out_dir=DATA / "out",
    )
    rep = JourneyAnalyticsAgent().run(spec, Inputs(upstream={}, catalog=catalog), ctx)
    seconds = time.perf_counter() - t0
    markov = rep.credits("markov")
    return {
        "seconds": seconds,
        "maxrss_mb": _maxrss_mb(),
        "credits": markov,
        "revenue_credits": rep.credits("markov", "revenue"),
        "conversions": rep.attributed_conversions,
        "journeys": rep.journeys,
        "summary": rep.summary(),
    }


def child_ours_engine(paths_parquet: Path, repeat: int) -> dict[str, Any]:
    """Our engine alone from the reference's aggregated path table (string paths).

    Parses the ``a > b > c`` strings with Arrow compute kernels (split, dictionary-encode), counts transitions with
    numpy (:func:`transition_counts`) and solves the chain exactly (:func:`solve_chain`).
    Runs ``repeat`` times in one process; reports the first and the best time. Imports
    and reading the Parquet file are outside the timing, as for the reference (whose
    table is read into pandas first).
    """
    import pyarrow.compute as pc

    from agents.journey._markov import allocate, solve_chain, transition_counts

    table = pq.read_table(paths_parquet)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        split = pc.split_pattern(table.column("path").combine_chunks(), " > ")
        flat = split.flatten()
        # One dictionary encoding (ids in order of first sight), then ranked by name: the
        # same ids as sorting the unique names and looking each token up, in one pass.
        coded = flat.dictionary_encode()
        seen = coded.dictionary.to_pylist()
        rank = np.empty(len(seen), dtype=np.int64)
        rank[sorted(range(len(seen)), key=seen.__getitem__)] = np.arange(len(seen))
        ids = rank[coded.indices.to_numpy()] + 1
        names = sorted(seen)
        conv = table.column("total_conversions").to_numpy()
        src, dst, cnt, val = transition_counts(
            split.offsets.to_numpy(),
            ids,
            conv,
            table.column("total_null").to_numpy(),
            table.column("total_conversion_value").to_numpy(),
            order=1,
            n_channels=len(names),
        )
        sol = solve_chain(src, dst, cnt, val, order=1, n_channels=len(names))
        credits = allocate(float(conv.sum()), sol.removal_effects)
        times.append(time.perf_counter() - t0)
    return {
        "seconds": min(times),
        "cold_seconds": times[0],
        "credits": dict(zip(names, credits.tolist(), strict=True)),
        "states": sol.states,
        "paths": table.num_rows,
    }


def _ref_markov(df: Any, nsim: float, seed: int = 0) -> dict[str, float]:
    import contextlib
    import io

    import ChannelAttribution  # GPL-3.0: benchmark environment only

    with contextlib.redirect_stdout(io.StringIO()):
        res = ChannelAttribution.markov_model(
            df,
            var_path="path",
            var_conv="total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            nsim_start=nsim,
            seed=seed,
            sep=">",
            verbose=False,
            flg_pro=False,
        )
    table = res["result"] if isinstance(res, dict) else res
    return {str(r.channel_name): float(r.total_conversions) for r in table.itertuples(index=False)}


def child_ref_engine(paths_parquet: Path, nsim: float, seed: int, repeat: int) -> dict[str, Any]:
    """ChannelAttribution.markov_model alone, on the aggregated path table (best of repeat)."""
    import pandas as pd

    df = pd.read_parquet(paths_parquet)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        credits = _ref_markov(df, nsim, seed)
        times.append(time.perf_counter() - t0)
    return {"seconds": min(times), "cold_seconds": times[0], "credits": credits}


def child_ref_e2e(events: Path, builder: str, out: Path) -> dict[str, Any]:
    """Raw events -> path table (pandas or DuckDB string_agg) -> markov_model defaults."""
    t0 = time.perf_counter()
    if builder == "pandas":
        import pandas as pd

        df = pd.read_parquet(
            events, columns=["customer_id", "timestamp", "channel", "event_type", "revenue"]
        )
        df = df[df["event_type"].isin(["touch", "conversion"])]
        df = df.assign(is_conv=df["event_type"] == "conversion")
        df = df.sort_values(["customer_id", "timestamp", "is_conv", "channel"], kind="stable")
        conv = df["is_conv"].astype("int64")
        # journey number = conversions strictly before the row, per customer
        df = df.assign(j=conv.groupby(df["customer_id"], sort=False).cumsum() - conv)
        touches = df[~df["is_conv"]]
        paths = touches.groupby(["customer_id", "j"], sort=False)["channel"].agg(" > ".join)
        convs = (
            df[df["is_conv"]]
            .groupby(["customer_id", "j"], sort=False)["revenue"]
            .agg(["size", "sum"])
        )
        jt = paths.to_frame("path").join(convs, how="left")
        jt["size"] = jt["size"].fillna(0)
        jt["sum"] = jt["sum"].fillna(0.0)
        table = (
            jt.assign(null=(jt["size"] == 0).astype("int64"))
            .groupby("path", sort=False)
            .agg(
                total_conversions=("size", "sum"),
                total_null=("null", "sum"),
                total_conversion_value=("sum", "sum"),
            )
            .reset_index()
        )
    else:
        import duckdb

        table = duckdb.execute(
            f"""
            WITH e AS (
                SELECT customer_id, timestamp, channel, revenue,
                       event_type = 'conversion' AS is_conv
                FROM read_parquet('{events}') WHERE event_type IN ('touch', 'conversion')
            ), j AS (
                SELECT *, coalesce(sum(is_conv::INT) OVER (
                    PARTITION BY customer_id ORDER BY timestamp, is_conv, channel
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS k
                FROM e
            ), g AS (
                SELECT string_agg(channel, ' > ' ORDER BY timestamp, channel)
                           FILTER (WHERE NOT is_conv) AS path,
                       count(*) FILTER (WHERE is_conv) AS conv,
                       coalesce(sum(revenue) FILTER (WHERE is_conv), 0) AS rev
                FROM j GROUP BY customer_id, k
            )
            SELECT path, sum(conv)::BIGINT AS total_conversions,
                   count(*) FILTER (WHERE conv = 0)::BIGINT AS total_null,
                   sum(rev) AS total_conversion_value
            FROM g WHERE path IS NOT NULL GROUP BY path
            """
        ).fetchdf()
    built = time.perf_counter() - t0
    credits = _ref_markov(table, 1e5)
    seconds = time.perf_counter() - t0
    if out is not None:
        table.to_parquet(out)
    return {
        "seconds": seconds,
        "path_seconds": built,
        "markov_seconds": seconds - built,
        "maxrss_mb": _maxrss_mb(),
        "credits": credits,
        "paths": len(table),
        "conversions": float(table["total_conversions"].sum()),
    }


# ---------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------


def _child(python: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [python, __file__, "child", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _err(credits: dict[str, float], exact: dict[str, float]) -> float:
    """Largest absolute difference in credit share (percentage points of the total)."""
    a, b = _shares(credits), _shares(exact)
    return 100.0 * max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def _best(python: str, repeat: int, *args: str) -> dict[str, Any]:
    runs = [_child(python, *args) for _ in range(repeat)]
    return min(runs, key=lambda r: float(r["seconds"]))


def bench(rows: list[int], ref_python: str | None, repeat: int, nsims: list[float]) -> None:
    """Generate the data, run every comparison and print Markdown tables."""
    me = sys.executable
    print(f"machine: {os.cpu_count()} cores, shared with other workers; best of {repeat}")
    print(f"truth: generating-chain credit shares {json.dumps(true_shares())}\n")
    for n in rows:
        events = DATA / f"events_{n}.parquet"
        if not events.exists():
            facts = generate_events(n, seed=n % 1000 + 1, path=events)
            print(f"generated {events.name}: {json.dumps(facts)}")
        ours = _best(me, repeat, "ours-e2e", str(events), "markov_1")
        ours_all = _best(me, repeat, "ours-e2e", str(events), "all")
        print(f"\n### {n:,} events\n")
        print(f"{ours['summary']}\n")
        print(
            "| end to end (raw events -> Markov credits) | seconds | peak RSS MB | max share error vs ours (pp) |"
        )
        print("|---|---:|---:|---:|")
        exact = ours["credits"]
        print(
            f"| ours: agent, Markov only (+funnel, paths, timing) | {ours['seconds']:.2f} | {ours['maxrss_mb']:.0f} | 0 |"
        )
        print(
            f"| ours: agent, all six models | {ours_all['seconds']:.2f} | {ours_all['maxrss_mb']:.0f} | 0 |"
        )
        if ref_python is None:
            continue
        paths_file = DATA / f"paths_{n}.parquet"
        refs = {}
        for builder in ("pandas", "duckdb"):
            refs[builder] = _best(
                ref_python, repeat, "ref-e2e", str(events), builder, str(paths_file)
            )
            r = refs[builder]
            print(
                f"| reference: {builder} paths ({r['path_seconds']:.2f} s) + markov_model defaults "
                f"({r['markov_seconds']:.2f} s) | {r['seconds']:.2f} | {r['maxrss_mb']:.0f} | "
                f"{_err(r['credits'], exact):.2f} |"
            )
        fastest = min(float(r["seconds"]) for r in refs.values())
        print(
            f"\nend to end speed-up vs the fastest reference: {fastest / float(ours['seconds']):.1f}x"
        )
        print(
            f"conversions: ours {ours['conversions']}, reference {refs['duckdb']['conversions']:.0f}"
        )
        engine = _child(me, "ours-engine", str(paths_file), "5")
        print(f"\nengine alone, same path table ({engine['paths']:,} distinct paths):\n")
        print("| engine | best s | first-call s | max share error vs exact (pp) |")
        print("|---|---:|---:|---:|")
        print(
            f"| ours (exact: parse + transitions + {len(engine['credits']) + 1} solves) | "
            f"{engine['seconds']:.3f} | {engine['cold_seconds']:.3f} | 0 |"
        )
        exact_engine = engine["credits"]
        for nsim in nsims:
            reps = "1" if nsim > 1e5 else "3"
            ref = _child(ref_python, "ref-engine", str(paths_file), str(nsim), "0", reps)
            tag = " (default)" if nsim == 1e5 else ""
            print(
                f"| markov_model nsim_start={nsim:.0e}{tag} | {ref['seconds']:.3f} | "
                f"{ref['cold_seconds']:.3f} | {_err(ref['credits'], exact_engine):.3f} |"
            )
            if nsim == 1e5:
                speed = float(ref["seconds"]) / float(engine["seconds"])
                cold = float(ref["cold_seconds"]) / float(engine["cold_seconds"])
                print(f"| speed-up of ours vs the default | {speed:.0f}x | {cold:.0f}x | |")
        print(
            f"\nours (engine) vs ours (agent) max share difference: {_err(exact_engine, exact):.2e} pp"
        )
        print(f"ours vs the generating chain's true shares: {_err(exact, true_shares()):.2f} pp")


def main() -> None:
    """Command line: ``bench`` (default) or an internal ``child`` command."""
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        cmd, *args = sys.argv[2:]
        if cmd == "ours-e2e":
            res = child_ours_e2e(Path(args[0]), args[1])
        elif cmd == "ours-engine":
            res = child_ours_engine(Path(args[0]), int(args[1]))
        elif cmd == "ref-engine":
            res = child_ref_engine(Path(args[0]), float(args[1]), int(args[2]), int(args[3]))
        elif cmd == "ref-e2e":
            res = child_ref_e2e(Path(args[0]), args[1], Path(args[2]))
        else:
            raise SystemExit(f"unknown child command {cmd}")
        print(json.dumps(res))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--reference-python", default="/work/bench-venv-journey/bin/python")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--nsim", type=float, nargs="+", default=[1e4, 1e5, 1e6, 1e7])
    a = ap.parse_args()
    ref = a.reference_python if Path(a.reference_python).exists() else None
    if ref is None:
        print(f"reference python {a.reference_python} not found: reference runs skipped")
    bench(a.rows, ref, a.repeat, a.nsim)


if __name__ == "__main__":
    main()
