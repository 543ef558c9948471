"""The brand rule engine's claim checks, shared by copy and insights.

Prompt injection, placeholders, forbidden claims, named competitors, unqualified
superlatives, the health, finance and endorsement packs, and the brand's custom packs.
A claim preceded by a negation in the same clause ("does not cure") does not count
where the family says so. Each family is a step of :meth:`_ClaimChecks._claims`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from conductor.brand._compiled import _CompiledBrand
from conductor.brand._family import _Field
from conductor.brand._text import _SENTENCE_END, _WORD, _match_case
from conductor.specs import Copy, Insight
from conductor.verdict import Violation

_Flag = Callable[..., None]
"""Reports a match: ``flag(rule, match, message, fix=..., ...)`` (see ``_ClaimChecks._flag``)."""

_DEFAULT_FIX = "Remove the claim or reword it."

_MARK = re.compile(r"[*†‡]+")


def _footnoted(low: str, mark: re.Match[str]) -> bool:
    """Whether footnote ``mark`` opens a footnote elsewhere: the mark, then 2+ words."""
    note = re.compile(rf"(?:^|(?<=\s))(?<![*†‡]){re.escape(mark.group())}(?![*†‡])\s*[a-z]+\W+\w")
    return any(n.start() != mark.start() for n in note.finditer(low))


class _ClaimChecks(_CompiledBrand):
    """Checks for what a text claims: the families that apply to copy and insights alike."""

    def _negated(self, low: str, start: int) -> bool:
        prefix = low[max(0, start - 80) : start]
        breaks = list(self._clause_break.finditer(prefix))
        if breaks:
            prefix = prefix[breaks[-1].end() :]
        last = None
        for m in self._negators.finditer(prefix):
            if not self._not_negation.match(prefix, m.end()):
                last = m
        if last is None:
            return False
        return len(_WORD.findall(prefix[last.end() :])) <= 6

    def _claims(
        self, art: Copy | Insight, f: _Field, out: list[Violation]
    ) -> tuple[bool, bool, bool]:
        """Claim families shared by copy and insights; returns (sf, investment, outcome)."""
        flag = partial(self._flag, out, art, f)
        self._hygiene(art, f, out, flag)
        self._brand_claims(f, flag)
        if self._superlative is not None:
            self._superlatives(f, flag)
        sf = self._health_claims(f, flag) if self._health else False
        investment = self._finance_claims(f, flag) if self._finance else False
        outcome = self._endorsement_claims(f, flag) if self._endorse else False
        if self._custom:
            self._custom_claims(f, flag)
        return sf, investment, outcome

    def _flag(
        self,
        out: list[Violation],
        art: Copy | Insight,
        f: _Field,
        rule: str,
        m: re.Match[str],
        message: str,
        **kw: Any,
    ) -> None:
        """Report ``m`` (a match in ``f``) under ``rule``, with its span and excerpt."""
        excerpt = f.raw[m.start() : m.end()]
        self._v(out, rule, art, message, field=f.name, span=m.span(), excerpt=excerpt, **kw)

    def _hygiene(self, art: Copy | Insight, f: _Field, out: list[Violation], flag: _Flag) -> None:
        """Instructions aimed at an AI or a reviewer, and unfinished placeholders."""
        low, raw = f.low, f.raw
        for m in self._injection.finditer(low):
            flag(
                "content.instructions-in-copy",
                m,
                "This text contains instructions aimed at an AI or a reviewer. Customer copy "
                "must never carry them, and they do not change the brand review.",
                fix="Remove the instruction and rewrite the message for customers.",
            )
        holders = [m.span() for m in self._placeholder.finditer(low)]
        if f.scan != low:  # the cased placeholders need capitals
            holders += [m.span() for m in self._placeholder_cased.finditer(f.scan)]
        for span in sorted(set(holders)):
            found = raw[span[0] : span[1]]
            f.placeholders.append(span)
            self._v(
                out,
                "content.placeholder",
                art,
                f"Unfinished placeholder text {found!r}.",
                field=f.name,
                span=span,
                excerpt=found,
                fix="Replace the placeholder with the real wording.",
            )

    def _brand_claims(self, f: _Field, flag: _Flag) -> None:
        """The claims the brand file forbids, and the competitors it never names."""
        raw = f.raw
        for m, claim in self._forbidden.finditer(f):
            label = claim.name or raw[m.start() : m.end()]
            flag(
                "claims.forbidden",
                m,
                claim.message or f"The brand never makes the claim {label!r}.",
                fix=claim.fix or "Remove the claim or state a fact you can prove.",
                replacement=None
                if claim.replacement is None
                else _match_case(raw[m.start() : m.end()], claim.replacement),
                severity=claim.severity,
            )
        for m, comp in self._competitors.finditer(f):
            flag(
                "competitors.named",
                m,
                f"Names the competitor {comp.name!r}; the brand never names competitors.",
                fix=f"Say {comp.replacement!r} instead, or talk about our own product."
                if comp.replacement
                else "Talk about our own product instead.",
                replacement=comp.replacement,
            )

    def _superlatives(self, f: _Field, flag: _Flag) -> None:
        """Superlatives with no source in the same sentence (vocab/superlatives.yaml)."""
        assert self._superlative is not None
        for m in self._superlative.finditer(f.low):
            if self._qualified(f.low, m):
                continue
            flag(
                "claims.superlative",
                m,
                f"{f.raw[m.start() : m.end()]!r} is a superlative claim with no source.",
                fix="Cite who says so (a footnote or 'according to ...') or use a "
                "claim you can prove.",
            )

    def _health_claims(self, f: _Field, flag: _Flag) -> bool:
        """Disease claims; returns whether a structure/function claim needs the disclaimer."""
        low = f.low
        for m in self._disease.finditer(low):
            if self._negated(low, m.start()):
                continue
            flag(
                "claims.health.disease-claim",
                m,
                f"{f.raw[m.start() : m.end()]!r} claims the product cures, treats or prevents "
                "a disease. Supplements may not make disease claims.",
                fix="Describe how it supports normal body function instead "
                "(e.g. 'supports a healthy immune system').",
            )
        return any(not self._negated(low, m.start()) for m in self._sf.finditer(low))

    def _finance_claims(self, f: _Field, flag: _Flag) -> bool:
        """Guarantees and promises; returns whether the text promotes an investment."""
        low, raw = f.low, f.raw
        for m in self._guarantee.finditer(low):
            if self._negated(low, m.start()) or self._not_guaranteed.search(m.group()):
                continue
            flag(
                "claims.finance.guaranteed-returns",
                m,
                f"{raw[m.start() : m.end()]!r} promises guaranteed returns; no investment "
                "return can be guaranteed.",
                fix="Remove the guarantee; describe the product's aims and risks.",
            )
        promises = list(self._promissory.finditer(low))
        promises += [
            m for m in self._promissory_negatable.finditer(low) if not self._negated(low, m.start())
        ]
        for m in sorted(promises, key=lambda m: m.start()):
            flag(
                "claims.finance.promissory",
                m,
                f"{raw[m.start() : m.end()]!r} promises gains or no risk of loss.",
                fix="Do not promise outcomes; say that the value can go down as well as up.",
            )
        return self._investment.search(low) is not None

    def _endorsement_claims(self, f: _Field, flag: _Flag) -> bool:
        """Typical results and invented reviews; returns whether a result is quoted."""
        low, raw = f.low, f.raw
        for m in self._typical.finditer(low):
            flag(
                "claims.endorsement.typical-results",
                m,
                f"{raw[m.start() : m.end()]!r} implies a customer's results are typical.",
                fix="Say what results people can generally expect, or drop the claim.",
            )
        reviews = list(self._review_claim.finditer(low))
        if reviews and self._review_q.search(low) is None:
            for m in reviews:
                flag(
                    "claims.endorsement.invented-review",
                    m,
                    f"{raw[m.start() : m.end()]!r} cites ratings, reviews or experts with no "
                    "source, so it reads as invented.",
                    fix="Cite the source (e.g. 'based on 1,240 verified reviews') or drop it.",
                )
        return self._outcome.search(low) is not None

    def _custom_claims(self, f: _Field, flag: _Flag) -> None:
        """The families of the brand's custom packs, each its own rule claims.custom.<family>."""
        for rule, fam, matcher in self._custom:
            for m, _fam in matcher.finditer(f):
                if fam.negatable and self._negated(f.low, m.start()):
                    continue
                flag(
                    rule,
                    m,
                    f"{f.raw[m.start() : m.end()]!r}: {fam.message}",
                    fix=fam.fix or _DEFAULT_FIX,
                    severity=fam.severity,
                )

    def _qualified(self, low: str, m: re.Match[str]) -> bool:
        start = max((e.end() for e in _SENTENCE_END.finditer(low, 0, m.start())), default=0)
        ends = _SENTENCE_END.search(low, m.end())
        stop = ends.end() if ends else len(low)
        # A footnote mark counts only with its footnote ("* Source: ..."), not on its own.
        if any(_footnoted(low, mk) for mk in _MARK.finditer(low, start, stop)):
            return True
        return self._superlative_q.search(low[start:stop]) is not None
