"""PII never reaches the log files."""

from __future__ import annotations

import json
from pathlib import Path

import structlog
from hypothesis import given
from hypothesis import strategies as st

from conductor.logging import configure_logging, redact_text, run_log_file


def test_redacts_emails_phones_and_cards() -> None:
    text = (
        "mail jane.doe@example.com or +44 20 7946 0958, card 4111 1111 1111 1111, order 2027-07-01"
    )
    out = redact_text(text)
    assert "jane.doe" not in out and "[EMAIL]" in out
    assert "7946" not in out and "[PHONE]" in out
    assert "4111" not in out and "[CARD]" in out
    assert "2027-07-01" in out  # dates are not phone numbers


def test_non_luhn_digit_runs_are_kept() -> None:
    assert redact_text("invoice 1234 5678 9012 3456") != "invoice [CARD]"


@given(
    user=st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,5})?", fullmatch=True),
    dom=st.sampled_from(["example.com", "shop.co.uk"]),
)
def test_any_email_is_redacted(user: str, dom: str) -> None:
    assert f"{user}@{dom}" not in redact_text(f"contact {user}@{dom} today")


def test_run_log_file_gets_redacted_json_lines(tmp_path: Path) -> None:
    configure_logging("critical")
    path = tmp_path / "run.log.jsonl"
    run_log_file(path)
    try:
        structlog.get_logger("t").info("sent", to="ann@example.com", step="offers")
    finally:
        run_log_file(None)
    line = json.loads(path.read_text().splitlines()[-1])
    assert line["to"] == "[EMAIL]"
    assert line["step"] == "offers"
