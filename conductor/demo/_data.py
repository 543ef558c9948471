"""Synthetic data for ``conductor demo``, generated from models whose answers are known.

A fictional online retailer: customers with features and consent flags, 90 days of
touchpoints and funnel events drawn from a first-order journey chain, two years of weekly
spend and outcomes drawn from adstock + Hill response curves, and an exposures log drawn
from a softmax logging policy over a logistic reward model. Because every generator is
known, the right answers are too, and they are written beside the data as ``truth.json``
(:class:`DemoTruth`): exact Markov removal-effect attribution, each channel's response curve
and ROI with the true optimal budget split, and the true value of any personalization
policy. :mod:`conductor.demo._truth` compares an agent's answer with that truth.

This module is the entry point (:func:`generate_demo_data`, :func:`load_truth`); each model
lives in its own module: ``_demo_data_customers`` (customers), ``_demo_data_journeys``
(touches, funnel events and attribution truth), ``_demo_data_spend`` (marketing mix),
``_demo_data_offers`` (offers, rewards and exposures), on the shared vocabulary of
``_demo_data_common``.

Everything is vectorised (numpy, pyarrow, DuckDB), so a million customers take seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

from conductor.demo._customers import (
    _SUPPRESSED_SHARE,
    _customer_ids,
    _customers,
    _customers_table,
)
from conductor.demo._data_common import ACTIONS, CHANNELS, EVENT_TYPES, _write_parquet
from conductor.demo._journeys import _events_table, _journeys, _removal_effects
from conductor.demo._models import (
    ChannelCurve,
    DemoTruth,
    JourneyTruth,
    PlanTruth,
    PolicyTruth,
)
from conductor.demo._offers import _exposures, _features, _write_actions
from conductor.demo._spend import _spend_outcomes
from conductor.errors import ConductorError, DataError

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "EVENT_TYPES",
    "ChannelCurve",
    "DemoTruth",
    "JourneyTruth",
    "PlanTruth",
    "PolicyTruth",
    "_removal_effects",  # re-exported for tests/test_demo_data.py
    "generate_demo_data",
    "load_truth",
]

Progress = Callable[[str, float, float | None], None]


# ---------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------


def generate_demo_data(
    out_dir: Path,
    *,
    customers: int = 20_000,
    seed: int = 7,
    today: dt.date,
    on_progress: Progress | None = None,
) -> DemoTruth:
    """Generate the demo retailer's data and its truth into ``out_dir``.

    Writes ``customers.parquet``, ``events.parquet``, ``exposures.parquet``,
    ``truth_rewards.parquet``, ``spend.csv``, ``outcomes.csv``, ``actions.csv`` and
    ``truth.json``. The same ``seed``, ``customers`` and ``today`` give identical data.

    Args:
        out_dir: Folder to write into (created when missing; our files are overwritten).
        customers: Number of customers (100 to 20,000,000).
        seed: Random seed.
        today: The day the data ends; all events, spend and exposures are before it.
        on_progress: Called as ``on_progress(phase, done, total)`` before each phase
            (``customers``, ``journeys``, ``events``, ``spend``, ``exposures``, ``truth``)
            and once with ``done``; ``done`` counts finished phases out of ``total``.

    Returns:
        The truth, also written to ``out_dir/truth.json``.

    Raises:
        ConductorError: ``customers`` is out of range or the folder cannot be written.
    """
    if not 100 <= customers <= 20_000_000:
        raise ConductorError(
            f"cannot generate {customers:,} customers",
            code="demo.bad-size",
            hint="use --customers between 100 and 20,000,000",
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConductorError(
            f"cannot create the demo data folder {out_dir}: {exc.strerror}",
            code="demo.unwritable",
            hint="choose another folder with --out",
        ) from None
    phases = ("customers", "journeys", "events", "spend", "exposures", "truth", "done")

    def tick(i: int) -> None:
        if on_progress is not None:
            on_progress(phases[i], float(i), float(len(phases) - 1))

    if isinstance(today, dt.datetime):
        today = today.date()
    try:
        truth = _generate(out_dir, customers, seed, today, tick)
    except OSError as exc:
        raise ConductorError(
            f"cannot write the demo data into {out_dir}: {exc}",
            code="demo.unwritable",
            hint="check the folder is writable and the disk has space, or use --out",
        ) from None
    tick(6)
    return truth


def _generate(
    out_dir: Path, customers: int, seed: int, today: dt.date, tick: Callable[[int], None]
) -> DemoTruth:
    # Independent streams: the spend history depends on the seed only, so the budget
    # story is the same whatever the number of customers.
    rng, rng_spend, rng_exp, rng_suppr = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    tick(0)
    ids = _customer_ids(customers)
    cust = _customers(rng, customers)
    # A separate stream, so adding the flag left every other draw unchanged.
    cust["suppressed"] = rng_suppr.random(customers) < _SUPPRESSED_SHARE
    tick(1)
    journey, ev = _journeys(rng, customers, cust["aov"], today)
    tick(2)
    _write_parquet(out_dir / "events.parquet", _events_table(ids, ev))
    _write_parquet(out_dir / "customers.parquet", _customers_table(ids, cust))
    feats = _features(cust, ev, customers, today)
    del ev
    tick(3)
    budget = _spend_outcomes(rng_spend, out_dir, today)
    tick(4)
    policy = _exposures(rng_exp, out_dir=out_dir, ids=ids, c=cust, feats=feats, today=today)
    _write_actions(out_dir / "actions.csv")
    tick(5)
    truth = DemoTruth(
        seed=seed,
        customers=customers,
        today=today,
        files={
            "events": "events.parquet",
            "customers": "customers.parquet",
            "exposures": "exposures.parquet",
            "spend": "spend.csv",
            "outcomes": "outcomes.csv",
            "actions": "actions.csv",
        },
        journey=journey,
        budget=budget,
        policy=policy,
    )
    (out_dir / "truth.json").write_text(truth.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return truth


def load_truth(out_dir: Path) -> DemoTruth:
    """Read ``truth.json`` from a demo data folder.

    Raises:
        DataError: The file is missing or not a demo truth.
    """
    path = out_dir / "truth.json"
    try:
        return DemoTruth.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            "no truth.json in the demo data folder",
            file=path,
            code="demo.no-truth",
            hint="generate the data with `conductor demo` first",
        ) from None
    except ValueError as exc:
        raise DataError(
            f"truth.json is not a demo truth: {str(exc).splitlines()[0]}",
            file=path,
            code="demo.bad-truth",
            hint="regenerate the data with `conductor demo`",
        ) from None
