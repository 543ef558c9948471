"""The brand rule engine: a brand strategy compiled into a few combined regexes.

Each rule family (banned phrases, forbidden claims, competitors, health/finance/
endorsement packs, injection, ...) is folded into one pattern with a named group per
entry, so checking a piece of copy costs one scan per family whatever the brand lists.
Text the brand itself requires (disclaimers, footers, the postal address, URLs) is
blanked out before claims and voice are checked, so the supplement disclaimer's "cure"
or a URL's capitals never count against the copy. Offsets survive the blanking because
it replaces characters one for one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import partial
from typing import TYPE_CHECKING, Any

from conductor import _brand_packs as packs
from conductor.specs import Allocation, Audience, Copy, Insight
from conductor.verdict import Action, Severity, Verdict, Violation

if TYPE_CHECKING:
    from conductor.brand import BrandStrategy, VoiceReview

__all__ = ["RULES", "Engine", "RuleInfo"]


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

_FLAGS = re.IGNORECASE
# Built-in patterns are written in lower case and run without IGNORECASE on a lowered copy
# of the text: Python's `re` can then skip ahead on the first character of a pattern,
# which makes the scans several times faster than case-insensitive matching.
_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b|\{\{[^}]*\}\}")
_URL_HINTS = ("://", "www.", "@", "{{")
_SENTENCE_END = packs.SENTENCE_END
_WORD = packs.WORD
_CAPS = re.compile(r"(?<![\w'-])[A-Z][A-Z']*[A-Z](?:-[A-Z][A-Z']*)*(?![\w'-])")
_TWO_CAPS = re.compile(r"[A-Z][A-Z']")  # a cheap test before the word-bounded scan
_NORMALISE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})
_GSM7 = re.compile(
    r"^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà"
    r"\^{}\\\[~\]|€]*$"
)
_NOT_NEGATION = re.compile(r"\s*(?:only|just|merely)\b")
_NEGATED_GUARANTEE = re.compile(r"\b(?:not|never|no)\s+guaranteed|n't\s+guaranteed")


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


@dataclass
class _Field:
    """One text field of an artifact, prepared for scanning."""

    name: str
    raw: str
    scan: str  # normalised quotes, approved text and URLs blanked
    low: str  # ``scan`` lowered, same length
    placeholders: list[tuple[int, int]] = dataclass_field(default_factory=list)


class _Family:
    """Brand-listed phrases or patterns folded into at most three regexes.

    Plain phrases run on the lowered text (fast); the brand's own regular expressions
    run case-insensitively and case-sensitive entries exactly, on the original text.
    Each alternative maps back to its payload; matches come back in text order, and
    where two overlap the earlier (then longer) one wins, as in a single alternation.
    The left word boundary is checked once, in front of all alternatives that need it,
    so a position inside a word is rejected before any alternative is tried.
    """

    def __init__(self, entries: Sequence[tuple[str, Any, str, bool]]):
        self.payloads: dict[str, Any] = {}
        groups: dict[tuple[str, bool], list[str]] = {}
        order = sorted(range(len(entries)), key=lambda i: -len(entries[i][0]))
        for i in order:
            src, payload, mode, left = entries[i]
            name = f"g{i}"
            self.payloads[name] = payload
            groups.setdefault((mode, left), []).append(f"(?P<{name}>{src})")
        flags = {"low": 0, "ci": _FLAGS, "cs": 0}
        self.regexes: list[tuple[bool, re.Pattern[str]]] = []
        for mode in ("low", "ci", "cs"):
            parts = []
            if groups.get((mode, True)):
                parts.append(r"(?<!\w)(?:" + "|".join(groups[(mode, True)]) + ")")
            parts += groups.get((mode, False), [])
            if parts:
                self.regexes.append((mode == "low", re.compile("|".join(parts), flags[mode])))

    def __bool__(self) -> bool:
        return bool(self.regexes)

    def finditer(self, f: _Field) -> list[tuple[re.Match[str], Any]]:
        if len(self.regexes) == 1:
            low, rx = self.regexes[0]
            text = f.low if low else f.scan
            return [(m, self.payloads[m.lastgroup or ""]) for m in rx.finditer(text)]
        found = [
            (m, self.payloads[m.lastgroup or ""])
            for low, rx in self.regexes
            for m in rx.finditer(f.low if low else f.scan)
        ]
        found.sort(key=lambda mp: (mp[0].start(), -mp[0].end()))
        kept: list[tuple[re.Match[str], Any]] = []
        end = -1
        for m, payload in found:
            if m.start() >= end:
                kept.append((m, payload))
                end = m.end()
        return kept


_CASED_ESCAPE = re.compile(r"\\[xuUN0-7]")


def _lowered_regex(src: str) -> str | None:
    """A brand regex rewritten for lowered text, or None when that is not safe.

    Letters outside escapes are lowered (``FDA[- ]approved`` -> ``fda[- ]approved``);
    escapes such as ``\\S`` or ``\\W`` keep their case. Patterns that spell characters
    by code (``\\x41``, ``\\u00C9``, ``\\N{...}``) or set flags inline stay as they are.
    """
    if _CASED_ESCAPE.search(src) or "(?" in src.replace("(?:", "").replace("(?!", "").replace(
        "(?=", ""
    ).replace("(?<", ""):
        return None
    out: list[str] = []
    escaped = False
    for ch in src:
        out.append(ch if escaped else _lower(ch))
        escaped = not escaped and ch == "\\"
    lowered = "".join(out)
    try:
        re.compile(lowered)
    except re.error:
        return None
    return lowered


def _entry(
    text: str, payload: Any, *, regex: bool = False, case_sensitive: bool = False
) -> tuple[str, Any, str, bool]:
    """One alternative of a :class:`_Family`: (regex source, payload, mode, left boundary)."""
    if regex:
        lowered = None if case_sensitive else _lowered_regex(text)
        mode = "cs" if case_sensitive else "low" if lowered is not None else "ci"
        return f"(?:{lowered or text})(?!\\w)", payload, mode, True
    if case_sensitive:
        left, body = _edges(_phrase(text), text)
        return body, payload, "cs", left
    left, body = _edges(_lower_phrase(text), text)
    return body, payload, "low", left


class Engine:
    """A brand strategy compiled for fast, deterministic checking."""

    def __init__(self, brand: BrandStrategy) -> None:
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

    # --- review --------------------------------------------------------------------------

    def review(
        self, artifacts: Sequence[Copy | Allocation | Audience | Insight], *, step: str | None
    ) -> Verdict:
        """Check artifacts; see :meth:`conductor.brand.BrandStrategy.review`."""
        out: list[Violation] = []
        signoff: list[str] = []
        pol = self.brand.review_policy.signoff
        if step is not None and step in pol.steps:
            signoff.append(f"the brand policy requires sign-off for every output of step {step!r}")
        for art in artifacts:
            if isinstance(art, Copy):
                self._check_copy(art, out, signoff)
            elif isinstance(art, Allocation):
                packs.check_allocation(self.brand.budget, art, partial(self._v, out), signoff)
            elif isinstance(art, Audience):
                packs.check_audience(self.brand.audience, art, partial(self._v, out))
            elif isinstance(art, Insight):
                self._check_insight(art, out)
            if art.kind in pol.artifact_kinds:
                signoff.append(f"{art.kind} {art.id!r}: every {art.kind} needs sign-off")
        return Verdict(violations=out, signoff=signoff, checked=len(artifacts))

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

    def _negated(self, low: str, start: int) -> bool:
        prefix = low[max(0, start - 80) : start]
        breaks = list(self._clause_break.finditer(prefix))
        if breaks:
            prefix = prefix[breaks[-1].end() :]
        last = None
        for m in self._negators.finditer(prefix):
            if not _NOT_NEGATION.match(prefix, m.end()):
                last = m
        if last is None:
            return False
        return len(_WORD.findall(prefix[last.end() :])) <= 6

    def _claims(
        self, art: Copy | Insight, f: _Field, out: list[Violation]
    ) -> tuple[bool, bool, bool]:
        """Claim families shared by copy and insights; returns (sf, investment, outcome)."""
        low, raw = f.low, f.raw

        def v(rule: str, message: str, **kw: Any) -> None:
            self._v(out, rule, art, message, field=f.name, **kw)

        def at(m: re.Match[str]) -> dict[str, Any]:
            return {"span": m.span(), "excerpt": raw[m.start() : m.end()]}

        for m in self._injection.finditer(low):
            v(
                "content.instructions-in-copy",
                "This text contains instructions aimed at an AI or a reviewer. Customer copy "
                "must never carry them, and they do not change the brand review.",
                fix="Remove the instruction and rewrite the message for customers.",
                **at(m),
            )
        holders = [m.span() for m in self._placeholder.finditer(low)]
        if f.scan != low:  # the cased placeholders need capitals
            holders += [m.span() for m in self._placeholder_cased.finditer(f.scan)]
        for span in sorted(set(holders)):
            found = raw[span[0] : span[1]]
            f.placeholders.append(span)
            v(
                "content.placeholder",
                f"Unfinished placeholder text {found!r}.",
                span=span,
                excerpt=found,
                fix="Replace the placeholder with the real wording.",
            )
        for m, claim in self._forbidden.finditer(f):
            label = claim.name or raw[m.start() : m.end()]
            v(
                "claims.forbidden",
                claim.message or f"The brand never makes the claim {label!r}.",
                fix=claim.fix or "Remove the claim or state a fact you can prove.",
                replacement=None
                if claim.replacement is None
                else _match_case(raw[m.start() : m.end()], claim.replacement),
                severity=claim.severity,
                **at(m),
            )
        for m, comp in self._competitors.finditer(f):
            v(
                "competitors.named",
                f"Names the competitor {comp.name!r}; the brand never names competitors.",
                fix=f"Say {comp.replacement!r} instead, or talk about our own product."
                if comp.replacement
                else "Talk about our own product instead.",
                replacement=comp.replacement,
                **at(m),
            )
        if self._superlative is not None:
            for m in self._superlative.finditer(low):
                if self._qualified(low, m):
                    continue
                v(
                    "claims.superlative",
                    f"{raw[m.start() : m.end()]!r} is a superlative claim with no source.",
                    fix="Cite who says so (a footnote or 'according to ...') or use a "
                    "claim you can prove.",
                    **at(m),
                )
        sf = investment = outcome = False
        if self._health:
            for m in self._disease.finditer(low):
                if self._negated(low, m.start()):
                    continue
                v(
                    "claims.health.disease-claim",
                    f"{raw[m.start() : m.end()]!r} claims the product cures, treats or prevents "
                    "a disease. Supplements may not make disease claims.",
                    fix="Describe how it supports normal body function instead "
                    "(e.g. 'supports a healthy immune system').",
                    **at(m),
                )
            sf = any(not self._negated(low, m.start()) for m in self._sf.finditer(low))
        if self._finance:
            for m in self._guarantee.finditer(low):
                if self._negated(low, m.start()) or _NEGATED_GUARANTEE.search(m.group()):
                    continue
                v(
                    "claims.finance.guaranteed-returns",
                    f"{raw[m.start() : m.end()]!r} promises guaranteed returns; no investment "
                    "return can be guaranteed.",
                    fix="Remove the guarantee; describe the product's aims and risks.",
                    **at(m),
                )
            promises = list(self._promissory.finditer(low))
            promises += [
                m
                for m in self._promissory_negatable.finditer(low)
                if not self._negated(low, m.start())
            ]
            for m in sorted(promises, key=lambda m: m.start()):
                v(
                    "claims.finance.promissory",
                    f"{raw[m.start() : m.end()]!r} promises gains or no risk of loss.",
                    fix="Do not promise outcomes; say that the value can go down as well as up.",
                    **at(m),
                )
            investment = self._investment.search(low) is not None
        if self._endorse:
            for m in self._typical.finditer(low):
                v(
                    "claims.endorsement.typical-results",
                    f"{raw[m.start() : m.end()]!r} implies a customer's results are typical.",
                    fix="Say what results people can generally expect, or drop the claim.",
                    **at(m),
                )
            reviews = list(self._review_claim.finditer(low))
            if reviews and self._review_q.search(low) is None:
                for m in reviews:
                    v(
                        "claims.endorsement.invented-review",
                        f"{raw[m.start() : m.end()]!r} cites ratings, reviews or experts with no "
                        "source, so it reads as invented.",
                        fix="Cite the source (e.g. 'based on 1,240 verified reviews') or drop it.",
                        **at(m),
                    )
            outcome = self._outcome.search(low) is not None
        return sf, investment, outcome

    def _qualified(self, low: str, m: re.Match[str]) -> bool:
        if m.end() < len(low) and low[m.end()] in "*†‡":
            return True
        start = max((e.end() for e in _SENTENCE_END.finditer(low, 0, m.start())), default=0)
        ends = _SENTENCE_END.search(low, m.end())
        sentence = low[start : ends.end() if ends else len(low)]
        return self._superlative_q.search(sentence) is not None

    # --- copy ----------------------------------------------------------------------------

    def _check_copy(self, art: Copy, out: list[Violation], signoff: list[str]) -> None:
        b = self.brand
        channel = art.channel.strip().lower()
        rules = b.channels.get(channel)
        if not art.text.strip():
            self._v(out, "content.empty", art, "The copy has no text.", fix="Write the message.")
            return
        fields = [self._prepare("text", art.text)]
        if art.subject:
            fields.append(self._prepare("subject", art.subject))
        sf = investment = outcome = False
        for f in fields:
            a, b2, c = self._claims(art, f, out)
            sf, investment, outcome = sf or a, investment or b2, outcome or c
            self._voice(art, f, out)
        body = fields[0]
        self._grade(art, body, out)
        if self._required:
            raw_low = " ".join(f.raw.translate(_NORMALISE) for f in fields).lower()
            for term, rx, chans in self._required:
                if chans and channel not in chans:
                    continue
                if rx.search(raw_low) is None:
                    self._v(
                        out,
                        "voice.required-term",
                        art,
                        f"The copy must mention {term.term!r}."
                        + (f" {term.reason}" if term.reason else ""),
                        fix=f"Work {term.term!r} into the message.",
                    )
        norm_text = _norm_space(art.text)
        pk = b.claims.packs
        appends: list[str] = []
        if sf and pk.health is not None and self._health_disclaimer not in norm_text:
            appends.append(pk.health.disclaimer)
            self._v(
                out,
                "claims.health.disclaimer-missing",
                art,
                "The copy makes a structure/function claim but lacks the required "
                "supplement disclaimer.",
                fix="Add the disclaimer at the end of the message.",
                append=pk.health.disclaimer,
            )
        if investment and pk.finance is not None and self._risk_warning not in norm_text:
            appends.append(pk.finance.risk_warning)
            self._v(
                out,
                "claims.finance.risk-warning-missing",
                art,
                "The copy promotes an investment but lacks the required risk warning.",
                fix="Add the risk warning at the end of the message.",
                append=pk.finance.risk_warning,
            )
        if (
            outcome
            and pk.endorsements is not None
            and self._vary.search(body.low) is None
            and self._disclosure not in norm_text
        ):
            appends.append(pk.endorsements.disclosure)
            self._v(
                out,
                "claims.endorsement.disclosure-missing",
                art,
                "A testimonial quotes a specific result without saying results vary.",
                fix="Add the results disclosure.",
                append=pk.endorsements.disclosure,
            )
        if self._conditional:
            scan = " ".join(f.scan for f in fields)
            low = " ".join(f.low for f in fields)
            for d, trigger, lowered, chans, norm in self._conditional:
                if chans and channel not in chans:
                    continue
                if trigger is not None and trigger.search(low if lowered else scan) is None:
                    continue
                if norm not in norm_text:
                    appends.append(d.text)
                    self._v(
                        out,
                        "disclaimer.missing",
                        art,
                        f"Missing the required disclaimer{' ' + repr(d.name) if d.name else ''}: "
                        f"{d.text!r}.",
                        fix="Add the disclaimer.",
                        append=d.text,
                    )
        if rules is not None:
            appends += self._channel(art, channel, norm_text, out)
            self._length(art, rules, appends, out)
        self._signoff_copy(art, channel, rules is None, fields, signoff)

    def _voice(self, art: Copy, f: _Field, out: list[Violation]) -> None:
        s, raw = f.scan, f.raw
        voice = self.brand.voice
        for m, p in self._banned.finditer(f):
            found = raw[m.start() : m.end()]
            rep = None if p.replacement is None else _match_case(found, p.replacement)
            self._v(
                out,
                "voice.banned-phrase",
                art,
                f"{found!r} is a word the brand never uses." + (f" {p.reason}" if p.reason else ""),
                field=f.name,
                span=m.span(),
                excerpt=found,
                fix=f"Write {rep!r} instead." if rep is not None else "Rephrase without it.",
                replacement=rep,
            )
        if voice.max_caps_words is not None and _TWO_CAPS.search(s) is not None:
            shouting = [
                m
                for m in _CAPS.finditer(s)
                if m.group().replace("'", "") not in self._allowed_caps
                and not any(a <= m.start() < e for a, e in f.placeholders)
                and not all(w in self._allowed_caps for w in m.group().replace("'", "").split("-"))
            ]
            for m in shouting[voice.max_caps_words :]:
                word = m.group()
                before = s[: m.start()].rstrip()
                at_start = not before or before[-1] in ".!?\n"
                rep = word.capitalize() if at_start else word.lower()
                self._v(
                    out,
                    "voice.all-caps",
                    art,
                    f"{word!r} is in ALL CAPS, which reads as shouting.",
                    field=f.name,
                    span=m.span(),
                    excerpt=word,
                    fix=f"Write {rep!r}.",
                    replacement=rep,
                )
        if voice.max_exclamations is not None and "!" in s:
            marks = [i for i, ch in enumerate(s) if ch == "!"]
            for i in marks[voice.max_exclamations :]:
                rep = "" if i > 0 and s[i - 1] in "!.?" else "."
                self._v(
                    out,
                    "voice.exclamation",
                    art,
                    f"More than {voice.max_exclamations} exclamation mark(s) in one message.",
                    field=f.name,
                    span=(i, i + 1),
                    excerpt="!",
                    fix="Use a full stop; let the words carry the energy.",
                    replacement=rep,
                )
        if voice.max_emoji is not None and not s.isascii():
            emoji = list(self._emoji.finditer(s))
            for m in emoji[voice.max_emoji :]:
                start = m.start() - 1 if m.start() > 0 and s[m.start() - 1] == " " else m.start()
                self._v(
                    out,
                    "voice.emoji",
                    art,
                    f"Too many emoji (the brand allows {voice.max_emoji}).",
                    field=f.name,
                    span=(start, m.end()),
                    excerpt=raw[start : m.end()],
                    fix="Remove the emoji.",
                    replacement="",
                )

    def _grade(self, art: Copy, f: _Field, out: list[Violation]) -> None:
        rng = self.brand.voice.reading_grade
        if rng is None:
            return
        grade, n = packs.fk_grade(f.scan, min_words=rng.min_words)
        if n < rng.min_words:
            return
        if rng.max is not None and grade > rng.max:
            self._v(
                out,
                "voice.reading-grade",
                art,
                f"Reads at grade {grade:g}; the brand writes at grade {rng.max:g} or below.",
                excerpt=f"grade {grade:g}",
                fix="Use shorter sentences and plainer words.",
            )
        elif rng.min is not None and grade < rng.min:
            self._v(
                out,
                "voice.reading-grade",
                art,
                f"Reads at grade {grade:g}; the brand writes at grade {rng.min:g} or above.",
                excerpt=f"grade {grade:g}",
                fix="Join choppy sentences and use precise words.",
            )

    def _channel(self, art: Copy, channel: str, norm_text: str, out: list[Violation]) -> list[str]:
        b = self.brand
        low = _lower(art.text.translate(_NORMALISE))
        missing: list[str] = []
        elements = b.required_elements(channel)
        for rule, element in elements.items():
            if rule == "channel.unsubscribe-missing":
                ok = self._unsub_url in low or self._unsub.search(low) is not None
                what = "an unsubscribe link"
            elif rule == "channel.postal-address-missing":
                ok = self._postal in norm_text
                what = "the company's postal address"
            else:
                ok = self._opt_out.search(low) is not None
                what = "an opt-out instruction"
            if not ok:
                missing.append(element)
                self._v(
                    out,
                    rule,
                    art,
                    f"{channel.upper() if channel == 'sms' else channel.capitalize()} messages "
                    f"must carry {what}.",
                    fix=f"Add: {element!r}.",
                    append=element,
                )
        for d, norm in self._channel_disclaimers[channel]:
            if norm not in norm_text:
                missing.append(d)
                self._v(
                    out,
                    "disclaimer.missing",
                    art,
                    f"Every {channel} message must carry the disclaimer {d!r}.",
                    fix="Add the disclaimer.",
                    append=d,
                )
        return missing

    def _length(self, art: Copy, rules: Any, appends: Sequence[str], out: list[Violation]) -> None:
        text = art.text
        limit = rules.max_length
        unicode_needed = _GSM7.match(text) is None
        if unicode_needed and rules.unicode_max_length is not None:
            limit = min(limit or rules.unicode_max_length, rules.unicode_max_length)
        if limit is not None:
            extra = sum(len(a) + 1 for a in appends)
            total = len(text) + extra
            if total > limit:
                why = (
                    " (it needs Unicode for emoji or special characters)"
                    if unicode_needed and limit == rules.unicode_max_length
                    else ""
                )
                with_req = f", {total} with the required additions" if extra else ""
                self._v(
                    out,
                    "channel.too-long",
                    art,
                    f"{len(text)} characters{with_req}; {art.channel} allows {limit}{why}.",
                    excerpt=f"{total} > {limit}",
                    fix=f"Cut it to {max(0, limit - extra)} characters or fewer.",
                )
        sub_max = rules.subject_max_length
        if sub_max is not None and art.subject and len(art.subject) > sub_max:
            self._v(
                out,
                "channel.subject-too-long",
                art,
                f"Subject line has {len(art.subject)} characters; the limit is "
                f"{rules.subject_max_length}.",
                field="subject",
                excerpt=art.subject,
                fix=f"Cut the subject to {rules.subject_max_length} characters.",
            )

    def _signoff_copy(
        self, art: Copy, channel: str, unknown: bool, fields: Sequence[_Field], signoff: list[str]
    ) -> None:
        pol = self.brand.review_policy.signoff
        if channel in self._signoff_channels:
            signoff.append(f"copy {art.id!r}: every {channel} message needs sign-off")
        if unknown and pol.new_channels:
            signoff.append(
                f"copy {art.id!r}: new content category — channel {art.channel!r} is not in the "
                "brand file"
            )
        if not self._topics:
            return
        seen: set[str] = set()
        for f in fields:
            for _m, topic in self._topics.finditer(f):
                if topic.name not in seen:
                    seen.add(topic.name)
                    why = f" ({topic.reason})" if topic.reason else ""
                    signoff.append(f"copy {art.id!r}: about {topic.name}{why}")

    # --- insights ------------------------------------------------------------------------

    def _check_insight(self, art: Insight, out: list[Violation]) -> None:
        f = self._prepare("statement", art.statement)
        self._claims(art, f, out)
        if not art.evidence:
            self._v(
                out,
                "insight.no-evidence",
                art,
                "The finding cites no numbers; nobody can check it.",
                field="evidence",
                fix="Add the figures the statement rests on.",
            )

    # --- model review --------------------------------------------------------------------

    def voice_verdict(self, copies: Sequence[Copy], review: VoiceReview) -> Verdict:
        """Turn a model's voice scores into advisory findings (never a block)."""
        pol = self.brand.voice.model_review
        by_id = {c.id: c for c in copies}
        out: list[Violation] = []
        notes: list[str] = []
        seen: set[str] = set()
        for s in review.scores:
            art = by_id.get(s.id)
            if art is None or s.id in seen:
                continue
            seen.add(s.id)
            notes.append(f"brand-voice score {s.score:.2f} for {s.id!r}: {s.rationale}")
            if s.score >= pol.warn_below or "voice.model-tone" in self._disabled:
                continue
            escalate = pol.escalate_below is not None and s.score < pol.escalate_below
            sev = Severity.ERROR if escalate else Severity.WARNING
            act = Action.ESCALATE if escalate else self.action_for("voice.model-tone", sev)
            # The model advises; a block can only come from the deterministic rules.
            if act.rank > Action.ESCALATE.rank:
                act = Action.ESCALATE
            out.append(
                Violation(
                    rule="voice.model-tone",
                    severity=sev,
                    action=act,
                    artifact_id=art.id,
                    artifact_kind="copy",
                    excerpt=f"score {s.score:.2f}",
                    message=f"The brand-voice review scores this {s.score:.2f}: {s.rationale}",
                    fix="Rewrite it in the brand's voice: " + ", ".join(self.brand.voice.tone),
                )
            )
        for c in copies:
            if c.id not in seen:
                notes.append(f"brand-voice review gave no score for {c.id!r}")
        return Verdict(violations=out, notes=notes, checked=len(copies))
