"""Benchmark of the brand rule engine (issue 7): copy checks per second.

The mix is the hand-written copy of ``tests/brand_corpus/`` (three brands; email, SMS,
push, social and search copy; clean copy, near misses, violations and injection
attempts), checked one piece at a time as a run's review step and ``conductor
check-copy`` do. Reported: checks per second for the whole mix, per brand and per
channel, the latency percentiles of one check, and the one-off cost of loading a brand
file. Target: at least 10,000 checks per second for the deterministic rules (the
default: ``claims.semantic`` turned off), and at least 1,000 with the semantic check on
(``--semantic``: the brand files as shipped; the model is trained before timing starts).

Run: ``.venv/bin/python benchmarks/brand.py [--semantic] [--seconds 3] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

from conductor.brand import BrandStrategy, check_copy, load_brand, parse_brand
from conductor.specs import Copy

ROOT = Path(__file__).resolve().parent.parent
TARGET = 10_000
TARGET_SEMANTIC = 1_000


def load(name: str, *, semantic: bool) -> BrandStrategy:
    """A shipped brand file, with the semantic check on (as shipped) or off."""
    path = ROOT / "pipelines" / "brands" / f"{name}.yaml"
    if semantic:
        return load_brand(path)
    text = path.read_text(encoding="utf-8")
    off = text.replace("\nclaims:\n", "\nclaims:\n  semantic: {enabled: false}\n", 1)
    assert off != text, f"{path}: no top-level claims: section to turn the semantic check off in"
    return parse_brand(off, source=str(path))


def corpus() -> list[tuple[str, Copy]]:
    """(brand, copy) for every piece of copy in the labelled corpus."""
    out: list[tuple[str, Copy]] = []
    for path in sorted((ROOT / "tests" / "brand_corpus").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in doc["items"]:
            if "text" in item:
                copy = Copy(
                    id=item["id"],
                    channel=item["channel"],
                    text=item["text"],
                    subject=item.get("subject"),
                )
                out.append((item.get("brand", doc["brand"]), copy))
    return out


def rate(brands: dict[str, BrandStrategy], mix: list[tuple[str, Copy]], seconds: float) -> float:
    """Checks per second over the mix, repeated for about ``seconds``."""
    n = 0
    start = time.perf_counter()
    while True:
        for name, copy in mix:
            brands[name].review([copy])
        n += len(mix)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    ap.add_argument(
        "--semantic", action="store_true", help="with the semantic check on (claims by meaning)"
    )
    args = ap.parse_args()
    target = TARGET_SEMANTIC if args.semantic else TARGET

    t = time.perf_counter()
    names = ("acme", "vitalis", "northbank")
    brands = {n: load(n, semantic=args.semantic) for n in names}
    load_ms = (time.perf_counter() - t) * 1000 / len(names)
    mix = corpus()
    t = time.perf_counter()
    for name, copy in mix:  # compile each brand's engine (and train its semantic model)
        brands[name].review([copy])
    first_ms = (time.perf_counter() - t) * 1000
    avg_len = statistics.mean(len(c.text) for _, c in mix)

    rate(brands, mix, 0.5)  # warm caches (syllable counts, regex internals)
    overall = [rate(brands, mix, args.seconds) for _ in range(3)]
    best, median = max(overall), statistics.median(overall)

    by_brand = {n: rate(brands, [m for m in mix if m[0] == n], args.seconds / 2) for n in names}
    channels: dict[str, list[tuple[str, Copy]]] = defaultdict(list)
    for m in mix:
        channels[m[1].channel].append(m)
    by_channel = {ch: rate(brands, ms, args.seconds / 3) for ch, ms in sorted(channels.items())}

    lat: list[float] = []
    for name, copy in mix * 5:
        t = time.perf_counter()
        brands[name].review([copy])
        lat.append((time.perf_counter() - t) * 1e6)
    lat.sort()
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]

    # The public one-shot helper (builds the Copy model too), as `check-copy` calls it.
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < args.seconds / 2:
        for name, copy in mix:
            check_copy(brands[name], copy.channel, copy.text, subject=copy.subject)
        n += len(mix)
    helper = n / (time.perf_counter() - t)

    lines = [
        "# Brand rule engine: copy checks per second"
        + (" (semantic check on)" if args.semantic else " (deterministic rules)"),
        "",
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{sys.version.split()[0]}, {platform.system()}; shared with other jobs, so the "
        "figures are noisy (best and median of 3 runs shown).",
        "",
        f"Mix: the {len(mix)} pieces of copy of `tests/brand_corpus/` (3 brands, "
        f"{len(channels)} channels, mean {avg_len:.0f} characters), one check per call to "
        "`BrandStrategy.review([copy])`.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| checks/s, whole mix (best of 3) | **{best:,.0f}** |",
        f"| checks/s, whole mix (median of 3) | {median:,.0f} |",
        f"| target | {target:,} ({best / target:.1f}x the target) |",
        f"| `check_copy()` helper incl. building the `Copy`, checks/s | {helper:,.0f} |",
        f"| latency of one check, p50 / p99 | {p50:.0f} µs / {p99:.0f} µs |",
        f"| loading + compiling one brand file | {load_ms:.0f} ms |",
        f"| first pass over the mix (engines compiled, models trained) | {first_ms:.0f} ms |",
        "",
        "| brand | checks/s |",
        "|---|---|",
        *[f"| {n} | {r:,.0f} |" for n, r in by_brand.items()],
        "",
        "| channel | pieces | checks/s |",
        "|---|---|---|",
        *[f"| {ch} | {len(channels[ch])} | {r:,.0f} |" for ch, r in by_channel.items()],
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
