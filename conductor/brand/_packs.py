"""The built-in rule packs of the brand engine, as the engine reads them.

The words and patterns are data: one YAML file per pack in ``conductor/brand/vocab/``
(``health``, ``finance``, ``endorsements``, ``superlatives``, ``negation``, ``hygiene``,
``instructions``, ``sensitive``), commented for a compliance reader and described in docs/brand.md
("Rule packs as data"). :mod:`conductor.brand._vocab` reads and checks each file once,
the first time a brand needs it. This module hands the engine what it combines:

- :func:`sources`: a family as regular-expression sources for lowered text (compiled
  and combined by :mod:`conductor.brand._compiled`), :func:`instruction_sources` every
  language of the instructions pack at once (:func:`instruction_markup` its markup), :func:`words` a word list,
  :func:`required_text` a pack's disclaimer, risk warning or disclosure;
- the negation patterns (:func:`negators`, :func:`clause_break`, :func:`not_negation`),
  the acronyms that are not shouting (:func:`allowed_caps`) and the sensitive targeting
  categories (:func:`sensitive_synonyms`);
- what stays code: :func:`gap` (the word gap ``{gap:N}`` stands for), :data:`EMOJI`
  (Unicode ranges, not vocabulary) and the Flesch-Kincaid grade
  (:mod:`conductor.brand._readability`).

The constant names the packs had as Python literals (``HEALTH_CONDITIONS``,
``NEGATORS``, ...) still resolve, read from the files on first use (:data:`LEGACY`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from conductor.brand._pack_file import gap
from conductor.brand._readability import SENTENCE_END, WORD, fk_grade, syllables
from conductor.brand._vocab import BUILTIN, builtin, family_sources

__all__ = [
    "EMOJI",
    "GAP",
    "LEGACY",
    "SENTENCE_END",
    "WORD",
    "allowed_caps",
    "clause_break",
    "fk_grade",
    "gap",
    "instruction_markup",
    "instruction_sources",
    "negators",
    "not_negation",
    "required_text",
    "role_mailboxes",
    "sensitive_synonyms",
    "sources",
    "syllables",
    "words",
]

GAP = gap(5)


@cache
def sources(pack: str, family: str) -> tuple[str, ...]:
    """A built-in family's patterns and words as regex sources, in file order."""
    use = (BUILTIN[pack] or {}).get(family)
    cased = use is not None and use.case == "any"
    return family_sources(builtin(pack).families[family], cased=cased)


def words(pack: str, family: str) -> tuple[str, ...]:
    """A built-in word list."""
    return tuple(builtin(pack).families[family].words)


def required_text(pack: str) -> str:
    """The text a built-in pack requires alongside some claims (its ``required_text``)."""
    text = builtin(pack).required_text
    assert text is not None  # _vocab checks that these packs have one
    return text


@cache
def instruction_sources() -> tuple[str, ...]:
    """Every language family of instructions.yaml, as regex sources (on whole words).

    All languages are checked on every brand: an instruction to a reviewer is never
    customer copy, whatever language it is written in.
    """
    langs = [f for f in builtin("instructions").families if f != "any"]
    return tuple(src for fam in langs for src in sources("instructions", fam))


def instruction_markup() -> tuple[str, ...]:
    """The chat-model markup of instructions.yaml (``any``), matched inside words too."""
    return sources("instructions", "any")


@cache
def negators() -> str:
    """Words that negate a claim when they open its clause ("does not treat")."""
    whole = "|".join(map(re.escape, words("negation", "negators")))
    endings = "|".join(re.escape(e) + r"\b" for e in words("negation", "negating-endings"))
    return rf"\b(?:{whole})\b|{endings}"


@cache
def clause_break() -> str:
    """Where a negation stops: "Don't wait, but ours treats colds" is a claim."""
    return "|".join(sources("negation", "clause-breaks"))


@cache
def not_negation() -> str:
    """What, right after a negator, makes it none: "not only"."""
    return r"\s*(?:" + "|".join(map(re.escape, words("negation", "not-negations"))) + r")\b"


@cache
def allowed_caps() -> frozenset[str]:
    """Acronyms that are not shouting. Brands add their own (``voice.allowed_caps``)."""
    return frozenset(words("hygiene", "allowed-caps"))


