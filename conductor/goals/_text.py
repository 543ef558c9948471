"""The text model the goal parser works on: one normalised document, the numbers and
mentions found in it, and what has been extracted so far (see :mod:`conductor.goals._parser`)."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from conductor.errors import GoalError
from conductor.goals._model import Constraint, Span

# One-to-one character replacements, so offsets in the normalised text are offsets in
# the original text too.
_TRANSLATE = {
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2007": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\t": " ",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
}


def _normalise(text: str) -> str:
    out = []
    for ch in text:
        ch = _TRANSLATE.get(ch, ch)
        low = ch.lower()
        # A few characters lower-case to two ("İ"); keep those as they are.
        out.append(low if len(low) == 1 else ch)
    return "".join(out)


@dataclass
class Qty:
    """A number found in the text."""

    start: int
    end: int
    kind: str  # money | percent | points | factor | number
    value: float
    currency: str | None = None
    claimed: bool = False


@dataclass(frozen=True)
class Mention:
    """A lexicon phrase found in the text; ``key`` is the canonical value."""

    start: int
    end: int
    key: str
    extra: str = ""


@dataclass(frozen=True)
class UnusedWord:
    """A goal word no value was read from (see :mod:`conductor.goals._unused`)."""

    start: int
    end: int
    word: str  # lower case
    phrase: str  # the word and the next one, as written ("repeat purchases")
    hinted: bool  # whether the lexicon's hint for the word fits here


@dataclass
class Extraction:
    """What the extractors found. ``fields`` holds values ready for ``BusinessGoal``."""

    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[GoalError] = field(default_factory=list)
    currency_explicit: bool = False
    currency_hint: tuple[str, str] | None = None  # (currency, span text) from another amount
    budget_from_cap: bool = False
    # An absolute target stated per period ('500 leads a month'): the period's unit and
    # the words, so the goal can total it over its horizon.
    target_per: tuple[str, str] | None = None
    budget_per: tuple[str, str] | None = None  # the same for a budget ('$50k a month')
    # The same for spending caps and floors ('at most $20k a month on TikTok'), by index in
    # ``fields['constraints']``.
    constraint_per: dict[int, tuple[str, str]] = field(default_factory=dict)
    # Where the extractors read cue words no span records ("new" making sign-ups an
    # acquisition goal, a market left out), and the goal words no value was read from.
    used: list[tuple[int, int]] = field(default_factory=list)
    unused: list[UnusedWord] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def fail(self, message: str, *, code: str, hint: str = "") -> None:
        self.errors.append(GoalError(message, text=self.text, code=code, hint=hint))


class _Doc:
    """The goal text, a same-length lower-cased copy, and a working copy with holes."""

    _SENTENCE = re.compile(r"[.!?;](?=\s|$)|\n")
    _CLAUSE = re.compile(
        r"[.!?;:](?=\s|$)|\n|,(?=\s)|\s-\s|[()\[\]]"
        r"|\b(?:while|whilst|and|but|with|whereas|plus|without|except|excluding)\b"
    )
    _WINDOW = re.compile(
        r"[.!?;](?=\s|$)|\n|[()\[\]]|\b(?:while|whilst|and|but|with|whereas|plus|without)\b"
    )

    def __init__(self, text: str, today: dt.date) -> None:
        self.text = text
        self.low = _normalise(text)
        self.work = self.low
        self.today = today
        self._bounds = {
            "sentence": self._positions(self._SENTENCE),
            "clause": self._positions(self._CLAUSE),
            "window": self._positions(self._WINDOW),
        }

    def _positions(self, rx: re.Pattern[str]) -> tuple[list[int], list[int]]:
        starts, ends = [], []
        for m in rx.finditer(self.low):
            starts.append(m.start())
            ends.append(m.end())
        return starts, ends

    def bounds(self, start: int, end: int, kind: str = "clause") -> tuple[int, int]:
        """The enclosing sentence / clause / target window of ``[start, end)``."""
        starts, ends = self._bounds[kind]
        i = bisect.bisect_right(ends, start)
        left = ends[i - 1] if i > 0 else 0
        j = bisect.bisect_left(starts, end)
        right = starts[j] if j < len(starts) else len(self.low)
        # A boundary that sits inside the span itself (e.g. "4,000") does not cut it.
        return min(left, start), max(right, end)

    def mask(self, start: int, end: int) -> None:
        self.work = self.work[:start] + " " * (end - start) + self.work[end:]

    def span(self, start: int, end: int) -> Span:
        """A span of the original text, trimmed of spaces and punctuation at the edges."""
        while start < end and (self.text[start].isspace() or self.text[start] in ",;:"):
            start += 1
        while end > start and (self.text[end - 1].isspace() or self.text[end - 1] in ",;:."):
            end -= 1
        return Span(start=start, end=end, text=self.text[start:end])


class _Found:
    """Mutable findings shared by the extractors of one parse."""

    def __init__(self) -> None:
        self.constraints: list[Constraint] = []
        self.constraint_ranges: list[tuple[int, int]] = []
        self.channel_amounts: list[tuple[int, int]] = []
        self.min_shares: list[tuple[str, float, Span]] = []
        self.money_currencies: list[tuple[str, Span]] = []
        self.budget: tuple[Qty, Span] | None = None


_PER_PERIOD = re.compile(
    r"\s*(?:(?:per|a|an|each|every|/)\s*(?P<unit>day|week|month|quarter|year)\b"
    r"|(?P<adverb>daily|weekly|monthly|quarterly|yearly|annually)\b)"
)
PER_ADVERB = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
    "annually": "year",
}


def per_period(doc: _Doc, pos: int) -> tuple[str, int] | None:
    """'per month', 'a week', 'monthly' right at ``pos``: the unit and where the words end."""
    m = _PER_PERIOD.match(doc.work, pos)
    if m is None:
        return None
    return m.group("unit") or PER_ADVERB[m.group("adverb")], m.end()
