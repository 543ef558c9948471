"""The brand strategy compiled for checking: the review policy and the combined regexes.

:class:`_CompiledBrand` is the base of the rule engine (:mod:`conductor.brand._engine`):
it resolves each rule's severity and action from the brand's ``review_policy``, records
violations, compiles every rule family once, and prepares a text field for scanning by
blanking the text the brand itself requires (disclaimers, the address, URLs). The
checks themselves live in the mixins built on it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conductor.brand import _packs as packs
from conductor.brand._catalog import RULES
from conductor.brand._family import _entry, _Family, _Field
from conductor.brand._text import (
    _FLAGS,
    _NORMALISE,
    _URL,
    _URL_HINTS,
    _WORD,
    _alternation,
    _bounded,
    _bounded_phrase,
    _lower,
    _lower_phrase,
    _norm_space,
)
from conductor.specs import Allocation, Audience, Copy, Insight
from conductor.verdict import Action, Severity, Violation

if TYPE_CHECKING:
    from conductor.brand._schema import BrandRules


class _CompiledBrand:
    """A brand strategy's policy and patterns, compiled once for the checks built on it."""

    def __init__(self, brand: BrandRules) -> None:
        self.brand = brand
        pol = brand.review_policy
        self._rule_actions = {k: v for k, v in pol.rules.items() if not k.endswith(".*")}
        self._prefix_actions = sorted(
            ((k[:-1], v) for k, v in pol.rules.items() if k.endswith(".*")),
            key=lambda kv: -len(kv[0]),
        )
        self._severities = {k: v for k, v in pol.severities.items() if not k.endswith(".*")}
        self._prefix_severities = sorted(
            ((k[:-1], v) for k, v in pol.severities.items() if k.endswith(".*")),
            key=lambda kv: -len(kv[0]),
        )
        self._disabled = {r for r in RULES if self._is_disabled(r, pol.disabled)}
        self._compile()

    @staticmethod
    def _is_disabled(rule: str, disabled: Sequence[str]) -> bool:
        return any(rule == d or (d.endswith(".*") and rule.startswith(d[:-1])) for d in disabled)

    # --- compilation ---------------------------------------------------------------------

    def _compile(self) -> None:
        b = self.brand
        voice, claims, pk = b.voice, b.claims, b.claims.packs

        approved = [b.company.legal_name, b.company.postal_address, b.company.sms_opt_out]
        approved += [d.text for d in b.disclaimers]
        for ch in b.channels.values():
            approved += ch.disclaimers
        approved += [p.disclaimer for p in (pk.health,) if p]
        approved += [p.risk_warning for p in (pk.finance,) if p]
        approved += [p.disclosure for p in (pk.endorsements,) if p]
        sources = sorted({_lower_phrase(t) for t in approved if t.strip()}, key=len, reverse=True)
        self._approved = re.compile("|".join([*sources, packs.OPT_OUT]))

        self._banned = _Family(
            [
                _entry(p.phrase, p, regex=p.regex, case_sensitive=p.case_sensitive)
                for p in voice.banned
            ]
        )
        self._required = [
            (
                t,
                re.compile(_bounded_phrase(_lower_phrase(t.term), t.term)),
                {c.lower() for c in t.channels},
            )
            for t in voice.required_terms
        ]
        self._forbidden = _Family([_entry(c.pattern, c, regex=c.regex) for c in claims.forbidden])
        self._competitors = _Family(
            [
                _entry(name, c, case_sensitive=c.case_sensitive)
                for c in b.competitors
                for name in [c.name, *c.aliases]
            ]
        )
        self._allowed_caps = packs.ALLOWED_CAPS | {w.upper() for w in voice.allowed_caps}
        self._allowed_caps |= {w.upper() for w in _WORD.findall(b.name)}

        self._superlative = _alternation(packs.SUPERLATIVE) if claims.superlatives else None
        self._superlative_q = re.compile(packs.SUPERLATIVE_QUALIFIER)
        self._negators = re.compile(packs.NEGATORS)
        self._clause_break = re.compile(packs.CLAUSE_BREAK)
        self._injection = _alternation(packs.INJECTION)
        self._placeholder = re.compile("|".join(packs.PLACEHOLDER))
        self._placeholder_cased = re.compile("|".join(packs.PLACEHOLDER_CASED))
        self._emoji = re.compile(packs.EMOJI)
        self._opt_out = re.compile(packs.OPT_OUT)
        self._unsub = re.compile(packs.UNSUBSCRIBE_LINK)
        self._unsub_url = _lower(b.company.unsubscribe_url)
        self._postal = _norm_space(b.company.postal_address)

        self._health = pk.health is not None
        if pk.health is not None:
            conds = "|".join(
                [*packs.HEALTH_CONDITIONS, *(_lower_phrase(c) for c in pk.health.extra_conditions)]
            )
            verbs = "|".join(packs.HEALTH_DISEASE_VERBS)
            strong = "|".join(packs.HEALTH_DISEASE_STRONG)
            noun_first = "|".join(packs.HEALTH_DISEASE_NOUN_FIRST)
            self._disease = re.compile(
                _bounded(
                    f"(?:{verbs}){packs.GAP}(?:{conds})"
                    f"|(?:{conds})(?:{packs.gap(2)}|-)(?:{noun_first})"
                    f"|{strong}"
                )
            )
            self._sf = re.compile(
                _bounded(
                    f"(?:{'|'.join(packs.HEALTH_SF_VERBS)}){packs.gap(4)}"
                    f"(?:{'|'.join(packs.HEALTH_SF_FUNCTIONS)})"
                )
            )
            self._health_disclaimer = _norm_space(pk.health.disclaimer)
        self._finance = pk.finance is not None
        if pk.finance is not None:
            self._guarantee = _alternation(packs.FINANCE_GUARANTEE)
            self._promissory = _alternation(packs.FINANCE_PROMISSORY)
            self._promissory_negatable = _alternation(packs.FINANCE_PROMISSORY_NEGATABLE)
            terms = [*packs.FINANCE_INVESTMENT_TERMS]
            terms += [_lower_phrase(t) for t in pk.finance.extra_investment_terms]
            self._investment = _alternation(terms)
            self._risk_warning = _norm_space(pk.finance.risk_warning)
        self._endorse = pk.endorsements is not None
        if pk.endorsements is not None:
            self._typical = _alternation(packs.ENDORSEMENT_TYPICAL)
            self._outcome = _alternation(packs.TESTIMONIAL_OUTCOME)
            self._vary = re.compile(packs.RESULTS_VARY)
            words = [s for s in packs.INVENTED_REVIEW if s not in packs.INVENTED_REVIEW_GLYPHS]
            self._review_claim = re.compile(
                "|".join([f"(?<!\\w)(?:{'|'.join(words)})", *packs.INVENTED_REVIEW_GLYPHS])
            )
            self._review_q = re.compile(packs.ENDORSEMENT_QUALIFIERS)
            self._disclosure = _norm_space(pk.endorsements.disclosure)

        self._conditional: list[tuple[Any, re.Pattern[str] | None, bool, set[str], str]] = []
        for d in b.disclaimers:
            trigger = None
            if d.when:
                if d.when_regex:
                    trigger = re.compile(_bounded("|".join(d.when)), _FLAGS)
                else:
                    trigger = re.compile(
                        "|".join(_bounded_phrase(_lower_phrase(w), w) for w in d.when)
                    )
            chans = {c.lower() for c in d.channels}
            self._conditional.append((d, trigger, not d.when_regex, chans, _norm_space(d.text)))
        self._channel_disclaimers = {
            name: [(d, _norm_space(d)) for d in rules.disclaimers]
            for name, rules in b.channels.items()
        }
        pol = b.review_policy.signoff
        self._topics = _Family([_entry(k, t) for t in pol.topics for k in t.keywords])
        self._signoff_channels = {c.lower() for c in pol.channels}

    # --- policy --------------------------------------------------------------------------

    def severity_for(self, rule: str, default: Severity | None = None) -> Severity:
        """The severity of a rule after the brand's overrides."""
        if rule in self._severities:
            return self._severities[rule]
        for prefix, sev in self._prefix_severities:
            if rule.startswith(prefix):
                return sev
        return default if default is not None else RULES[rule].severity

    def action_for(self, rule: str, severity: Severity) -> Action:
        """The action the review policy assigns to a rule at a severity."""
        if rule in self._rule_actions:
            return self._rule_actions[rule]
        for prefix, act in self._prefix_actions:
            if rule.startswith(prefix):
                return act
        return Action(getattr(self.brand.review_policy.by_severity, severity.value))

    def _v(
        self,
        out: list[Violation],
        rule: str,
        art: Copy | Allocation | Audience | Insight,
        message: str,
        *,
        field: str = "text",
        span: tuple[int, int] | None = None,
        excerpt: str = "",
        fix: str = "",
        replacement: str | None = None,
        append: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        if rule in self._disabled:
            return
        sev = self.severity_for(rule, severity)
        out.append(
            Violation(
                rule=rule,
                severity=sev,
                action=self.action_for(rule, sev),
                artifact_id=art.id,
                artifact_kind=art.kind,
                field=field,
                start=span[0] if span else None,
                end=span[1] if span else None,
                excerpt=excerpt,
                message=message,
                fix=fix,
                replacement=replacement,
                append=append,
            )
        )

    # --- fields --------------------------------------------------------------------------

    def _prepare(self, name: str, raw: str) -> _Field:
        text = raw.translate(_NORMALISE)
        low = _lower(text)
        spans = [m.span() for m in self._approved.finditer(low)]
        if any(h in low for h in _URL_HINTS):
            spans += [m.span() for m in _URL.finditer(low)]
        if not spans:
            return _Field(name, raw, text, low)
        chars = list(text)
        for start, end in spans:
            chars[start:end] = " " * (end - start)
        scan = "".join(chars)
        return _Field(name, raw, scan, _lower(scan))