@cache
def role_mailboxes() -> frozenset[str]:
    """Mailbox names of a role ("help", "privacy"): at the brand's domain, not a person."""
    return frozenset(words("hygiene", "role-mailboxes"))


@cache
def sensitive_synonyms() -> dict[str, tuple[str, ...]]:
    """Sensitive targeting category -> the words that find it in a column name."""
    return {name: tuple(f.words) for name, f in builtin("sensitive").families.items()}


# Emoji with optional variation selector / skin tone, joined by ZWJ into one glyph.
_EMOJI_CHAR = (
    "[\U0001f300-\U0001faff\U0001f1e6-\U0001f1ff\u2600-\u2604\u2607-\u2712\u2714-\u27bf"
    "\u2b50\u2b55\u231a\u231b\u23e9-\u23fa\u2934\u2935\u3030\u303d\u3297\u3299]"
)
_EMOJI_MOD = "[\ufe0f\U0001f3fb-\U0001f3ff]*"
EMOJI = rf"{_EMOJI_CHAR}{_EMOJI_MOD}(?:\u200d{_EMOJI_CHAR}{_EMOJI_MOD})*"


def _joined(pack: str, family: str) -> Callable[[], str]:
    return lambda: "|".join(sources(pack, family))


def _listed(pack: str, family: str) -> Callable[[], list[str]]:
    return lambda: list(sources(pack, family))


LEGACY: dict[str, Callable[[], object]] = {
    "HEALTH_DISCLAIMER": lambda: required_text("health"),
    "HEALTH_CONDITIONS": _listed("health", "conditions"),
    "HEALTH_DISEASE_VERBS": _listed("health", "disease-verbs"),
    "HEALTH_DISEASE_STRONG": _listed("health", "cures"),
    "HEALTH_DISEASE_NOUN_FIRST": _listed("health", "condition-nouns"),
    "HEALTH_SF_VERBS": _listed("health", "support-verbs"),
    "HEALTH_SF_FUNCTIONS": _listed("health", "body-functions"),
    "FINANCE_RISK_WARNING": lambda: required_text("finance"),
    "FINANCE_GUARANTEE": _listed("finance", "guarantees"),
    "FINANCE_PROMISSORY": _listed("finance", "promises"),
    "FINANCE_PROMISSORY_NEGATABLE": _listed("finance", "negatable-promises"),
    "FINANCE_INVESTMENT_TERMS": _listed("finance", "investment-terms"),
    "ENDORSEMENT_DISCLOSURE": lambda: required_text("endorsements"),
    "ENDORSEMENT_TYPICAL": _listed("endorsements", "typical-results"),
    "TESTIMONIAL_OUTCOME": _listed("endorsements", "outcomes"),
    "RESULTS_VARY": _joined("endorsements", "results-vary"),
    "INVENTED_REVIEW_GLYPHS": _listed("endorsements", "review-glyphs"),
    "INVENTED_REVIEW": lambda: [
        *sources("endorsements", "review-glyphs"),
        *sources("endorsements", "reviews"),
    ],
    "ENDORSEMENT_QUALIFIERS": _joined("endorsements", "review-sources"),
    "SUPERLATIVE": _listed("superlatives", "superlatives"),
    "SUPERLATIVE_QUALIFIER": _joined("superlatives", "sources"),
    "NEGATORS": negators,
    "CLAUSE_BREAK": clause_break,
    "INJECTION": lambda: [*instruction_markup(), *instruction_sources()],
    "PLACEHOLDER": _listed("hygiene", "placeholders"),
    "PLACEHOLDER_CASED": _listed("hygiene", "cased-placeholders"),
    "OPT_OUT": _joined("hygiene", "opt-out"),
    "UNSUBSCRIBE_LINK": _joined("hygiene", "unsubscribe-link"),
    "ALLOWED_CAPS": allowed_caps,
    "SENSITIVE_SYNONYMS": sensitive_synonyms,
}
"""The packs' old constant names -> how each is read from the files now."""


def __getattr__(name: str) -> object:
    # PEP 562: ``from conductor.brand._packs import HEALTH_CONDITIONS`` reads the file.
    try:
        make = LEGACY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return make()
