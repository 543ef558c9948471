"""Refuse event data that would give an empty analysis instead of reporting zeros.

Raw exports rarely say ``touch`` and ``conversion``: GA4 writes ``purchase`` and
``session_start``, a CRM ``order_placed``. Without these guards such a file "succeeds"
with 0 conversions across 0 channels, which reads like a result; an error that lists
the event types the file does hold, and says how to map them, is what the user needs.
"""

from __future__ import annotations

from typing import Any

from conductor import DataError

__all__ = ["check_touches_and_conversions"]

SOURCE = "events"
TOUCH = "touch"
CONVERSION = "conversion"
_SHOWN = 6  # event types listed in the message

# Raw event names that usually mean a conversion or a touch, best first: the hint's
# example uses one of them when the data has it.
_CONVERSION_LIKE = (
    "purchase", "order", "order_placed", "order_completed", "transaction", "checkout_complete",
    "sale", "sign_up", "signup", "lead", "subscribe",
)  # fmt: skip
_TOUCH_LIKE = (
    "session_start", "ad_click", "click", "campaign_click", "impression", "ad_impression",
    "email_open", "email_click", "visit", "page_view",
)  # fmt: skip


def check_touches_and_conversions(
    con: Any,
    *,
    has_conversions: bool,
    has_touches: bool,
    columns: dict[str, str | None],
    file: Any,
) -> None:
    """Raise when no usable conversion, or no touch with a channel, is in ``_journey_events``.

    Args:
        con: The cursor holding the ``_journey_events`` view.
        has_conversions: Whether any usable event has event_type ``conversion``.
        has_touches: Whether any usable ``touch`` event has a channel.
        columns: Contract column -> the source's column (for the message).
        file: The source's file (for the message).

    Raises:
        DataError: ``data.no-conversions`` or ``data.no-touches``.
    """
    if has_conversions and has_touches:
        return
    counts = _event_types(con)
    et_col = columns.get("event_type") or "event_type"
    found = _listing(counts)
    if not has_conversions:
        example = _pick(counts, _CONVERSION_LIKE, avoid=TOUCH)
        also = "" if has_touches else " (nor any touch with a channel)"
        raise DataError(
            f"no conversion events: no row has event_type {CONVERSION!r}{also}, so there is "
            f"nothing to attribute; the {et_col!r} values found are: {found}",
            source=SOURCE,
            column=et_col,
            file=file,
            code="data.no-conversions",
            hint=_hint(example, CONVERSION),
        )
    touches = sum(n for v, n in counts if v.strip().lower() == TOUCH)
    if touches:
        ch_col = columns.get("channel") or "channel"
        raise DataError(
            f"no touches with a channel: all {touches:,} '{TOUCH}' event(s) have an empty "
            f"{ch_col!r}, so no conversion can be credited to a channel",
            source=SOURCE,
            column=ch_col,
            file=file,
            code="data.no-touches",
            hint=(
                "if another column holds the channel (utm_source, say), map it under the "
                "source: `columns: {channel: utm_source}`"
            ),
        )
    example = _pick(counts, _TOUCH_LIKE, avoid=CONVERSION)
    raise DataError(
        f"no touches: no row has event_type {TOUCH!r}, so no conversion can be credited to "
        f"a channel; the {et_col!r} values found are: {found}",
        source=SOURCE,
        column=et_col,
        file=file,
        code="data.no-touches",
        hint=_hint(example, TOUCH),
    )


def _event_types(con: Any) -> list[tuple[str, int]]:
    """(raw event_type, events) of the usable events, most frequent first."""
    rows = con.execute(
        "SELECT coalesce(et, ''), count(*) FROM _journey_events "
        "WHERE cid IS NOT NULL AND ts IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    return [(str(v), int(n)) for v, n in rows]


def _listing(counts: list[tuple[str, int]]) -> str:
    if not counts:
        return "none (no event has a customer_id and a timestamp)"
    shown = ", ".join(f"{v or '(empty)'} ({n:,})" for v, n in counts[:_SHOWN])
    more = len(counts) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _pick(counts: list[tuple[str, int]], likely: tuple[str, ...], avoid: str) -> str:
    """The found value most likely meant (a known name, else the most frequent)."""
    present = {v.strip().lower(): v for v, _ in counts if v.strip()}
    for name in likely:
        if name in present:
            return present[name]
    for v, _ in counts:
        if v.strip() and v.strip().lower() not in (avoid, TOUCH, CONVERSION):
            return v
    return "purchase" if avoid == TOUCH else "session_start"


def _hint(example: str, target: str) -> str:
    return (
        "map your event names onto the agent's under the source in `data:`, e.g. "
        f"`events: {{path: events.parquet, values: {{event_type: {{{example}: {target}}}}}}}` "
        f"(one entry per name that means a {target}); if another column holds the event "
        "kind, name it with `columns: {event_type: event_name}`"
    )
