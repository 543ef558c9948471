"""Goal words the grammar did not use (the last step of :mod:`conductor.goals._parser`).

A word is *used* when a value was read from it: it lies in the span of the KPI, the
objective, the budget, the period or the audience, in a number, in a KPI, channel,
objective or market phrase the grammar found, in text the grammar blanked (periods,
ignored instructions), or in a cue an extractor read. (Spans that run over several
phrases, a target's or a rule's, are not used whole: "CPA for app users under $40".) Of the other
words, function words and the grammar's own cue words (``STOP_WORDS`` in the lexicon)
are not flagged; every other word is, in one warning per sentence, with a specific hint
for the words that change what a goal means (``UNUSED_WORD_HINTS``): "Lift repeat
purchases 8%" is read as conversions, and "repeat" says it should not be.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from conductor.goals import _lexicon as lex
from conductor.goals._text import UnusedWord, _Doc

__all__ = ["unused_warnings", "unused_words"]

_WORD = re.compile(r"[a-z][a-z0-9]*(?:['-][a-z0-9]+)*")
# Words a modifier such as "repeat" or "new" qualifies when its hint fits: KPI and people
# words ("repeat purchases", "new sign-ups"), not a product ("the new range").
_QUALIFIED = frozenset(
    word for table in (lex.KPIS, lex.AUDIENCE_HEADS) for phrase in table for word in phrase.split()
)


def _is_content(word: str) -> bool:
    """Whether a word (lower case) means something the grammar could have read."""
    word = word.removesuffix("'s")
    if len(word) < 2 or word in lex.STOP_WORDS:
        return False
    if word in lex.UNUSED_WORD_HINTS:
        return True
    parts = [p for p in re.split(r"['-]", word) if p]
    return not all(len(p) < 2 or p in lex.STOP_WORDS or p.isdigit() for p in parts)


def unused_words(doc: _Doc, used: Iterable[tuple[int, int]]) -> list[UnusedWord]:
    """The content words of the goal outside every used range, in text order."""
    ranges = sorted(used)
    tokens = list(_WORD.finditer(doc.low))
    out: list[UnusedWord] = []
    for i, m in enumerate(tokens):
        start, end, word = m.start(), m.end(), m.group().removesuffix("'s")
        if doc.work[start:end] != doc.low[start:end]:
            continue  # blanked: a period, a zero budget, ignored instructions
        if any(s < end and start < e for s, e in ranges) or not _is_content(word):
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and doc.low[end : nxt.start()].strip():
            nxt = None  # punctuation between: the word ends its phrase
        after = nxt.group() if nxt is not None else None
        if word in lex.VERBS_OR_CHANNELS and (_opens_clause(doc, start) or after in _QUALIFIED):
            continue  # "Push registrations up 15%": a verb
        hint = lex.UNUSED_WORD_HINTS.get(word)
        if hint is not None and hint[2] and after in lex.STOP_WORDS:
            continue  # "our existing budget": a modifier of a word the grammar reads
        hinted = hint is not None and (not hint[2] or after is None or after in _QUALIFIED)
        with_next = nxt is not None and after not in lex.FUNCTION_WORDS
        phrase = doc.text[start : nxt.end() if with_next and nxt is not None else end]
        out.append(UnusedWord(start, end, word, phrase, hinted))
    return out


def _opens_clause(doc: _Doc, start: int) -> bool:
    before = doc.low[:start].rstrip()
    return not before or before[-1] in ".,;:!?()-"


def _hints(text: str, words: list[UnusedWord], kpi: str) -> list[str]:
    """Each hint once; words next to each other that share one quote one phrase
    ("mobile app revenue")."""
    phrases: dict[str, tuple[int, int]] = {}
    for w in words:
        template = lex.UNUSED_WORD_HINTS[w.word][1]
        end = w.start + len(w.phrase)
        got = phrases.get(template)
        if got is None:
            phrases[template] = (w.start, end)
        elif w.start <= got[1]:
            phrases[template] = (got[0], max(got[1], end))
    return [t.format(phrase=text[s:e], kpi=kpi) for t, (s, e) in phrases.items()]


def _sentences(text: str) -> list[tuple[int, int]]:
    cuts = [m.end() for m in _Doc._SENTENCE.finditer(text)]
    bounds = list(zip([0, *cuts], [*cuts, len(text)], strict=True))
    return [(s, e) for s, e in bounds if s < e]


def _quote(text: str, start: int, end: int, words: list[UnusedWord]) -> str:
    """The sentence the words are in, or the part of a long one around them."""
    said = text[start:end].strip().rstrip(".;!?")
    if len(said) <= 120:
        return said
    lo, hi = max(start, words[0].start - 40), min(end, words[-1].end + 40)
    part = text[lo:hi].strip()
    return ("..." if lo > start else "") + part + ("..." if hi < end else "")


def _plain(plain: list[UnusedWord], hinted: bool) -> str:
    one = len(plain) == 1
    which = (
        ("the other word" if one else "the other words")
        if hinted
        else "this word"
        if one
        else "these words"
    )
    it = "it" if one else "them"
    return (
        f"the parser does not know {which} and read the goal without {it} "
        "(docs/goals.md lists the words it reads)"
    )


def unused_warnings(
    text: str,
    words: list[UnusedWord],
    kpi: str | None,
    *,
    kpi_source: str = "read",
    given: Collection[str] = (),
) -> list[str]:
    """One warning per sentence that has unused words, with a hint for each known word:
    ``words not used: "repeat" (in "Lift repeat purchases 8%") — the KPI read is
    conversions; if you meant repeat purchases (retention), say so with a structured goal
    (kpi: retention_rate)``.

    Args:
        text: The goal text the words were found in.
        words: From :func:`unused_words`.
        kpi: The goal's KPI, as the warning quotes it (None when there is none yet).
        kpi_source: How the KPI was set: "read" from the text, a "default", or "given"
            as a structured field.
        given: Fields given as structured fields: a word whose hint concerns one of them
            is taken as answered by it and not listed.
    """
    kept = [w for w in words if not (w.hinted and lex.UNUSED_WORD_HINTS[w.word][0] in given)]
    if kpi is None:
        kpi_said = "no KPI was read"
    elif kpi_source == "read":
        kpi_said = f"the KPI read is {kpi}"
    else:
        kpi_said = f"the KPI is {kpi} ({'a default' if kpi_source == 'default' else 'given'})"
    out: list[str] = []
    for start, end in _sentences(text):
        here = [w for w in kept if start <= w.start < end]
        if not here:
            continue
        quoted = ", ".join(f'"{text[w.start : w.end]}"' for w in here)
        hints = _hints(text, [w for w in here if w.hinted], kpi or "no KPI")
        plain = [w for w in here if not w.hinted]
        if plain:
            hints.append(_plain(plain, bool(hints)))
        said = _quote(text, start, end, here)
        out.append(f'words not used: {quoted} (in "{said}") — {kpi_said}; ' + "; ".join(hints))
    return out
