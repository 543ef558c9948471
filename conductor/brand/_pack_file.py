"""The schema of a rule-pack file: named families of words and patterns, as YAML.

The built-in packs (``conductor/brand/vocab/*.yaml``) and a brand's custom claim packs
(``claims.packs.custom``) share it; docs/brand.md ("Rule packs as data") describes it
for a compliance reader. A :class:`PackFile` is one file; each of its families is a
:class:`Family`, the words and patterns of one kind of claim or one word list. A custom
pack's families (:class:`CustomFamily`) also say how a match is reported, since each of
them is a rule of its own (``claims.custom.<family>``).

Pattern text may use ``{gap:N}`` for "up to N words in between, within one sentence"
(:func:`gap`); :func:`expand_gaps` turns it into the regular expression.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from conductor.brand._safe_regex import UnsafePattern, unsafe_construct
from conductor.verdict import Severity

__all__ = [
    "CustomFamily",
    "CustomPackFile",
    "Family",
    "PackFile",
    "check_regex",
    "expand_gaps",
    "gap",
]

_GAP = re.compile(r"\{gap:(\d{1,2})\}")


# A gap is words and separators that take turns, and every character belongs to exactly
# one of them: an apostrophe or hyphen between two letters is part of a word ("don't",
# "well-known"), anywhere else it separates. With ``[\w'’-]+`` for a word, a run such
# as "a-a-a-a" could be split into words in exponentially many ways, and a 400-character
# copy kept the health pack's "supports {gap:4} <body function>" busy for 25 s.
_GAP_WORD = r"\w+(?:['’-]\w+)*"
_GAP_SEP = r"(?:[^\w.!?\n'’-]|(?<!\w)['’-]|(?<=\w)['’-](?!\w))+"


def gap(max_words: int) -> str:
    """Up to ``max_words`` intervening words, never crossing ``.``, ``!`` or ``?``."""
    return f"(?:{_GAP_SEP}{_GAP_WORD}){{0,{max_words}}}?{_GAP_SEP}"


def expand_gaps(src: str) -> str:
    """A pattern with each ``{gap:N}`` replaced by :func:`gap` of N."""
    return _GAP.sub(lambda m: gap(int(m.group(1))), src) if "{gap:" in src else src


def check_regex(value: str, *, what: str, safe: bool = True) -> str:
    """``value`` if it is a valid regular expression without named groups.

    ``safe`` (every brand-supplied pattern): it must also be one the backtracking matcher
    runs in linear time (:func:`conductor.brand._safe_regex.unsafe_construct`); a
    refused pattern raises :class:`UnsafePattern`, which names the construct.
    """
    if "(?P<" in value:
        raise ValueError(f"{what} may not use named groups '(?P<...>)'")
    try:
        re.compile(value)
        # As the engine runs it: inside a group between word boundaries, where a global
        # flag such as '(?i)' is an error.
        re.compile(rf"(?<!\w)(?:{value})(?!\w)")
    except re.error as exc:
        raise ValueError(f"{what} is not a valid regular expression: {exc}") from exc
    if safe:
        # A {gap:N} is checked as one separator: gap() itself is built unambiguous.
        problem = unsafe_construct(_GAP.sub(r"[^\\w.!?\\n]+", value))
        if problem is not None:
            raise UnsafePattern(f"unsafe {what}: {problem}", problem.hint)
    return value


def _valid_pattern(value: str) -> str:
    # Built-in packs are reviewed code; a custom pack's patterns are checked for safety
    # by :data:`_SafePattern` as well.
    check_regex(expand_gaps(value), what="pattern", safe=False)
    return value


def _safe_pattern(value: str) -> str:
    check_regex(expand_gaps(value), what="pattern", safe=False)
    check_regex(value, what="pattern")
    return value


_Pattern = Annotated[str, Field(min_length=1), AfterValidator(_valid_pattern)]
_SafePattern = Annotated[str, Field(min_length=1), AfterValidator(_safe_pattern)]
_Word = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Family(_Model):
    """One family of a pack: the words and patterns of one kind of claim, or a word list."""

    description: str = Field(
        min_length=1, description="What the family catches, in a sentence for the reader."
    )
    examples: list[str] = Field(
        default_factory=list,
        description="Copy the family is meant to catch (checked: in custom packs when the "
        "brand is loaded, in the built-in files by the tests).",
    )
    words: list[_Word] = Field(
        default_factory=list,
        description="Plain words or phrases: whole words, any case, spaces or hyphens "
        "between words, straight or curly quotes alike.",
    )
    patterns: list[_Pattern] = Field(
        default_factory=list,
        description="Regular expressions (Python syntax, no named groups); '{gap:N}' is "
        "up to N words in between, within one sentence.",
    )

    @model_validator(mode="after")
    def _has_entries(self) -> Family:
        if not self.words and not self.patterns:
            raise ValueError("a family needs 'words' or 'patterns' (or both)")
        return self


class CustomFamily(Family):
    """A family of a custom claim pack: a rule of its own, ``claims.custom.<family>``."""

    message: str = Field(
        min_length=1, description="Why the claim is not allowed, shown after the quoted match."
    )
    fix: str = Field(default="", description="What to write instead.")
    severity: Severity = Field(default=Severity.ERROR, description="How bad a match is.")
    negatable: bool = Field(
        default=False,
        description="A negation opening the clause takes the claim back ('does not cure').",
    )
    patterns: list[_SafePattern] = Field(
        default_factory=list,
        description="Regular expressions (Python syntax, no named groups, none that can "
        "backtrack catastrophically: see docs/brand.md); '{gap:N}' is up to N words in "
        "between, within one sentence.",
    )


class _PackBase(_Model):
    name: str = Field(
        min_length=1, description="The pack's name (a built-in file's is its file name)."
    )
    description: str = Field(min_length=1, description="What the pack is for.")


class PackFile(_PackBase):
    """A built-in pack file (``conductor/brand/vocab/<name>.yaml``)."""

    required_text: str | None = Field(
        default=None,
        min_length=1,
        description="The text the pack requires alongside some claims (the supplement "
        "disclaimer, the risk warning, the results disclosure); a brand file may replace it.",
    )
    families: dict[str, Family] = Field(min_length=1, description="Family name -> family.")


class CustomPackFile(_PackBase):
    """A custom claim pack, named by a brand file's ``claims.packs.custom``."""

    families: dict[str, CustomFamily] = Field(
        min_length=1, description="Family name -> family; each is the rule claims.custom.<name>."
    )
