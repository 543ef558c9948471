"""Horizons for the goal parser: dates, ranges and periods ("Q3 2027", "next quarter",
"by end of March", "over the next 6 weeks") resolved against today."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable

from conductor.errors import GoalError
from conductor.goals import _lexicon as lex
from conductor.goals._model import Horizon
from conductor.goals._text import Extraction, _Doc

__all__ = ["parse_horizon_text"]

# ------------------------------------------------------------------------------ horizons

_MONTH = rf"(?:{lex.alternation(lex.MONTHS)})\.?"
_YEAR = r"(?:20\d{2}|'\d{2})(?![\d%])"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?(?!\d)"
_NUMW = rf"(?:\d{{1,3}}|{lex.alternation(k for k in lex.NUMBER_WORDS if k not in ('a', 'an'))})"
_UNITS = r"(?:days?|weeks?|months?|quarters?|years?)"


def _date_rx(p: str) -> str:
    return (
        rf"(?:(?P<{p}iso>20\d{{2}}-[01]\d-[0-3]\d)"
        rf"|(?P<{p}d1>{_DAY})(?:\s+of)?\s+(?P<{p}m1>{_MONTH}),?(?:\s+(?P<{p}y1>{_YEAR}))?"
        rf"|(?P<{p}m2>{_MONTH})\s+(?P<{p}d2>{_DAY})(?:,?\s+(?P<{p}y2>{_YEAR}))?)"
    )


_SEP = r"\s*(?:-|\.\.|to|until|till|through|thru|and)\s*"
_H_RANGE = re.compile(rf"(?:\b(?:from|between)\s+)?{_date_rx('a')}{_SEP}{_date_rx('b')}")
_H_MONTH_RANGE = re.compile(
    rf"(?:\b(?:from|between)\s+)?\b(?P<ma>{_MONTH})(?:\s+(?P<ya>{_YEAR}))?{_SEP}"
    rf"(?:the\s+end\s+of\s+)?\b(?P<mb>{_MONTH})(?:\s+(?P<yb>{_YEAR}))?(?![\w])"
)
_H_START_FOR = re.compile(
    rf"\b(?:starting|from|beginning|commencing|kicking\s+off)\s+(?:on\s+|in\s+)?"
    rf"(?:{_date_rx('s')}|(?P<sm>{_MONTH})(?:\s+(?P<sy>{_YEAR}))?"
    rf"|(?P<rel>next\s+month|next\s+week|next\s+quarter|today|tomorrow|now))"
    rf"\s*,?\s*(?:and\s+)?(?:for|over|lasting|running)\s+(?:the\s+next\s+)?"
    rf"(?P<n>{_NUMW})\s+(?P<u>{_UNITS})\b"
)
_H_START = re.compile(
    rf"\b(?:starting|beginning|commencing|from)\s+(?:on\s+)?{_date_rx('s')}(?!\s*(?:-|to)\s*\d)"
)
_H_BY = re.compile(
    r"\b(?:by|before|until|till|through|thru|no\s+later\s+than)\s+(?:the\s+)?"
    r"(?:(?P<endof>end\s+of\s+(?:the\s+)?|close\s+of\s+(?:the\s+)?)?"
    rf"(?:{_date_rx('e')}"
    rf"|q(?P<q>[1-4])(?:\s*(?P<qy>{_YEAR}))?"
    rf"|h(?P<h>[12])(?:\s*(?P<hy>{_YEAR}))?"
    rf"|(?P<m>{_MONTH})(?:\s+(?P<my>{_YEAR}))?"
    r"|(?P<rel>this|next|the|current)\s+(?P<ru>year|quarter|month|fiscal\s+year)"
    r"|(?P<bare>year|quarter|month)"
    r"|(?P<ye>year[\s-]?end|eoy|eoq|quarter[\s-]?end|month[\s-]?end)"
    rf"|(?P<y>{_YEAR})))(?![\w%])"
)
_H_ROLLING = re.compile(
    r"\b(?:(?:over|in|within|during|for|across|throughout)\s+)?(?:the\s+)?"
    rf"(?:next|coming|following|upcoming)\s+(?P<n>{_NUMW})\s+(?P<u>{_UNITS})\b"
    rf"|\b(?:over|within|in|for|during)\s+(?P<n2>{_NUMW})\s+(?P<u2>{_UNITS})\b"
    rf"|\b(?:a\s+)?(?P<n3>{_NUMW})[\s-](?P<u3>day|week|month)\s+"
    r"(?:campaign|sprint|push|period|window|flight|burst|test|programme|program)\b"
)
_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_YEAR_WORD = rf"(?:{_YEAR}|this\s+year|next\s+year)"
_H_PERIOD = re.compile(
    rf"\bq(?P<q>[1-4])(?:\s*(?:of\s+)?(?P<qy>{_YEAR_WORD}))?(?![\w%])"
    rf"|\b(?P<qy2>20\d{{2}})\s*-?\s*q(?P<q2>[1-4])\b"
    rf"|\b(?:the\s+)?(?P<qo>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter"
    rf"(?:\s+(?:of\s+)?(?P<qoy>{_YEAR_WORD}))?"
    rf"|\bh(?P<h>[12])(?:\s*(?:of\s+)?(?P<hy>{_YEAR_WORD}))?(?![\w%])"
    rf"|\b(?:the\s+)?(?P<ho>first|second)\s+half(?:\s+of\s+(?:the\s+)?(?P<hoy>{_YEAR_WORD}|year))?"
    r"|\b(?:the\s+)?(?P<rest>rest|remainder|balance)\s+of\s+(?:the\s+|this\s+)?"
    r"(?P<restu>year|quarter|month)\b"
    r"|\b(?P<this>this|current|the\s+current|next|the\s+next)\s+(?P<thisu>quarter|month|year)\b"
    rf"|\b(?:in|for|during|throughout|across|over)\s+(?:the\s+year\s+|fy\s?)?(?P<y>20\d{{2}})"
    r"(?![\w%])(?!\s*-?\s*q[1-4])"
    r"|\bfy\s?(?P<fy>20\d{2}|\d{2})\b"
    rf"|\b(?:in|for|during|throughout|across|over)\s+(?P<m>{_MONTH})(?:\s+(?P<my>{_YEAR}))?(?![\w])"
    rf"|\b(?P<m2>{_MONTH})\s+(?P<my2>20\d{{2}})(?![\w%])"
)


def _year(token: str | None, today: dt.date) -> int | None:
    if token is None:
        return None
    token = token.strip()
    if token.startswith("'"):
        return 2000 + int(token[1:])
    if token in ("this year", "this  year"):
        return today.year
    if token.startswith("next"):
        return today.year + 1
    if token.startswith("this"):
        return today.year
    return int(token)


def _month(token: str) -> int:
    return lex.MONTHS[token.rstrip(".")]


def _add_months(d: dt.date, months: int) -> dt.date:
    idx = d.month - 1 + months
    year, month = d.year + idx // 12, idx % 12 + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _quarter_bounds(year: int, q: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 3 * q - 2, 1), _month_bounds(year, 3 * q)[1]


def _half_bounds(year: int, h: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 6 * h - 5, 1), _month_bounds(year, 6 * h)[1]


def _upcoming(bounds: Callable[[int], tuple[dt.date, dt.date]], today: dt.date) -> int:
    """The year in which a named period (Q3, H1, March) next has days left."""
    return today.year if bounds(today.year)[1] >= today else today.year + 1


def _duration_end(start: dt.date, n: int, unit: str) -> dt.date:
    unit = unit.rstrip("s")
    if unit == "day":
        return start + dt.timedelta(days=n - 1)
    if unit == "week":
        return start + dt.timedelta(days=7 * n - 1)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    return _add_months(start, months * n) - dt.timedelta(days=1)


def _number_word(token: str) -> int:
    token = token.strip()
    return int(token) if token.isdigit() else lex.NUMBER_WORDS[token]


def _fmt(d: dt.date) -> str:
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


def _date(m: re.Match[str], p: str) -> tuple[int | None, int, int]:
    """(year or None, month, day) from a ``_date_rx(p)`` match."""
    if m.group(f"{p}iso"):
        y, mo, d = (int(x) for x in m.group(f"{p}iso").split("-"))
        return y, mo, d
    for i in ("1", "2"):
        if m.group(f"{p}m{i}"):
            day = int(re.sub(r"\D", "", m.group(f"{p}d{i}")))
            return _year(m.group(f"{p}y{i}"), dt.date.min), _month(m.group(f"{p}m{i}")), day
    raise AssertionError("date regex matched without a date")


def _upcoming_date(month: int, day: int, today: dt.date) -> dt.date:
    d = dt.date(today.year, month, day)
    return d if d >= today else dt.date(today.year + 1, month, day)


def _horizon_range(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date, str]:
    ya, ma, da = _date(m, "a")
    yb, mb, db = _date(m, "b")
    if yb is None:
        if ya is not None:
            yb = ya if (mb, db) >= (ma, da) else ya + 1
        else:
            yb = _upcoming_date(mb, db, today).year
    if ya is None:
        ya = yb if (ma, da) <= (mb, db) else yb - 1
    start, end = dt.date(ya, ma, da), dt.date(yb, mb, db)
    return start, end, f"{_fmt(start)} to {_fmt(end)}"


def _horizon_month_range(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date, str]:
    ma, mb = _month(m.group("ma")), _month(m.group("mb"))
    ya, yb = _year(m.group("ya"), today), _year(m.group("yb"), today)
    if yb is None:
        if ya is not None:
            yb = ya if mb >= ma else ya + 1
        else:
            yb = _upcoming(lambda y: _month_bounds(y, mb), today)
    if ya is None:
        ya = yb if ma <= mb else yb - 1
    start, end = _month_bounds(ya, ma)[0], _month_bounds(yb, mb)[1]
    return start, end, f"{calendar.month_name[ma]} {ya} to {calendar.month_name[mb]} {yb}"


def _horizon_start_for(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date, str]:
    if m.group("sm"):
        month = _month(m.group("sm"))
        y = _year(m.group("sy"), today) or _upcoming(lambda y: _month_bounds(y, month), today)
        start = dt.date(y, month, 1)
    elif m.group("rel"):
        rel = m.group("rel").split()[-1]
        start = {
            "month": _add_months(today.replace(day=1), 1),
            "week": today + dt.timedelta(days=7 - today.weekday()),
            "quarter": _quarter_bounds(today.year, (today.month - 1) // 3 + 1)[1]
            + dt.timedelta(days=1),
            "tomorrow": today + dt.timedelta(days=1),
        }.get(rel, today)
    else:
        sy, mo, d = _date(m, "s")
        start = dt.date(sy, mo, d) if sy is not None else _upcoming_date(mo, d, today)
    n, unit = _number_word(m.group("n")), m.group("u")
    end = _duration_end(start, n, unit)
    return start, end, f"{n} {unit} from {_fmt(start)}"


def _horizon_by(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date, str]:
    g = m.group
    if g("eiso") or g("em1") or g("em2"):
        y, mo, d = _date(m, "e")
        end = dt.date(y, mo, d) if y is not None else _upcoming_date(mo, d, today)
        return today, end, f"until {_fmt(end)}"
    if g("q"):
        q = int(g("q"))
        y = _year(g("qy"), today) or _upcoming(lambda y: _quarter_bounds(y, q), today)
        return today, _quarter_bounds(y, q)[1], f"until end of Q{q} {y}"
    if g("h"):
        h = int(g("h"))
        y = _year(g("hy"), today) or _upcoming(lambda y: _half_bounds(y, h), today)
        return today, _half_bounds(y, h)[1], f"until end of H{h} {y}"
    if g("m"):
        mo = _month(g("m"))
        y = _year(g("my"), today) or _upcoming(lambda y: _month_bounds(y, mo), today)
        return today, _month_bounds(y, mo)[1], f"until end of {calendar.month_name[mo]} {y}"
    if g("y"):
        y = _year(g("y"), today) or today.year
        return today, dt.date(y, 12, 31), f"until end of {y}"
    unit = (g("ru") or g("bare") or g("ye") or "year").lower()
    nxt = g("rel") == "next"
    if unit.startswith("quarter") or unit == "eoq":
        q = (today.month - 1) // 3 + 1
        end = _quarter_bounds(today.year, q)[1]
        if nxt:
            end = _add_months(end + dt.timedelta(days=1), 3) - dt.timedelta(days=1)
        return today, end, f"until end of the {'next ' if nxt else ''}quarter"
    if unit.startswith("month"):
        end = _month_bounds(today.year, today.month)[1]
        if nxt:
            end = _add_months(end + dt.timedelta(days=1), 1) - dt.timedelta(days=1)
        return today, end, f"until end of the {'next ' if nxt else ''}month"
    year = today.year + (1 if nxt else 0)
    return today, dt.date(year, 12, 31), f"until end of {year}"


def _horizon_rolling(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date, str]:
    n_tok = m.group("n") or m.group("n2") or m.group("n3")
    unit = m.group("u") or m.group("u2") or m.group("u3")
    n = _number_word(n_tok)
    if not unit.endswith("s"):
        unit += "s"
    return today, _duration_end(today, n, unit), f"next {n} {unit}"


def _horizon_start(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date, str]:
    y, mo, d = _date(m, "s")
    start = dt.date(y, mo, d) if y is not None else _upcoming_date(mo, d, today)
    return start, _duration_end(start, 3, "months"), f"3 months from {_fmt(start)}"


def _horizon_period(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date, str]:
    g = m.group
    if g("q") or g("q2") or g("qo"):
        q = int(g("q") or g("q2") or 0) or _ORD[g("qo")]
        y = _year(g("qy") or g("qy2") or g("qoy"), today)
        y = y or _upcoming(lambda y: _quarter_bounds(y, q), today)
        start, end = _quarter_bounds(y, q)
        return start, end, f"Q{q} {y}"
    if g("h") or g("ho"):
        h = int(g("h") or 0) or _ORD[g("ho")]
        ytok = g("hy") or g("hoy")
        y = _year(ytok if ytok != "year" else "this year", today)
        y = y or _upcoming(lambda y: _half_bounds(y, h), today)
        start, end = _half_bounds(y, h)
        return start, end, f"H{h} {y}"
    if g("rest"):
        unit = g("restu")
        if unit == "year":
            end = dt.date(today.year, 12, 31)
        elif unit == "quarter":
            end = _quarter_bounds(today.year, (today.month - 1) // 3 + 1)[1]
        else:
            end = _month_bounds(today.year, today.month)[1]
        return today, end, f"rest of the {unit}"
    if g("this"):
        unit, nxt = g("thisu"), "next" in g("this")
        if unit == "year":
            y = today.year + (1 if nxt else 0)
            return dt.date(y, 1, 1), dt.date(y, 12, 31), str(y)
        if unit == "quarter":
            q0 = _quarter_bounds(today.year, (today.month - 1) // 3 + 1)[0]
            start = _add_months(q0, 3) if nxt else q0
            q = (start.month - 1) // 3 + 1
            return (*_quarter_bounds(start.year, q), f"Q{q} {start.year}")
        start = _add_months(today.replace(day=1), 1 if nxt else 0)
        s, e = _month_bounds(start.year, start.month)
        return s, e, f"{calendar.month_name[s.month]} {s.year}"
    if g("y") or g("fy"):
        tok = g("y") or g("fy")
        y = int(tok) if len(tok) == 4 else 2000 + int(tok)
        return dt.date(y, 1, 1), dt.date(y, 12, 31), str(y)
    mo = _month(g("m") or g("m2"))
    y = _year(g("my") or g("my2"), today) or _upcoming(lambda y: _month_bounds(y, mo), today)
    s, e = _month_bounds(y, mo)
    return s, e, f"{calendar.month_name[mo]} {y}"


_HORIZON_GRAMMAR: tuple[
    tuple[re.Pattern[str], Callable[[re.Match[str], dt.date], tuple[dt.date, dt.date, str]]], ...
] = (
    (_H_RANGE, _horizon_range),
    (_H_START_FOR, _horizon_start_for),
    (_H_MONTH_RANGE, _horizon_month_range),
    (_H_BY, _horizon_by),
    (_H_ROLLING, _horizon_rolling),
    (_H_START, _horizon_start),
    (_H_PERIOD, _horizon_period),
)


def _may_is_a_verb(doc: _Doc, m: re.Match[str]) -> bool:
    """'may' is a month only when written 'May' or next to a day or year."""
    text = doc.text[m.start() : m.end()]
    found = re.search(r"\bmay\b", text, re.IGNORECASE)
    return bool(found and "May" not in text and not re.search(r"\d", text))


def _horizons(doc: _Doc, ex: Extraction) -> None:
    found: list[tuple[int, int, Horizon]] = []
    for rx, build in _HORIZON_GRAMMAR:
        for m in rx.finditer(doc.work):
            if not doc.work[m.start() : m.end()].strip() or _may_is_a_verb(doc, m):
                continue
            try:
                start, end, label = build(m, doc.today)
                horizon = Horizon(start=start, end=end, label=label)
            except (ValueError, KeyError, OverflowError) as exc:
                span = doc.span(m.start(), m.end())
                ex.fail(
                    f"the period {span.text!r} is not a valid date range ({_reason(exc)})",
                    code="goal.invalid-horizon",
                    hint="write dates like '1 March 2027', 'Q3 2027' or '2027-03-01 to 2027-04-30'",
                )
                doc.mask(m.start(), m.end())
                continue
            found.append((m.start(), m.end(), horizon))
            doc.mask(m.start(), m.end())
    if not found:
        return
    found.sort(key=lambda f: f[0])
    first = found[0]
    others = [f for f in found[1:] if (f[2].start, f[2].end) != (first[2].start, first[2].end)]
    if others:
        texts = ", ".join(repr(doc.span(f[0], f[1]).text) for f in [first, *others])
        ex.fail(
            f"the goal states more than one period: {texts}",
            code="goal.contradiction",
            hint="state one period, e.g. 'in Q3 2027' or 'from 1 March to 30 April 2027'",
        )
    horizon = first[2]
    ex.fields["horizon"] = horizon
    ex.spans["horizon"] = doc.span(first[0], first[1])
    if horizon.end < doc.today:
        ex.warn(f"the period {horizon.label} ended before today ({doc.today.isoformat()})")
    elif horizon.start < doc.today:
        ex.warn(f"the period {horizon.label} has already started; the whole period is used")


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()
    return text[-1].strip() if text else type(exc).__name__


def parse_horizon_text(text: str, today: dt.date) -> Horizon:
    """Read a period written on its own ("Q3 2027", "next 6 weeks", "2027-03-01 to ...").

    Raises:
        GoalError: ``goal.invalid-horizon`` when the text is not exactly one period.
    """
    doc = _Doc(text, today)
    ex = Extraction(text=text)
    _horizons(doc, ex)
    if ex.errors:
        raise ex.errors[0]
    horizon = ex.fields.get("horizon")
    if not isinstance(horizon, Horizon) or doc.work.strip(" ,.;:"):
        raise GoalError(
            f"cannot read {text!r} as a period",
            text=text,
            code="goal.invalid-horizon",
            hint="write e.g. 'Q3 2027', 'next quarter', 'H1', 'over the next 6 weeks', "
            "'by end of March' or '2027-03-01 to 2027-04-30'",
        )
    return horizon
