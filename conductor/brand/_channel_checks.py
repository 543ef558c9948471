"""The brand rule engine's channel checks: what a channel requires and how long it may be.

Emails need an unsubscribe link and the postal address, SMS an opt-out; each channel's
own disclaimers; and the length limits, with SMS counted against the Unicode limit when
the text needs characters outside GSM-7.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from conductor.brand._compiled import _CompiledBrand
from conductor.specs import Copy
from conductor.verdict import Violation

_GSM7 = re.compile(
    r"^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà"
    r"\^{}\\\[~\]|€]*$"
)


class _ChannelChecks(_CompiledBrand):
    """Checks for what each channel demands of a message."""

    def _channel(
        self, art: Copy, channel: str, norm_text: str, out: list[Violation], low: str
    ) -> list[str]:
        """Required elements and channel disclaimers; ``low`` is the visible text, lowered."""
        b = self.brand
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
                ok = any(
                    not self._negated_opt_out(low, m.start()) for m in self._opt_out.finditer(low)
                )
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

    def _negated_opt_out(self, low: str, start: int) -> bool:
        """Whether a negation opens the clause of an opt-out ("Don't reply STOP")."""
        prefix = low[max(0, start - 40) : start]
        breaks = list(self._clause_break.finditer(prefix))
        if breaks:
            prefix = prefix[breaks[-1].end() :]
        return any(
            not self._not_negation.match(prefix, m.end()) and len(prefix[m.end() :].split()) <= 2
            for m in self._negators.finditer(prefix)
        )

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
