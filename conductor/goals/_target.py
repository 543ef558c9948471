"""The goal's target: which KPI moves, which way and by how much.

Step 7 of :mod:`conductor.goals._parser`: relative ("+12%"), absolute ("$2M"), points
("churn down 2 points"), factors ("double sign-ups") and rate targets ("CPA of $40").
"""

from __future__ import annotations

import re

from conductor.goals import _lexicon as lex
from conductor.goals._dates import _number_word
from conductor.goals._model import Target
from conductor.goals._quantities import _comparator
from conductor.goals._text import Extraction, Mention, Qty, _Doc, per_period

_WORD_TARGET = re.compile(
    r"\b(?P<mult>double|doubling|doubled|triple|tripling|tripled|quadruple|halve|halving|halved"
    r"|(?P<fold>\d+|two|three|four|five|ten)[\s-]?fold)\b"
    r"|\bby\s+(?:(?:a|one)\s+)?(?P<frac>half|third|quarter|fifth|tenth)\b"
    r"|\bby\s+(?P<frac2>two[\s-]thirds|three[\s-]quarters)\b"
)
_FRACTIONS = {
    "half": 0.5,
    "third": 1 / 3,
    "quarter": 0.25,
    "fifth": 0.2,
    "tenth": 0.1,
    "two thirds": 2 / 3,
    "two-thirds": 2 / 3,
    "three quarters": 0.75,
    "three-quarters": 0.75,
}
_MULT = {"doubl": 1.0, "tripl": 2.0, "quadr": 3.0, "halv": -0.5}
_UP_RX = lex.phrase_regex(lex.UP_VERBS)
_DOWN_RX = lex.phrase_regex(lex.DOWN_VERBS)
_AFTER_UP = re.compile(r"\s*(?:more|higher|up|increase|growth|uplift|lift|better)\b")
_AFTER_DOWN = re.compile(r"\s*(?:less|lower|down|fewer|decrease|reduction|cheaper|drop)\b")
_ABS_LEFT = re.compile(r"(?:\bto|\bat|\bof|\breach|\bhit|\bachieve|=|:|\btarget)\s*$")
_FROM_TO = re.compile(r"\s*(?:[a-z-]+\s+){0,3}?(?:to|->|→)\s*")
# KPIs that add up over time, so "500 a month" is 500 times the months of the horizon.
_ADDITIVE = frozenset({"revenue", "conversions", "reach"})
_ALLOWED_KINDS = {
    "revenue": {"money", "percent", "number", "factor"},
    "aov": {"money", "percent", "number", "factor"},
    "cpa": {"money", "percent", "number"},
    "roas": {"number", "factor", "percent"},
    "conversions": {"number", "percent", "factor"},
    "reach": {"number", "percent", "factor"},
    "retention_rate": {"percent", "points", "number"},
    "churn_rate": {"percent", "points", "number"},
}


def _direction(doc: _Doc, lo: int, pos: int, kpi: str, q: Qty | None) -> int | None:
    if q is not None:
        if doc.work[q.start] in "+-":
            return 1 if q.value > 0 else -1
        if _AFTER_UP.match(doc.work, q.end):
            return 1
        if _AFTER_DOWN.match(doc.work, q.end):
            return -1
    best: tuple[int, int] | None = None
    for rx, sign in ((_UP_RX, 1), (_DOWN_RX, -1)):
        for m in rx.finditer(doc.work, lo, pos):
            word = m.group("p")
            s = sign
            if word.startswith("improv") and kpi in lex.DOWN_GOOD_KPIS:
                s = -1
            if best is None or m.start() > best[0]:
                best = (m.start(), s)
    return best[1] if best else None


def _as_rate(value: float) -> float:
    return value / 100 if value > 1 else value


def _target(
    doc: _Doc, ex: Extraction, qtys: list[Qty], kpi: Mention, kpis: list[Mention]
) -> tuple[Target | None, tuple[int, int] | None, str | None]:
    """The target of the primary KPI, its extent, and a currency it was stated in."""
    lo, hi = doc.bounds(kpi.start, kpi.end, "window")
    found = _target_in(doc, ex, qtys, kpi, lo, hi)
    if found[0] is None and found[1] is None:
        # "revenue in Germany and Austria by 9%": look on through the sentence, but not
        # past another KPI.
        s_lo, s_hi = doc.bounds(kpi.start, kpi.end, "sentence")
        nxt = [k.start for k in kpis if k.start >= kpi.end and k.key != kpi.key]
        prv = [k.end for k in kpis if k.end <= kpi.start and k.key != kpi.key]
        s_hi = min([s_hi, *nxt])
        s_lo = max([s_lo, *prv])
        if (s_lo, s_hi) != (lo, hi):
            found = _target_in(doc, ex, qtys, kpi, s_lo, s_hi)
    return found


