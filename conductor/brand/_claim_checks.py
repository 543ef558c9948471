"""The brand rule engine's claim checks, shared by copy and insights.

Prompt injection, placeholders, forbidden claims, named competitors, unqualified
superlatives and the health, finance and endorsement packs. A claim preceded by a
negation in the same clause ("does not cure") does not count.
"""

from __future__ import annotations

import re
from typing import Any

from conductor.brand._compiled import _CompiledBrand
from conductor.brand._family import _Field
from conductor.brand._text import _SENTENCE_END, _WORD, _match_case
from conductor.specs import Copy, Insight
from conductor.verdict import Violation

_NOT_NEGATION = re.compile(r"\s*(?:only|just|merely)\b")
_NEGATED_GUARANTEE = re.compile(r"\b(?:not|never|no)\s+guaranteed|n't\s+guaranteed")


class _ClaimChecks(_CompiledBrand):
    """Checks for what a text claims: the families that apply to copy and insights alike."""

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
