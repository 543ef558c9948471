"""Text and regex helpers of the brand rule engine.

Normalisation that keeps every offset (quotes, non-breaking spaces, lower case), the
patterns for text the engine blanks or counts (URLs, sentence ends, words), and the
builders that turn a brand's literal phrases into word-bounded regexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from conductor.brand._readability import SENTENCE_END, WORD

_FLAGS = re.IGNORECASE
# Built-in patterns are written in lower case and run without IGNORECASE on a lowered copy
# of the text: Python's `re` can then skip ahead on the first character of a pattern,
# which makes the scans several times faster than case-insensitive matching.
_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b|\{\{[^}]*\}\}")
_URL_HINTS = ("://", "www.", "@", "{{")
_SENTENCE_END = SENTENCE_END
_WORD = WORD
_NORMALISE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})


def _bounded(src: str, *, screen: bool = False) -> str:
    """``src`` on whole words; ``screen``: first test the letters every match starts with
    (:func:`starts`), so most word starts are rejected before any branch is tried."""
    # The screen goes first: a failed lookahead on the first letter is cheaper than the
    # lookbehind, and both are zero-width tests of the same position.
    return rf"{screen_of(src) if screen else ''}(?<!\w)(?:{src})(?!\w)"


# Regex syntax outside VERBOSE mode; spaces and quotes stay plain so they still factor.
_SPECIAL = re.compile(r"[\\.^$*+?{}\[\]|()]")


def screened(src: str) -> str:
    """``src`` behind :func:`screen_of` its prefixes: the same matches, fewer branches tried."""
    return f"{screen_of(src)}(?:{src})"


def screen_of(src: str) -> str:
    """A lookahead of the prefixes every match of ``src`` starts with (:func:`starts`),
    or "" when there is none; only for patterns compiled without flags, whose prefixes are
    exact characters (lowered text, or the text as written for the cased placeholders)."""
    head = starts(src)
    # The prefixes are literal text ("$1", "[i", "p.s"): escaped, or a "$" or "[" in one
    # would be read as regex syntax and reject (or break) the very matches it screens.
    if not head:
        return ""
    return "(?=" + factored([escaped_literal(h) for h in head]) + ")"


def escaped_literal(text: str) -> str:
    """``text`` as a regex matching it literally; unlike :func:`re.escape`, spaces and
    quotes stay plain, so :func:`factored` can still group on them."""
    return _SPECIAL.sub(_escaped, text)


def _escaped(m: re.Match[str]) -> str:
    return "\\" + m.group()


def _phrase(text: str) -> str:
    """A literal phrase as a regex: space/hyphen-flexible, straight/curly quotes alike."""
    words = text.translate(_NORMALISE).split()
    # "Summit Supply" also matches "Summit-Supply": writers hyphenate names and phrases.
    return r"[\s-]+".join(re.escape(w) for w in words)


def _lower_phrase(text: str) -> str:
    """:func:`_phrase` for matching against lowered text."""
    return _phrase(_lower(text))


def _bounded_phrase(src: str, text: str) -> str:
    """A phrase's regex, anchored on word boundaries where the phrase has word edges.

    "% off" must match in "25% off", so a boundary is only demanded at an end of the
    phrase that is a letter or digit.
    """
    left, body = _edges(src, text)
    return f"(?<!\\w){body}" if left else body


def _edges(src: str, text: str) -> tuple[bool, str]:
    """(needs a left word boundary, the phrase's regex with its right boundary)."""
    text = text.strip()
    left = text[:1].isalnum() or text[:1] == "_"
    right = r"(?!\w)" if text[-1:].isalnum() or text[-1:] == "_" else ""
    return left, f"(?:{src}){right}"


def _lower(text: str) -> str:
    """Lower case that keeps every offset (a few characters lower to two, e.g. 'İ')."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _alternation(sources: Iterable[str]) -> re.Pattern[str]:
    """Built-in (lower-case) pattern sources as one word-bounded regex for lowered text."""
    return re.compile(_bounded(factored(list(sources)), screen=True))


# --- alternations factored on their first letters ----------------------------------------
#
# Python's regex engine tries an alternation's branches one by one at every position of
# the text; a branch that starts with a literal letter is rejected at once when the letter
# differs, but a few hundred of them still cost a few hundred steps a position (most of a
# brand review). Factoring the branches on their leading letters ("cure|cured|best" ->
# "cur(?:e|ed)|best") turns that into a walk down a trie. The match is the same: the
# branches keep their order, and only branches that begin with the same letter — the only
# ones that could match at the same position — are grouped; a branch whose start is not a
# plain letter (a class, a group, a lookaround) keeps its place, and the branches on
# either side of it are grouped apart. A branch with a capturing group is never moved.

# ASCII only: under IGNORECASE two different ASCII lower-case letters never match the
# same character, so their groups can never compete for one position.
_PLAIN_LEAD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789 '%#@&,:;<>=!\"\u2019")
_QUANTIFIER = frozenset("*+?{")
_FACTOR_DEPTH = 6


def _lead(src: str) -> str | None:
    """The literal character ``src`` starts with, when it may be factored out of it."""
    if not src or src[0] not in _PLAIN_LEAD:
        return None
    if len(src) > 1 and src[1] in _QUANTIFIER:
        return None  # "a?b": the letter is optional, not a prefix
    return src[0]


def _top_level_plain(src: str) -> bool:
    """No ``|`` outside groups and classes, and no capturing group: ``src`` may be split
    after its first character and its rest put in a group without changing its meaning."""
    depth = 0
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i += 1
            if i < n and src[i] == "^":
                i += 1
            if i < n and src[i] == "]":
                i += 1
            while i < n and src[i] != "]":
                i += 2 if src[i] == "\\" else 1
        elif c == "(":
            if not src.startswith("(?", i) or src.startswith("(?P<", i):
                return False  # a capturing group: its number would move
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return False
        i += 1
    return True


def factored(alternatives: list[str], *, names: list[str] | None = None) -> str:
    """``"|".join(alternatives)``, factored on leading letters (same matches, faster).

    ``names``: wrap each alternative in a named group (``(?P<name>...)``), as
    ``"|".join(f"(?P<{n}>{a})")`` would; the group moves past the letters factored out
    of it, so the whole match and ``lastgroup`` are those of the plain join.
    """
    items = [(a, names[i] if names else None) for i, a in enumerate(alternatives)]
    return _factor(items, 0)


def _common_prefix(
    prefix: str, group: list[tuple[str, str | None]]
) -> tuple[str, list[tuple[str, str | None]]]:
    """Move the letters every branch of ``group`` starts with into ``prefix``."""
    while True:
        leads = {_lead(src) if _top_level_plain(src) else None for src, _ in group}
        if len(leads) != 1 or None in leads:
            return prefix, group
        prefix += str(leads.pop())
        group = [(src[1:], name) for src, name in group]


def _emit(src: str, name: str | None) -> str:
    return f"(?P<{name}>{src})" if name else src


def _factor(items: list[tuple[str, str | None]], depth: int) -> str:
    if depth >= _FACTOR_DEPTH or len(items) < 2:
        return "|".join(_emit(s, n) for s, n in items)
    out: list[str] = []
    run: dict[str, list[tuple[str, str | None]]] = {}  # lead -> branches, in order

    def flush() -> None:
        for lead, group in run.items():
            if len(group) == 1:
                out.append(_emit(lead + group[0][0], group[0][1]))
            else:  # the lead is written as the branches wrote it: a plain character
                prefix, group = _common_prefix(lead, group)
                out.append(f"{prefix}(?:{_factor(group, depth + 1)})")
        run.clear()

    for src, name in items:
        lead = _lead(src)
        if lead is None or not _top_level_plain(src):
            flush()
            out.append(_emit(src, name))
        else:
            run.setdefault(lead, []).append((src[1:], name))
    flush()
    return "|".join(out)


_NON_WORD = re.compile(r"[^\w%$]+")


def _norm_space(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", _lower(text.translate(_NORMALISE))).split())


def _match_case(template: str, replacement: str) -> str:
    if len(template) > 1 and template.isupper():
        # Shouted text gets the brand's own casing rather than more shouting.
        return replacement
    if template[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


# --- the letters a pattern's matches start with -------------------------------------------

_STARTS_LEN = 3  # letters looked at: "rev" (reviewer) already rules out most words
_STARTS_MAX = 400  # more prefixes than this and the screen costs what it saves
_CLASS_MAX = 4  # a class of at most this many letters is spelt out ([ck] -> c, k)


def starts(src: str) -> list[str] | None:
    """Literal prefixes (up to three characters) one of which begins every match of ``src``.

    A necessary condition, computed from the parsed pattern: ``(?=prefixes)`` in front of
    ``src`` changes no match, and rejects a position at the cost of a trie walk. None when
    some match could begin with something no short list names (a class, ``.``, an empty
    match, a case-insensitive group) — then there is no screen.
    """
    import re._constants as C  # noqa: N812 - the regex engine's own names
    import re._parser as sre

    def seq(items: Any, k: int) -> set[tuple[str, bool]] | None:
        cur: set[tuple[str, bool]] = {("", True)}
        for item in items:
            nxt: set[tuple[str, bool]] = set()
            for text, open_ in cur:
                if not open_ or len(text) >= k:
                    nxt.add((text, False))
                    continue
                got = one(item, k - len(text))
                if got is None:
                    return None
                nxt |= {(text + t, o) for t, o in got}
            if len(nxt) > _STARTS_MAX:
                return None
            cur = nxt
        return cur

    def one(item: Any, k: int) -> set[tuple[str, bool]] | None:
        op, av = item
        if op is C.LITERAL:
            return {(chr(av), True)}
        if op is C.IN:
            lits = [chr(v) for o, v in av if o is C.LITERAL]
            if lits and len(lits) == len(av) and len(lits) <= _CLASS_MAX:
                return {(c, True) for c in lits}
            return {("", False)}
        if op is C.SUBPATTERN:
            _group, add_flags, _del, sub = av
            if add_flags & (re.IGNORECASE | re.VERBOSE):
                return None
            return seq(sub, k)
        if op is C.BRANCH:
            out: set[tuple[str, bool]] = set()
            for branch in av[1]:
                got = seq(branch, k)
                if got is None:
                    return None
                out |= got
            return out
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            once = seq(sub, k)
            if once is None:
                return None
            # Taken once; when it may repeat, what follows it is not next for sure.
            taken = {(t, o and hi == 1) for t, o in once}
            return taken | ({("", True)} if lo == 0 else set())
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            return {("", True)}  # consumes nothing
        return {("", False)}

    try:
        parsed = sre.parse(src)
    except (re.error, RecursionError):
        return None
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    found = seq(parsed, _STARTS_LEN)
    if found is None or any(not text for text, _ in found):
        return None
    texts = sorted({text for text, _ in found})
    # "ai" already admits "ai:": keep the shortest of each chain.
    return [t for t in texts if not any(t != u and t.startswith(u) for u in texts)]
