"""Text and regex helpers of the brand rule engine.

Normalisation that keeps every offset (quotes, non-breaking spaces, lower case), the
patterns for text the engine blanks or counts (URLs, sentence ends, words), and the
builders that turn a brand's literal phrases into word-bounded regexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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


def _bounded(src: str) -> str:
    return rf"(?<!\w)(?:{src})(?!\w)"


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
    return re.compile(_bounded("|".join(sources)))


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
