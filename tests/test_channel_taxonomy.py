"""The pipeline's channel taxonomy (``channels:``): one map from every spelling in every
source to its channel, read by every agent, and checked by ``validate``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from agents.budget._data import load_history, norm_channel
from agents.journey import JourneyAnalyticsAgent, JourneySpec
from conductor import (
    DataCatalog,
    DataSource,
    Inputs,
    RunContext,
    channel_name,
    normalise_channel_key,
    parse_goal,
)
from conductor.pipeline import load_pipeline, validate_pipeline

GOAL = parse_goal("Grow revenue 10% in Q3 2027 with paid search and email")


def _events(path: Path, rows: list[tuple[str, int, str, str]]) -> Path:
    """A CSV of (customer, hour, event_type, channel) rows."""
    t0 = dt.datetime(2026, 3, 1)
    lines = ["customer_id,timestamp,event_type,channel,revenue"]
    for cid, hour, kind, channel in rows:
        ts = (t0 + dt.timedelta(hours=hour)).isoformat()
        lines.append(f'{cid},{ts},{kind},"{channel}",{"10" if kind == "conversion" else ""}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _journeys(tmp_path: Path, events: Path, channels: dict[str, str] | None = None) -> list[str]:
    catalog = DataCatalog({"events": DataSource(path=events)}, channels=channels)
    ctx = RunContext(run_id="t", step="j", agent="journey_analytics", goal=GOAL, out_dir=tmp_path)
    try:
        report = JourneyAnalyticsAgent().run(
            JourneySpec(), Inputs(upstream={}, catalog=catalog), ctx
        )
    finally:
        catalog.close()
    return list(report.channels)


ROWS = [
    ("c1", 0, "touch", "google / cpc"),
    ("c1", 1, "touch", "Paid Search"),
    ("c1", 2, "conversion", ""),
    ("c2", 0, "touch", "paid_search"),
    ("c2", 1, "touch", "Email (Klaviyo)"),
    ("c2", 2, "conversion", ""),
]


def test_spellings_of_one_name_are_one_channel_without_a_taxonomy(tmp_path: Path) -> None:
    # docs/data.md has always said `Paid Search` and `paid_search` are one channel; the
    # journey agent kept them apart (and the budget agent merged them: two answers).
    events = _events(tmp_path / "e.csv", ROWS)
    assert _journeys(tmp_path, events) == ["email_klaviyo", "google_cpc", "paid_search"]


def test_the_taxonomy_merges_what_it_maps(tmp_path: Path) -> None:
    events = _events(tmp_path / "e.csv", ROWS)
    taxonomy = {"google / cpc": "paid_search", "email_klaviyo": "email"}
    assert _journeys(tmp_path, events, taxonomy) == ["email", "paid_search"]


def test_journeys_and_spend_name_a_channel_alike(tmp_path: Path) -> None:
    """The journeys say `google / cpc`, the spend `Google Ads`: with the taxonomy both
    agents analyse `paid_search`, and their names agree on any spelling."""
    taxonomy = {"google / cpc": "paid_search", "Google Ads": "paid_search"}
    spend = tmp_path / "spend.csv"
    start = dt.date(2025, 1, 6)
    lines, outcomes = ["date,channel,spend"], ["date,revenue"]
    for week in range(10):
        day = start + dt.timedelta(weeks=week)
        lines += [f"{day},Google Ads,100", f"{day},Télé Loire,50"]
        outcomes.append(f"{day},1000")
    spend.write_text("\n".join(lines) + "\n")
    (tmp_path / "outcomes.csv").write_text("\n".join(outcomes) + "\n")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW spend AS SELECT * FROM read_csv('{spend}')")
    con.execute(f"CREATE VIEW outcomes AS SELECT * FROM read_csv('{tmp_path / 'outcomes.csv'}')")
    history, _ = load_history(con, "revenue", True, taxonomy)
    assert history.channels == ["paid_search", "télé_loire"]
    events = _events(tmp_path / "e.csv", [*ROWS[:3], ("c3", 0, "touch", "Télé Loire")])
    assert _journeys(tmp_path, events, taxonomy) == ["paid_search", "télé_loire"]
    # One normal form everywhere (the budget agent's used to drop non-ASCII letters).
    assert norm_channel("Télé Loire") == normalise_channel_key("Télé Loire") == "télé_loire"
    assert channel_name("メール") == "メール"


def _pipeline(tmp_path: Path, channels: str, goal: str = "paid search and email") -> Path:
    _events(tmp_path / "events.csv", ROWS)
    path = tmp_path / "p.yaml"
    path.write_text(
        "pipeline: t\n"
        f'goal: "Grow revenue 10% in Q3 2027 with {goal}"\n'
        "data:\n  events: events.csv\n"
        f"{channels}"
        "steps:\n  j: {agent: journey_analytics}\n"
    )
    return path


def test_a_taxonomy_value_that_is_no_channel_is_located(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "channels:\n  google / cpc: paid_search\n  bing: searchy\n")
    report = validate_pipeline(path)
    [err] = report.errors
    assert (err.line, err.code) == (7, "pipeline.bad-value")
    assert "'bing' -> 'searchy' is not a channel" in err.message and "paid_search" in err.hint


def test_the_taxonomy_can_live_in_a_shared_file(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "channels.yaml").write_text(
        "google / cpc: paid_search\nEmail (Klaviyo): email\nmeta: loudspeakers\n"
    )
    path = _pipeline(tmp_path, "channels: shared/channels.yaml\n")
    [err] = validate_pipeline(path).errors
    assert Path(str(err.file)) == tmp_path / "shared" / "channels.yaml" and err.line == 3
    (tmp_path / "shared" / "channels.yaml").write_text(
        "google / cpc: paid_search\nEmail (Klaviyo): email\n"
    )
    assert load_pipeline(path).taxonomy == {
        "google / cpc": "paid_search",
        "Email (Klaviyo)": "email",
    }
    missing = _pipeline(tmp_path, "channels: nowhere.yaml\n")
    [err] = validate_pipeline(missing).errors
    assert err.code == "file.not-found" and err.line == 5


def test_validate_lists_data_channels_that_map_to_nothing(tmp_path: Path) -> None:
    rows = [*ROWS, ("c3", 0, "touch", "partner_xyz"), ("c3", 1, "touch", "(direct) / (none)")]
    path = _pipeline(tmp_path, "")
    _events(tmp_path / "events.csv", rows)
    report = validate_pipeline(path)
    assert report.ok, [str(e) for e in report.errors]
    listed = {re.search(r"channel ('.*?') \(\d", w.message)[1]: w for w in report.warnings}  # type: ignore[index]
    assert set(listed) == {"'partner_xyz'", "'(direct) / (none)'"}
    first = listed["'partner_xyz'"]
    # events.csv line 1 is the header: the seventh data row is on line 8.
    assert (Path(str(first.file)), first.line, first.code) == (
        tmp_path / "events.csv",
        8,
        "data.unmapped-channel",
    )
    # Mapped in the taxonomy, it is no longer listed.
    mapped = _pipeline(
        tmp_path, 'channels:\n  partner_xyz: affiliate\n  "(direct) / (none)": email\n'
    )
    _events(tmp_path / "events.csv", rows)
    assert validate_pipeline(mapped).warnings == []


def test_a_goal_channel_the_spend_lacks_fails_validate(tmp_path: Path) -> None:
    """The budget step needs the goal's channels in `spend` (DataNeed.goal_channels): a
    goal channel it lacks is an error at the goal's line, not a failed run later."""
    path = _pipeline(tmp_path, "", goal="paid search, email and tv")
    lines = ["date,channel,spend"] + [
        f"{dt.date(2025, 1, 6) + dt.timedelta(weeks=w)},{ch},100"
        for w in range(20)
        for ch in ("Google Ads", "Email (Klaviyo)")
    ]
    (tmp_path / "spend.csv").write_text("\n".join(lines) + "\n")
    text = path.read_text().replace("events: events.csv", "events: events.csv\n  spend: spend.csv")
    text = text.replace(" with paid", " with a $50k budget across paid")
    path.write_text(text + "  b: {agent: budget_allocation}\n")
    report = validate_pipeline(path)
    [err] = report.errors
    assert err.code == "goal.channel-not-in-data" and "'tv'" in err.message
    assert "'spend'" in err.message and err.line == 2 and "channels:" in err.hint
    # Without the budget step, only a warning: a goal channel may be an offer's channel.
    journeys_only = _pipeline(tmp_path, "", goal="paid search, email and tv")
    report = validate_pipeline(journeys_only)
    assert report.ok and [w.code for w in report.warnings] == ["goal.channel-not-in-data"]


@pytest.mark.parametrize("goal", ["paid search and email", "paid search"])
def test_goal_channels_found_through_their_data_spellings(tmp_path: Path, goal: str) -> None:
    # `google / cpc` and `Email (Klaviyo)` are paid search and email by the defaults.
    rows = [r for r in ROWS if r[3] not in ("Paid Search", "paid_search")]
    path = _pipeline(tmp_path, "", goal=goal)
    _events(tmp_path / "events.csv", rows)
    assert validate_pipeline(path).ok
