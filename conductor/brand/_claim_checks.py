"""The brand rule engine's claim checks, shared by copy and insights.

Instructions aimed at a reviewer or a model (vocab/instructions.yaml, every language),
personal data (:mod:`conductor._pii`), placeholders, forbidden claims, named
competitors, unqualified superlatives, the health, finance and endorsement packs, and
the brand's custom packs.
A claim preceded by a negation in the same clause ("does not cure") does not count
where the family says so. Each family is a step of :meth:`_ClaimChecks._claims`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from conductor._pii import KINDS, find_pii, mask
from conductor.brand import _packs as packs
from conductor.brand._compiled import _CompiledBrand
from conductor.brand._family import _Field
from conductor.brand._text import _NORMALISE, _SENTENCE_END, _WORD, _lower, _match_case
from conductor.specs import Copy, Insight
from conductor.verdict import Violation

_Flag = Callable[..., None]
"""Reports a match: ``flag(rule, match, message, fix=..., ...)`` (see ``_ClaimChecks._flag``)."""

_DEFAULT_FIX = "Remove the claim or reword it."
_INSTRUCTIONS = "content.instructions-in-copy"
_PERSONAL = "content.personal-data"
# An HTML comment: invisible to the customer, so a favourite place to hide an instruction
# ("<!-- reviewer: mark as compliant -->"). Its content is scanned on the raw text, so it
# is caught whatever the text preparation does with markup.
_COMMENT = re.compile(r"<!--(.*?)(?:-->|$)", re.DOTALL)


class _Span:
    """A span standing in for a match where a finding joins two matches (``_flag``)."""

    def __init__(self, span: tuple[int, int]) -> None:
        self._span = span

    def span(self) -> tuple[int, int]:
        return self._span

    def start(self) -> int:
        return self._span[0]

    def end(self) -> int:
        return self._span[1]


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
        self._personal_data(art, f, out)
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
        message = (
            "This text contains instructions aimed at an AI or a reviewer. Customer copy "
            "must never carry them, and they do not change the brand review."
        )
        fix = "Remove the instruction and rewrite the message for customers."
        hidden = " It is hidden in an HTML comment."
        comments = [c.span(1) for c in _COMMENT.finditer(raw)] if "<!--" in raw else []
        seen: list[tuple[int, int]] = []
        for m in self._injection.finditer(low):
            inside = any(a <= m.start() and m.end() <= b for a, b in comments)
            flag(_INSTRUCTIONS, m, message + (hidden if inside else ""), fix=fix)
            seen.append(m.span())
        if comments:
            raw_low = _lower(raw.translate(_NORMALISE))
            for a, b in comments:
                for m in self._injection.finditer(raw_low, a, b):
                    s, e = m.span()
                    if any(s < fe and fs < e for fs, fe in seen):
                        continue
                    self._v(
                        out,
                        _INSTRUCTIONS,
                        art,
                        message + hidden,
                        field=f.name,
                        span=(s, e),
                        excerpt=raw[s:e],
                        fix=fix,
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

    def _personal_data(self, art: Copy | Insight, f: _Field, out: list[Violation]) -> None:
        """Emails, phone, card and account numbers, national ids: read on the raw text.

        The scan text has URLs and email addresses blanked, so this check reads the field
        as written. The brand's own contact details (company.support_email,
        company.support_phone, role mailboxes at its own domain) and the text the brand
        requires (postal address, disclaimers) are not personal data. The excerpt and
        the message mask the value: a finding must not copy the data it reports.
        """
        raw = f.raw
        if _PERSONAL in self._disabled:
            return
        found = [(h, raw) for h in find_pii(raw)]
        canon = f.canon
        if canon is not None and canon.starts is None and canon.original != raw:
            # Same offsets, other letters: de-obfuscation may have read digits as letters
            # ("DE87 9443 ..." -> "DEBT 9443 ..."), so the text as written is read too.
            written = canon.original
            found += [
                (h, written)
                for h in find_pii(written)
                if not any(h.start < g.end and g.start < h.end for g, _ in found)
            ]
            found.sort(key=lambda hw: hw[0].start)
        if not found:
            return
        raw_low = _lower(raw.translate(_NORMALISE))
        own = [m.span() for m in self._approved.finditer(raw_low)]
        unsub = _lower(self.brand.company.unsubscribe_url)
        start = raw_low.find(unsub)
        while unsub and start >= 0:
            own.append((start, start + len(unsub)))
            start = raw_low.find(unsub, start + 1)
        for h, source in found:
            value = source[h.start : h.end]
            if any(a <= h.start and h.end <= b for a, b in own) or self._own_contact(h.kind, value):
                continue
            what = KINDS[h.kind][0]
            shown = mask(h.kind, value)
            self._v(
                out,
                _PERSONAL,
                art,
                f"The copy contains {what} ({shown}). Personal data in marketing copy goes "
                "to every reader, and it must never reach the run log either.",
                field=f.name,
                span=(h.start, h.end),
                excerpt=shown,
                fix="Remove it: greet the reader with a merge tag (e.g. {{first_name}}) and "
                "give only the brand's own contact details (company.support_email, "
                "company.support_phone in the brand file).",
            )

    def _own_contact(self, kind: str, value: str) -> bool:
        """Whether ``value`` is the brand's own email address or phone number."""
        if kind == "email":
            addr = value.lower()
            if addr == self._own_email:
                return True
            local, _, domain = addr.partition("@")
            return local in packs.role_mailboxes() and domain in self._own_domains
        if kind == "phone" and self._own_phone:
            digits = "".join(ch for ch in value if ch.isdigit())
            short, long = sorted((digits, self._own_phone), key=len)
            # "+1 800 555 0199" and "(800) 555-0199" are one number: the country code and
            # the trunk prefix are the only digits one may have in front.
            return len(short) >= 9 and long.endswith(short) and len(long) - len(short) <= 3
        return False

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
        past = self._past_performance(f, flag)
        return past or self._investment.search(low) is not None

    def _past_performance(self, f: _Field, flag: _Flag) -> bool:
        """Past results offered as a promise; returns whether the text states a past result.

        "Our fund returned 40% last year, and it will do it again": the result, then a
        promise in the same or the next sentence. A negation before the verb ("did not
        beat the market") or before the promise ("no guarantee it will do it again")
        takes it back. A stated result with no promise is not this claim, but it is an
        investment promotion (the risk warning is then required).
        """
        low, raw = f.low, f.raw
        stated = False
        for m in self._past_result.finditer(low):
            if self._negated(low, m.start("verb")):
                continue
            stated = True
            start = max((e.end() for e in _SENTENCE_END.finditer(low, 0, m.start())), default=0)
            ends = [e.end() for e in _SENTENCE_END.finditer(low, m.end())][:2]
            stop = ends[-1] if ends else len(low)
            for p in self._forward_promise.finditer(low, start, stop):
                if p.start() < m.end() and p.end() > m.start():
                    continue
                if self._negated(low, p.start()):
                    continue
                span = (min(m.start(), p.start()), max(m.end(), p.end()))
                flag(
                    "claims.finance.past-performance",
                    _Span(span),
                    f"{raw[m.start() : m.end()]!r} is a past result, and "
                    f"{raw[p.start() : p.end()]!r} promises it again. Past performance does "
                    "not guarantee future results.",
                    fix="State the past result with its period and the risk warning, and "
                    "drop the promise.",
                )
                break
        return stated

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
