"""The journey analytics agent on small, hand-checked event tables."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agents.journey import JourneyAnalyticsAgent, JourneyReport, JourneySpec
from conductor import (
    BusinessGoal,
    DataCatalog,
    DataError,
    DataSource,
    Inputs,
    PlanContext,
    RunContext,
    SpecError,
    get_agent,
)

T0 = dt.datetime(2026, 3, 1, 9, 0)
GOAL = BusinessGoal(objective="grow_revenue", kpi="revenue")


def ev(
    cid: str, hours: float, kind: str, channel: str = "", revenue: float | None = None
) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "timestamp": T0 + dt.timedelta(hours=hours),
        "channel": channel,
        "event_type": kind,
        "revenue": revenue,
    }


def write_events(path: Path, rows: list[dict[str, Any]], *, csv: bool = False) -> Path:
    if csv:
        cols = list(rows[0])
        lines = [",".join(cols)]
        for r in rows:
            lines.append(",".join("" if r[c] is None else str(r[c]) for c in cols))
        path.write_text("\n".join(lines) + "\n")
        return path
    types = {
        "customer_id": pa.string(),
        "timestamp": pa.timestamp("us"),
        "channel": pa.string(),
        "event_type": pa.string(),
        "revenue": pa.float64(),
    }
    schema = pa.schema([(c, types[c]) for c in rows[0]])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def run(tmp_path: Path, rows: list[dict[str, Any]] | Path, **spec: Any) -> JourneyReport:
    path = rows if isinstance(rows, Path) else write_events(tmp_path / "events.parquet", rows)
    catalog = DataCatalog({"events": DataSource(path=path)})
    ctx = RunContext(
        run_id="t", step="journeys", agent="journey_analytics", goal=GOAL, out_dir=tmp_path / "out"
    )
    try:
        return JourneyAnalyticsAgent().run(
            JourneySpec(**spec), Inputs(upstream={}, catalog=catalog), ctx
        )
    finally:
        catalog.close()


# Four customers, channels A and B (the hand-computed chain of test_journey_markov):
#   c1: A, B, visit, cart, checkout, conversion (100)
#   c2: A, visit                         (no conversion)
#   c3: B, visit, cart, conversion (40); then B, visit (a second, non-converting journey)
HAND = [
    ev("c1", 0, "touch", "a"),
    ev("c1", 24, "touch", "b"),
    ev("c1", 24.1, "visit"),
    ev("c1", 24.2, "add_to_cart"),
    ev("c1", 24.3, "checkout"),
    ev("c1", 24.4, "conversion", revenue=100.0),
    ev("c2", 1, "touch", "a"),
    ev("c2", 1.1, "visit"),
    ev("c3", 2, "touch", "b"),
    ev("c3", 2.1, "visit"),
    ev("c3", 2.2, "add_to_cart"),
    ev("c3", 2.5, "conversion", revenue=40.0),
    ev("c3", 50, "touch", "b"),
    ev("c3", 50.1, "visit"),
]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_revenue_counts_as_missing(tmp_path: Path, bad: float) -> None:
    # A conversion whose revenue is NaN or inf still counts as a conversion; its revenue
    # is unknown (as an empty one is) instead of turning every revenue total into NaN.
    rows = [dict(r) for r in HAND]
    rows[11]["revenue"] = bad  # c3's conversion (40)
    rep = run(tmp_path, rows)
    assert rep.conversions == 2
    assert rep.revenue == pytest.approx(100.0)
    credits = rep.credits("markov", "revenue")
    assert all(math.isfinite(v) for v in credits.values())
    assert sum(credits.values()) == pytest.approx(100.0)


def test_journeys_and_markov_credits_match_the_hand_computed_chain(tmp_path: Path) -> None:
    rep = run(tmp_path, HAND)
    assert (rep.events, rep.customers, rep.journeys, rep.converting_journeys) == (14, 3, 4, 2)
    assert (rep.conversions, rep.attributed_conversions, rep.unattributed_conversions) == (2, 2, 0)
    assert rep.revenue == pytest.approx(140.0)
    assert rep.channels == ["a", "b"]
    markov = rep.credits("markov_1")
    assert markov["a"] == pytest.approx(0.5, abs=1e-9)
    assert markov["b"] == pytest.approx(1.5, abs=1e-9)
    assert rep.credits("markov", "revenue") == pytest.approx({"a": 35.0, "b": 105.0}, abs=1e-9)
    detail = rep.markov[0]
    assert detail.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert detail.removal_effects == pytest.approx({"a": 1 / 3, "b": 1.0}, abs=1e-9)


def test_rule_based_models_by_hand(tmp_path: Path) -> None:
    rep = run(tmp_path, HAND, half_life_days=1.0)
    # c1: A then B (A 24.4 h before the conversion, B 0.4 h); c3: B alone.
    assert rep.credits("first_touch") == {"a": 1.0, "b": 1.0}
    assert rep.credits("last_touch") == {"a": 0.0, "b": 2.0}
    assert rep.credits("linear") == {"a": 0.5, "b": 1.5}
    assert rep.credits("position_based") == {"a": 0.5, "b": 1.5}
    assert rep.credits("linear", "revenue") == {"a": 50.0, "b": 90.0}
    wa = 0.5 ** (24.4 / 24)
    wb = 0.5 ** (0.4 / 24)
    share_a = wa / (wa + wb)
    assert rep.credits("time_decay")["a"] == pytest.approx(share_a, abs=1e-9)
    assert rep.credits("time_decay", "revenue")["b"] == pytest.approx(
        100 * (1 - share_a) + 40, abs=1e-9
    )


def test_position_based_forty_twenty_forty(tmp_path: Path) -> None:
    rows = [ev("c", h, "touch", ch) for h, ch in enumerate("ABCD")]
    rows.append(ev("c", 5, "conversion", revenue=10.0))
    rows += [ev("d", h, "touch", ch) for h, ch in enumerate("ABC")]
    rows.append(ev("d", 5, "conversion", revenue=10.0))
    rep = run(tmp_path, rows, attribution=["position_based"])
    got = rep.credits("position_based")
    # ABCD: .4 .1 .1 .4; ABC: .4 .2 .4
    assert got == pytest.approx({"a": 0.8, "b": 0.3, "c": 0.5, "d": 0.4}, abs=1e-12)
    assert sum(got.values()) == pytest.approx(2.0, abs=1e-12)


def test_funnel_counts_rates_and_drop_off(tmp_path: Path) -> None:
    rep = run(tmp_path, HAND)
    stages = {s.stage: s for s in rep.funnel.stages}
    assert [s.stage for s in rep.funnel.stages] == [
        "visit",
        "add_to_cart",
        "checkout",
        "conversion",
    ]
    assert [s.journeys for s in rep.funnel.stages] == [4, 2, 1, 1]
    assert stages["add_to_cart"].step_rate == pytest.approx(0.5)
    # c3's first journey converts without a checkout, so it stops at add_to_cart.
    assert stages["conversion"].overall_rate == pytest.approx(0.25)
    drop = rep.funnel.biggest_drop_off
    assert drop is not None
    assert (drop.from_stage, drop.to_stage, drop.lost) == ("visit", "add_to_cart", 2)
    by = {s.channel: [x.journeys for x in s.stages] for s in rep.funnel.by_first_touch}
    assert by == {"a": [2, 1, 1, 1], "b": [2, 1, 0, 0]}


def test_funnel_stage_order_from_the_step_and_wilson_interval(tmp_path: Path) -> None:
    rows = []
    for i in range(100):
        rows.append(ev(f"u{i}", 0, "touch", "a" if i % 2 else "b"))
        rows.append(ev(f"u{i}", 1, "visit"))
        if i < 40:
            rows.append(ev(f"u{i}", 2, "signup"))
        if i < 10:
            rows.append(ev(f"u{i}", 3, "conversion", revenue=5.0))
    rep = run(tmp_path, rows, funnel_stages=["visit", "signup"])
    signup = rep.funnel.stages[1]
    assert signup.journeys == 40 and signup.step_rate == pytest.approx(0.4)
    # Wilson 95% interval for 40/100 (published value 0.3094 .. 0.4980).
    assert signup.step_low == pytest.approx(0.3094, abs=1e-4)
    assert signup.step_high == pytest.approx(0.4980, abs=1e-4)
    conv = rep.funnel.stages[2]
    assert conv.stage == "conversion" and conv.step_rate == pytest.approx(0.25)


def test_paths_and_timing(tmp_path: Path) -> None:
    rep = run(tmp_path, HAND)
    conv = {tuple(p.path): p for p in rep.top_converting_paths}
    assert set(conv) == {("a", "b"), ("b",)}
    assert conv[("b",)].journeys == 2 and conv[("b",)].conversion_rate == pytest.approx(0.5)
    null = {tuple(p.path): p.journeys for p in rep.top_non_converting_paths}
    assert null == {("a",): 1, ("b",): 2}  # all journeys on the path, converting or not
    timing = {t.channel: t for t in rep.timing}
    assert timing["(all)"].converting_journeys == 2
    assert timing["a"].days_to_convert_median == pytest.approx(24.4 / 24)
    assert timing["b"].path_length_median == 1.0
    stats = {s.channel: s for s in rep.channel_stats}
    assert (stats["a"].assisted_conversions, stats["a"].last_touch_conversions) == (1, 0)
    assert stats["b"].touches == 3 and stats["b"].journeys == 3


def test_touch_at_the_conversion_time_belongs_to_that_journey(tmp_path: Path) -> None:
    rows = [
        ev("c", 0, "touch", "a"),
        ev("c", 1, "touch", "b"),
        ev("c", 1, "conversion", revenue=1.0),
        ev("c", 2, "touch", "a"),
        ev("c", 3, "conversion", revenue=2.0),
    ]
    rep = run(tmp_path, rows, attribution=["last_touch", "first_touch"])
    assert rep.journeys == 2 and rep.converting_journeys == 2
    assert rep.credits("last_touch") == {"a": 1.0, "b": 1.0}
    assert rep.credits("first_touch") == {"a": 2.0, "b": 0.0}


def test_lookback_drops_old_touches(tmp_path: Path) -> None:
    rows = [
        ev("c", 0, "touch", "a"),
        ev("c", 24 * 10, "touch", "b"),
        ev("c", 24 * 10 + 1, "conversion", revenue=1.0),
        ev("d", 0, "touch", "a"),
        ev("d", 24 * 30, "conversion", revenue=1.0),
    ]
    rep = run(tmp_path, rows, lookback_days=7)
    assert rep.credits("first_touch") == {"a": 0.0, "b": 1.0}
    assert rep.unattributed_conversions == 1
    assert any("no touch" in w and "lookback" in w for w in rep.warnings)


def test_iso_string_timestamps_with_offsets(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "customer_id,timestamp,channel,event_type,revenue\n"
        "c,2026-03-01T10:00:00+02:00,A,touch,\n"  # 08:00 UTC
        "c,2026-03-01T09:00:00Z,B,touch,\n"
        "c,2026-03-01 09:30:00,,conversion,12.5\n"
    )
    rep = run(tmp_path, path)
    assert rep.credits("first_touch") == {"a": 1.0, "b": 0.0}
    assert rep.period_start == dt.datetime(2026, 3, 1, 8, 0)


def test_unparseable_timestamp_names_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "customer_id,timestamp,channel,event_type\n"
        "c,2026-03-01T10:00:00,A,touch\n"
        "c,yesterday at noon,,conversion\n"
    )
    with pytest.raises(DataError) as info:
        run(tmp_path, path)
    err = info.value
    assert err.code == "data.bad-timestamp" and err.column == "timestamp"
    assert "yesterday at noon" in str(err) and err.hint


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "channel"} for r in HAND]
    with pytest.raises(DataError) as info:
        run(tmp_path, rows)
    assert info.value.code == "data.missing-column" and info.value.column == "channel"


def test_no_conversions_is_a_clear_error(tmp_path: Path) -> None:
    # Not "0 conversions from 0 journeys": the guards are in test_journey_guards.py.
    rows = [ev("c", 0, "touch", "a"), ev("c", 1, "touch", "b"), ev("d", 0, "visit")]
    with pytest.raises(DataError) as info:
        run(tmp_path, rows)
    assert info.value.code == "data.no-conversions"


def test_one_channel_gets_everything(tmp_path: Path) -> None:
    rows = [ev("c", 0, "touch", "email"), ev("c", 1, "conversion", revenue=3.0)]
    rows += [ev("d", 0, "touch", "email")]
    rep = run(tmp_path, rows)
    for m in rep.attribution:
        assert m.conversions == {"email": 1.0}
        assert m.revenue == {"email": 3.0}
    assert any("only one channel" in w for w in rep.warnings)


def test_customer_with_thousands_of_touches(tmp_path: Path) -> None:
    rows = [ev("bot", i * 0.01, "touch", "AB"[i % 2]) for i in range(3000)]
    rows += [ev("bot", 31, "conversion", revenue=1.0), ev("h", 0, "touch", "a")]
    rep = run(tmp_path, rows, markov_order=2)
    assert any("more than 1,000 touches" in w and "3,000" in w for w in rep.warnings)
    path = rep.top_converting_paths[0]
    assert path.length == 3000 and len(path.path) == 20 and path.path[10].startswith("…")
    for m in rep.attribution:
        assert sum(m.conversions.values()) == pytest.approx(1.0, abs=1e-9)


def test_conversions_without_touches_are_counted_but_not_credited(tmp_path: Path) -> None:
    rows = [
        *HAND,
        ev("z", 0, "conversion", revenue=7.0),
        ev("y", 0, "visit"),
        ev("y", 1, "conversion"),
    ]
    rep = run(tmp_path, rows)
    assert rep.conversions == 4 and rep.attributed_conversions == 2
    assert rep.unattributed_conversions == 2
    assert any("no touch" in w for w in rep.warnings)
    assert rep.customers == 5
    for m in rep.attribution:
        assert sum(m.conversions.values()) == pytest.approx(2.0, abs=1e-9)


def test_empty_channels_and_event_types_are_ignored_with_warnings(tmp_path: Path) -> None:
    rows = [*HAND, ev("c9", 0, "touch", "  "), ev("c9", 1, "", "a")]
    rep = run(tmp_path, rows)
    assert rep.attributed_conversions == 2
    assert any("empty channel" in w for w in rep.warnings)
    assert any("empty event_type" in w for w in rep.warnings)


def test_channel_filter_groups_or_drops(tmp_path: Path) -> None:
    # "Paid Search" in the data is the goal's paid_search: one channel, named by its key.
    rows = [*HAND, ev("c4", 0, "touch", "Paid Search"), ev("c4", 1, "conversion", revenue=1.0)]
    grouped = run(tmp_path, rows, channels=["paid_search", "a"])
    assert grouped.channels == ["a", "paid_search", "other"]
    assert grouped.credits("last_touch") == {"a": 0.0, "paid_search": 1.0, "other": 2.0}
    dropped = run(tmp_path, rows, channels=["paid_search", "a"], unlisted_channels="drop")
    assert dropped.channels == ["a", "paid_search"]
    assert dropped.credits("last_touch") == {"a": 1.0, "paid_search": 1.0}
    assert dropped.unattributed_conversions == 1
    with pytest.raises(DataError) as info:
        run(tmp_path, rows, channels=["tv"])
    assert info.value.code == "data.no-matching-channels" and "paid_search" in info.value.hint


def test_goal_channels_match_the_datas_synonyms(tmp_path: Path) -> None:
    # The goal parser writes paid_search and social; the data says Google Ads and Instagram.
    rows = [
        ev("c1", 0, "touch", "Google Ads"),
        ev("c1", 1, "touch", "Instagram"),
        ev("c1", 2, "touch", "Radio"),
        ev("c1", 3, "conversion", revenue=10.0),
    ]
    report = run(tmp_path, rows, channels=["paid_search", "social"])
    assert report.channels == ["google_ads", "instagram", "other"]
    assert report.credits("first_touch") == {"google_ads": 1.0, "instagram": 0.0, "other": 0.0}


def test_output_round_trips_through_json(tmp_path: Path) -> None:
    rep = run(tmp_path, HAND, attribution=["markov", "linear"], markov_order=3)
    data = json.loads(json.dumps(rep.model_dump(mode="json")))
    again = JourneyReport.model_validate(data)
    assert again == rep
    assert [m.model for m in rep.attribution] == ["markov_3", "linear"]
    assert Path(rep.files["paths"]).exists()
    ids = [a.id for a in rep.artifacts()]
    assert len(ids) == len(set(ids)) and all(a.kind == "insight" for a in rep.artifacts())


def test_insights_cite_their_numbers(tmp_path: Path) -> None:
    rows = []
    # "display" opens many journeys that "search" closes: display assists, rarely closes.
    for i in range(60):
        rows += [ev(f"a{i}", 0, "touch", "display"), ev(f"a{i}", 1, "touch", "search")]
        rows += [ev(f"a{i}", 2, "visit"), ev(f"a{i}", 3, "conversion", revenue=10.0)]
    for i in range(40):
        rows += [ev(f"b{i}", 0, "touch", "search"), ev(f"b{i}", 1, "visit")]
    for i in range(5):
        rows += [ev(f"d{i}", 0, "touch", "display"), ev(f"d{i}", 2, "conversion", revenue=10.0)]
    rep = run(tmp_path, rows)
    by_id = {i.id: i for i in rep.insights}
    assist = by_id["journey/assist-vs-close/display"]
    assert assist.evidence["assisted_conversions"] == 60
    assert assist.evidence["last_touch_conversions"] == 5
    assert "60" in assist.statement and "12.0x" in assist.statement
    drop = by_id["journey/funnel/biggest-drop-off"]
    assert drop.evidence["from_stage"] == "visit" and drop.evidence["journeys_lost"] == 40
    assert "60.0%" in drop.statement
    assert rep.summary().count("\n") <= 1


def test_plan_derives_channels_and_metric_from_the_goal() -> None:
    goal = BusinessGoal(objective="acquire", kpi="cpa", channels=["paid_search", "email"])
    ctx = PlanContext(step="j", goal=goal, params={"top_paths": 5}, spec_type=JourneySpec)
    spec = JourneyAnalyticsAgent().plan(ctx)
    assert spec.channels == ["paid_search", "email"] and spec.credit_metric == "conversions"
    assert ctx.provenance["channels"].source == "goal"
    assert ctx.provenance["top_paths"].source == "parameter"
    assert ctx.provenance["markov_order"].source == "default"
    ctx2 = PlanContext(
        step="j",
        goal=GOAL,
        params={"channels": ["social"], "attribution": ["markov"], "markov_order": 2},
        spec_type=JourneySpec,
    )
    spec2 = JourneyAnalyticsAgent().plan(ctx2)
    assert spec2.channels == ["social"] and spec2.credit_metric == "revenue"
    assert spec2.attribution == ["markov_2"] and spec2.models() == ["markov_2"]
    with pytest.raises(SpecError):
        JourneyAnalyticsAgent().plan(
            PlanContext(step="j", goal=GOAL, params={"markov_order": 4}, spec_type=JourneySpec)
        )


def test_default_models_and_registration() -> None:
    assert JourneySpec().models() == [
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
        "markov_1",
    ]
    assert get_agent("journey_analytics") is JourneyAnalyticsAgent


def test_rows_without_customer_or_timestamp_are_ignored_with_warnings(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "customer_id,TimeStamp,channel,event_type,revenue\n"
        "c,2026-03-01T10:00:00,A,touch,\n"
        ",2026-03-01T10:30:00,B,touch,\n"
        "c,,B,touch,\n"
        "c,2026-03-01T11:00:00,,conversion,5\n"
    )
    # Column names match ignoring case ("TimeStamp").
    rep = run(tmp_path, path)
    assert rep.credits("last_touch") == {"a": 1.0}
    assert any("without a customer_id" in w for w in rep.warnings)
    assert any("without a timestamp" in w for w in rep.warnings)


def test_empty_attribution_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        JourneySpec(attribution=[])
