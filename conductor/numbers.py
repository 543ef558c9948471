"""Numbers written for people: thousands separators, percentages, signs, percentage points.

Shared by the run report and the agents' own sentences (an ``Insight``'s statement), so a
number reads the same wherever it is shown. Every function takes anything: a value that is
not a finite number prints as ``—``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["change_words", "number", "percent", "points", "signed", "significant"]

NOTHING = "—"


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except Exception:  # anything that is not a number (a template's
        # Undefined raises its own error) prints as "no number", never breaks a page
        return None
    return x if math.isfinite(x) else None


def number(value: Any, digits: int = 0) -> str:
    """``1234.5`` → ``"1,235"`` (``digits`` after the point, thousands separated)."""
    x = _finite(value)
    return NOTHING if x is None else f"{x:,.{digits}f}"


def signed(value: Any, digits: int = 0) -> str:
    """``1234.5`` → ``"+1,235"``, ``-3`` → ``"-3"``; zero has no sign."""
    x = _finite(value)
    if x is None:
        return NOTHING
    text = f"{abs(x):,.{digits}f}"
    if float(text.replace(",", "")) == 0:
        return text
    return ("+" if x > 0 else "-") + text


def significant(value: Any, digits: int = 3, *, sign: bool = False) -> str:
    """A number to ``digits`` significant figures, never in e-notation: ``0.002532`` →
    ``"0.00253"``, ``12345.6`` → ``"12,346"`` (``"+12,346"`` with ``sign``)."""
    x = _finite(value)
    if x is None:
        return NOTHING
    if x == 0:
        return "0"
    places = max(digits - 1 - math.floor(math.log10(abs(x))), 0)
    text = f"{abs(x):,.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    if x < 0:
        return "-" + text
    return "+" + text if sign else text


def percent(value: Any, digits: int = 1, *, sign: bool = False) -> str:
    """A share as a percentage: ``0.1234`` → ``"12.3%"`` (``"+12.3%"`` with ``sign``)."""
    x = _finite(value)
    if x is None:
        return NOTHING
    return (signed(x * 100, digits) if sign else number(x * 100, digits)) + "%"


def points(value: Any, digits: int = 2, *, sign: bool = True) -> str:
    """A difference of two rates in percentage points: ``-0.002532`` → ``"-0.25 pp"``."""
    x = _finite(value)
    if x is None:
        return NOTHING
    return (signed(x * 100, digits) if sign else number(abs(x) * 100, digits)) + " pp"


def change_words(value: Any, *, rate: bool, digits: int = 2) -> tuple[str, str]:
    """A gain as a verb and an unsigned size: ``("adds", "0.25 percentage points")`` or
    ``("loses", "0.25 percentage points")``; a rate's change is in percentage points,
    anything else to three significant figures.

    So a sentence never says "adds -0.0025": a negative gain is a loss.
    """
    x = _finite(value) or 0.0
    verb = "loses" if x < 0 else "adds"
    size = f"{number(abs(x) * 100, digits)} percentage points" if rate else significant(abs(x))
    return verb, size
