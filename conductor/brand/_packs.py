"""Built-in rule packs of the brand engine, gathered in one namespace.

The packs live in one module per concept; this module re-exports them so the engine,
the brand model and the tests can keep writing ``packs.X``:

- :mod:`conductor.brand._claim_vocab`: the health, finance, endorsement and
  superlative claim vocabularies, the negation words and :func:`gap`;
- :mod:`conductor.brand._hygiene_vocab`: injection, placeholders, opt-outs,
  unsubscribe links, emoji and the acronyms that are not shouting;
- :mod:`conductor.brand._readability`: Flesch-Kincaid grade.

The plain arithmetic on allocations and audiences is a check family of its own
(:mod:`conductor.brand._plan_checks`), not a vocabulary.

The prompt for the model review of the voice lives with that review
(:mod:`conductor.brand._review`).

Text packs are regular-expression *sources*, compiled and combined by
:mod:`conductor.brand._compiled`.
"""

from __future__ import annotations

from conductor.brand._claim_vocab import (
    CLAUSE_BREAK,
    ENDORSEMENT_DISCLOSURE,
    ENDORSEMENT_QUALIFIERS,
    ENDORSEMENT_TYPICAL,
    FINANCE_GUARANTEE,
    FINANCE_INVESTMENT_TERMS,
    FINANCE_PROMISSORY,
    FINANCE_PROMISSORY_NEGATABLE,
    FINANCE_RISK_WARNING,
    GAP,
    HEALTH_CONDITIONS,
    HEALTH_DISCLAIMER,
    HEALTH_DISEASE_NOUN_FIRST,
    HEALTH_DISEASE_STRONG,
    HEALTH_DISEASE_VERBS,
    HEALTH_SF_FUNCTIONS,
    HEALTH_SF_VERBS,
    INVENTED_REVIEW,
    INVENTED_REVIEW_GLYPHS,
    NEGATORS,
    RESULTS_VARY,
    SUPERLATIVE,
    SUPERLATIVE_QUALIFIER,
    TESTIMONIAL_OUTCOME,
    gap,
)
from conductor.brand._hygiene_vocab import (
    ALLOWED_CAPS,
    EMOJI,
    INJECTION,
    OPT_OUT,
    PLACEHOLDER,
    PLACEHOLDER_CASED,
    UNSUBSCRIBE_LINK,
)
from conductor.brand._readability import SENTENCE_END, WORD, fk_grade, syllables

__all__ = [
    "ALLOWED_CAPS",
    "CLAUSE_BREAK",
    "EMOJI",
    "ENDORSEMENT_DISCLOSURE",
    "ENDORSEMENT_QUALIFIERS",
    "ENDORSEMENT_TYPICAL",
    "FINANCE_GUARANTEE",
    "FINANCE_INVESTMENT_TERMS",
    "FINANCE_PROMISSORY",
    "FINANCE_PROMISSORY_NEGATABLE",
    "FINANCE_RISK_WARNING",
    "GAP",
    "HEALTH_CONDITIONS",
    "HEALTH_DISCLAIMER",
    "HEALTH_DISEASE_NOUN_FIRST",
    "HEALTH_DISEASE_STRONG",
    "HEALTH_DISEASE_VERBS",
    "HEALTH_SF_FUNCTIONS",
    "HEALTH_SF_VERBS",
    "INJECTION",
    "INVENTED_REVIEW",
    "INVENTED_REVIEW_GLYPHS",
    "NEGATORS",
    "OPT_OUT",
    "PLACEHOLDER",
    "PLACEHOLDER_CASED",
    "RESULTS_VARY",
    "SENTENCE_END",
    "SUPERLATIVE",
    "SUPERLATIVE_QUALIFIER",
    "TESTIMONIAL_OUTCOME",
    "UNSUBSCRIBE_LINK",
    "WORD",
    "fk_grade",
    "gap",
    "syllables",
]
