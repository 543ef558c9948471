"""Reading `events` and building journeys, all in DuckDB.

A journey is a customer's touches in time order up to and including a conversion;
touches after the customer's last conversion form one non-converting journey. Every
event is tied to the conversion that closes its journey with one ``ASOF JOIN`` (the
customer's next conversion at or after the event), so journeys are built with a single
grouped pass over the events and no window over the whole table.

Tables created on the step's cursor (temporary, dropped by :meth:`JourneyTables.drop`):

``_journey_conv``      one row per (customer hash, conversion time): count and revenue
``_journey_dict``      raw (event_type, channel) of touches -> channel id 1..n
``_journey_raw``       one row per journey: path of channel ids, touch times, stage flags
``_journey_j``         view: journeys after the lookback window, with ages and days
``_journey_paths``     one row per distinct path: journeys, conversions, nulls, revenue
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from agents.journey._guards import check_touches_and_conversions
from agents.journey._models import JourneySpec
from conductor import (
    DataCatalog,
    DataError,
    DataNeed,
    canonical_channel,
    channel_name,
    normalise_channel_key,
)
from conductor.data import finite_number, quote_ident

__all__ = ["JourneyTables", "build_journeys", "sql_literal"]

SOURCE = "events"
TOUCH = "touch"
CONVERSION = "conversion"
OTHER = "other"
MAX_STAGE_TYPES = 30  # more distinct stage types than this is a clickstream, not a funnel

_TZ_SUFFIX = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def sql_literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: list[str]) -> str:
    return "(" + ", ".join(sql_literal(v) for v in values) + ")" if values else "(NULL)"


@dataclass
class JourneyTables:
    """What :func:`build_journeys` made, and the facts learnt on the way.

    Attributes:
        con: The DuckDB cursor the tables live on.
        channels: Channel names; id ``i`` is ``channels[i - 1]``.
        stage_types: Stage event types found (normalised), most frequent first.
        stage_flags: Stage type -> column name of its flag in the journey tables.
        has_revenue: Whether the source has a revenue column.
        events: Rows with a usable timestamp.
        customers: Distinct customers.
        period: (first, last) event time.
        conversions: Conversion events.
        revenue: Their revenue.
        unmatched_journeys: Converting journeys with no other event (no row in the tables).
        unmatched_conversions: Conversions in those journeys.
        unmatched_revenue: Their revenue.
        packing: (radix, first event in epoch microseconds) of the packed touch codes.
        warnings: Things the user should know.
    """

    con: Any
    channels: list[str]
    stage_types: list[str]
    stage_flags: dict[str, str]
    has_revenue: bool
    events: int = 0
    customers: int = 0
    period: tuple[Any, Any] = (None, None)
    conversions: int = 0
    revenue: float = 0.0
    unmatched_journeys: int = 0
    unmatched_conversions: int = 0
    unmatched_revenue: float = 0.0
    packing: tuple[int, int] = (2, 0)
    warnings: list[str] = field(default_factory=list)

    def drop(self) -> None:
        """Drop the temporary tables and views."""
        for stmt in (
            "DROP VIEW IF EXISTS _journey_j",
            "DROP TABLE IF EXISTS _journey_paths",
            "DROP TABLE IF EXISTS _journey_raw",
            "DROP TABLE IF EXISTS _journey_dict",
            "DROP TABLE IF EXISTS _journey_conv",
            "DROP VIEW IF EXISTS _journey_events",
        ):
            self.con.execute(stmt)


def _resolve_columns(catalog: DataCatalog, need: DataNeed) -> dict[str, str | None]:
    problems = catalog.check(SOURCE, need)
    if problems:
        first = problems[0]
        if len(problems) > 1:
            others = "; ".join(f"{p.column}: {p.message}" for p in problems[1:])
            first.message += f" (also: {others})"
        raise first
    actual = catalog.columns(SOURCE)
    lower = {c.lower(): c for c in actual}
    out: dict[str, str | None] = {}
    for col in [*need.columns, *need.optional_columns]:
        out[col] = col if col in actual else lower.get(col.lower())
    out["_timestamp_type"] = actual[out["timestamp"] or "timestamp"]
    return out


def _timestamp_sql(column: str, duck_type: str) -> str:
    col = quote_ident(column)
    t = duck_type.upper()
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return f"timezone('UTC', {col})"
    if t.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({col} AS TIMESTAMP)"
    # ISO strings: with an offset or Z they are instants (converted to UTC); without one
    # they are taken as UTC wall-clock times.
    s = f"trim(CAST({col} AS VARCHAR))"
    return (
        f"CASE WHEN regexp_matches({s}, '{_TZ_SUFFIX}') "
        f"THEN timezone('UTC', TRY_CAST({s} AS TIMESTAMPTZ)) "
        f"ELSE TRY_CAST({s} AS TIMESTAMP) END"
    )


def _check_timestamps(con: Any, column: str, duck_type: str, file: Any) -> None:
    if duck_type.upper().startswith(("TIMESTAMP", "DATE")):
        return
    if not duck_type.upper().startswith("VARCHAR"):
        raise DataError(
            f"column has type {duck_type}, expected a timestamp or an ISO 8601 string",
            source=SOURCE,
            column=column,
            file=file,
            code="data.bad-type",
            hint="store times as TIMESTAMP or as text like 2026-03-01T14:30:00Z",
        )
    bad, sample = con.execute(
        "SELECT count(*), min(ts_raw) FROM _journey_events "
        "WHERE ts_raw IS NOT NULL AND trim(ts_raw) <> '' AND ts IS NULL"
    ).fetchone()
    if bad:
        raise DataError(
            f"{bad:,} value(s) cannot be read as timestamps, e.g. {sample!r}",
            source=SOURCE,
            column=column,
            file=file,
            code="data.bad-timestamp",
            hint="use ISO 8601 text such as 2026-03-01T14:30:00Z (or a TIMESTAMP column)",
        )


def build_journeys(
    catalog: DataCatalog, con: Any, spec: JourneySpec, need: DataNeed
) -> JourneyTables:
    """Validate ``events`` and build the journey tables on ``con``.

    Args:
        catalog: The run's data catalog (used for the schema checks).
        con: A DuckDB cursor with the ``events`` view.
        spec: The step's spec.
        need: The agent's declared need for ``events``.

    Raises:
        DataError: Missing columns, wrong types, timestamps that cannot be parsed, or
            no conversion or no touch to analyse.
    """
    cols = _resolve_columns(catalog, need)
    _events_view(con, cols, catalog.path(SOURCE))
    warnings: list[str] = []
    vocab = _read_vocabulary(con, warnings, catalog.channels)
    check_touches_and_conversions(
        con,
        has_conversions=CONVERSION in vocab.et_raw,
        has_touches=bool(vocab.touch_channels),
        columns=cols,
        file=catalog.path(SOURCE),
    )
    mapping, channels = _channel_mapping(sorted(vocab.touch_channels), spec, warnings)
    stage_types, stage_flags = _stage_flags(spec, vocab.stage_counts, warnings)
    tables = JourneyTables(
        con=con,
        channels=channels,
        stage_types=[s for s in stage_types if s in stage_flags],
        stage_flags=stage_flags,
        has_revenue=cols.get("revenue") is not None,
        warnings=warnings,
    )
    conv_in = _in_list(vocab.et_raw.get(CONVERSION, []))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _journey_conv AS
            SELECT hash(cid) AS cust, ts, count(*)::BIGINT AS n,
                   coalesce(sum(rev), 0)::DOUBLE AS rev
            FROM _journey_events WHERE et IN {conv_in} AND ts IS NOT NULL AND cid IS NOT NULL
            GROUP BY hash(cid), ts"""
    )
    _channel_dictionary(con, vocab, mapping, channels)
    tables.packing = _journey_raw(con, vocab, channels, stage_flags, conv_in)
    _journey_view(con, spec, tables.packing)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _journey_paths AS
        SELECT path, count(*)::BIGINT AS journeys,
               count(*) FILTER (WHERE converted)::BIGINT AS converting,
               coalesce(sum(n_conv), 0)::BIGINT AS conversions,
               count(*) FILTER (WHERE NOT converted)::BIGINT AS nulls,
               coalesce(sum(rev), 0)::DOUBLE AS revenue
        FROM _journey_j WHERE len(path) > 0 GROUP BY path"""
    )
    tables.period = vocab.period
    tables.events = vocab.events
    _facts(tables)
    return tables


def _events_view(con: Any, cols: dict[str, str | None], file: Any) -> None:
    """``_journey_events``: the source's columns under fixed names, times in UTC."""
    ts_col = cols["timestamp"] or "timestamp"
    rev_col = cols.get("revenue")
    rev_sql = finite_number(quote_ident(rev_col)) if rev_col else "CAST(NULL AS DOUBLE)"
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW _journey_events AS SELECT
            {quote_ident(cols["customer_id"] or "customer_id")} AS cid,
            {_timestamp_sql(ts_col, cols["_timestamp_type"] or "VARCHAR")} AS ts,
            CAST({quote_ident(cols["event_type"] or "event_type")} AS VARCHAR) AS et,
            CAST({quote_ident(cols["channel"] or "channel")} AS VARCHAR) AS ch,
            {rev_sql} AS rev,
            {quote_ident(ts_col)} AS ts_raw
        FROM {SOURCE}"""
    )
    _check_timestamps(con, ts_col, cols["_timestamp_type"] or "VARCHAR", file)


@dataclass
class _Vocabulary:
    """What the distinct (event_type, channel) pairs of the usable events say.

    Attributes:
        events: Rows with a customer and a timestamp.
        period: (first, last) event time.
        et_raw: Normalised event type -> its raw spellings.
        stage_counts: Stage type (neither touch nor conversion) -> events.
        touch_channels: Analysed channel name of touches -> its raw spellings.
    """

    events: int
    period: tuple[Any, Any]
    et_raw: dict[str, list[str]] = field(default_factory=dict)
    stage_counts: dict[str, int] = field(default_factory=dict)
    touch_channels: dict[str, set[str]] = field(default_factory=dict)


def _read_vocabulary(con: Any, warnings: list[str], taxonomy: dict[str, str]) -> _Vocabulary:
    """Classify the events by their distinct (event_type, channel) pairs.

    A channel is analysed under :func:`conductor.channel_name`: the pipeline's taxonomy
    first, else the name normalised (``Paid Search`` and ``paid_search`` are one).

    Every classification (touch / conversion / stage, channel names and filters) is
    decided on this small table in Python, then pushed back into SQL as literal lists.
    """
    vocab = con.execute(
        "SELECT et, ch, count(*) FILTER (WHERE cid IS NOT NULL) AS n, "
        "count(ts) FILTER (WHERE cid IS NOT NULL) AS n_ts, "
        "min(ts) FILTER (WHERE cid IS NOT NULL), max(ts) FILTER (WHERE cid IS NOT NULL), "
        "count(*) FILTER (WHERE cid IS NULL) FROM _journey_events GROUP BY ALL"
    ).fetchall()
    no_cid = sum(int(r[6]) for r in vocab)
    firsts = [r[4] for r in vocab if r[4] is not None]
    lasts = [r[5] for r in vocab if r[5] is not None]
    period = (min(firsts), max(lasts)) if firsts else (None, None)
    no_ts = sum(int(r[2]) - int(r[3]) for r in vocab)
    if no_cid:
        warnings.append(f"{no_cid:,} event(s) without a customer_id were ignored")
    if no_ts:
        warnings.append(f"{no_ts:,} event(s) without a timestamp were ignored")
    out = _Vocabulary(events=sum(int(r[3]) for r in vocab), period=period)
    no_type = 0
    no_channel = 0
    for et, ch, _n, n_ts, *_ in vocab:
        if not n_ts:
            continue  # only rows without a customer or a timestamp: already reported
        norm = (et or "").strip().lower()
        if not norm:
            no_type += int(n_ts)
            continue
        out.et_raw.setdefault(norm, [])
        if et not in out.et_raw[norm]:
            out.et_raw[norm].append(et)
        if norm == TOUCH:
            name = channel_name(ch, taxonomy) if (ch or "").strip() else ""
            if not name:
                no_channel += int(n_ts)
            else:
                out.touch_channels.setdefault(name, set()).add(ch)
        elif norm != CONVERSION:
            out.stage_counts[norm] = out.stage_counts.get(norm, 0) + int(n_ts)
    if no_type:
        warnings.append(f"{no_type:,} event(s) with an empty event_type were ignored")
    if no_channel:
        warnings.append(f"{no_channel:,} touch(es) with an empty channel were ignored")
    return out


def _stage_flags(
    spec: JourneySpec, stage_counts: dict[str, int], warnings: list[str]
) -> tuple[list[str], dict[str, str]]:
    """Stage types by falling count, and the stages flagged per journey -> flag column."""
    stage_types = sorted(stage_counts, key=lambda s: (-stage_counts[s], s))
    if spec.funnel_stages is not None:
        wanted = [s.lower() for s in spec.funnel_stages if s.lower() != CONVERSION]
        missing = [s for s in wanted if s not in stage_counts]
        if missing:
            warnings.append(
                "funnel stage(s) not found in the data's event_type values: "
                + ", ".join(missing)
                + (f" (found: {', '.join(stage_types)})" if stage_types else "")
            )
        flagged = wanted
    else:
        if len(stage_types) > MAX_STAGE_TYPES:
            warnings.append(
                f"{len(stage_types)} stage event types found; the default funnel uses the "
                f"{MAX_STAGE_TYPES} most frequent (set funnel_stages to choose)"
            )
        flagged = stage_types[:MAX_STAGE_TYPES]
    return stage_types, {s: f"s{i}" for i, s in enumerate(flagged)}


def _channel_dictionary(
    con: Any, vocab: _Vocabulary, mapping: dict[str, str | None], channels: list[str]
) -> None:
    """``_journey_dict``: raw (event_type, channel) of touches -> analysed channel id."""
    con.execute("CREATE OR REPLACE TEMP TABLE _journey_dict (et VARCHAR, ch VARCHAR, id INTEGER)")
    ids = {name: i + 1 for i, name in enumerate(channels)}
    rows = []
    for name, raws in vocab.touch_channels.items():
        target = mapping.get(name)
        if target is None:
            continue
        rows += [(et, ch, ids[target]) for ch in sorted(raws) for et in vocab.et_raw.get(TOUCH, [])]
    if rows:
        con.executemany("INSERT INTO _journey_dict VALUES (?, ?, ?)", rows)


def _journey_raw(
    con: Any,
    vocab: _Vocabulary,
    channels: list[str],
    stage_flags: dict[str, str],
    conv_in: str,
) -> tuple[int, int]:
    """``_journey_raw``, one row per journey; returns the touches' packing (radix, start)."""
    # Each event carries only what the journey needs through the ASOF join's sort: the
    # customer's hash, the time, the packed touch and one bit per funnel stage (the
    # sort's payload is most of its cost: strings made it 10-15% slower).
    mask = (
        "CASE "
        + " ".join(
            f"WHEN e.et IN {_in_list(vocab.et_raw.get(s, []))} THEN {1 << i}"
            for i, s in enumerate(stage_flags)
        )
        + " ELSE 0 END"
        if stage_flags
        else "0"
    )
    flags = "".join(
        f", (bit_or(e.m) & {1 << i}) <> 0 AS {col}" for i, col in enumerate(stage_flags.values())
    )
    # A touch is packed into one BIGINT, (microseconds since the first event) * radix +
    # channel id, so sorting the plain list orders by time then channel: far cheaper
    # than an ordered list aggregate per journey. Data spanning too long for the packing
    # (centuries at 10^4 channels) falls back to the ordered aggregate.
    period = vocab.period
    radix = 1 << max(1, len(channels)).bit_length()
    start_us = _epoch_us(period[0]) if period[0] is not None else 0
    span_us = _epoch_us(period[1]) - start_us if period[1] is not None else 0
    if (span_us + 1) * radix < 2**62:
        code = f"(epoch_us(e.ts) - {start_us}) * {radix} + d.id"
        touches = "list_sort(list(e.code) FILTER (WHERE e.code IS NOT NULL))"
    else:
        code = f"(epoch_us(e.ts) - {start_us})::HUGEINT * {radix} + d.id"
        touches = "list(e.code ORDER BY e.code) FILTER (WHERE e.code IS NOT NULL)"
    # Customers are keyed by their 64-bit hash: joining and grouping on an integer is
    # about a quarter faster than on the id strings. Two customers would share journeys
    # only on a hash collision, about 1 in 4 million for 3 million customers.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _journey_raw AS
        WITH ev AS (
            SELECT hash(e.cid) AS cust, e.ts, {code} AS code, ({mask})::UINTEGER AS m
            FROM _journey_events e
            LEFT JOIN _journey_dict d ON e.et = d.et AND e.ch = d.ch
            WHERE e.ts IS NOT NULL AND e.cid IS NOT NULL AND e.et NOT IN {conv_in}
        )
        SELECT c.ts AS cts,
               e.cust,
               coalesce(any_value(c.n), 0)::BIGINT AS n_conv,
               coalesce(any_value(c.rev), 0)::DOUBLE AS rev,
               coalesce({touches}, []) AS touches
               {flags}
        FROM ev e
        ASOF LEFT JOIN _journey_conv c ON e.cust = c.cust AND e.ts <= c.ts
        GROUP BY e.cust, c.ts"""
    )
    return radix, start_us


def _channel_mapping(
    names: list[str], spec: JourneySpec, warnings: list[str]
) -> tuple[dict[str, str | None], list[str]]:
    """Data channel name -> analysed channel name (None = dropped), and the sorted names."""
    if spec.channels is None:
        return {n: n for n in names}, sorted(names)
    listed = {normalise_channel_key(c): c for c in spec.channels}
    # The goal says paid_search where the data may say 'search' or 'Google Ads': a data
    # name the list lacks still matches through the canonical channel both stand for.
    by_canon: dict[str, str] = {}
    for k in listed:
        if (canon := canonical_channel(k)) is not None:
            by_canon.setdefault(canon, k)

    def match(name: str) -> str | None:
        key = normalise_channel_key(name)
        if key in listed:
            return key
        canon = canonical_channel(key)
        return by_canon.get(canon) if canon is not None else None

    found = {match(n) for n in names}
    absent = [c for k, c in listed.items() if k not in found]
    if len(absent) == len(listed) and names:
        raise DataError(
            "none of the requested channels appear in the data: " + ", ".join(spec.channels),
            source=SOURCE,
            column="channel",
            code="data.no-matching-channels",
            hint=(
                "the data's channels are: "
                + ", ".join(names[:20])
                + ("…" if len(names) > 20 else "")
                + "; set `channels` in the step's `with:` to names from that list"
            ),
        )
    if absent:
        warnings.append("requested channel(s) with no touches in the data: " + ", ".join(absent))
    mapping: dict[str, str | None] = {}
    for n in names:
        if match(n) is not None:
            mapping[n] = n
        else:
            mapping[n] = OTHER if spec.unlisted_channels == "group" else None
    unlisted = sorted(n for n in names if match(n) is None)
    if unlisted:
        how = f"grouped as {OTHER!r}" if spec.unlisted_channels == "group" else "dropped"
        warnings.append(f"touches on unlisted channel(s) {', '.join(unlisted)} were {how}")
    # 'other' comes last whatever the names' spelling.
    return mapping, sorted(
        {v for v in mapping.values() if v is not None}, key=lambda v: (v == OTHER, v)
    )


def _epoch_us(value: dt.datetime) -> int:
    delta = value - dt.datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _journey_view(con: Any, spec: JourneySpec, packing: tuple[int, int]) -> None:
    """The journeys after the lookback window: path, touch times, ages and days."""
    radix, start_us = packing
    # Unpack: channel id is the remainder, the time the quotient (microseconds).
    touches = "touches"
    if spec.lookback_days is not None:
        # The window ends at the conversion, or for a journey without one at its last touch.
        lb = round(spec.lookback_days * 86_400_000_000)
        end = f"coalesce(epoch_us(cts) - {start_us}, touches[-1] // {radix})"
        touches = f"list_filter(touches, lambda x: x // {radix} >= {end} - {lb})"
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW _journey_j AS
        WITH w AS (SELECT * REPLACE ({touches} AS touches) FROM _journey_raw)
        SELECT * EXCLUDE (touches),
               cts IS NOT NULL AS converted,
               list_transform(touches, lambda x: (x % {radix})::INTEGER) AS path,
               CASE WHEN cts IS NOT NULL
                    THEN list_transform(touches,
                         lambda x: (epoch_us(cts) - {start_us} - x // {radix}) / 86400e6)
               END AS ages
        FROM w"""
    )


def _facts(t: JourneyTables) -> None:
    con = t.con
    # Customers: hashes of the journeys' customer ids plus those with nothing but
    # conversions (64-bit hashes: a collision among millions of ids is ~1e-7 likely).
    (customers,) = con.execute(
        "SELECT count(DISTINCT cust) FROM ("
        "SELECT cust FROM _journey_raw UNION ALL SELECT cust FROM _journey_conv)"
    ).fetchone()
    t.customers = int(customers)
    conv, rev, groups = con.execute(
        "SELECT coalesce(sum(n), 0), coalesce(sum(rev), 0), count(*) FROM _journey_conv"
    ).fetchone()
    matched_j, matched_c, matched_r = con.execute(
        "SELECT count(*), coalesce(sum(n_conv), 0), coalesce(sum(rev), 0) "
        "FROM _journey_raw WHERE cts IS NOT NULL"
    ).fetchone()
    t.conversions, t.revenue = int(conv), float(rev)
    t.unmatched_journeys = int(groups) - int(matched_j)
    t.unmatched_conversions = int(conv) - int(matched_c)
    t.unmatched_revenue = float(rev) - float(matched_r)
