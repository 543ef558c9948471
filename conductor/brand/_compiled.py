"""The brand strategy compiled for checking: the review policy and the combined regexes.

:class:`_CompiledBrand` is the base of the rule engine (:mod:`conductor.brand._engine`):
it resolves each rule's severity and action from the brand's ``review_policy``, records
violations, compiles every rule family once, and prepares a text field for scanning: its
canonical text (:mod:`conductor.brand._canonical`), with the text the brand itself
requires (disclaimers, the address) blanked, and the views the claim, voice and channel
checks read. The
checks themselves live in the mixins built on it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conductor._cache import cache_dir, digest, read_cached, write_cached
from conductor.brand import _packs as packs
from conductor.brand._canonical import Canonicaliser, vocabulary_words
from conductor.brand._catalog import RULES
from conductor.brand._family import _entry, _Family, _Field
from conductor.brand._pack_file import expand_gaps
from conductor.brand._safe_regex import bounded_source
from conductor.brand._text import (
    _FLAGS,
    _URL,
    _URL_HINTS,
    _WORD,
    _alternation,
    _bounded,
    _bounded_phrase,
    _lower,
    _lower_phrase,
    _norm_space,
    factored,
    screen_of,
    screened,
)
from conductor.brand._vocab import BUILTIN, builtin, builtin_digest, family_matcher
from conductor.specs import Allocation, Audience, Copy, Insight
from conductor.verdict import Action, Severity, Violation

# "At the start of the text, a line or a sentence, or after `<!--`, a bracket or a bullet",
# as vocab/instructions.yaml writes it in front of its role prefixes ("SYSTEM:").
_LINE_START = r"(?:^|(?<=[\n.!?>\[({*#-])|(?<=[\n.!?>\[({*#-] ))"
# The host of a URL or the domain of an email address (the brand's own, for its role
# addresses such as help@ at the same domain).
_HOST = re.compile(r"(?:https?://|@)([^/\s:?#]+)")

if TYPE_CHECKING:
    from conductor.brand._schema import BrandRules, EndorsementPack, FinancePack, HealthPack


# Inside a link or a merge tag, everything but letters and digits separates words:
# "www.cure-arthritis-fast.com" reads "www cure arthritis fast com".
_LINK_WORDS = re.compile(r"[\W_]")


@cache
def _builtin_vocabulary() -> frozenset[str]:
    """Every word the built-in packs can match (their patterns expanded, their words).

    It depends only on the built-in files and the expansion code, and expanding some
    five hundred patterns is a tenth of a `check-copy`: it is kept in the cache folder.
    """
    entry = _vocabulary_entry()
    if entry is not None and (hit := read_cached(entry, frozenset)) is not None:
        return hit  # type: ignore[no-any-return]
    sources: list[str] = []
    for name in BUILTIN:
        for fam in builtin(name).families.values():
            sources += [expand_gaps(p) for p in fam.patterns]
            sources += [re.escape(w) for w in fam.words]
    words = frozenset(vocabulary_words(sources))
    if entry is not None:
        write_cached(entry, words)
    return words


def _vocabulary_entry() -> Path | None:
    folder = cache_dir()
    keys = [builtin_digest(name) for name in sorted(BUILTIN)]
    if folder is None or None in keys:
        return None
    code = Path(inspect.getfile(Canonicaliser)).read_bytes()  # _canonical: the expansion
    return folder / f"vocabulary-{digest('builtin-vocabulary/1', code, *map(str, keys))}.pickle"


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
        custom = [f"claims.custom.{f}" for p in brand.custom_packs for f in p.pack.families]
        self._disabled = {r for r in [*RULES, *custom] if self._is_disabled(r, pol.disabled)}
        self._compile()
        self._canon = Canonicaliser(self._vocabulary())

    @staticmethod
    def _is_disabled(rule: str, disabled: Sequence[str]) -> bool:
        return any(rule == d or (d.endswith(".*") and rule.startswith(d[:-1])) for d in disabled)

    # --- compilation ---------------------------------------------------------------------

    def _compile(self) -> None:
        self._compile_approved()
        self._compile_brand_lists()
        self._compile_builtin()
        pk = self.brand.claims.packs
        self._health = pk.health is not None
        if pk.health is not None:
            self._compile_health(pk.health)
        self._finance = pk.finance is not None
        if pk.finance is not None:
            self._compile_finance(pk.finance)
        self._endorse = pk.endorsements is not None
        if pk.endorsements is not None:
            self._compile_endorsements(pk.endorsements)
        self._compile_disclaimers()
        self._compile_personal_data()
        if self.brand.audience.sensitive_attributes:
            packs.sensitive_synonyms()  # read (and check) sensitive.yaml now, not mid-review

    def _vocabulary(self) -> set[str]:
        """The words a de-obfuscated spelling may turn into (see ``_canonical``)."""
        b = self.brand
        words = set(_builtin_vocabulary())
        phrases = [p.phrase for p in b.voice.banned if not p.regex]
        phrases += [c.pattern for c in b.claims.forbidden if not c.regex]
        phrases += [n for c in b.competitors for n in [c.name, *c.aliases]]
        pk = b.claims.packs
        phrases += [*(pk.health.extra_conditions if pk.health else [])]
        phrases += [*(pk.finance.extra_investment_terms if pk.finance else [])]
        words |= {w.lower() for p in phrases for w in _WORD.findall(p)}
        # A name written as one word ("Trail Hawk" as #TrailHawk) is a word too.
        names = [n for c in b.competitors for n in [c.name, *c.aliases]]
        words |= {"".join(_WORD.findall(n)).lower() for n in names}
        regexes = [p.phrase for p in b.voice.banned if p.regex]
        regexes += [c.pattern for c in b.claims.forbidden if c.regex]
        for pack in b.custom_packs:
            for fam in pack.pack.families.values():
                regexes += [expand_gaps(p) for p in fam.patterns]
                words |= {w.lower() for p in fam.words for w in _WORD.findall(p)}
        return words | vocabulary_words(regexes)

    def _compile_personal_data(self) -> None:
        """The brand's own contact details, which copy may carry (content.personal-data)."""
        c = self.brand.company
        self._own_email = c.support_email.strip().lower() if c.support_email else None
        self._own_phone = "".join(ch for ch in c.support_phone or "" if ch.isdigit()) or None
        hosts = (_HOST.search(u) for u in (c.unsubscribe_url, c.support_email or ""))
        self._own_domains = {h.group(1).lower().removeprefix("www.") for h in hosts if h}

    def _compile_approved(self) -> None:
        """The text the brand itself requires, blanked before the copy is scanned."""
        b = self.brand
        pk = b.claims.packs
        approved = [b.company.legal_name, b.company.postal_address, b.company.sms_opt_out]
        approved += [d.text for d in b.disclaimers]
        for ch in b.channels.values():
            approved += ch.disclaimers
        approved += [p.disclaimer for p in (pk.health,) if p]
        approved += [p.risk_warning for p in (pk.finance,) if p]
        approved += [p.disclosure for p in (pk.endorsements,) if p]
        sources = sorted({_lower_phrase(t) for t in approved if t.strip()}, key=len, reverse=True)
        self._approved = re.compile(screened("|".join([*sources, self._opt_out_source()])))

    @staticmethod
    def _opt_out_source() -> str:
        return "|".join(packs.sources("hygiene", "opt-out"))

    def _compile_brand_lists(self) -> None:
        """What the brand file lists: banned phrases, terms, claims, competitors, custom packs."""
        b = self.brand
        voice = b.voice
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
        self._forbidden = _Family([_entry(c.pattern, c, regex=c.regex) for c in b.claims.forbidden])
        self._competitors = _Family(
            [
                _entry(name, c, case_sensitive=c.case_sensitive)
                for c in b.competitors
                for name in [c.name, *c.aliases]
            ]
        )
        self._allowed_caps = packs.allowed_caps() | {w.upper() for w in voice.allowed_caps}
        self._allowed_caps |= {w.upper() for w in _WORD.findall(b.name)}
        self._custom = [
            (f"claims.custom.{name}", fam, family_matcher(fam))
            for pack in b.custom_packs
            for name, fam in pack.pack.families.items()
        ]

    def _compile_builtin(self) -> None:
        """Built-in patterns every brand checks: superlatives, negation, hygiene."""
        src = packs.sources
        sup = self.brand.claims.superlatives
        self._superlative = _alternation(src("superlatives", "superlatives")) if sup else None
        self._superlative_q = re.compile("|".join(src("superlatives", "sources")))
        self._negators = re.compile(screened(packs.negators()))
        self._clause_break = re.compile(packs.clause_break())
        self._not_negation = re.compile(packs.not_negation())
        # Phrases on whole words, every language; chat-model markup anywhere. The role
        # prefixes share their "at a line or sentence start" test, so it is run once per
        # position for all of them (a third of the scan time otherwise).
        phrases = packs.instruction_sources()
        at_start = [p[len(_LINE_START) :] for p in phrases if p.startswith(_LINE_START)]
        others = [p for p in phrases if not p.startswith(_LINE_START)]
        joined = f"{_LINE_START}(?:{factored(at_start)})|" if at_start else ""
        self._injection = re.compile(
            "|".join(
                [_bounded(joined + factored(others), screen=True), *packs.instruction_markup()]
            )
        )
        self._placeholder = re.compile("|".join(src("hygiene", "placeholders")))
        # Run on the text as written, without flags: its prefixes are exact, so screenable.
        self._placeholder_cased = re.compile(
            screened("|".join(src("hygiene", "cased-placeholders")))
        )
        self._emoji = re.compile(packs.EMOJI)
        self._opt_out = re.compile(screened(self._opt_out_source()))
        self._unsub = re.compile("|".join(src("hygiene", "unsubscribe-link")))
        self._unsub_url = _lower(self.brand.company.unsubscribe_url)
        self._postal = _norm_space(self.brand.company.postal_address)

    def _compile_health(self, pack: HealthPack) -> None:
        """Disease claims and structure/function claims (vocab/health.yaml)."""

        def alt(family: str) -> str:
            return factored(list(packs.sources("health", family)))

        extra = [_lower_phrase(c) for c in pack.extra_conditions]
        conds = factored([*packs.sources("health", "conditions"), *extra])
        verbs, strong, noun_first = alt("disease-verbs"), alt("cures"), alt("condition-nouns")
        self._disease = re.compile(
            _bounded(
                f"(?:{verbs}){packs.GAP}(?:{conds})"
                f"|(?:{conds})(?:{packs.gap(2)}|-)(?:{noun_first})"
                f"|{strong}",
                screen=True,
            )
        )
        self._sf = re.compile(
            _bounded(
                f"(?:{alt('support-verbs')}){packs.gap(4)}(?:{alt('body-functions')})",
                screen=True,
            )
        )
        self._health_disclaimer = _norm_space(pack.disclaimer)

    def _compile_finance(self, pack: FinancePack) -> None:
        """Guarantees, promises and investment promotions (vocab/finance.yaml)."""
        src = packs.sources
        self._guarantee = _alternation(src("finance", "guarantees"))
        self._not_guaranteed = re.compile("|".join(src("finance", "not-guaranteed")))
        self._promissory = _alternation(src("finance", "promises"))
        self._promissory_negatable = _alternation(src("finance", "negatable-promises"))
        # A past result: who performed, the verb (its own group, so a negation in front of
        # it can be found: "our fund did not beat the market"), then the figure.
        who, verb, figure = (
            factored(list(src("finance", f)))
            for f in ("performers", "performance-verbs", "performance-figures")
        )
        self._past_result = re.compile(
            _bounded(
                f"(?:{who}){packs.gap(3)}(?P<verb>{verb}){packs.gap(4)}(?:{figure})",
                screen=True,
            )
        )
        self._forward_promise = _alternation(src("finance", "forward-promises"))
        terms = [*src("finance", "investment-terms")]
        terms += [_lower_phrase(t) for t in pack.extra_investment_terms]
        self._investment = _alternation(terms)
        self._risk_warning = _norm_space(pack.risk_warning)

    def _compile_endorsements(self, pack: EndorsementPack) -> None:
        """Typical results, invented reviews, quoted outcomes (vocab/endorsements.yaml)."""
        src = packs.sources
        self._typical = _alternation(src("endorsements", "typical-results"))
        self._outcome = _alternation(src("endorsements", "outcomes"))
        self._vary = re.compile("|".join(src("endorsements", "results-vary")))
        reviews = "|".join(src("endorsements", "reviews"))
        glyphs = src("endorsements", "review-glyphs")
        # Star glyphs are not word characters, so they match without a word boundary.
        self._review_claim = re.compile(
            "|".join([f"{screen_of(reviews)}(?<!\\w)(?:{reviews})", *glyphs])
        )
        self._review_q = re.compile("|".join(src("endorsements", "review-sources")))
        self._disclosure = _norm_space(pack.disclosure)

    def _compile_disclaimers(self) -> None:
        """Conditional and per-channel disclaimers, and the sign-off topics."""
        b = self.brand
        self._conditional: list[tuple[Any, re.Pattern[str] | None, bool, set[str], str]] = []
        for d in b.disclaimers:
            trigger = None
            if d.when:
                if d.when_regex:
                    trigger = re.compile(_bounded("|".join(map(bounded_source, d.when))), _FLAGS)
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
        """``raw`` as the checks read it: canonical, with three views of the same length.

        The claims view (``scan``/``low``) blanks the text the brand itself requires and
        reads links and merge tags as words, so a claim hidden in a URL path or in
        ``{{...}}`` is seen; HTML comments stay in it. The voice view also blanks links,
        merge tags and hidden text (their capitals and marks are not the copy's voice).
        ``seen`` blanks only the hidden text: required elements count only when visible.
        """
        canon = self._canon(raw)
        text = canon.text
        low = _lower(text)
        approved = [m.span() for m in self._approved.finditer(low)]
        # Links and merge tags; an email address is blanked for the voice checks only, so
        # the claims view keeps it as written.
        blank = [m.span() for m in _URL.finditer(low)] if any(h in low for h in _URL_HINTS) else []
        hidden = canon.hidden
        if not approved and not blank and not hidden:
            return _Field(name, text, text, low, canon=canon, visible=low)
        chars = list(text)
        notes: list[tuple[int, int, str]] = []
        for start, end in blank:
            piece = text[start:end]
            if "@" in piece and "/" not in piece and not piece.startswith("{{"):
                continue
            chars[start:end] = _LINK_WORDS.sub(" ", piece)
            notes.append((start, end, "in a merge tag" if piece[0] == "{" else "in a link"))
        notes += [(a, b, "in hidden text (an HTML comment)") for a, b in hidden]
        for start, end in approved:
            chars[start:end] = " " * (end - start)
        scan = "".join(chars)
        for start, end in [*blank, *hidden]:
            chars[start:end] = " " * (end - start)
        vscan = "".join(chars)
        placeholders: list[tuple[int, int]] = []  # shared: the voice checks skip them too
        voice = _Field(name, text, vscan, _lower(vscan), placeholders, canon=canon)
        visible = low
        if hidden:
            seen = list(low)
            for a, b in hidden:
                seen[a:b] = " " * (b - a)
            visible = "".join(seen)
        return _Field(
            name,
            text,
            scan,
            _lower(scan),
            placeholders,
            canon=canon,
            voice_view=voice,
            visible=visible,
            notes=tuple(notes),
        )

    def _relocate(self, out: list[Violation], first: int, fields: Sequence[_Field]) -> None:
        """Point the findings ``out[first:]`` at the original text of their field."""
        by_name = {
            f.name: f for f in fields if f.notes or (f.canon and f.canon.text != f.canon.original)
        }
        if not by_name:
            return
        for i in range(first, len(out)):
            f = by_name.get(out[i].field)
            if f is not None:
                out[i] = f.relocate(out[i])
