"""The brand rules' catalogue: every rule id with its default severity and subject.

The ids are what the brand file's ``review_policy`` overrides and what docs/brand.md
documents; the engine (:mod:`conductor.brand._engine`) reports violations under them.
"""

from __future__ import annotations

from dataclasses import dataclass

from conductor.verdict import Severity

__all__ = ["RULES", "RuleInfo"]


@dataclass(frozen=True)
class RuleInfo:
    """A rule id's default severity and what it is about (documented in docs/brand.md)."""

    severity: Severity
    kinds: tuple[str, ...]
    title: str


_C, _I, _A, _U = "copy", "insight", "allocation", "audience"
_E, _W, _X = Severity.ERROR, Severity.WARNING, Severity.CRITICAL

RULES: dict[str, RuleInfo] = {
    "content.empty": RuleInfo(_E, (_C,), "the copy has no text"),
    "content.instructions-in-copy": RuleInfo(
        _X, (_C, _I), "text tries to instruct an AI or a reviewer (prompt injection)"
    ),
    "content.placeholder": RuleInfo(_E, (_C, _I), "unfinished placeholder text"),
    "content.personal-data": RuleInfo(
        _E, (_C, _I), "personal data in the copy (email, phone, card, IBAN, national id)"
    ),
    "voice.banned-phrase": RuleInfo(_E, (_C,), "a word or phrase the brand never uses"),
    "voice.required-term": RuleInfo(_E, (_C,), "a required term is missing"),
    "voice.reading-grade": RuleInfo(_W, (_C,), "reading grade outside the brand's range"),
    "voice.exclamation": RuleInfo(_W, (_C,), "too many exclamation marks"),
    "voice.all-caps": RuleInfo(_W, (_C,), "shouting in ALL CAPS"),
    "voice.emoji": RuleInfo(_W, (_C,), "too many emoji"),
    "voice.model-tone": RuleInfo(_W, (_C,), "the model review finds the tone off-brand"),
    "claims.forbidden": RuleInfo(_E, (_C, _I), "a claim the brand file forbids"),
    "claims.superlative": RuleInfo(_E, (_C, _I), "an unqualified superlative ('#1', 'the best')"),
    "claims.health.disease-claim": RuleInfo(
        _X, (_C, _I), "claims to cure, treat or prevent a disease"
    ),
    "claims.health.disclaimer-missing": RuleInfo(
        _E, (_C,), "structure/function claim without the supplement disclaimer"
    ),
    "claims.finance.guaranteed-returns": RuleInfo(_X, (_C, _I), "guaranteed investment returns"),
    "claims.finance.promissory": RuleInfo(_X, (_C, _I), "promises gains or no risk of loss"),
    "claims.finance.past-performance": RuleInfo(
        _X, (_C, _I), "past returns offered as a promise of future ones"
    ),
    "claims.finance.risk-warning-missing": RuleInfo(
        _E, (_C,), "investment promotion without the risk warning"
    ),
    "claims.endorsement.typical-results": RuleInfo(
        _E, (_C, _I), "implies a testimonial's results are typical"
    ),
    "claims.endorsement.disclosure-missing": RuleInfo(
        _E, (_C,), "testimonial quoting a result without the results disclosure"
    ),
    "claims.endorsement.invented-review": RuleInfo(
        _E, (_C, _I), "rating, review count or expert endorsement with no source"
    ),
    # Claims caught by meaning (conductor/brand/_semantic.py): a model's reading, so they
    # ask for a rewrite (error -> revise) rather than block, whatever the family.
    "claims.semantic.disease": RuleInfo(_E, (_C, _I), "reads like a disease or treatment claim"),
    "claims.semantic.guarantee": RuleInfo(_E, (_C, _I), "reads like a guaranteed outcome"),
    "claims.semantic.past-performance": RuleInfo(
        _E, (_C, _I), "reads like past performance offered as a promise"
    ),
    "claims.semantic.testimonial": RuleInfo(
        _E, (_C, _I), "reads like a testimonial or endorsement without a disclosure"
    ),
    "claims.semantic.superlative": RuleInfo(
        _E, (_C, _I), "reads like an unqualified superlative or price claim"
    ),
    "claims.semantic.urgency": RuleInfo(
        _E, (_C, _I), "reads like false urgency (no real deadline)"
    ),
    "competitors.named": RuleInfo(_E, (_C, _I), "a competitor is named"),
    "channel.unsubscribe-missing": RuleInfo(_E, (_C,), "email without an unsubscribe link"),
    "channel.postal-address-missing": RuleInfo(_E, (_C,), "email without the postal address"),
    "channel.opt-out-missing": RuleInfo(_E, (_C,), "SMS without an opt-out instruction"),
    "channel.too-long": RuleInfo(_E, (_C,), "longer than the channel allows"),
    "channel.subject-too-long": RuleInfo(_W, (_C,), "subject line longer than allowed"),
    "disclaimer.missing": RuleInfo(_E, (_C,), "a mandatory disclaimer is missing"),
    "budget.negative-amount": RuleInfo(_X, (_A,), "a negative amount"),
    "budget.banned-channel": RuleInfo(_E, (_A,), "money on a banned channel"),
    "budget.max-share": RuleInfo(_E, (_A,), "a channel's share above the brand's maximum"),
    "budget.max-change": RuleInfo(_E, (_A,), "a channel changes too much vs the previous period"),
    "budget.currency-mismatch": RuleInfo(_E, (_A,), "amounts in another currency than the rules"),
    "audience.consent-missing": RuleInfo(_X, (_U,), "people without marketing consent"),
    "audience.min-age": RuleInfo(_E, (_U,), "minimum age not enforced"),
    "audience.sensitive-attribute": RuleInfo(_X, (_U,), "targets on a sensitive attribute"),
    "audience.contact-frequency": RuleInfo(_E, (_U,), "contacts people too often"),
    "audience.contact-frequency-unknown": RuleInfo(_W, (_U,), "contact frequency not stated"),
    "audience.fairness-gap": RuleInfo(_E, (_U,), "treats protected groups too differently"),
    "audience.fairness-unmeasured": RuleInfo(_W, (_U,), "fairness gap not measured"),
    "audience.empty": RuleInfo(_W, (_U,), "the audience has nobody in it"),
    "insight.no-evidence": RuleInfo(_W, (_I,), "a finding with no numbers behind it"),
}
