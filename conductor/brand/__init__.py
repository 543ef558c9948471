"""Brand strategy as code: the brand file's schema, its loader, and the rule engine.

A brand file (YAML, see ``docs/brand.md``) says how the brand speaks, which claims it
may never make, which competitors it never names, what each channel must carry, how
money and audiences may be used, and what the run does when a rule is broken. It is
loaded with :func:`load_brand`; :meth:`BrandStrategy.review` checks a step's artifacts
and returns a :class:`~conductor.verdict.Verdict`. The checks are deterministic: text
inside the copy ("ignore the brand rules") cannot change them. :func:`model_review`
adds an optional LLM brand-voice opinion that can warn or escalate but never lift a
deterministic block.

Inside, importing one way (each line imports only from the lines above it):

- ``_catalog`` (every rule id), ``_readability``, ``_canonical`` (the canonical text
  rules match on, with its map back to the original), ``_text`` and ``_family``
  (normalised text, phrase families), ``_errors`` (schema errors located in the YAML),
  ``_voice_answer`` (what the voice model answers);
- the rule packs as data: ``_pack_file`` (the schema of a pack file), ``_vocab``
  (reading and checking the built-in files in ``vocab/`` and a brand's custom packs),
  ``_packs`` (what the engine reads from the built-in files);
- ``_policy`` and ``_schema``: what a brand file may say, as pydantic models;
- ``_compiled``: a brand's rules compiled once into combined patterns;
- the check families: ``_claim_checks``, ``_voice_checks``, ``_channel_checks``,
  ``_plan_checks`` (arithmetic on allocations and audiences);
- ``_engine``: the families assembled into one review;
- ``_strategy``: :class:`BrandStrategy` (the rules with their engine) and the loader;
- ``_review``: the optional model review of the voice.
"""

from conductor.brand._policy import (
    AudienceExclusion,
    AudienceRules,
    BudgetRules,
    ReviewPolicy,
    SeverityActions,
    SignoffPolicy,
    SignoffTopic,
)
from conductor.brand._review import model_review
from conductor.brand._schema import (
    BannedPhrase,
    BrandRules,
    ChannelRules,
    ClaimPacks,
    ClaimRules,
    CompanyInfo,
    Competitor,
    DisclaimerRule,
    EndorsementPack,
    FinancePack,
    ForbiddenClaim,
    GradeRange,
    HealthPack,
    ModelReviewPolicy,
    RequiredTerm,
    VoiceRules,
)
from conductor.brand._strategy import BrandStrategy, check_copy, load_brand, parse_brand, rule_ids
from conductor.brand._voice_answer import VoiceReview, VoiceScore

__all__ = [
    "AudienceExclusion",
    "AudienceRules",
    "BannedPhrase",
    "BrandRules",
    "BrandStrategy",
    "BudgetRules",
    "ChannelRules",
    "ClaimPacks",
    "ClaimRules",
    "CompanyInfo",
    "Competitor",
    "DisclaimerRule",
    "EndorsementPack",
    "FinancePack",
    "ForbiddenClaim",
    "GradeRange",
    "HealthPack",
    "ModelReviewPolicy",
    "RequiredTerm",
    "ReviewPolicy",
    "SeverityActions",
    "SignoffPolicy",
    "SignoffTopic",
    "VoiceReview",
    "VoiceRules",
    "VoiceScore",
    "check_copy",
    "load_brand",
    "model_review",
    "parse_brand",
    "rule_ids",
]
