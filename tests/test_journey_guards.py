"""Event data that would give an empty analysis is refused, with what the file holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Cli, make_env
from test_journey import HAND, ev, run, write_events

from conductor import DataError

# A GA4-style export: its own event names, none of them 'touch' or 'conversion'.
GA4 = [
    *(ev(f"u{i}", i, "page_view", "google") for i in range(5)),
    *(ev(f"u{i}", i + 0.1, "session_start", "google") for i in range(3)),
    ev("u1", 2, "purchase", revenue=30.0),
    ev("u2", 3, "purchase", revenue=20.0),
]


def test_no_conversions_names_the_column_the_values_found_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        run(tmp_path, GA4)
    err = info.value
    assert err.code == "data.no-conversions"
    assert err.source == "events" and err.column == "event_type"
    assert "page_view (5), session_start (3), purchase (2)" in err.message
    assert "nor any touch" in err.message
    assert "values: {event_type: {purchase: conversion}}" in err.hint
    assert "columns: {event_type: event_name}" in err.hint
    assert "events.parquet" in str(err)


def test_touches_without_conversions_are_refused(tmp_path: Path) -> None:
    rows = [r for r in HAND if r["event_type"] != "conversion"]
    with pytest.raises(DataError) as info:
        run(tmp_path, rows)
    assert info.value.code == "data.no-conversions"
    assert "nor any touch" not in info.value.message
    assert "touch (5)" in info.value.message


def test_no_touches_lists_the_values_and_suggests_a_touch_name(tmp_path: Path) -> None:
    rows = [
        ev("a", 0, "session_start", "google"),
        ev("a", 1, "visit"),
        ev("a", 2, "conversion", revenue=5.0),
    ]
    with pytest.raises(DataError) as info:
        run(tmp_path, rows)
    err = info.value
    assert err.code == "data.no-touches" and err.column == "event_type"
    assert "conversion (1), session_start (1), visit (1)" in err.message
    assert "values: {event_type: {session_start: touch}}" in err.hint


def test_touches_with_empty_channels_only_point_at_the_channel_column(tmp_path: Path) -> None:
    rows = [ev("a", 0, "touch", " "), ev("a", 1, "conversion", revenue=5.0)]
    with pytest.raises(DataError) as info:
        run(tmp_path, rows)
    err = info.value
    assert err.code == "data.no-touches" and err.column == "channel"
    assert "all 1 'touch' event(s) have an empty 'channel'" in err.message
    assert "columns: {channel: utm_source}" in err.hint


def test_conversions_without_any_touch_in_their_journey_still_run(tmp_path: Path) -> None:
    # One touch somewhere is enough: the rest are "conversions without touches", warned.
    rows = [*HAND, ev("z", 0, "conversion", revenue=7.0)]
    rep = run(tmp_path, rows)
    assert rep.conversions == 3 and rep.unattributed_conversions == 1


PIPELINE = """\
pipeline: ga4
goal: "Grow revenue 10% next quarter"
today: 2026-03-20
data:
  events: events.parquet
steps:
  journeys: {agent: journey_analytics}
"""


def test_the_cli_prints_the_error_without_a_traceback(tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", GA4)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = Cli(cwd=tmp_path, env=make_env(tmp_path))("run", "p.yaml", "--run-id", "ga4")
    text = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in text
    assert "no conversion events" in text and "purchase: conversion" in text
    assert "0 conversions" not in text
