"""Numbers, mentions and comparators in goal text (steps 3-4 of :mod:`conductor.goals._parser`).

Every number is read once with its unit (money with its currency, percentages, points,
factors, counts); KPI, channel and objective mentions are found once; a comparator
("under", "at least") is read next to a number.
"""

from __future__ import annotations

import re
from typing import Any

from conductor.goals import _lexicon as lex
from conductor.goals._text import Extraction, Mention, Qty, _Doc

# ---------------------------------------------------------------------------- quantities

_CODES = "usd|eur|gbp|chf|jpy|cad|aud|nzd|sgd|sek|nok|dkk|pln|inr|brl|mxn"
_CUR_PRE = rf"(?:us\$|au\$|a\$|ca\$|c\$|nz\$|s\$|\$|€|£|¥|₹|(?:{_CODES})(?=\s?\d))"
_CUR_POST = (
    rf"(?:\s?(?:€|£|\$|(?:{_CODES})\b)|\s(?:us\s+)?(?:{lex.alternation(lex.CURRENCY_WORDS)})\b)"
)
_NUM = r"\d{1,3}(?:[, ]\d{3}(?!\d))+(?:\.\d+)?|\d+(?:[.,]\d+)?"
_QTY = re.compile(
    rf"(?<![\w.,$€£¥₹'-])(?P<sign>[+-]\s?)?(?P<pre>{_CUR_PRE})?\s?(?P<num>{_NUM})"
    r"(?:(?P<mag>k|mm|mn|m|bn|b)(?![\w])|\s?(?P<magw>thousand|million|mio|billion|grand)\b)?"
    r"(?:(?P<unit>\s?%|\s?per\s?cent\b|\s?percent\b|\s?(?:percentage\s+)?points?\b|\s?pts?\b"
    r"|\s?pp\b|\s?x(?![\w])|\s?times\b|\s?:\s?1(?!\d))"
    rf"|(?P<post>{_CUR_POST}))?(?![\w])"
)
_WORD_MONEY = re.compile(
    rf"(?<![\w])(?P<pre>{_CUR_PRE})?\s?(?P<w>half\s+a|a\s+quarter\s+of\s+a|a|one|two|three|four"
    rf"|five|ten)\s+(?P<magw>thousand|million|billion)\b(?P<post>{_CUR_POST})?"
)
_MAGNITUDE = {
    "k": 1e3,
    "thousand": 1e3,
    "grand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
_WORD_VALUE = {
    "half a": 0.5,
    "a quarter of a": 0.25,
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "ten": 10,
}


def _parse_number(token: str) -> tuple[float, bool]:
    """Value of a written number, and whether a lone '.ddd' was read as thousands."""
    token = token.replace(" ", "")
    if "," in token and "." in token:
        return float(token.replace(",", "")), False
    if "," in token:
        groups = token.split(",")
        if all(len(g) == 3 for g in groups[1:]):
            return float("".join(groups)), False
        return float(token.replace(",", ".")), False
    return float(token), False


def _currency(pre: str | None, post: str | None) -> str | None:
    for token in (pre, post):
        if not token:
            continue
        t = re.sub(r"\s+", " ", token.strip())
        if t in lex.CURRENCY_SYMBOLS:
            return lex.CURRENCY_SYMBOLS[t]
        t = t.removeprefix("us ")
        if t in lex.CURRENCY_WORDS:
            return lex.CURRENCY_WORDS[t]
    return None


def _quantities(doc: _Doc, ex: Extraction) -> list[Qty]:
    out: list[Qty] = []
    for m in _WORD_MONEY.finditer(doc.work):
        value = _WORD_VALUE[re.sub(r"\s+", " ", m.group("w"))] * _MAGNITUDE[m.group("magw")]
        cur = _currency(m.group("pre"), m.group("post"))
        out.append(Qty(m.start(), m.end(), "money" if cur else "number", value, cur))
    taken = [(q.start, q.end) for q in out]
    for m in _QTY.finditer(doc.work):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        value, _ = _parse_number(m.group("num"))
        mag = m.group("mag") or m.group("magw")
        if mag:
            value *= _MAGNITUDE[mag]
        sign = (m.group("sign") or "").strip()
        if sign == "-":
            value = -value
        unit = (m.group("unit") or "").strip()
        cur = _currency(m.group("pre"), m.group("post"))
        if unit.startswith(("point", "percentage", "pt", "pp")):
            kind = "points"
        elif unit in ("%", "percent") or unit.startswith("per"):
            kind = "percent"
        elif unit in ("x", "times") or unit.startswith(":"):
            kind = "factor"
        elif cur:
            kind = "money"
        else:
            kind = "number"
        start = m.start() if not sign else m.start("sign")
        out.append(Qty(start, m.end(), kind, value, cur))
    out.sort(key=lambda q: q.start)
    return out


# ------------------------------------------------------------------------------ mentions

_KPI_RX = lex.phrase_regex(lex.KPIS)
_CHANNEL_RX = lex.phrase_regex(lex.CHANNELS)
_OBJECTIVE_RX = lex.phrase_regex(lex.OBJECTIVE_PHRASES)
_HEADS = lex.alternation(lex.AUDIENCE_HEADS)
_COUNT_HEAD = re.compile(rf"\s+(?:[a-z-]+\s+){{0,2}}?(?P<head>{_HEADS})(?![\w-])")
_REACH_NOUN = re.compile(
    r"\b(?:increase|grow|boost|improve|expand|maximi[sz]e|raise|lift|extend|double|triple|our"
    r"|the|brand|total|unique|more)\s+$"
)
_REACH_VERB = re.compile(r"\s+(?:\d|\$|€|£|a\s|an\s|the\s|our\s|one\s|two\s|half\s)")


def _mentions(rx: re.Pattern[str], work: str, table: dict[str, Any]) -> list[Mention]:
    out = []
    for m in rx.finditer(work):
        key = re.sub(r"\s+", " ", m.group("p"))
        value = table[key]
        out.append(Mention(m.start(), m.end(), value if isinstance(value, str) else value[0], key))
    return out


def _kpi_mentions(doc: _Doc, qtys: list[Qty]) -> list[Mention]:
    out = []
    for m in _mentions(_KPI_RX, doc.work, dict(lex.KPIS)):
        # "reach 5,000 sign-ups": here "reach" is a verb, not the KPI.
        if (
            m.extra == "reach"
            and _REACH_VERB.match(doc.work, m.end)
            and not _REACH_NOUN.search(doc.work, max(0, m.start - 30), m.start)
        ):
            continue
        out.append(m)
    for q in qtys:
        if q.kind != "number":
            continue
        hm = _COUNT_HEAD.match(doc.work, q.end)
        if hm and not any(k.start <= hm.start("head") < k.end for k in out):
            before = doc.work[max(0, q.start - 12) : q.start]
            key = "reach" if re.search(r"\breach\s*$", before) else "conversions"
            out.append(Mention(hm.start("head"), hm.end("head"), key, "count"))
    out.sort(key=lambda k: k.start)
    return out


# --------------------------------------------------------------------------- comparators

_MAX_LEFT = re.compile(
    r"(?:\bunder|\bbelow|\bless\s+than|\blower\s+than|\bbeneath|\bat\s+most|\bno\s+more\s+than"
    r"|\bnot\s+more\s+than|\bnot\s+above|\bnot\s+over|\bno\s+higher\s+than|\bup\s+to"
    r"|\bmax(?:imum)?(?:\s+(?:cpa|cac|cpl|cost\s+per\s+[\w-]+))?(?:\s+(?:of|is|at))?|\bcap(?:ped)?(?:\s+(?:[\w$€£]+\s+){0,3}?)?\s*(?:at|of)"
    r"|\blimit(?:ed)?\s+(?:to|of)|\bceiling\s+of|\bwithin|\bnot\s+to\s+exceed|\bnot\s+exceed"
    r"|\bsub|<=?|≤)\s*$"
)
_MIN_LEFT = re.compile(
    r"(?:\bat\s+least|\babove|\bover|\bmore\s+than|\bgreater\s+than|\bhigher\s+than"
    r"|\bno\s+less\s+than|\bnot\s+less\s+than|\bnot\s+below|\bnot\s+under|\bno\s+lower\s+than"
    r"|\bmin(?:imum)?(?:\s+(?:roas|return\s+on\s+ad\s+spend))?(?:\s+(?:of|is|at))?|\bfloor\s+of|\bexceed(?:ing|s)?|>=?|≥)\s*$"
)
_MAX_RIGHT = re.compile(
    r"\s*(?:or\s+(?:less|lower|below|under|cheaper)|max(?:imum)?\b|at\s+most|cap\b|ceiling"
    r"|limit\b|tops\b)"
)
_MIN_RIGHT = re.compile(r"\s*(?:or\s+(?:more|higher|above|better)|min(?:imum)?\b|at\s+least|floor)")
_NEGATION = re.compile(
    r"\b(?:don't|dont|do\s+not|does\s+not|never|must\s+not|mustn't|should\s+not|shouldn't"
    r"|can't|cannot|won't|will\s+not|without|not)\b"
)


def _comparator(doc: _Doc, q: Qty, lo: int, hi: int) -> tuple[str | None, int]:
    """'max' / 'min' bound on ``q`` from the words around it, and where the bound starts."""
    left = doc.work[lo : q.start]
    direction: str | None = None
    at = q.start
    for rx, d in ((_MAX_LEFT, "max"), (_MIN_LEFT, "min")):
        m = rx.search(left)
        if m:
            direction, at = d, lo + m.start()
            break
    if direction is None:
        right = doc.work[q.end : hi]
        if _MAX_RIGHT.match(right):
            direction = "max"
        elif _MIN_RIGHT.match(right):
            direction = "min"
    neg = _NEGATION.search(doc.work[lo:at]) if direction else None
    if neg:
        # "don't cut email below $20k" is a floor; "never spend more than" a ceiling.
        direction = "min" if direction == "max" else "max"
        at = lo + neg.start()
    return direction, at
