"""Personal data in free text: one set of detectors for the run log and the brand rules.

:func:`find_pii` finds email addresses, phone numbers, payment card numbers (Luhn-valid),
IBANs (country length and mod-97 check, through ``python-stdnum``) and national ids (a
US Social Security number written ``123-45-6789``, a UK National Insurance number
``QQ 12 34 56 C``). :mod:`conductor.logging` replaces every hit before an event is
written (:func:`redact`); the brand rule ``content.personal-data`` reports each hit in
copy with :func:`mask` in its excerpt, so a finding never repeats the data in full.

The patterns lean towards finding too much in a log (a redacted order number costs
nothing) but keep dates, prices, postcodes and plain order numbers out, because the same
detectors raise brand findings: a phone needs 9+ digits in groups (or a leading ``+``)
and is not an ISO or day-month date; a card must pass Luhn; an IBAN its check digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["KINDS", "PiiHit", "find_pii", "mask", "redact"]

Kind = Literal["email", "phone", "card", "iban", "national-id"]

KINDS: dict[str, tuple[str, str]] = {
    "email": ("an email address", "[EMAIL]"),
    "phone": ("a phone number", "[PHONE]"),
    "card": ("a card number", "[CARD]"),
    "iban": ("a bank account number (IBAN)", "[IBAN]"),
    "national-id": ("a national id number", "[NATIONAL-ID]"),
}
"""Each kind -> (how a reader names it, the placeholder the log gets instead)."""


@dataclass(frozen=True)
class PiiHit:
    """One piece of personal data found in a text: its kind and its span."""

    kind: Kind
    start: int
    end: int


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# Card numbers: 13-19 digits with optional single spaces/dashes, checked with Luhn.
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# IBAN: two capitals, two check digits, then the account, compact or in groups of four.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b")
# US SSN (same separator twice) and UK National Insurance number (HMRC's letter rules:
# no D, F, I, Q, U, V first; no D, F, I, O, Q, U, V second; suffix A-D).
_SSN = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-])")
_NINO = re.compile(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_NINO_UNUSED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
# Phone numbers: with a country code (+1 415 555 0132, +33 6 12 34 56 78, +14155550132),
# with an area code in brackets ((415) 555-0132) or in 3+ digit groups (415-555-0132,
# 1-800-555-0199) or a national trunk 0 and area code (030 12345678). A phone may end a sentence ("call 415 555 0132."), so the end is "no
# word character and no dot followed by a digit".
_PHONE = re.compile(
    r"(?<![\w.+#/-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,5}"
    r"|\(\d{1,4}\)[ .-]?\d{2,4}(?:[ .-]\d{2,4}){1,4}"
    r"|(?:1[ .-])?\d{2,4}(?:[ .-]\d{2,4}){2,4}"
    r"|0\d{1,4}[ /-]\d{4,8}"
    r")(?!\w|[.-]\d)"
)
# Dates written with dashes, dots or spaces look like short digit groups: not phones.
_DATE = re.compile(r"\d{4}[-. ]\d{1,2}[-. ]\d{1,2}\b|\d{1,2}[-. ]\d{1,2}[-. ]\d{4}\b")
_NON_DIGIT = re.compile(r"\D")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def _digits(text: str) -> str:
    return _NON_DIGIT.sub("", text)


def _is_card(text: str) -> bool:
    from stdnum import luhn  # imported when a number is found: ~10 ms of every start-up

    d = _digits(text)
    return 13 <= len(d) <= 19 and luhn.is_valid(d)


def _is_ssn(m: re.Match[str]) -> bool:
    # The SSA never issues area 000, 666 or 900-999, group 00 or serial 0000.
    area, group, serial = m.group(1), m.group(3), m.group(4)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _iban_span(m: re.Match[str]) -> tuple[int, int] | None:
    """The longest valid IBAN at the start of ``m`` (groups after it may be other words)."""
    from stdnum import iban

    text = m.group()
    cuts = [len(text)] + [i for i in range(len(text) - 1, 4, -1) if text[i] == " "]
    for cut in cuts:
        if iban.is_valid(text[:cut]):
            return m.start(), m.start() + cut
    return None


def _is_phone(text: str) -> bool:
    d = _digits(text)
    if not 9 <= len(d) <= 15:
        return False
    return text.startswith("+") or _DATE.match(text) is None


# A currency sign or code right next to the digits: an amount ("2027 30 000 €": a year
# then thirty thousand euros), never a phone number.
_MONEY_AFTER = re.compile(r"\s?(?:[€$£¥%]|(?:EUR|USD|GBP|CHF|JPY)\b)")
_MONEY_BEFORE = re.compile(r"(?:[€$£¥]|\b(?:EUR|USD|GBP|CHF|JPY))\s?$")


def _is_money(text: str, start: int, end: int) -> bool:
    return (
        _MONEY_AFTER.match(text, end) is not None
        or _MONEY_BEFORE.search(text, max(0, start - 5), start) is not None
    )


def find_pii(text: str) -> list[PiiHit]:
    """Every piece of personal data in ``text``, in text order, never overlapping.

    Where two detectors claim the same characters the more specific wins (an email over
    the digits in it; a card, IBAN or national id over a phone number).
    """
    # Every kind needs an "@" or at least 6 digits (a UK NI number has 6): most copy has
    # neither, and counting digits is far cheaper than running the patterns.
    if "@" not in text and sum(map(text.count, "0123456789")) < 6:
        return []
    hits: list[PiiHit] = []
    taken: list[tuple[int, int]] = []

    def add(kind: Kind, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        hits.append(PiiHit(kind, start, end))

    if "@" in text:
        for m in _EMAIL.finditer(text):
            add("email", *m.span())
    for m in _IBAN.finditer(text):
        span = _iban_span(m)
        if span is not None:
            add("iban", *span)
    for m in _CARD.finditer(text):
        if _is_card(m.group()):
            add("card", *m.span())
    for m in _SSN.finditer(text):
        if _is_ssn(m):
            add("national-id", *m.span())
    for m in _NINO.finditer(text):
        if m.group(1) not in _NINO_UNUSED:
            add("national-id", *m.span())
    for m in _PHONE.finditer(text):
        if _is_phone(m.group()) and not _is_money(text, *m.span()):
            add("phone", *m.span())
    hits.sort(key=lambda h: h.start)
    return hits


def redact(text: str) -> str:
    """``text`` with each piece of personal data replaced by its kind's placeholder."""
    hits = find_pii(text)
    if not hits:
        return text
    parts: list[str] = []
    last = 0
    for h in hits:
        parts += [text[last : h.start], KINDS[h.kind][1]]
        last = h.end
    parts.append(text[last:])
    return "".join(parts)


def mask(kind: str, value: str) -> str:
    """``value`` with most of its letters and digits hidden, for a finding's excerpt.

    An email keeps its first letter and its top-level domain (``j•••••••@•••••••.com``);
    numbers keep their last two digits (a card its last four, as receipts print them).
    Separators stay, so the reader still recognises what kind of thing it was.
    """
    if kind == "email":
        local, _, domain = value.partition("@")
        host, dot, tld = domain.rpartition(".")
        return local[:1] + "•" * (len(local) - 1) + "@" + "•" * len(host) + dot + tld
    keep = 4 if kind == "card" else 2
    alnum = [i for i, c in enumerate(value) if not _NOT_ALNUM.match(c)]
    shown = set(alnum[-keep:])
    return "".join(c if i in shown or _NOT_ALNUM.match(c) else "•" for i, c in enumerate(value))
