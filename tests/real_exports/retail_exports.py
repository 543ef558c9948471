"""Realistic exports of one simulated retailer, shaped the way the tools people use write
them: a GA4 BigQuery export flattened to CSV, a spreadsheet of weekly spend, a store's
weekly sales report, a CRM contact list and an email tool's send log.

The world is the demo generator's (so its truth is known), but nothing here follows a
Conductor contract: other column names, µs epoch timestamps, GA4 event names and
source / medium pairs, US dates, thousands separators, Y/N flags, personal data, per-
channel opt-ins and offsets in the timestamps. The same world is also written in the
contracts' shape, so a run on the exports can be compared with a run on clean data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

# GA4's source / medium for each of the world's channels.
SOURCE_MEDIUM = {
    "paid_search": ("google", "cpc"),
    "social": ("facebook", "paid_social"),
    "email": ("klaviyo", "email"),
    "display": ("google", "display"),
    "affiliate": ("awin", "affiliate"),
}
# The spend spreadsheet's channel names.
SPEND_NAMES = {
    "paid_search": "Google Ads",
    "social": "Meta Ads",
    "email": "Klaviyo",
    "display": "Google Display",
    "affiliate": "Awin Partners",
}
# GA4 event names for the world's event types.
EVENT_NAMES = {
    "touch": "session_start",
    "visit": "page_view",
    "add_to_cart": "add_to_cart",
    "checkout": "begin_checkout",
    "conversion": "purchase",
}


def _sql_map(mapping: dict[str, str], column: str) -> str:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE {column} {cases} END"


def write_exports(clean: Path, out: Path) -> dict[str, Path]:
    """Write the exports of the world in ``clean`` (a demo data folder) into ``out``.

    Returns:
        Export name -> file.
    """
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = {
        "events": out / "ga4_events.csv",
        "spend": out / "media_spend.csv",
        "outcomes": out / "weekly_sales.csv",
        "customers": out / "crm_contacts.csv",
        "exposures": out / "send_log.csv",
    }
    source = _sql_map({k: v[0] for k, v in SOURCE_MEDIUM.items()}, "channel")
    medium = _sql_map({k: v[1] for k, v in SOURCE_MEDIUM.items()}, "channel")
    # GA4: event_timestamp in microseconds since the epoch (UTC), traffic source on the
    # session_start events only, event names of its own, revenue on purchases.
    con.execute(
        f"""COPY (
            SELECT strftime(timestamp, '%Y%m%d') AS event_date,
                   epoch_us(timestamp) AS event_timestamp,
                   {_sql_map(EVENT_NAMES, "event_type")} AS event_name,
                   customer_id AS user_pseudo_id,
                   CASE WHEN event_type = 'touch' THEN {source} END AS source,
                   CASE WHEN event_type = 'touch' THEN {medium} END AS medium,
                   revenue AS purchase_revenue
            FROM '{clean / "events.parquet"}' ORDER BY timestamp
        ) TO '{files["events"]}' (HEADER)"""
    )
    # A spreadsheet: US dates, channel names as the media team writes them, amounts with
    # thousands separators (so every amount is quoted).
    con.execute(
        f"""COPY (
            SELECT strftime(date, '%m/%d/%Y') AS "Week",
                   {_sql_map(SPEND_NAMES, "channel")} AS "Channel",
                   format('{{:,.2f}}', spend) AS "Spend (USD)"
            FROM read_csv('{clean / "spend.csv"}') ORDER BY date, channel
        ) TO '{files["spend"]}' (HEADER, FORCE_QUOTE ("Spend (USD)"))"""
    )
    con.execute(
        f"""COPY (
            SELECT strftime(date, '%m/%d/%Y') AS "Week Starting",
                   format('{{:,.2f}}', revenue) AS "Total Sales",
                   conversions AS "Orders"
            FROM read_csv('{clean / "outcomes.csv"}') ORDER BY date
        ) TO '{files["outcomes"]}' (HEADER, FORCE_QUOTE ("Total Sales"))"""
    )
    # A CRM list: names and contact details, Y/N flags, one opt-in per channel. Only
    # some of those who opted in to email opted in to SMS or push.
    con.execute(
        f"""COPY (
            SELECT customer_id AS "Customer ID",
                   first_name AS "First Name",
                   'Lee' AS "Last Name",
                   lower(first_name) || '.' || customer_id || '@example.com' AS "Email",
                   '+1 303 555 ' || lpad(CAST(hash(customer_id) % 10000 AS VARCHAR), 4, '0')
                       AS "Phone",
                   CASE WHEN consent_marketing THEN 'Y' ELSE 'N' END AS "Email Opt-In",
                   CASE WHEN consent_marketing AND hash(customer_id || 'sms') % 2 = 0
                        THEN 'Y' ELSE 'N' END AS "SMS Opt-In",
                   CASE WHEN consent_marketing AND hash(customer_id || 'push') % 3 = 0
                        THEN 'Y' ELSE 'N' END AS "Push Opt-In",
                   CASE WHEN suppressed THEN 'Y' ELSE 'N' END AS "Do Not Contact",
                   age AS "Age", country AS "Country", tenure_days AS "Tenure (days)",
                   avg_order_value AS "Avg Order Value",
                   CASE WHEN loyalty_member THEN 'Y' ELSE 'N' END AS "Loyalty Member",
                   gender AS "Gender",
                   CASE WHEN health_interest THEN 'Y' ELSE 'N' END AS "Health Interest"
            FROM '{clean / "customers.parquet"}' ORDER BY customer_id
        ) TO '{files["customers"]}' (HEADER)"""
    )
    # An email tool's send log: local times with their offset, Y/N outcomes.
    con.execute(
        f"""COPY (
            SELECT customer_id AS "Customer ID",
                   strftime(timestamp + INTERVAL 2 HOUR, '%Y-%m-%dT%H:%M:%S.%f') || '+02:00'
                       AS "Sent At",
                   action AS "Campaign",
                   CASE WHEN reward = 1 THEN 'Y' ELSE 'N' END AS "Converted",
                   propensity AS "Send Probability"
            FROM '{clean / "exposures.parquet"}' ORDER BY timestamp
        ) TO '{files["exposures"]}' (HEADER)"""
    )
    con.close()
    return files


def day_of(path: Path) -> dt.date:
    """The last day of the world in a demo data folder (its ``today``)."""
    import json

    return dt.date.fromisoformat(json.loads((path / "truth.json").read_text())["today"])
