"""Readability for the brand engine: Flesch-Kincaid grade, implemented here.

Implemented rather than imported so the engine needs no dependency. :data:`WORD` and
:data:`SENTENCE_END` are also what the text helpers (:mod:`conductor.brand._text`)
count words and sentences with.
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
# A line break ends a sentence only at a paragraph break: email copy is often wrapped
# mid-sentence, and counting every line as a sentence would make it read as grade 2.
SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n[ \t]*\n\s*")


@lru_cache(maxsize=8192)
def syllables(word: str) -> int:
    """Estimated syllables in an English word (vowel groups, silent endings dropped)."""
    w = word.lower().replace("'", "")
    if len(w) <= 3:
        return 1
    w = re.sub(r"(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$", "", w)
    w = re.sub(r"^y", "", w)
    return max(1, len(re.findall(r"[aeiouy]{1,2}", w)))


def fk_grade(text: str, *, min_words: int = 0) -> tuple[float, int]:
    """Flesch-Kincaid grade level of a text, and its number of words.

    Args:
        text: The text.
        min_words: Below this many words the grade is not computed (returned as 0.0),
            which saves the syllable count on short copy that is not graded anyway.

    Returns:
        ``(grade, words)``; grade is 0.0 for text without words.
    """
    words = WORD.findall(text)
    n = len(words)
    if not words or n < min_words:
        return 0.0, n
    sentences = sum(1 for part in SENTENCE_END.split(text) if WORD.search(part))
    syl = sum(map(syllables, words))
    grade = 0.39 * n / max(1, sentences) + 11.8 * syl / n - 15.59
    return round(grade, 1), n
