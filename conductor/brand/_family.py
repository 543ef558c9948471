"""Prepared text fields and the phrase families the brand rule engine scans them with.

A :class:`_Field` is one text field of an artifact with the brand's own text blanked; a
:class:`_Family` folds every phrase or pattern the brand lists for one rule (banned
phrases, forbidden claims, competitors, sign-off topics) into at most three regexes, so
a scan costs the same whatever the brand lists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from conductor.brand._canonical import Canonical
from conductor.brand._safe_regex import bounded_source
from conductor.brand._text import (
    _FLAGS,
    _edges,
    _lower,
    _lower_phrase,
    _phrase,
    factored,
    screen_of,
)
from conductor.verdict import Violation


@dataclass
class _Field:
    """One text field of an artifact, prepared for scanning.

    Every string here is the field's canonical text (:mod:`conductor.brand._canonical`)
    or a view of it of the same length, so one offset means the same character in each;
    ``canon`` maps canonical offsets back to the text as written.
    """

    name: str
    raw: str  # the canonical text, nothing blanked: what messages quote
    scan: str  # claims view: approved text blanked, links and merge tags read as words
    low: str  # ``scan`` lowered, same length
    placeholders: list[tuple[int, int]] = dataclass_field(default_factory=list)
    canon: Canonical | None = None
    voice_view: _Field | None = None  # approved text, links and hidden text blanked
    visible: str | None = None  # lowered, only hidden text (HTML comments) blanked
    notes: tuple[tuple[int, int, str], ...] = ()  # (start, end, where) of links and hidden text

    @property
    def voice(self) -> _Field:
        """The view the voice checks read: the copy as a reader sees it, links blanked."""
        return self.voice_view if self.voice_view is not None else self

    @property
    def seen(self) -> str:
        """The lowered text a reader sees (required elements count only there)."""
        return self.visible if self.visible is not None else _lower(self.raw)

    def relocate(self, v: Violation) -> Violation:
        """``v`` (found at canonical offsets) pointed at the original text, with notes."""
        if v.start is None or v.end is None:
            return v
        start, end = v.start, v.end
        extra = ""
        a, b, excerpt = start, end, v.excerpt
        canon = self.canon
        if canon is not None and canon.text != canon.original:
            if not canon.identity:
                shown = canon.obfuscated(start, end)
                if shown is not None:
                    extra += f" (obfuscated: {shown!r})"
                a, b = canon.span(start, end)
            # A personal-data finding's excerpt is masked on purpose: never unmask it.
            if v.rule != "content.personal-data":
                excerpt = canon.original[a:b]
        for s, e, where in self.notes:
            if s < end and start < e:
                extra += f" (found {where})"
                break
        if (a, b) == (start, end) and not extra and excerpt == v.excerpt:
            return v
        return v.model_copy(
            update={"start": a, "end": b, "excerpt": excerpt, "message": v.message + extra}
        )


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
        groups: dict[tuple[str, bool], list[tuple[str, str]]] = {}
        order = sorted(range(len(entries)), key=lambda i: -len(entries[i][0]))
        for i in order:
            src, payload, mode, left = entries[i]
            name = f"g{i}"
            self.payloads[name] = payload
            groups.setdefault((mode, left), []).append((src, name))

        def alternation(key: tuple[str, bool]) -> str:
            found = groups.get(key, [])
            return factored([s for s, _ in found], names=[n for _, n in found])

        flags = {"low": 0, "ci": _FLAGS, "cs": 0}
        self.regexes: list[tuple[bool, re.Pattern[str]]] = []
        for mode in ("low", "ci", "cs"):
            parts = []
            if groups.get((mode, True)):
                alts = alternation((mode, True))
                # Lowered text, no flags: screened by the letters every match starts with.
                look = screen_of(alts) if mode == "low" else ""
                parts.append(look + r"(?<!\w)(?:" + alts + ")")
            if groups.get((mode, False)):
                parts.append(alternation((mode, False)))
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
        text = bounded_source(text)  # brand-supplied: cap each repeat (see _safe_regex)
        lowered = None if case_sensitive else _lowered_regex(text)
        mode = "cs" if case_sensitive else "low" if lowered is not None else "ci"
        return f"(?:{lowered or text})(?!\\w)", payload, mode, True
    if case_sensitive:
        left, body = _edges(_phrase(text), text)
        return body, payload, "cs", left
    left, body = _edges(_lower_phrase(text), text)
    return body, payload, "low", left
