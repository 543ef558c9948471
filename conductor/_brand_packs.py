"""Built-in rule packs of the brand engine, gathered in one namespace.

The packs live in one module per concept; this module re-exports them so the engine,
the brand model and the tests can keep writing ``packs.X``:

- :mod:`conductor._brand_claim_vocab`: the health, finance, endorsement and
  superlative claim vocabularies, the negation words and :func:`gap`;
- :mod:`conductor._brand_hygiene_vocab`: injection, placeholders, opt-outs,
  unsubscribe links, emoji and the acronyms that are not shouting;
- :mod:`conductor._brand_readability`: Flesch-Kincaid grade;
- :mod:`conductor._brand_plan_checks`: plain arithmetic on allocations and audiences,
  reporting through :data:`~conductor._brand_plan_checks.Emit`.

The prompt for the model review of the voice lives with that review
(:mod:`conductor._brand_model_review`).

Text packs are regular-expression *sources*, compiled and combined by
:mod:`conductor._brand_compiled`.
"""

from __future__ import annotations

from conductor._brand_claim_vocab import (
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
from conductor._brand_hygiene_vocab import (
    ALLOWED_CAPS,
    EMOJI,
    INJECTION,
    OPT_OUT,
    PLACEHOLDER,
    PLACEHOLDER_CASED,
    UNSUBSCRIBE_LINK,
)
from conductor._brand_plan_checks import (
    SENSITIVE_SYNONYMS,
    Emit,
    check_allocation,
    check_audience,
    sensitive_category,
)
from conductor._brand_readability import SENTENCE_END, WORD, fk_grade, syllables

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
    "SENSITIVE_SYNONYMS",
    "SENTENCE_END",
    "SUPERLATIVE",
    "SUPERLATIVE_QUALIFIER",
    "TESTIMONIAL_OUTCOME",
    "UNSUBSCRIBE_LINK",
    "WORD",
    "Emit",
    "check_allocation",
    "check_audience",
    "fk_grade",
    "gap",
    "sensitive_category",
    "syllables",
]
