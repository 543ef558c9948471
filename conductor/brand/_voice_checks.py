"""The brand rule engine's voice checks: banned phrases, shouting, marks, emoji, grade.

Also turns the optional model review of the brand voice into advisory findings; the
model can warn or escalate but never block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from conductor.brand import _packs as packs
from conductor.brand._compiled import _CompiledBrand
from conductor.brand._family import _Field
from conductor.brand._text import _match_case
from conductor.specs import Copy
from conductor.verdict import Action, Severity, Verdict, Violation

if TYPE_CHECKING:
    from conductor.brand._voice_answer import VoiceReview

_CAPS = re.compile(r"(?<![\w'-])[A-Z][A-Z']*[A-Z](?:-[A-Z][A-Z']*)*(?![\w'-])")
_TWO_CAPS = re.compile(r"[A-Z][A-Z']")  # a cheap test before the word-bounded scan


class _VoiceChecks(_CompiledBrand):
    """Checks for how copy sounds, and the model's advisory voice review."""

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
