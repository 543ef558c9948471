"""The staging layer of a pipeline's `data:` section: a source as a DuckDB query, and
the keys that shape columns before agents see them (timestamps, number, values,
channel_from), checked through the catalog and the pipeline loader."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from pathlib import Path

import pytest
from conftest import Cli
from pydantic import ValidationError

from conductor import DataCatalog, DataError, DataNeed, DataSource
from conductor.errors import PipelineInvalid
from conductor.pipeline import load_pipeline

GA4 = (
    "user_pseudo_id,event_timestamp,event_name,source,medium,revenue\n"
    "u1,1772445600000000,session_start,google,cpc,\n"
    "u1,1772449200000000,page_view,google,cpc,\n"
    "u1,1772452800000000,purchase,newsletter,email,49.5\n"
)


def _pipeline(tmp_path: Path, data: str, steps: str = "  a: {agent: test_note}\n") -> Path:
    body = textwrap.indent(textwrap.dedent(data), "  ")
    (tmp_path / "p.yaml").write_text(
        "pipeline: p\ngoal: {objective: grow_revenue, kpi: revenue}\n"
        f"data:\n{body}steps:\n{steps}"
    )
    return tmp_path / "p.yaml"


def _rows(catalog: DataCatalog, sql: str) -> list[tuple[object, ...]]:
    return catalog.cursor().execute(sql).fetchall()


# ------------------------------------------------------------------------------ query


def test_query_reads_files_relative_to_the_pipeline_and_other_sources(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text("id,amount\n1,10\n2,20\n3,5\n")
    (tmp_path / "data" / "refunds.csv").write_text("id\n2\n")
    path = _pipeline(
        tmp_path,
        """\
        kept:
          query: >
            SELECT o.* FROM read_csv('data/orders.csv') o
            WHERE o.id NOT IN (SELECT id FROM refunds)
        refunds: data/refunds.csv
        """,
    )
    catalog = load_pipeline(path).catalog()
    assert _rows(catalog, "SELECT id, amount FROM kept ORDER BY id") == [(1, 10), (3, 5)]
    assert catalog.path("kept") == path  # a query's "file" is the pipeline


def test_a_query_that_fails_names_the_source_and_duckdbs_first_line(tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text("id\n1\n")
    catalog = load_pipeline(
        _pipeline(tmp_path, "bad: {query: \"SELECT nope FROM read_csv('o.csv')\"}\n")
    ).catalog()
    with pytest.raises(DataError) as info:
        catalog.columns("bad")
    err = info.value
    assert err.code == "data.bad-query" and err.source == "bad"
    assert 'Referenced column "nope" not found' in err.message
    assert "\n" not in err.message


def test_queries_that_read_each_other_in_a_circle_are_refused(tmp_path: Path) -> None:
    catalog = DataCatalog(
        {
            "a": DataSource(query="SELECT * FROM b"),
            "b": DataSource(query="SELECT * FROM a"),
        }
    )
    with pytest.raises(DataError) as info:
        catalog.columns("a")
    assert info.value.code == "data.query-cycle"
    assert "a -> b -> a" in info.value.message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give `path` (a file) or `query`"),
        ({"path": "x.csv", "query": "SELECT 1"}, "not both"),
        ({"query": "SELECT 1", "format": "csv"}, "`format` is for files"),
    ],
)
def test_a_source_is_a_path_or_a_query(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        DataSource.model_validate(fields)


def test_a_source_without_path_or_query_is_a_located_missing_key(tmp_path: Path) -> None:
    with pytest.raises(PipelineInvalid) as info:
        load_pipeline(_pipeline(tmp_path, "events: {columns: {timestamp: t}}\n"))
    (err,) = info.value.errors
    assert err.code == "pipeline.missing-key" and (err.line, err.column) == (4, 3)


def test_a_misspelt_staging_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "events: {path: e.csv, timestamps: {t: {unti: us}}}\n")
    with pytest.raises(PipelineInvalid) as info:
        load_pipeline(path)
    assert "did you mean 'unit'?" in str(info.value)


# ------------------------------------------------------------------------- timestamps


def test_ga4_export_staged_for_the_journey_contract(tmp_path: Path) -> None:
    (tmp_path / "ga4.csv").write_text(GA4)
    path = _pipeline(
        tmp_path,
        """\
        events:
          path: ga4.csv
          timestamps: {event_timestamp: {unit: us}}
          values: {event_name: {purchase: conversion, page_view: visit, session_start: touch}}
          channel_from: "source || ' / ' || medium"
          columns: {customer_id: user_pseudo_id, timestamp: event_timestamp, event_type: event_name}
        """,
    )
    catalog = load_pipeline(path).catalog()
    cols = catalog.columns("events")
    assert cols["timestamp"] == "TIMESTAMP" and cols["channel"] == "VARCHAR"
    need = DataNeed(
        columns={
            "customer_id": "string",
            "timestamp": "timestamp",
            "event_type": "string",
            "channel": "string",
        },
        optional_columns={"revenue": "number"},
    )
    assert catalog.check("events", need) == []
    rows = _rows(catalog, "SELECT timestamp, event_type, channel FROM events ORDER BY 1")
    assert rows == [
        (dt.datetime(2026, 3, 2, 10, 0), "touch", "google / cpc"),
        (dt.datetime(2026, 3, 2, 11, 0), "visit", "google / cpc"),
        (dt.datetime(2026, 3, 2, 12, 0), "conversion", "newsletter / email"),
    ]


@pytest.mark.parametrize(
    ("unit", "value"),
    [("s", "1772445600"), ("ms", "1772445600000"), ("ns", "1772445600000000000")],
)
def test_epoch_units(tmp_path: Path, unit: str, value: str) -> None:
    (tmp_path / "e.csv").write_text(f"t\n{value}\n")
    src = DataSource(path=tmp_path / "e.csv", timestamps={"t": unit})  # the shorthand
    assert _rows(DataCatalog({"e": src}), "SELECT t FROM e") == [(dt.datetime(2026, 3, 2, 10),)]


def test_a_date_format_gives_dates_and_a_time_format_timestamps(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("day,at_time\n03/02/2026,03/02/2026 14:30\n")
    src = DataSource(
        path=tmp_path / "s.csv",
        timezone="Europe/Berlin",
        timestamps={"day": {"format": "%m/%d/%Y"}, "at_time": {"format": "%m/%d/%Y %H:%M"}},
    )
    catalog = DataCatalog({"s": src})
    assert catalog.columns("s") == {"day": "DATE", "at_time": "TIMESTAMP"}
    # A calendar day takes no zone; a wall-clock time in Berlin (CET) is 13:30 UTC.
    assert _rows(catalog, "SELECT day, at_time FROM s") == [
        (dt.date(2026, 3, 2), dt.datetime(2026, 3, 2, 13, 30))
    ]


def test_a_value_that_does_not_parse_names_source_column_value_and_row(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("date,spend\n03/02/2026,1\n03/09/2026,2\n2026-03-16,3\n")
    src = DataSource(path=tmp_path / "s.csv", timestamps={"date": "%m/%d/%Y"})
    with pytest.raises(DataError) as info:
        DataCatalog({"spend": src}).columns("spend")
    err = info.value
    assert (err.code, err.source, err.column) == ("data.bad-value", "spend", "date")
    assert "'2026-03-16'" in err.message and "row 3" in err.message
    assert "%m/%d/%Y" in err.message and err.hint


def test_a_bad_strptime_format_is_refused_when_the_pipeline_is_read() -> None:
    with pytest.raises(ValidationError, match="format '%Q'"):
        DataSource(path=Path("x.csv"), timestamps={"d": {"format": "%Q"}})


# ------------------------------------------------------------------------------ number


SPEND = 'date,channel,spend\n2026-03-02,search,"8,597.76"\n2026-03-02,social,"$1,200"\n'


def test_numbers_with_thousands_separators_and_currency(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(SPEND)
    need = DataNeed(columns={"date": "date", "channel": "string", "spend": "number"})
    plain = DataCatalog({"spend": DataSource(path=tmp_path / "s.csv")})
    assert [e.code for e in plain.check("spend", need)] == ["data.bad-type"]
    assert "number:" in (plain.check("spend", need)[0].hint or "")
    staged = DataCatalog({"spend": DataSource(path=tmp_path / "s.csv", number={"thousands": ","})})
    assert staged.check("spend", need) == []
    assert _rows(staged, "SELECT spend FROM spend") == [(8597.76,), (1200.0,)]
    # Text that is not a number in this style is left alone (the channel names).
    assert staged.columns("spend")["channel"] == "VARCHAR"


def test_european_numbers_and_listed_columns(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text('ref,spend,clicks\n12.34.56,"8.597,76","1.000"\n')
    auto = DataSource(path=tmp_path / "s.csv", number={"thousands": ".", "decimal": ","})
    catalog = DataCatalog({"s": auto})
    # "12.34.56" does not group digits by three: never taken for a number.
    assert catalog.columns("s") == {"ref": "VARCHAR", "spend": "DOUBLE", "clicks": "DOUBLE"}
    assert _rows(catalog, "SELECT spend, clicks FROM s") == [(8597.76, 1000.0)]
    listed = auto.model_copy(
        update={"number": auto.number.model_copy(update={"columns": ["spend"]})}
    )  # type: ignore[union-attr]
    catalog = DataCatalog({"s": listed})
    assert catalog.columns("s")["spend"] == "DOUBLE"
    assert _rows(catalog, "SELECT spend FROM s") == [(8597.76,)]


def test_a_listed_number_column_with_a_bad_value_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text('spend\n"1,000"\nn/a\n')
    src = DataSource(path=tmp_path / "s.csv", number={"columns": ["spend"]})
    with pytest.raises(DataError) as info:
        DataCatalog({"s": src}).columns("s")
    assert info.value.code == "data.bad-value" and "'n/a' in row 2" in info.value.message


# ------------------------------------------------------------------- values, channel


def test_values_map_some_values_and_keep_the_rest(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("event_name,step\npurchase,1\nscroll,2\npage_view,3\n")
    src = DataSource(
        path=tmp_path / "e.csv",
        values={"event_name": {"purchase": "conversion", "page_view": "visit"}, "step": {1: "a"}},
    )
    rows = _rows(DataCatalog({"e": src}), "SELECT event_name, step FROM e")
    assert rows == [("conversion", "a"), ("scroll", "2"), ("visit", "3")]


def test_channel_from_replaces_a_channel_column_and_bad_sql_is_named(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("channel,source,medium\nold,google,cpc\n")
    ok = DataSource(path=tmp_path / "e.csv", channel_from="source || ' / ' || medium")
    catalog = DataCatalog({"e": ok})
    assert list(catalog.columns("e")) == ["source", "medium", "channel"]
    assert _rows(catalog, "SELECT channel FROM e") == [("google / cpc",)]
    bad = DataSource(path=tmp_path / "e.csv", channel_from="sauce || medium")
    with pytest.raises(DataError) as info:
        DataCatalog({"e": bad}).columns("e")
    assert info.value.code == "data.bad-query" and "channel_from" in info.value.message
    with pytest.raises(ValidationError, match="not both"):
        DataSource(path=Path("e.csv"), channel_from="source", columns={"channel": "medium"})


def test_staging_keys_name_a_column_the_source_lacks(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("a\n1\n")
    src = DataSource(path=tmp_path / "e.csv", values={"b": {"x": "y"}})
    with pytest.raises(DataError) as info:
        DataCatalog({"e": src}).columns("e")
    assert info.value.code == "data.missing-column" and "`values:`" in info.value.message


# ------------------------------------------------------------------- blank column


def test_an_all_blank_optional_number_column_is_missing_not_a_type_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "e.csv").write_text("customer_id,revenue\nc1,\nc2,\n")
    catalog = DataCatalog({"events": DataSource(path=tmp_path / "e.csv")})
    assert catalog.columns("events")["revenue"] == "VARCHAR"  # what DuckDB sniffs
    need = DataNeed(columns={"customer_id": "string"}, optional_columns={"revenue": "number"})
    assert catalog.check("events", need) == []
    assert catalog.columns("events")["revenue"] == "DOUBLE"
    assert _rows(catalog, "SELECT sum(revenue) FROM events") == [(None,)]


# ---------------------------------------------------------------------------- preview


def test_validate_preview_prints_the_staged_rows(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "ga4.csv").write_text(GA4)
    _pipeline(
        tmp_path,
        """\
        events:
          path: ga4.csv
          timestamps: {event_timestamp: us}
          values: {event_name: {purchase: conversion}}
          columns: {timestamp: event_timestamp}
        """,
    )
    result = sqlite_cli("validate", "p.yaml", "--preview", "--rows", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "data source events" in out and "user_pseudo_id" in out and "timestamp" in out
    assert "2026-03-02 10:00:00" in out and "2026-03-02 11:00:00" in out
    assert "2026-03-02 12:00:00" not in out  # --rows 2
    assert "1772445600000000" not in out  # the staged value, not the file's
    result = sqlite_cli("validate", "p.yaml", "--preview")
    assert "conversion" in result.stdout  # all three rows (the default is 5)
    plain = sqlite_cli("validate", "p.yaml")
    assert "data source events" not in plain.stdout


# ------------------------------------------------------------------------- an agent


def test_the_journey_agent_reads_a_staged_ga4_export(tmp_path: Path) -> None:
    from agents.journey import JourneyAnalyticsAgent, JourneySpec
    from conductor import BusinessGoal, Inputs, RunContext

    (tmp_path / "ga4.csv").write_text(GA4)
    path = _pipeline(
        tmp_path,
        """\
        events:
          path: ga4.csv
          timestamps: {event_timestamp: us}
          values: {event_name: {purchase: conversion, page_view: visit, session_start: touch}}
          channel_from: "source || ' / ' || medium"
          columns: {customer_id: user_pseudo_id, timestamp: event_timestamp, event_type: event_name}
        """,
    )
    catalog = load_pipeline(path).catalog()
    goal = BusinessGoal(objective="grow_revenue", kpi="revenue")
    ctx = RunContext(run_id="t", step="j", agent="journey_analytics", goal=goal, out_dir=tmp_path)
    try:
        report = JourneyAnalyticsAgent().run(
            JourneySpec(), Inputs(upstream={}, catalog=catalog), ctx
        )
    finally:
        catalog.close()
    assert report.events == 3 and report.conversions == 1 and report.revenue == 49.5
    assert report.period_start == dt.datetime(2026, 3, 2, 10, 0)
