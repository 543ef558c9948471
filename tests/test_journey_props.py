"""Properties of the journey agent on random small event tables (hypothesis)."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.journey import JourneyAnalyticsAgent, JourneyReport, JourneySpec
from conductor import BusinessGoal, DataCatalog, DataError, DataSource, Inputs, RunContext

T0 = dt.datetime(2026, 1, 1)
SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("channel", pa.string()),
        ("event_type", pa.string()),
        ("revenue", pa.float64()),
    ]
)
MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]
MODELS += ["markov_1", "markov_2", "markov_3"]

event = st.one_of(
    st.tuples(st.just("touch"), st.sampled_from(["a", "b", "c"]), st.none()),
    st.tuples(st.just("visit"), st.just(""), st.none()),
    st.tuples(st.just("conversion"), st.just(""), st.floats(0, 500).map(lambda x: round(x, 2))),
)
customer = st.tuples(
    st.lists(st.integers(0, 60 * 24 * 30), min_size=1, max_size=8, unique=True),
    st.lists(event, min_size=8, max_size=8),
)
tables = st.lists(customer, min_size=1, max_size=6)


def _rows(
    data: list[tuple[list[int], list[tuple[str, str, float | None]]]],
) -> list[dict[str, Any]]:
    rows = []
    for i, (minutes, events) in enumerate(data):
        for m, (kind, ch, rev) in zip(sorted(minutes), events, strict=False):
            rows.append(
                {
                    "customer_id": f"cust{i}",
                    "timestamp": T0 + dt.timedelta(minutes=m),
                    "channel": ch,
                    "event_type": kind,
                    "revenue": rev,
                }
            )
    return rows


def _run(folder: Path, name: str, rows: list[dict[str, Any]]) -> JourneyReport:
    path = folder / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    catalog = DataCatalog({"events": DataSource(path=path)})
    ctx = RunContext(
        run_id="p",
        step="j",
        agent="journey_analytics",
        goal=BusinessGoal(objective="convert", kpi="conversions"),
        out_dir=folder / name,
    )
    spec = JourneySpec(attribution=MODELS, half_life_days=2.0, write_tables=False)
    try:
        return JourneyAnalyticsAgent().run(spec, Inputs(upstream={}, catalog=catalog), ctx)
    finally:
        catalog.close()


def _same(a: Any, b: Any, path: str = "") -> None:
    """Equal, with floats equal up to summation order (1e-9 relative)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def _has_touch(rows: list[dict[str, Any]]) -> bool:
    return any(r["event_type"] == "touch" for r in rows)


def _refused(rows: list[dict[str, Any]]) -> str | None:
    """The guard's code for a table with no conversion or no touch (None: it runs)."""
    if not any(r["event_type"] == "conversion" for r in rows):
        return "data.no-conversions"
    return None if _has_touch(rows) else "data.no-touches"


def _refuses(folder: Path, name: str, rows: list[dict[str, Any]]) -> bool:
    """True (after checking the error) when the guards refuse ``rows``."""
    code = _refused(rows)
    if code is None:
        return False
    with pytest.raises(DataError) as info:
        _run(folder, name, rows)
    assert info.value.code == code
    return True


SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(tables)
def test_every_model_credits_sum_to_the_totals(data: list[Any]) -> None:
    rows = _rows(data)
    with tempfile.TemporaryDirectory() as tmp:
        if _refuses(Path(tmp), "e", rows):
            return
        rep = _run(Path(tmp), "e", rows)
    conversions = sum(1 for r in rows if r["event_type"] == "conversion")
    assert rep.conversions == conversions
    assert rep.attributed_conversions + rep.unattributed_conversions == conversions
    assert [m.model for m in rep.attribution] == MODELS
    revenue = rep.attributed_revenue or 0.0
    for m in rep.attribution:
        assert sum(m.conversions.values()) == pytest.approx(rep.attributed_conversions, abs=1e-9)
        assert sum(m.revenue.values()) == pytest.approx(revenue, rel=1e-9, abs=1e-9)
        assert all(v >= -1e-9 for v in m.conversions.values())
    for d in rep.markov:
        assert 0 <= d.conversion_probability <= 1
        assert (d.conversion_probability > 0) == (rep.attributed_conversions > 0)
    counts = [s.journeys for s in rep.funnel.stages]
    assert counts == sorted(counts, reverse=True)  # a funnel never widens


@SETTINGS
@given(tables, st.randoms(use_true_random=False))
def test_row_order_does_not_change_results(data: list[Any], rnd: random.Random) -> None:
    rows = _rows(data)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    with tempfile.TemporaryDirectory() as tmp:
        if _refuses(Path(tmp), "a", rows):
            assert _refuses(Path(tmp), "b", shuffled)
            return
        a = _run(Path(tmp), "a", rows).model_dump(mode="json")
        b = _run(Path(tmp), "b", shuffled).model_dump(mode="json")
    _same(a, b)


@SETTINGS
@given(tables, st.permutations(["x", "y", "z"]))
def test_renaming_channels_permutes_the_credits(data: list[Any], names: list[str]) -> None:
    rows = _rows(data)
    rename = dict(zip(["a", "b", "c"], names, strict=True))
    renamed = [{**r, "channel": rename.get(r["channel"], r["channel"])} for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        if _refuses(Path(tmp), "a", rows):
            assert _refuses(Path(tmp), "b", renamed)
            return
        a = _run(Path(tmp), "a", rows)
        b = _run(Path(tmp), "b", renamed)
    assert b.channels == sorted(rename[c] for c in a.channels)
    for ma, mb in zip(a.attribution, b.attribution, strict=True):
        for ch in a.channels:
            assert mb.conversions[rename[ch]] == pytest.approx(ma.conversions[ch], abs=1e-9)
            assert mb.revenue[rename[ch]] == pytest.approx(ma.revenue[ch], abs=1e-7)
    assert [s.journeys for s in a.funnel.stages] == [s.journeys for s in b.funnel.stages]
    assert a.touches == b.touches