def _target_in(
    doc: _Doc, ex: Extraction, qtys: list[Qty], kpi: Mention, lo: int, hi: int
) -> tuple[Target | None, tuple[int, int] | None, str | None]:
    key = kpi.key
    allowed = _ALLOWED_KINDS[key]
    if kpi.extra == "sales":
        allowed = allowed | {"money"}  # "$2M in sales" is a revenue target
    pool = [q for q in qtys if not q.claimed and lo <= q.start and q.end <= hi]
    rate = key in lex.RATE_KPIS
    # "from 4,000 to 5,000 sign-ups": an absolute target with its baseline.
    for a in pool:
        if not re.search(r"\bfrom\s*$", doc.work[lo : a.start]):
            continue
        for b in pool:
            if (
                b.start > a.end
                and _FROM_TO.fullmatch(doc.work[a.end : b.start])
                and b.kind in allowed
            ):
                conv = _as_rate if rate or (b.kind == "percent") else (lambda v: v)
                a.claimed = b.claimed = True
                target = Target(kind="absolute", value=conv(b.value), baseline=conv(a.value))
                start = doc.work.rfind("from", lo, a.start)
                return target, (start, b.end), b.currency or a.currency
    words = list(_WORD_TARGET.finditer(doc.work, lo, hi))
    # "3-fold" is one word target, not the number 3.
    pool = [q for q in pool if not any(w.start() <= q.start < w.end() for w in words)]
    options: list[tuple[float, Qty | re.Match[str]]] = []
    centre = (kpi.start + kpi.end) / 2
    for q in pool:
        if q.kind in allowed and not (
            key in ("revenue", "aov") and q.kind == "number" and q.value < 1
        ):
            options.append((abs((q.start + q.end) / 2 - centre), q))
    for m in words:
        options.append((abs((m.start() + m.end()) / 2 - centre), m))
    if not options:
        return None, None, None
    _, best = min(options, key=lambda o: o[0])
    if isinstance(best, re.Match):
        for q in qtys:
            if best.start() <= q.start < best.end():
                q.claimed = True
        return (
            _word_target(doc, best, lo, kpi),
            (min(best.start(), kpi.start), max(best.end(), kpi.end)),
            None,
        )
    q = best
    q.claimed = True
    extent = (min(q.start, kpi.start), max(q.end, kpi.end))
    direction, at = _comparator(doc, q, lo, hi)
    if direction is not None:
        value = _as_rate(q.value) if rate and q.kind in ("percent", "number") else q.value
        if key == "roas" and q.kind == "percent":
            value = q.value / 100
        extent = (min(at, extent[0]), extent[1])
        kind = "ceiling" if direction == "max" else "floor"
        return Target(kind=kind, value=value), extent, q.currency
    sign = _direction(doc, lo, max(kpi.start, q.start), key, q)
    left = doc.work[lo : q.start]
    if q.kind == "points":
        s = sign if sign is not None else (-1 if key in lex.DOWN_GOOD_KPIS else 1)
        return Target(kind="points", value=s * abs(q.value)), extent, None
    if q.kind == "factor":
        if key == "roas":
            return Target(kind="absolute", value=q.value), extent, None
        return Target(kind="relative", value=q.value - 1), extent, None
    if q.kind == "percent":
        absolute = _ABS_LEFT.search(left) or (q.end <= kpi.start and sign is None and rate)
        if (rate or key == "roas") and absolute:
            value = _as_rate(q.value) if rate else q.value / 100
            return Target(kind="absolute", value=value), extent, None
        if sign is None:
            sign = -1 if key in lex.DOWN_GOOD_KPIS else 1
            if key in lex.DOWN_GOOD_KPIS:
                ex.warn(f"no direction given for {doc.span(*extent).text!r}; read as a reduction")
        if rate:
            ex.warn(
                f"read {doc.span(q.start, q.end).text!r} as a relative change of the "
                f"{key.replace('_', ' ')}; write 'points' for percentage points"
            )
        return Target(kind="relative", value=sign * abs(q.value) / 100), extent, None
    if re.search(r"\bby\s*$", left) and q.kind in ("money", "number"):
        ex.warn(
            f"{doc.span(q.start, q.end).text!r} is an increase, not a level; the target needs "
            "a level ('to 5,000') or a percentage ('by 12%') and was left out"
        )
        return None, extent, None
    value = _as_rate(q.value) if rate else q.value
    if key in _ADDITIVE:
        per = per_period(doc, extent[1]) or per_period(doc, q.end)
        if per is not None:
            unit, stop = per
            extent = (extent[0], max(extent[1], stop))
            ex.target_per = (unit, doc.span(*extent).text)
    return Target(kind="absolute", value=value), extent, q.currency


def _word_target(doc: _Doc, m: re.Match[str], lo: int, kpi: Mention) -> Target:
    if m.group("mult"):
        word = m.group("mult")
        if m.group("fold"):
            return Target(kind="relative", value=_number_word(m.group("fold")) - 1.0)
        return Target(
            kind="relative", value=next(v for k, v in _MULT.items() if word.startswith(k))
        )
    frac = _FRACTIONS[re.sub(r"\s+", " ", m.group("frac") or m.group("frac2"))]
    sign = _direction(doc, lo, m.start(), kpi.key, None)
    if sign is None:
        sign = -1 if kpi.key in lex.DOWN_GOOD_KPIS else 1
    return Target(kind="relative", value=sign * frac)
