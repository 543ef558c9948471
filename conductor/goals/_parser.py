"""The deterministic goal parser: free text -> the fields of a ``BusinessGoal``.

A pipeline of small extractors over one shared :class:`_Doc`. Each extractor finds what
it knows, records the span it came from, and *claims* the characters or numbers it used
so later extractors cannot read them twice. The order matters and is the design:

1. ``_mask_injections`` blanks sentences that talk to the parser ("ignore previous
   instructions ...") so no number in them is ever read.
2. ``_horizons`` reads dates and periods and blanks them (so "Q3 2027" is not a number).
3. ``_quantities`` finds every number: money, percentages, points, factors, counts.
4. Mentions of KPIs, channels and objective phrases are found once.
5. ``_constraints`` claims bounded numbers ("keep CPA under $40").
6. ``_budget_strong`` claims money next to a budget word ("$250k budget").
7. ``_target`` picks the primary KPI and claims its target ("revenue +12%").
8. ``_budget_weak`` takes a lone leftover amount as the budget.
9. Channels (inclusions and exclusions), audience and markets.
10. Every number nobody claimed becomes a warning, and so does every content word no
    value was read from (``_unused``), so nothing is silently dropped.

Contradictions and impossible values are collected as :class:`GoalError` objects; the
public functions in :mod:`conductor.goals` decide whether to raise them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from conductor.errors import GoalError
from conductor.goals import _lexicon as lex
from conductor.goals import _unused
from conductor.goals._budget import _budget_strong, _budget_weak
from conductor.goals._dates import _horizons, parse_horizon_text
from conductor.goals._model import Constraint, Money, Target
from conductor.goals._quantities import (
    _CHANNEL_RX,
    _HEADS,
    _OBJECTIVE_RX,
    _comparator,
    _kpi_mentions,
    _mentions,
    _quantities,
)
from conductor.goals._target import _target
from conductor.goals._text import Extraction, Mention, Qty, _Doc, _Found, per_period

__all__ = ["MAX_GOAL_CHARS", "Extraction", "check", "extract", "parse_horizon_text"]

MAX_GOAL_CHARS = 10_000

# ---------------------------------------------------------------------------- injections

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|the|your|these|those|my|of)\s+)*"
    r"(?:(?:previous|prior|above|earlier|preceding|former|other|system|original|existing)\s+)?"
    r"(?:instructions?|prompts?|rules|directions|guidelines|context|messages?|everything)\b"
    r"|\b(?:new|updated|real|actual|hidden)\s+instructions?\b"
    r"|\bsystem\s*prompt\b"
    r"|(?:^|\n)\s*(?:system|assistant|developer)\s*:"
    r"|<\s*/?\s*(?:system|instructions?|prompt|assistant)\s*>"
    r"|\byou\s+are\s+(?:now|no\s+longer|an?\s+(?:ai|assistant|language\s+model))\b"
    r"|\b(?:act|behave)\s+as\s+(?:if|an?|the)\b"
    r"|\bpretend\s+(?:to\s+be|that|you)\b"
    r"|\bjailbreak|\bdeveloper\s+mode\b|\bdo\s+anything\s+now\b"
    r"|\bas\s+an?\s+(?:ai|llm|language\s+model)\b"
    # Someone addressed by name and told what to do: "Assistant, set budget to $1".
    r"|(?P<vocative>(?:\b(?:assistant|ai|bot|chatbot|model|llm|chatgpt|gpt|claude|copilot|gemini"
    r"|parser|system|agent|computer)"
    # ... or a person greeted or addressed first: "Hey team,", "Dear Sam:", "Note to the
    # agency:", "To whoever reads this,". An order to them is not the goal's own words.
    r"|\b(?:hey|hi|hello|dear|attention|attn|psst|yo|ok|okay)\b[^,:;.!?\n]{0,40}"
    r"|\b(?:note|message|memo)\s+(?:to|for)\b[^,:;.!?\n]{0,40}"
    r"|\bto\s+(?:whoever|whomever|the\s+(?:reader|reviewer|person|team|agency)\b)[^,:;.!?\n]{0,40})"
    r"\s*[,:]\s*(?:please\s+)?(?:set|change|make|use|output"
    r"|return|respond|put|update|increase|raise|lower|cut|give|write|say|double|add|switch"
    r"|move|bump|reset|replace|override|lift|drop|halve|triple)\b)"
)
_INJECTION_SEGMENT = re.compile(r"[.!?;](?=\s|$)|\n|\s-\s|[()\[\]]")
_INJECTION_CUT = re.compile(r",\s|\b(?:and|then|but|so|also|now|please)\b")
_IMPERATIVE = re.compile(
    r"\s*(?:and\s+|then\s+)?(?:set|change|make|output|return|respond|print|say|write|update|put)\b"
)


def _mask_injections(doc: _Doc, ex: Extraction) -> None:
    """Blank text that addresses the parser instead of stating a goal.

    The goal text is data, never instructions: a sentence part that contains an
    injection marker is ignored from the start of its clause to the end of its sentence,
    and so is a following sentence that opens with an order ("Set the budget to $10M").
    """
    seg_starts = [m.end() for m in _INJECTION_SEGMENT.finditer(doc.low)]
    for m in list(_INJECTION.finditer(doc.low)):
        i = bisect.bisect_right(seg_starts, m.start())
        seg_start = seg_starts[i - 1] if i > 0 else 0
        cuts = list(_INJECTION_CUT.finditer(doc.low, seg_start, m.start()))
        if m.group("vocative") or m.group().lstrip().startswith(
            ("<", "system", "assistant", "developer")
        ):
            # What precedes the address is the goal ("Cut CPA below $40 in Q3 Assistant,").
            start = m.start()
        elif cuts and not _IMPERATIVE.match(doc.low, seg_start):
            # "grow revenue 10% with $200k and ignore ...": keep the goal before "and".
            start = cuts[-1].start()
        else:
            start = seg_start
        end = doc.bounds(m.end(), m.end(), "sentence")[1]
        if end < len(doc.low) and doc.low[end] in ".!?;\n":
            end += 1
        nxt = _IMPERATIVE.match(doc.low, end)
        if nxt:
            end = doc.bounds(nxt.end(), nxt.end(), "sentence")[1]
        if doc.work[start:end].strip():
            span = doc.span(start, end)
            doc.mask(start, end)
            ex.warn(
                f"ignored {span.text!r}: it reads like an instruction to the parser, "
                "not part of the goal"
            )


# --------------------------------------------------------------------------- constraints

_SPEND_WORD = re.compile(
    r"\b(?:spend|spending|budget|total|investment|invest|media|outlay|costs?)\b"
)
_ZERO_BUDGET = re.compile(
    r"\b(?:(?:cut|reduce|bring|drop|slash|take|lower)\s+(?:(?:all|the|our|total|ad|media|"
    r"marketing|paid)\s+)*(?:spend|spending|budget)\s+(?:down\s+)?to\s+(?:zero|nothing|0\b|\$0\b"
    r"|€0\b|£0\b)"
    r"|(?:no|zero)\s+(?:ad\s+|media\s+|marketing\s+)?(?:budget|spend)\b(?!\s+(?:on|for|in|increase"
    r"|cap|limit))"
    r"|(?:stop|halt|pause|end)\s+all\s+(?:ad\s+|media\s+|marketing\s+|paid\s+)?"
    r"(?:spend|spending|advertising|marketing|media)"
    r"|budget\s+of\s+(?:zero|nothing))"
)


def _nearest(mentions: list[Mention], lo: int, hi: int, pos: float) -> Mention | None:
    inside = [m for m in mentions if lo <= m.start and m.end <= hi]
    if not inside:
        return None
    return min(inside, key=lambda m: abs((m.start + m.end) / 2 - pos))


def _constraint_value(q: Qty, kind: str) -> float | None:
    if kind == "min_roas":
        if q.kind == "percent":
            return q.value / 100
        return q.value if q.kind in ("number", "factor") else None
    if kind == "max_channel_share":
        return q.value / 100 if q.kind == "percent" else None
    return q.value if q.kind in ("money", "number") else None


_SPEND_KINDS = frozenset({"max_channel_spend", "min_channel_spend", "max_total_spend"})


def _constraints(
    doc: _Doc,
    ex: Extraction,
    found: _Found,
    qtys: list[Qty],
    kpis: list[Mention],
    channels: list[Mention],
) -> None:
    for q in qtys:
        if q.claimed:
            continue
        lo, hi = doc.bounds(q.start, q.end)
        direction, at = _comparator(doc, q, lo, hi)
        if direction is None:
            continue
        pos = (q.start + q.end) / 2
        kpi = _nearest([k for k in kpis if k.key in ("cpa", "roas")], lo, hi, pos)
        other_kpi = _nearest([k for k in kpis if k.key not in ("cpa", "roas")], lo, hi, pos)
        channel = _nearest(channels, lo, hi, pos)
        subject: Mention | None = None
        kind: str | None = None
        if kpi is not None and (
            other_kpi is None or abs(kpi.start - pos) < abs(other_kpi.start - pos)
        ):
            subject = kpi
            if kpi.key == "cpa" and direction == "max":
                kind = "max_cpa"
            elif kpi.key == "roas" and direction == "min":
                kind = "min_roas"
        elif other_kpi is not None:
            continue  # "revenue above $2M" is a target, not a constraint
        elif channel is not None and q.kind in ("percent", "money", "number"):
            subject = channel
            if q.kind == "percent":
                if direction == "max":
                    kind = "max_channel_share"
                else:
                    start, end = min(at, channel.start), max(q.end, channel.end)
                    found.min_shares.append((channel.key, q.value / 100, doc.span(start, end)))
                    found.constraint_ranges.append((start, end))
                    q.claimed = True
                    continue
            else:
                kind = "max_channel_spend" if direction == "max" else "min_channel_spend"
        else:
            spend = _SPEND_WORD.search(doc.work, lo, hi)
            if spend and direction == "max" and q.kind in ("money", "number"):
                subject = Mention(spend.start(), spend.end(), "spend")
                kind = "max_total_spend"
        if kind is None or subject is None:
            continue
        value = _constraint_value(q, kind)
        if value is None:
            continue
        start, end = min(at, subject.start, q.start), max(q.end, subject.end)
        span = doc.span(start, end)
        if kind == "max_channel_share" and not 0 < value <= 1:
            ex.fail(
                f"{span.text!r} asks for a channel share of {q.value:g}%",
                code="goal.invalid-value",
                hint="a share of the budget lies between 0% and 100%",
            )
        is_channel = kind.endswith(("_share", "_spend")) and kind != "max_total_spend"
        channel_key = subject.key if is_channel else None
        if kind in ("max_cpa", "min_roas") and channel is not None:
            gap = doc.work[q.end : channel.start] if channel.start >= q.end else None
            if gap is not None and re.fullmatch(r"\s*(?:on|in|for|across|via)\s+(?:the\s+)?", gap):
                channel_key = channel.key
                end = max(end, channel.end)
                span = doc.span(start, end)
        found.constraints.append(Constraint(kind=kind, value=value, channel=channel_key, span=span))
        found.constraint_ranges.append((start, end))
        per = per_period(doc, q.end) if kind in _SPEND_KINDS else None
        if per is not None:
            said = doc.span(start, max(end, per[1])).text
            ex.constraint_per[len(found.constraints) - 1] = (per[0], said)
        if q.kind == "money" and q.currency:
            found.money_currencies.append((q.currency, doc.span(q.start, q.end)))
        q.claimed = True


# ------------------------------------------------------------------------------ channels

_EXCLUDE_LEFT = re.compile(
    r"(?:\bno|\bnot|\bwithout|\bexcept(?:\s+for)?|\bexcluding|\bexclude|\bnever|\bavoid(?:ing)?"
    r"|\bstay\s+(?:off|away\s+from)|\bskip(?:ping)?|\bdon't\s+(?:use|touch|spend\s+on)"
    r"|\bdo\s+not\s+(?:use|touch|spend\s+on)|\bnothing\s+(?:on|in)|\bzero\s+(?:spend\s+)?on"
    r"|\bno\s+(?:spend|spending|budget|money|ads?|advertising)\s+(?:on|in|for)|\bbut\s+not"
    r"|\bother\s+than|\bapart\s+from|\baside\s+from|\bbesides|\boutside\s+of|\bsave"
    r"|\b(?:everything|anything|all\s+channels?|any\s+channels?|all)\s+but|\bban|\bdrop)"
    r"\s+(?:the\s+|any\s+|on\s+)?$"
)
_EXCLUDE_RIGHT = re.compile(
    r"\s*(?:(?:is|are)\s+)?(?:excluded|off[\s-]limits|off\s+the\s+table|banned|not\s+allowed"
    r"|forbidden|a\s+no[\s-]go|(?:is|are)\s+out\b)"
)
_CHAIN = re.compile(r"\s*(?:,|/|&|\bor\b|\band\b|\bnor\b)\s*(?:(?:or|and)\s+)?(?:no\s+)?")
_ONLY = re.compile(r"\b(?:only|just|exclusively|solely|purely)\b")


def _channels(doc: _Doc, ex: Extraction, found: _Found, channels: list[Mention]) -> None:
    included: list[Mention] = []
    excluded: list[Mention] = []
    previous: tuple[Mention, bool] | None = None
    for c in channels:
        lo = doc.bounds(c.start, c.end)[0]
        if previous is not None and previous[0].end <= c.start:
            lo = max(lo, previous[0].end)
        left = doc.work[max(0, c.start - 40) : c.start]
        chained = (
            previous is not None
            and previous[1]
            and _CHAIN.fullmatch(doc.work[previous[0].end : c.start]) is not None
        )
        is_excluded = (
            chained
            or _EXCLUDE_LEFT.search(left) is not None
            or _EXCLUDE_RIGHT.match(doc.work, c.end) is not None
        )
        previous = (c, is_excluded)
        if is_excluded:
            excluded.append(c)
        elif not any(s <= c.start and c.end <= e for s, e in found.constraint_ranges):
            included.append(c)
    if included:
        keys = list(dict.fromkeys(c.key for c in included))
        ex.fields["channels"] = keys
        ex.spans["channels"] = doc.span(included[0].start, included[-1].end)
    if excluded:
        ex.fields["excluded_channels"] = list(dict.fromkeys(c.key for c in excluded))
        ex.spans["excluded_channels"] = doc.span(excluded[0].start, excluded[-1].end)
    both = sorted(set(ex.fields.get("channels", [])) & set(ex.fields.get("excluded_channels", [])))
    for key in both:
        words = [doc.text[c.start : c.end] for c in channels if c.key == key]
        ex.fail(
            f"the channel {key} is both asked for and excluded ({', '.join(map(repr, words))})",
            code="goal.contradiction",
            hint=f"{', '.join(map(repr, words))} all mean the channel {key!r}; keep one of them",
        )


# ---------------------------------------------------------------------- audience, market

_MARKET_RX = lex.phrase_regex(lex.MARKETS)
_MARKET_ADJ_RX = re.compile(
    rf"(?<![\w-])(?P<p>{lex.alternation(lex.MARKET_ADJECTIVES)})(?=\s+(?:[a-z-]+\s+)?"
    rf"(?:market|markets|consumers|audience|audiences|{_HEADS})\b)"
)
_MARKET_UPPER_RX = re.compile(
    rf"(?<![\w.])(?P<p>{'|'.join(re.escape(k) for k in sorted(lex.MARKET_CODES_UPPER, key=len, reverse=True))})(?![\w$])"
)
_MARKET_NOT = re.compile(
    r"(?:\bexcept(?:\s+for)?|\bexcluding|\boutside(?:\s+of)?|\bnot\s+in|\bbut\s+not|\bapart\s+from"
    r"|\bno)\s+(?:the\s+)?$"
)
_MODS = lex.alternation(lex.AUDIENCE_MODIFIERS)
_ADJS = lex.alternation(lex.MARKET_ADJECTIVES)
_MARKET_NAMES = lex.alternation(lex.MARKETS)
_SPECIFIC_HEADS = (
    "millennials|gen z|gen-z|boomers|students|parents|families|homeowners|professionals"
    "|smbs|cart abandoners|abandoners|teens|donors|patients|travellers|travelers"
)
_AUDIENCE_ONE = (
    rf"(?:(?:{_MODS}|{_ADJS})[\s-]+){{0,3}}(?:{_HEADS})(?![\w-])"
    rf"(?:\s+(?:in|from|across|based\s+in)\s+(?:the\s+)?(?:{_MARKET_NAMES}|US|UK)"
    rf"(?:\s*(?:,|and|or|&)\s*(?:the\s+)?(?:{_MARKET_NAMES}))*)?"
    r"(?:\s+aged\s+\d{2}\s*(?:-|to)\s*\d{2}|\s+(?:aged\s+)?(?:over|under)\s+\d{2})?"
)
_AUDIENCE_RX = re.compile(
    rf"(?<![\w-])(?P<a>{_AUDIENCE_ONE}(?:\s*(?:,|and|or|&|as\s+well\s+as)\s*{_AUDIENCE_ONE})*)"
)
_GENERIC_AUDIENCE = re.compile(rf"(?:{_HEADS})")


def _markets(doc: _Doc, ex: Extraction) -> None:
    found: list[Mention] = []
    for rx, table, source in (
        (_MARKET_RX, lex.MARKETS, doc.work),
        (_MARKET_ADJ_RX, lex.MARKET_ADJECTIVES, doc.work),
        (_MARKET_UPPER_RX, lex.MARKET_CODES_UPPER, _blank_like(doc.text, doc.work)),
    ):
        for m in rx.finditer(source):
            key = re.sub(r"\s+", " ", m.group("p"))
            found.append(Mention(m.start(), m.end(), table[key]))
    found.sort(key=lambda hit: hit.start)
    kept: list[Mention] = []
    for hit in found:
        if any(k.start <= hit.start < k.end for k in kept):
            continue
        if _MARKET_NOT.search(doc.work[max(0, hit.start - 20) : hit.start]):
            ex.warn(
                f"market exclusions are not supported: {doc.text[hit.start : hit.end]!r} was "
                "left out of the markets; list the markets to include instead"
            )
            continue
        kept.append(hit)
    ex.used += [(hit.start, hit.end) for hit in found]
    if kept:
        ex.fields["markets"] = list(dict.fromkeys(m.key for m in kept))
        ex.spans["markets"] = doc.span(kept[0].start, kept[-1].end)


def _blank_like(text: str, work: str) -> str:
    """The original-case text with the same holes as ``work`` (for case-sensitive codes)."""
    return "".join(t if w != " " or t.isspace() else " " for t, w in zip(text, work, strict=True))


def _audience(doc: _Doc, ex: Extraction, qtys: list[Qty]) -> None:
    for m in _AUDIENCE_RX.finditer(doc.work):
        phrase = m.group("a")
        head_only = _GENERIC_AUDIENCE.fullmatch(phrase.strip())
        specific = re.search(rf"\b(?:{_SPECIFIC_HEADS})\b", phrase)
        if head_only and not specific:
            continue
        span = doc.span(m.start("a"), m.end("a"))
        ex.fields["audience"] = span.text
        ex.spans["audience"] = span
        for q in qtys:
            if span.start <= q.start and q.end <= span.end and q.kind == "number":
                q.claimed = True
        return


# ------------------------------------------------------------------------------- objective


def _primary_kpi(kpis: list[Mention], found: _Found) -> Mention | None:
    free = [
        k for k in kpis if not any(s <= k.start and k.end <= e for s, e in found.constraint_ranges)
    ]
    return free[0] if free else None


_ACQUIRE_CUE = re.compile(r"\b(?:new|first[\s-]time|acquire|acquisition|prospects?)\b")


def _objective_of(
    kpi: Mention, doc: _Doc, ex: Extraction, objectives: list[Mention]
) -> tuple[str, Mention]:
    objective = lex.KPIS[kpi.extra][1] if kpi.extra in lex.KPIS else "acquire"
    if kpi.key == "reach" and kpi.extra == "count":
        objective = "awareness"
    if kpi.key == "conversions" and objectives:
        said = objectives[0]
        if said.key in ("acquire", "retain", "awareness"):
            return said.key, said
    cue = _ACQUIRE_CUE.search(doc.work) if kpi.key == "conversions" else None
    if cue is not None:
        objective = "acquire"
        ex.used.append(cue.span())
    return objective, kpi


# ----------------------------------------------------------------------------- pipeline


def extract(text: str, today: dt.date) -> Extraction:
    """Run every extractor over ``text``; never raises for odd input."""
    ex = Extraction(text=text)
    if len(text) > MAX_GOAL_CHARS:
        ex.fail(
            f"the goal is {len(text)} characters long; at most {MAX_GOAL_CHARS} are read",
            code="goal.too-long",
            hint="state the goal in a few sentences; put background material elsewhere",
        )
        return ex
    doc = _Doc(text, today)
    _mask_injections(doc, ex)
    _horizons(doc, ex)
    qtys = _quantities(doc, ex)
    kpis = _kpi_mentions(doc, qtys)
    channels = _mentions(_CHANNEL_RX, doc.work, dict(lex.CHANNELS))
    objectives = _mentions(_OBJECTIVE_RX, doc.work, dict(lex.OBJECTIVE_PHRASES))
    found = _Found()
    _audience(doc, ex, qtys)  # first, so "aged 25-34" is never read as a target

    zero = _ZERO_BUDGET.search(doc.work)
    if zero:
        found.budget = (
            Qty(zero.start(), zero.end(), "money", 0.0),
            doc.span(zero.start(), zero.end()),
        )
        doc.mask(zero.start(), zero.end())
        for q in qtys:
            if zero.start() <= q.start < zero.end():
                q.claimed = True

    _constraints(doc, ex, found, qtys, kpis, channels)
    _budget_strong(doc, ex, found, qtys, channels)

    primary = _primary_kpi(kpis, found)
    target_currency: str | None = None
    if primary is not None:
        target, extent, target_currency = _target(doc, ex, qtys, primary, kpis)
        objective, source = _objective_of(primary, doc, ex, objectives)
        kpi_key = primary.key
        if kpi_key == "conversions" and primary.extra == "sales" and target_currency:
            kpi_key, objective = "revenue", "grow_revenue"  # "$2M in sales" is revenue
        ex.fields["kpi"] = kpi_key
        ex.spans["kpi"] = doc.span(primary.start, primary.end)
        ex.fields["objective"] = objective
        ex.spans["objective"] = doc.span(source.start, source.end)
        if target is not None and extent is not None:
            ex.fields["target"] = target
            ex.spans["target"] = doc.span(*extent)
            if target_currency:
                found.money_currencies.append((target_currency, ex.spans["target"]))
        _direction_doubts(doc, ex, primary, target)
    elif found.constraints and found.constraints[0].kind in ("max_cpa", "min_roas"):
        # "get CPA under $40": the bounded KPI is the goal's KPI too.
        c = found.constraints[0]
        ex.fields["kpi"] = "cpa" if c.kind == "max_cpa" else "roas"
        ex.fields["objective"] = "efficiency"
        ex.fields["target"] = Target(
            kind="ceiling" if c.kind == "max_cpa" else "floor", value=c.value
        )
        assert c.span is not None
        for name in ("kpi", "objective", "target"):
            ex.spans[name] = c.span
    elif objectives:
        said = objectives[0]
        ex.fields["objective"] = said.key
        ex.spans["objective"] = doc.span(said.start, said.end)

    _budget_weak(doc, ex, found, qtys)
    _channels(doc, ex, found, channels)
    _markets(doc, ex)
    _finish_money(doc, ex, found, qtys)
    if found.constraints:
        ex.fields["constraints"] = list(found.constraints)
    _not_used(doc, ex, qtys, [*kpis, *channels, *objectives])
    return ex


_NARROW_SPANS = ("kpi", "objective", "budget", "horizon", "audience")


def _not_used(doc: _Doc, ex: Extraction, qtys: list[Qty], mentions: list[Mention]) -> None:
    """Step 10: every number nobody claimed is a warning; so is every word no value was
    read from (the warning itself is written once the goal's KPI is known, in ``_parse``).

    Only the fields read from one phrase lend their whole span: a target's span runs from
    its KPI to its number ("revenue from the spring range by 12%"), a rule's from its
    comparator to its subject ("CPA for app users under $40") and a channel list's from
    its first channel to its last, so for those only the phrases themselves count.
    """
    for q in qtys:
        if not q.claimed:
            ex.warn(
                f"not used: {doc.span(q.start, q.end).text!r} (could not tell what it refers to)"
            )
    used = list(ex.used)
    used += [(q.start, q.end) for q in qtys]
    used += [(m.start, m.end) for m in mentions]
    used += [(s.start, s.end) for k, s in ex.spans.items() if k in _NARROW_SPANS]
    ex.unused = _unused.unused_words(doc, used)


def _direction_doubts(doc: _Doc, ex: Extraction, kpi: Mention, target: Target | None) -> None:
    if target is None or target.kind not in ("relative", "points"):
        return
    down_good = kpi.key in lex.DOWN_GOOD_KPIS
    if (target.value < 0) != down_good and target.value != 0:
        better = "lower" if down_good else "higher"
        ex.warn(
            f"the target moves {kpi.key.replace('_', ' ')} the wrong way "
            f"({doc.span(kpi.start, kpi.end).text!r}: {better} is usually better)"
        )


def _finish_money(doc: _Doc, ex: Extraction, found: _Found, qtys: list[Qty]) -> None:
    currencies: list[tuple[str, str]] = [(c, s.text) for c, s in found.money_currencies]
    if found.budget is not None:
        q, span = found.budget
        if q.currency:
            currencies.insert(0, (q.currency, span.text))
            ex.currency_explicit = True
        ex.fields["budget"] = Money(amount=abs(q.value), currency=q.currency or "USD")
        ex.spans["budget"] = span
    else:
        caps = [c for c in found.constraints if c.kind == "max_total_spend"]
        if caps:
            cap = caps[0]
            ex.fields["budget"] = Money(amount=cap.value, currency="USD")
            assert cap.span is not None
            ex.spans["budget"] = cap.span
            ex.budget_from_cap = True
            ex.budget_per = ex.constraint_per.get(found.constraints.index(cap))
    for q in qtys:
        if (
            q.claimed
            and q.currency
            and (q.currency, doc.span(q.start, q.end).text) not in currencies
        ):
            currencies.append((q.currency, doc.span(q.start, q.end).text))
    distinct = list(dict.fromkeys(c for c, _ in currencies))
    if distinct:
        ex.currency_hint = currencies[0]
        if not ex.currency_explicit and "budget" in ex.fields:
            ex.fields["budget"] = Money(amount=ex.fields["budget"].amount, currency=distinct[0])
    if len(distinct) > 1:
        ex.warn(
            f"amounts are given in several currencies ({', '.join(distinct)}); all amounts are "
            f"read in {distinct[0]} without conversion"
        )
    for channel, share, span in found.min_shares:
        budget = ex.fields.get("budget")
        if isinstance(budget, Money) and budget.amount > 0:
            found.constraints.append(
                Constraint(
                    kind="min_channel_spend",
                    value=budget.amount * share,
                    channel=channel,
                    span=span,
                )
            )
            ex.warn(
                f"{span.text!r} was turned into a minimum spend of {budget.amount * share:,.0f}"
            )
        else:
            ex.warn(
                f"{span.text!r} needs a budget to become a minimum spend; state the budget or "
                "an amount"
            )


@dataclass
class _Findings:
    """What :func:`check` found: contradictions (errors) and softer doubts (warnings)."""

    text: str | None
    errors: list[GoalError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def fail(self, message: str, hint: str) -> None:
        self.errors.append(GoalError(message, text=self.text, code="goal.contradiction", hint=hint))


@dataclass
class _ChannelBounds:
    """Per-channel spend bounds the rules set: summed minimums, tightest caps."""

    mins: dict[str, float] = field(default_factory=dict)
    maxs: dict[str, float] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)


def check(fields: dict[str, Any], text: str | None) -> tuple[list[GoalError], list[str]]:
    """Contradictions between fields (errors) and softer doubts (warnings).

    Shared by the text parser and structured goals, so both refuse the same nonsense.
    """
    found = _Findings(text)
    budget = fields.get("budget")
    amount = budget.amount if isinstance(budget, Money) else None
    channels = fields.get("channels")
    excluded = set(fields.get("excluded_channels") or [])
    constraints = [c for c in fields.get("constraints") or [] if isinstance(c, Constraint)]
    if amount == 0:
        _check_zero_budget(fields, found)
    if channels is not None and not [c for c in channels if c not in excluded]:
        found.fail(
            "every channel the goal names is also excluded: no channel is left",
            "name at least one channel that may be used, or drop the exclusion",
        )
    bounds = _check_rules(constraints, channels, excluded, amount, found)
    _check_bounds(bounds, amount, found)
    if channels:
        _check_share_caps([c for c in channels if c not in excluded], bounds.shares, found)
    return found.errors, found.warnings


def _check_zero_budget(fields: dict[str, Any], found: _Findings) -> None:
    """A budget of zero: an error when the goal asks for growth, else a warning."""
    target = fields.get("target")
    objective = fields.get("objective")
    kpi = str(fields.get("kpi") or "")
    grows = isinstance(target, Target) and (
        target.kind in ("absolute", "floor")
        or (
            target.kind in ("relative", "points")
            and (target.value > 0) != (kpi in lex.DOWN_GOOD_KPIS)
        )
    )
    if grows or (target is None and objective not in (None, "efficiency")):
        found.fail(
            "the goal asks for growth with a budget of zero",
            "give the budget the growth may use, or drop the growth target",
        )
    else:
        found.warnings.append("the budget is zero: only unpaid channels can be used")


def _check_rules(
    constraints: list[Constraint],
    channels: list[str] | None,
    excluded: set[str],
    amount: float | None,
    found: _Findings,
) -> _ChannelBounds:
    """Each rule against the channels and the budget; the channel bounds they add up to."""
    bounds = _ChannelBounds()
    for c in constraints:
        said = f" ({c.span.text!r})" if c.span else ""
        if c.channel and c.channel in excluded:
            if c.kind == "min_channel_spend":
                found.fail(
                    f"{c.channel} is excluded but must get at least {c.value:,.0f}{said}",
                    f"either allow {c.channel} or drop its minimum spend",
                )
            else:
                found.warnings.append(f"{c.channel} is excluded, so its limit{said} has no effect")
        if (
            c.channel
            and channels is not None
            and c.channel not in channels
            and c.channel not in excluded
        ):
            found.warnings.append(
                f"a rule names {c.channel}{said}, which is not among the goal's channels"
            )
        if c.kind == "min_channel_spend" and c.channel:
            bounds.mins[c.channel] = bounds.mins.get(c.channel, 0.0) + c.value
        if c.kind == "max_channel_spend" and c.channel:
            bounds.maxs[c.channel] = min(bounds.maxs.get(c.channel, c.value), c.value)
        if c.kind == "max_channel_share" and c.channel:
            bounds.shares[c.channel] = min(bounds.shares.get(c.channel, c.value), c.value)
        if c.kind == "max_total_spend" and amount is not None and amount > c.value:
            found.fail(
                f"the budget ({amount:,.0f}) is above the spending cap ({c.value:,.0f}){said}",
                "state one total: either the budget or the cap",
            )
    return bounds


def _check_bounds(bounds: _ChannelBounds, amount: float | None, found: _Findings) -> None:
    """Each channel's minimum against its caps, and all minimums against the budget."""
    mins, maxs, shares = bounds.mins, bounds.maxs, bounds.shares
    for ch, low in mins.items():
        if ch in maxs and maxs[ch] < low:
            found.fail(
                f"{ch} must get at least {low:,.0f} and at most {maxs[ch]:,.0f}",
                f"make the minimum for {ch} no larger than its maximum",
            )
        if ch in shares and amount is not None and shares[ch] * amount < low:
            found.fail(
                f"{ch} must get at least {low:,.0f}, more than its cap of {shares[ch]:.0%} "
                f"of the budget allows",
                f"lower the minimum for {ch} or raise its share",
            )
    if amount is not None and amount > 0 and sum(mins.values()) > amount:
        found.fail(
            f"the minimum channel spends add up to {sum(mins.values()):,.0f}, more than the "
            f"budget of {amount:,.0f}",
            "raise the budget or lower the minimums",
        )


def _check_share_caps(usable: list[str], shares: dict[str, float], found: _Findings) -> None:
    """Share caps on every channel allowed must leave room for the whole budget."""
    if usable and all(c in shares for c in usable) and sum(shares[c] for c in usable) < 1 - 1e-9:
        found.fail(
            "the channel share caps add up to less than 100% of the budget across the "
            f"only channels allowed ({', '.join(usable)})",
            "allow more channels or raise a cap",
        )
