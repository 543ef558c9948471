"""The brand rule engine: a brand strategy compiled into a few combined regexes.

Each rule family (banned phrases, forbidden claims, competitors, health/finance/
endorsement packs, injection, ...) is folded into one pattern with a named group per
entry, so checking a piece of copy costs one scan per family whatever the brand lists.
Each field is first put in its canonical form (:mod:`conductor.brand._canonical`:
HTML, invisible characters, lookalike letters, spaced-out and digit spellings undone).
Text the brand itself requires (disclaimers, footers, the postal address) is blanked
out before claims and voice are checked, so the supplement disclaimer's "cure" never
counts against the copy; links and merge tags are read as words for the claims and
blanked for the voice. Findings are made on the canonical text and then pointed back at
the text as written (``_CompiledBrand._relocate``).

The engine is assembled here from its parts: the rule catalogue
(:mod:`conductor.brand._catalog`), the text helpers (:mod:`conductor.brand._text`), the
fields and phrase families (:mod:`conductor.brand._family`), the compiled policy and
patterns (:mod:`conductor.brand._compiled`), and the claim, voice and channel checks
(:mod:`conductor.brand._claim_checks`, :mod:`conductor.brand._voice_checks`,
:mod:`conductor.brand._channel_checks`). :class:`Engine` runs them over each artifact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property, partial

from conductor.brand._catalog import RULES, RuleInfo
from conductor.brand._channel_checks import _ChannelChecks
from conductor.brand._claim_checks import _ClaimChecks
from conductor.brand._family import _Field
from conductor.brand._plan_checks import check_allocation, check_audience
from conductor.brand._semantic import Hit, SemanticModel, semantic_model
from conductor.brand._text import _norm_space
from conductor.brand._voice_checks import _VoiceChecks
from conductor.specs import Allocation, Audience, Copy, Insight
from conductor.verdict import Verdict, Violation

__all__ = ["RULES", "Engine", "RuleInfo"]

# The semantic family a deterministic finding already covers (see Engine._meaning).
_DETERMINISTIC_FAMILY = {
    "claims.health.disease-claim": "disease",
    "claims.superlative": "superlative",
}
# The phrase rules whose being all disabled turns a semantic family off.
_COUNTERPARTS = {
    "disease": {"claims.health.disease-claim"},
    "guarantee": {"claims.finance.guaranteed-returns", "claims.finance.promissory"},
    "superlative": {"claims.superlative"},
    "testimonial": {"claims.endorsement.disclosure-missing"},
}
# Findings on a span that a semantic hit overlapping it would only repeat.
_SPAN_RULES = ("claims.", "voice.banned-phrase", "content.", "competitors.")
_DETERMINISTIC_PREFIX = (
    ("claims.finance.past", "past-performance"),
    ("claims.finance.", "guarantee"),
    ("claims.endorsement.", "testimonial"),
)


class Engine(_ClaimChecks, _VoiceChecks, _ChannelChecks):
    """A brand strategy compiled for fast, deterministic checking."""

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
                check_allocation(self.brand.budget, art, partial(self._v, out), signoff)
            elif isinstance(art, Audience):
                check_audience(self.brand.audience, art, partial(self._v, out))
            elif isinstance(art, Insight):
                self._check_insight(art, out)
            if art.kind in pol.artifact_kinds:
                signoff.append(f"{art.kind} {art.id!r}: every {art.kind} needs sign-off")
        return Verdict(violations=out, signoff=signoff, checked=len(artifacts))

    # --- copy ----------------------------------------------------------------------------

    def _check_copy(self, art: Copy, out: list[Violation], signoff: list[str]) -> None:
        b = self.brand
        channel = art.channel.strip().lower()
        rules = b.channels.get(channel)
        first = len(out)
        fields = [self._prepare("text", art.text)]
        # Emptiness is judged on what a reader sees: zero-width characters or an HTML
        # comment alone are no message.
        if not fields[0].seen.strip():
            self._v(out, "content.empty", art, "The copy has no text.", fix="Write the message.")
            # What a reader cannot see is still checked: a comment-only message is the
            # favourite place for an instruction to the reviewer.
            if fields[0].raw.strip():
                self._claims(art, fields[0], out)
                self._relocate(out, first + 1, fields)
            return
        if art.subject:
            fields.append(self._prepare("subject", art.subject))
        sf = investment = outcome = False
        first = len(out)
        for f in fields:
            a, b2, c = self._claims(art, f, out)
            sf, investment, outcome = sf or a, investment or b2, outcome or c
            self._voice(art, f.voice, out)
        body = fields[0]
        self._grade(art, body.voice, out)
        if self._required:
            raw_low = " ".join(f.seen for f in fields)
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
        norm_text = _norm_space(body.seen)
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
            and self._vary.search(body.seen) is None
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
            # A link's or a merge tag's words do not trigger a disclaimer ("/spring-sale").
            scan = " ".join(f.voice.scan for f in fields)
            low = " ".join(f.voice.low for f in fields)
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
            appends += self._channel(art, channel, norm_text, out, body.seen)
            self._length(art, rules, appends, out)
        for f in fields:
            self._meaning(art, f, out, first)
        self._signoff_copy(art, channel, rules is None, fields, signoff)
        self._relocate(out, first, fields)

    def _signoff_copy(
        self, art: Copy, channel: str, unknown: bool, fields: Sequence[_Field], signoff: list[str]
    ) -> None:
        pol = self.brand.review_policy.signoff
        if channel in self._signoff_channels:
            signoff.append(f"copy {art.id!r}: every {channel} message needs sign-off")
        # A file with no `channels:` configures none, so no channel is new to it: asking
        # for sign-off there would stop every run of a brand that only sets voice or claims.
        if unknown and pol.new_channels and self.brand.channels:
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
        first = len(out)
        self._claims(art, f, out)
        # No semantic check here: its families are learned from customer-facing copy, and an
        # analysis's statement ("the split adds 7,708 revenue (+1.9%)") is not a testimonial.
        self._relocate(out, first, [f])
        if not art.evidence:
            self._v(
                out,
                "insight.no-evidence",
                art,
                "The finding cites no numbers; nobody can check it.",
                field="evidence",
                fix="Add the figures the statement rests on.",
            )

    # --- claims by meaning ---------------------------------------------------------------

    @cached_property
    def _semantic(self) -> tuple[SemanticModel | None, dict[str, float]]:
        """The semantic model for the families the brand's packs turn on, and thresholds."""
        b = self.brand
        cfg, pk = b.claims.semantic, b.claims.packs
        families = [
            *(["disease"] if pk.health is not None else []),
            *(["guarantee", "past-performance"] if pk.finance is not None else []),
            *(["testimonial"] if pk.endorsements is not None else []),
            *(["superlative", "urgency"] if b.claims.superlatives else []),
        ]
        # A brand that turns a phrase rule off accepts that kind of claim: the family
        # goes quiet by meaning too (urgency has no phrase rule of its own).
        families = [
            fam
            for fam in families
            if not _COUNTERPARTS.get(fam) or not _COUNTERPARTS[fam] <= self._disabled
        ]
        if not cfg.enabled or not families:
            return None, {}
        thresholds = {fam: cfg.thresholds.get(fam, cfg.threshold) for fam in families}  # type: ignore[call-overload]
        return semantic_model(tuple(families), tuple(b.languages)), thresholds

    def _meaning(self, art: Copy | Insight, f: _Field, out: list[Violation], first: int) -> None:
        """Sentences that read like a claim, after the phrase rules have run.

        What a phrase rule already reported is not reported twice: a family a
        deterministic rule found anywhere in the artifact (``out[first:]``), and any
        sentence that overlaps a deterministic claim, banned phrase, injection or competitor
        finding.
        """
        model, thresholds = self._semantic
        if model is None:
            return
        found: set[str] = set()
        taken: list[tuple[int, int]] = []
        for v in out[first:]:
            # A missing risk warning says nothing about what the copy promises.
            fam = _DETERMINISTIC_FAMILY.get(v.rule) or next(
                (fam for p, fam in _DETERMINISTIC_PREFIX if v.rule.startswith(p)), None
            )
            if v.rule == "claims.finance.risk-warning-missing":
                fam = None
            if fam is not None:
                found.add(fam)
            if (
                v.field == f.name
                and v.start is not None
                and v.end is not None
                and v.rule.startswith(_SPAN_RULES)
            ):
                taken.append((v.start, v.end))
        warned = self._finance and self._risk_warning in _norm_space(f.seen)
        for hit in model.hits(f.scan, thresholds, raw=f.raw):
            if hit.family in found or any(a < hit.end and hit.start < b for a, b in taken):
                continue
            # A sourced superlative is qualified for the phrase rule, so for this one too;
            # a past result stated beside the risk warning is the compliant form.
            if hit.family == "superlative" and self._qualified(f.low, _span(f.low, hit)):
                continue
            if hit.family == "past-performance" and warned:
                continue
            rule = f"claims.semantic.{hit.family}"
            self._v(
                out,
                rule,
                art,
                f"semantic ({hit.family}): reads like {hit.exemplar!r} ({hit.score:.2f}).",
                field=f.name,
                span=(hit.start, hit.end),
                excerpt=f.raw[hit.start : hit.end],
                fix="Reword it as a claim the brand can stand behind, or remove it.",
            )


_WHOLE = re.compile(r".*", re.DOTALL)


def _span(text: str, hit: Hit) -> re.Match[str]:
    """A match object over a semantic hit's sentence, for the phrase rules' helpers."""
    m = _WHOLE.match(text, hit.start, hit.end)
    assert m is not None  # ".*" matches any slice
    return m
