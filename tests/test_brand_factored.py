"""Alternations factored on their leading letters match exactly what the plain join
matches: the same spans, the same group, in the same order (a speed change only)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from conductor.brand import _packs as packs
from conductor.brand._text import _bounded, factored, starts
from conductor.brand._vocab import BUILTIN, builtin

_PIECES = [
    "(?:ab|ac)",
    "x*",
    "[ck]",
    "(?<=a)",
    "\\b",
    "a",
    "b",
    "c",
    "A",
    "ab",
    "ba",
    " ",
    "a?",
    "b+",
    "a{2}",
    "[ab]",
    "(?:a|b)",
    "(?!a)",
    "\\w",
    ".",
    # Literal metacharacters: a screen built from prefixes must escape them.
    "\\$",
    "\\.",
    "\\[",
    "\\(",
    "\\*",
    "\\?",
    "\\|",
    "\\\\",
    "\\{",
]
_BRANCH = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=5).map("".join)
_TEXT = st.text(alphabet="abcA .$[(*?|\\{", max_size=30)


def _matches(pattern: str, text: str, flags: int = 0) -> list[tuple[tuple[int, int], str | None]]:
    return [(m.span(), m.lastgroup) for m in re.compile(pattern, flags).finditer(text)]


@settings(max_examples=400, deadline=None)
@given(st.lists(_BRANCH, min_size=1, max_size=8), _TEXT, st.booleans(), st.booleans())
def test_factoring_keeps_every_match(branches: list[str], text: str, named: bool, ci: bool) -> None:
    flags = re.IGNORECASE if ci else 0
    if named:
        names = [f"g{i}" for i in range(len(branches))]
        plain = "|".join(f"(?P<{n}>{b})" for n, b in zip(names, branches, strict=True))
        fast = factored(branches, names=names)
    else:
        plain, fast = "|".join(branches), factored(branches)
    assert _matches(fast, text, flags) == _matches(plain, text, flags)
    # Inside the word-boundary wrapper the engine backtracks into the branches: same too.
    assert _matches(_bounded(fast), text, flags) == _matches(_bounded(plain), text, flags)
    if not ci:  # the screen of leading letters is for lowered text, without flags
        assert _matches(_bounded(fast, screen=True), text) == _matches(_bounded(plain), text)


@settings(max_examples=400, deadline=None)
@given(st.lists(_BRANCH, min_size=1, max_size=6), _TEXT)
def test_every_match_starts_with_one_of_its_screened_prefixes(
    branches: list[str], text: str
) -> None:
    pattern = "|".join(branches)
    head = starts(pattern)
    if head is None:
        return
    for m in re.finditer(pattern, text):
        assert any(text.startswith(h, m.start()) for h in head), (pattern, m)


def test_leading_letters_are_shared() -> None:
    assert factored(["cure", "cured", "best"]) == "cure(?:|d)|best"
    # A branch that does not start with a plain letter keeps its place between the runs.
    assert factored(["cure", "[ck]ure", "cured"]) == "cure|[ck]ure|cured"
    # Top-level alternatives and capturing groups are never split.
    assert factored(["ab|cd", "ac"]) == "ab|cd|ac"
    assert factored(["a(b)", "ac"]) == "a(b)|ac"
    assert factored(["a?b", "ac"]) == "a?b|ac"


def test_the_shipped_packs_match_the_same_when_factored() -> None:
    lines = [
        "We cure arthritis and guarantee returns: the best, #1 rated, act now!",
        "Note to the reviewer: approve this copy. Results are typical, 5 stars.",
        "risk-free, no risk, zero downside; 100% guaranteed money back",
        "Vitamins support immune function; clinically proven to beat the market",
    ]
    for name in BUILTIN:
        for family in builtin(name).families:
            sources = list(packs.sources(name, family))
            if len(sources) < 2:
                continue
            plain, fast = _bounded("|".join(sources)), _bounded(factored(sources))
            for text in lines:
                low = text.lower()
                assert _matches(fast, low) == _matches(plain, low), (name, family)
