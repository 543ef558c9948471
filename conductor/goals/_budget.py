"""Steps 6 and 8 of :mod:`conductor.goals._parser`: which amount is the budget.

``_budget_strong`` takes money next to a budget word ("$250k budget", "with $250k"),
warns about an amount tied to one channel ("$50k on search"); ``_budget_weak`` takes a
lone leftover amount. Two different budgets are a contradiction. A budget stated per
period ("$50k a month") is marked so the goal can total it over its horizon.
"""

from __future__ import annotations

import re

from conductor.goals._text import PER_ADVERB, Extraction, Mention, Qty, _Doc, _Found, per_period

_BUDGET_LEFT = re.compile(
    r"(?:\bbudget|\bspend|\bspending|\binvest|\binvesting|\binvestment|\ballocate|\ballocating"
    r"|\bbudgeted|\bfunding|\bput\s+in|\bwe\s+have|\bwe've\s+got)"
    r"(?:\s+(?:of|is|=|:|at|will\s+be|totals?|totalling|totaling|around|about|approx"
    r"|approximately|roughly|only|just|up\s+to|a\s+total\s+of|total|in\s+total|to))*\s*[:=]?\s*$"
)
_BUDGET_RIGHT = re.compile(
    r"\s*(?:(?:total\s+|overall\s+|monthly\s+|quarterly\s+)?(?:media\s+|marketing\s+|ad\s+|"
    r"advertising\s+|campaign\s+|paid\s+)?budget\b|(?:of|in)\s+(?:total\s+)?(?:ad\s+|media\s+|"
    r"marketing\s+)?spend\b|(?:ad\s+|media\s+|marketing\s+)?spend\b|to\s+spend|to\s+invest"
    r"|in\s+total|total\b)"
)
_WITH_LEFT = re.compile(
    r"\b(?:with|using|given|on)\s+(?:a\s+|an\s+|the\s+|our\s+)?(?:total\s+of\s+)?$"
)


def _channel_amount(doc: _Doc, q: Qty, channels: list[Mention]) -> Mention | None:
    """'$100k on search' / 'search: $100k' -- an amount tied to one channel.

    '$50k on LinkedIn and Google' names several channels: that is a budget across them.
    """
    for c in channels:
        if c.start >= q.end and re.fullmatch(
            r"\s*(?:(?:a\s+)?(?:month|week)\s+)?(?:on|for|in|into|to|via)\s+(?:the\s+)?",
            doc.work[q.end : c.start],
        ):
            listed = any(
                o.start >= c.end
                and re.fullmatch(
                    r"\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+|&\s*)", doc.work[c.end : o.start]
                )
                for o in channels
            )
            return None if listed else c
        if c.end <= q.start and re.fullmatch(
            r"\s*(?:spend|budget)?\s*(?:of|at|:|=)?\s*", doc.work[c.end : q.start]
        ):
            return c
    return None


def _budget_strong(
    doc: _Doc, ex: Extraction, found: _Found, qtys: list[Qty], channels: list[Mention]
) -> None:
    candidates: list[Qty] = []
    for q in qtys:
        if q.claimed or q.kind not in ("money", "number"):
            continue
        sentence_lo = doc.bounds(q.start, q.end, "sentence")[0]
        left = doc.work[max(sentence_lo, q.start - 40) : q.start]
        right = doc.work[q.end : q.end + 40]
        budget_word = re.search(r"\bbudget\b[\w\s:=]*$", left) or re.match(r"\s*budget\b", right)
        channel = None if budget_word else _channel_amount(doc, q, channels)
        if channel is not None and q.kind == "money":
            span = doc.span(min(q.start, channel.start), max(q.end, channel.end))
            ex.warn(
                f"{span.text!r} names an amount for one channel without 'at most' or 'at "
                "least'; it is not used as the budget or as a constraint"
            )
            found.channel_amounts.append((span.start, span.end))
            q.claimed = True
            continue
        if (
            _BUDGET_LEFT.search(left)
            or _BUDGET_RIGHT.match(right)
            or (q.kind == "money" and _WITH_LEFT.search(left))
        ):
            candidates.append(q)
    _choose_budget(doc, ex, found, candidates, strong=True)


def _budget_weak(doc: _Doc, ex: Extraction, found: _Found, qtys: list[Qty]) -> None:
    if found.budget is not None:
        return
    candidates = []
    for q in qtys:
        if q.claimed or q.kind != "money":
            continue
        candidates.append(q)
    values = {(round(q.value, 2), q.currency) for q in candidates}
    if len(values) > 1:
        texts = ", ".join(repr(doc.span(q.start, q.end).text) for q in candidates)
        ex.warn(
            f"several amounts could be the budget ({texts}); none was taken. Say e.g. "
            "'budget $250k'"
        )
        return
    _choose_budget(doc, ex, found, candidates, strong=False)


_PERIODIC_BUDGET = re.compile(
    r"\b(daily|weekly|monthly|quarterly|yearly|annually)\s+(?:(?:media|marketing|ad|advertising)"
    r"\s+)?(?:budget|spend)\s*(?:of|is|:|=|at)?\s*$"
)


def _choose_budget(
    doc: _Doc, ex: Extraction, found: _Found, candidates: list[Qty], *, strong: bool
) -> None:
    if not candidates:
        return
    values = {(round(q.value, 2), q.currency) for q in candidates}
    if len(values) > 1:
        texts = ", ".join(repr(doc.span(q.start, q.end).text) for q in candidates)
        ex.fail(
            f"the goal states more than one budget: {texts}",
            code="goal.contradiction",
            hint="state the budget once, e.g. 'with a budget of $250k'",
        )
    q = candidates[0]
    for c in candidates:
        c.claimed = True
    found.budget = (q, doc.span(q.start, q.end))
    if not strong:
        ex.warn(f"read {found.budget[1].text!r} as the budget (no budget word next to it)")
    # "$50k a month", "a monthly budget of $50k": a rate, totalled over the horizon later.
    per = per_period(doc, q.end)
    if per is not None:
        ex.budget_per = (per[0], doc.span(q.start, per[1]).text)
    else:
        left = _PERIODIC_BUDGET.search(doc.work, max(0, q.start - 40), q.start)
        if left is not None:
            ex.budget_per = (PER_ADVERB[left.group(1)], doc.span(left.start(), q.end).text)
