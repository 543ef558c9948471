"""The canonical text the brand rules match on, with a map back to the original offsets.

Copy can read the same to a person and not to a regex: ``c.u.r.e``, ``сurе`` (Cyrillic
с and е), ``ｃｕｒｅ``, ``cu<b></b>re``, ``&#99;ure``, ``cur3``, a zero-width space inside a
word, ``#CureArthritis``, ``🚫 arthritis``. :class:`Canonicaliser` turns a text into one
canonical form, once per field, in this order:

1. HTML: character references decoded (:func:`html.unescape`, token by token), tags
   removed keeping the visible text (block tags become a line break, a link's ``href``
   is kept as text so a claim in a URL path is still seen), comments and
   ``<script>``/``<style>`` kept but marked *hidden* (claims there are checked; required
   elements there do not count);
2. invisible characters removed: format characters (zero-width space and joiners, soft
   hyphen, bidi controls, word joiner, BOM) and fillers; a zero-width joiner or a
   variation selector after an emoji stays (it is part of the emoji);
3. Unicode NFKC per character (fullwidth ``ｃｕｒｅ``, ``＃１``, mathematical letters,
   ligatures); a symbol that NFKC would spell out as several letters (``™`` -> ``TM``)
   stays as it is, so ``Acme™`` keeps its word boundary;
4. every dash and hyphen is ``-``; curly quotes are straight; a non-breaking space is a
   space;
5. confusable letters folded to their Latin skeleton with Unicode's confusables data
   (the ``confusable-homoglyphs`` package): in a word that mixes scripts, or when the
   folded word is in the vocabulary, so genuine Cyrillic or Greek copy is left alone;
6. letters separated by single spaces, dots or hyphens joined when the joined word is
   in the vocabulary (``c-u-r-e`` -> ``cure``; ``U.S.A.`` stays);
7. digit-for-letter spellings tried against the vocabulary (``cur3``, ``b3st``,
   ``Tra1lhawk``; ``4pm`` and ``80302`` stay);
8. hashtags read as words (``#CureArthritis`` -> ``#Cure Arthritis``; an all-lower
   hashtag is split when it is made of vocabulary words), and a few emoji that stand
   for words get their word after them (:data:`EMOJI_WORDS`).

The vocabulary is the words of the built-in packs and of the brand's own lists (banned
phrases, forbidden claims, competitor names), so only a spelling that would turn into
something a rule looks for is rewritten. Plain ASCII prose without ``<``, ``&``, ``#``, a
digit inside a word or separated letters takes a fast path and comes back unchanged with
offsets mapped one to one.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from re import _parser as sre
from typing import Any

__all__ = ["EMOJI_WORDS", "Canonical", "Canonicaliser", "vocabulary_words"]

EMOJI_WORDS: dict[str, str] = {
    # A "no" sign in front of a condition reads as "no more <condition>", which the health
    # pack's disease verbs catch ("🚫 arthritis").
    "\U0001f6ab": "no more",  # 🚫
    "\u26d4": "no more",  # ⛔
    "\U0001f6d1": "no more",  # 🛑
    "\u274c": "no more",  # ❌
    "\u2716": "no more",  # ✖
    "\u274e": "no more",  # ❎
    "\U0001f4af": "100%",  # 💯 ("💯 guaranteed")
    "\U0001f947": "#1",  # 🥇
    "\U0001f51d": "top",  # 🔝
    "\U0001f48a": "pill",  # 💊 ("miracle 💊")
}
"""Emoji that stand for a word in marketing copy, and the word they are read as."""

_KEEP_AFTER_EMOJI = {0x200D, 0xFE0E, 0xFE0F}
_FILLERS = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810)}
_FILLERS |= set(range(0xFE00, 0xFE10))
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\uff0d\u02d7"
_BENIGN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})
_DIGITS: dict[str, tuple[str, ...]] = {
    "0": ("o",),
    "1": ("i", "l"),
    "3": ("e",),
    "4": ("a",),
    "5": ("s",),
    "7": ("t",),
    "8": ("b",),
    "9": ("g",),
    "@": ("a",),
    "$": ("s",),
}

# The fast path's tests, two quick scans (each starts on a character class, so the regex
# engine skips ahead): a hashtag, or a digit, "@" or "$" next to a letter ("cur3", "4pm");
# three single letters or digits apart ("c.u.r.e", "n.o.w"; "N.A." is two).
_MIXED_HINT = re.compile(r"[#0-9@$](?:(?=[A-Za-z])|(?<=[A-Za-z][0-9@$]))")
_SEP_HINT = re.compile(r"[^A-Za-z0-9][A-Za-z0-9][ .-][A-Za-z0-9][ .-][A-Za-z0-9](?![A-Za-z0-9])")
_SEP_START = re.compile(r"[A-Za-z0-9][ .-][A-Za-z0-9][ .-][A-Za-z0-9](?![A-Za-z0-9])")


def _plain(text: str) -> bool:
    """Whether ``text`` needs no canonicalising at all (see the module doc)."""
    return (
        text.isascii()
        and "<" not in text
        and "&" not in text
        and _MIXED_HINT.search(text) is None
        and _SEP_HINT.search(text) is None
        and _SEP_START.match(text) is None
    )


_ENTITY = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};?)")
_HTML = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(script|style)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    r"|</?([A-Za-z][A-Za-z0-9]*)\b(?:[^<>\"']|\"[^\"]*\"|'[^']*')*>",
    re.DOTALL | re.IGNORECASE,
)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_BLOCK = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "tr",
        "td",
        "th",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "header",
        "footer",
        "hr",
        "blockquote",
        "article",
        "main",
        "nav",
        "aside",
        "dl",
        "dt",
        "dd",
        "pre",
        "tbody",
        "thead",
        "tfoot",
        "body",
        "html",
        "head",
    ]
)
_SEPARATED = re.compile(r"(?<![\w.-])[A-Za-z0-9](?:([ .-])[A-Za-z0-9])(?:\1[A-Za-z0-9])+(?![\w])")
_MIXED_WORD = re.compile(r"[A-Za-z0-9@$]*(?:[A-Za-z][0-9@$]|[0-9@$][A-Za-z])[A-Za-z0-9@$]*")
_HASHTAG = re.compile(r"(?<![\w&])#([A-Za-z][A-Za-z0-9]*)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORDS = re.compile(r"[^\W\d_]+")
_SEP_LETTER = re.compile(r"[ .-][A-Za-z]")
_LETTER_SEP = re.compile(r"[A-Za-z][ .-]")


@dataclass(frozen=True)
class Canonical:
    """A text in canonical form: ``text`` is what the rules match on.

    ``starts[i]``/``ends[i]`` are the offsets in ``original`` that canonical character
    ``i`` comes from (``None``: the offsets are the same). ``hidden`` are canonical spans
    a reader does not see (HTML comments, scripts and styles).
    """

    original: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None
    hidden: tuple[tuple[int, int], ...] = ()

    @property
    def identity(self) -> bool:
        """Whether the canonical text is the original, character for character."""
        return self.starts is None and self.text == self.original.translate(_BENIGN)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the canonical span ``start:end``."""
        if self.starts is None or self.ends is None:
            return start, end
        n = len(self.text)
        if n == 0:
            return 0, 0
        if end <= start:
            at = self.starts[start] if start < n else len(self.original)
            return at, at
        return self.starts[min(start, n - 1)], self.ends[min(end, n) - 1]

    def obfuscated(self, start: int, end: int) -> str | None:
        """The original text of a canonical span when it reads differently, else None."""
        a, b = self.span(start, end)
        before = self.original[a:b]
        if before.translate(_BENIGN).casefold() == self.text[start:end].casefold():
            return None
        return before


class _Chars:
    """Text under construction: characters with the original span each comes from."""

    __slots__ = ("chars", "ends", "hidden", "starts")

    def __init__(self, text: str) -> None:
        self.chars = list(text)
        self.starts = list(range(len(text)))
        self.ends = list(range(1, len(text) + 1))
        self.hidden = [False] * len(text)

    def text(self) -> str:
        return "".join(self.chars)

    def hidden_spans(self) -> tuple[tuple[int, int], ...]:
        if not any(self.hidden):
            return ()
        spans: list[tuple[int, int]] = []
        start = None
        for i, h in enumerate([*self.hidden, False]):
            if h and start is None:
                start = i
            elif not h and start is not None:
                spans.append((start, i))
                start = None
        return tuple(spans)

    def edit(self, edits: Iterable[tuple[int, int, str | None]]) -> None:
        """Replace ``start:end`` by a text; ``None`` keeps the characters but hides them.

        A replacement's characters all come from the original span of what they replace
        (an insertion, ``start == end``, from the position of the next character).
        """
        chars, starts, ends, hidden = self.chars, self.starts, self.ends, self.hidden
        out_c: list[str] = []
        out_s: list[int] = []
        out_e: list[int] = []
        out_h: list[bool] = []
        pos = 0
        for start, end, rep in sorted(edits, key=lambda e: (e[0], e[1])):
            if start < pos:
                continue
            out_c += chars[pos:start]
            out_s += starts[pos:start]
            out_e += ends[pos:start]
            out_h += hidden[pos:start]
            if rep is None:
                out_c += chars[start:end]
                out_s += starts[start:end]
                out_e += ends[start:end]
                out_h += [True] * (end - start)
            else:
                if end > start:
                    a, b, h = starts[start], ends[end - 1], hidden[start]
                elif start < len(starts):
                    a = b = starts[start]
                    h = hidden[start]
                else:
                    a = b = ends[-1] if ends else 0
                    h = False
                out_c += rep
                out_s += [a] * len(rep)
                out_e += [b] * len(rep)
                out_h += [h] * len(rep)
            pos = max(pos, end)
        out_c += chars[pos:]
        out_s += starts[pos:]
        out_e += ends[pos:]
        out_h += hidden[pos:]
        self.chars, self.starts, self.ends, self.hidden = out_c, out_s, out_e, out_h


class Canonicaliser:
    """Builds :class:`Canonical` texts against one vocabulary (see the module doc)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.vocabulary = frozenset(w.lower() for w in vocabulary if len(w) >= 3)
        self._longest = max((len(w) for w in self.vocabulary), default=0)

    def __call__(self, text: str) -> Canonical:
        if _plain(text):
            return Canonical(text, text)
        one = self._one_for_one(text)
        if one is not None:
            return Canonical(text, one)
        return self._slow(text)

    def _one_for_one(self, text: str) -> str | None:
        """The canonical text when every change replaces one character by one, else None.

        Curly quotes, a non-breaking space, a dash, a fullwidth or lookalike letter, a digit
        for a letter: the offsets stay the same, so no map is built.
        """
        if "<" in text or "&" in text:
            return None
        cur = text
        if not cur.isascii():
            if _EMOJI_WORD.search(cur):
                return None
            cur = cur.translate(_ONE_FOR_ONE)
            if len(cur) != len(text):
                return None  # an invisible character out, or a ligature spelled out
            if not cur.isascii():
                cur = self._fold(list(cur), cur)
        # Looked for after folding: "с.u.r.e" with a Cyrillic с, a fullwidth "＃Ｃｕｒｅ".
        if _HASHTAG.search(cur) or _SEPARATED.search(cur):
            return None
        if _MIXED_WORD.search(cur):
            cur = self._digits(list(cur), cur)
        return cur

    # --- the stages ----------------------------------------------------------------------

    def _slow(self, text: str) -> Canonical:
        cs = _Chars(text)
        if "<" in text or "&" in text:
            self._html(cs, text)
        self._characters(cs)
        cur = cs.text()
        if not cur.isascii():
            cur = self._fold(cs.chars, cur)
        if _SEPARATED.search(cur):
            self._join(cs, cur)
            cur = cs.text()
        if _MIXED_WORD.search(cur):
            cur = self._digits(cs.chars, cur)
        if "#" in cur or not cur.isascii():
            self._words(cs, cur)
        out = cs.text()
        hidden = cs.hidden_spans()
        if cs.starts == list(range(len(text))) and not hidden:
            return Canonical(text, out)
        return Canonical(text, out, tuple(cs.starts), tuple(cs.ends), hidden)

    def _html(self, cs: _Chars, text: str) -> None:
        edits: list[tuple[int, int, str | None]] = []
        for m in _HTML.finditer(text):
            tag = (m.group(2) or "").lower()
            s, e = m.span()
            if tag == "a":
                href = _HREF.search(m.group())
                if href:
                    # Keep the link target as text: the unsubscribe link and a claim in a
                    # URL path are both in there.
                    g = next(i for i in (1, 2, 3) if href.group(i) is not None)
                    hs, he = s + href.start(g), s + href.end(g)
                    edits += [(s, hs, " "), (he, e, " ")]
                    continue
            if m.group(2) is None:  # a comment, a script or a style: hidden, still checked
                inner = _hidden_inner(m.group())
                a, b = s + inner[0], s + inner[1]
                edits += [(s, a, " "), (a, b, None), (b, e, " ")]
                continue
            edits.append((s, e, "\n" if tag in _BLOCK else ""))
        taken = [(s, e) for s, e, _ in edits]
        for m in _ENTITY.finditer(text):
            s, e = m.span()
            if any(a <= s < b for a, b in taken):
                continue
            dec = html.unescape(m.group())
            if dec != m.group():
                edits.append((s, e, dec))
        if edits:
            cs.edit(edits)

    @staticmethod
    def _characters(cs: _Chars) -> None:
        """Invisible characters out; NFKC, dashes, quotes and spaces per character."""
        if "".join(cs.chars).isascii():
            return
        edits: list[tuple[int, int, str | None]] = []
        prev = ""
        for i, c in enumerate(cs.chars):
            if c.isascii():
                prev = c
                continue
            rep = _char(c)
            # A joiner or a variation selector is part of an emoji ("👩‍💻", "#️⃣"), but
            # hides nothing there; after a letter or a space it only disguises a word.
            if rep == "" and ord(c) in _KEEP_AFTER_EMOJI and prev.strip() and not prev.isalpha():
                rep = c
            if rep != c:
                edits.append((i, i + 1, rep))
            if rep:
                prev = rep[-1]
        if edits:
            cs.edit(edits)

    def _fold(self, chars: list[str], cur: str) -> str:
        fold = _fold_map()
        for m in _WORDS.finditer(cur):
            word = m.group()
            if word.isascii():
                continue
            folded = "".join(fold.get(c, c) for c in word)
            if folded == word:
                continue
            mixed = any(c.isascii() for c in word)
            if len(word) == 1:  # one letter of a spaced-out word: "с.u.r.e"
                a, b = m.start(), m.end()
                mixed = (
                    _SEP_LETTER.match(cur, b) is not None
                    or _LETTER_SEP.fullmatch(cur, max(0, a - 2), a) is not None
                )
            if mixed or folded.lower() in self.vocabulary:
                chars[m.start() : m.end()] = list(folded)
        return "".join(chars)

    def _known(self, word: str) -> str | None:
        """The vocabulary spelling of ``word`` (as is or with digits read as letters)."""
        low = word.lower()
        if low in self.vocabulary:
            return word
        if not any(c in _DIGITS for c in low) or not any(c.isalpha() for c in low):
            return None
        options: list[str] = [""]
        for c in low:
            alts = _DIGITS.get(c, (c,))
            options = [o + a for o in options for a in alts]
            if len(options) > 64:
                return None
        for cand in options:
            if cand in self.vocabulary:
                upper = sum(c.isupper() for c in word) > sum(c.islower() for c in word)
                return "".join(
                    (n.upper() if upper else n) if o in _DIGITS else o
                    for o, n in zip(word, cand, strict=True)
                )
        return None

    def _join(self, cs: _Chars, cur: str) -> None:
        edits: list[tuple[int, int, str | None]] = []
        for m in _SEPARATED.finditer(cur):
            sep = m.group(1)
            joined = m.group().replace(sep, "")
            known = self._known(joined)
            if known is None:
                continue
            # Drop each separator; the letters keep their own offsets.
            for i in range(m.start() + 1, m.end(), 2):
                edits.append((i, i + 1, ""))
            edits += [(m.start() + 2 * k, m.start() + 2 * k + 1, ch) for k, ch in enumerate(known)]
        if edits:
            cs.edit(edits)

    def _digits(self, chars: list[str], cur: str) -> str:
        changed = False
        for m in _MIXED_WORD.finditer(cur):
            known = self._known(m.group())
            if known is not None and known != m.group():
                chars[m.start() : m.end()] = list(known)
                changed = True
        return "".join(chars) if changed else cur

    def _words(self, cs: _Chars, cur: str) -> None:
        edits: list[tuple[int, int, str | None]] = []
        for m in _HASHTAG.finditer(cur):
            body = m.group(1)
            if body.lower() in self.vocabulary:
                continue  # a name written as a hashtag: #CoinSwift
            cuts = [m.start(1) + c.start() for c in _CAMEL.finditer(body)]
            if not cuts and body.islower():
                parts = self._segment(body.lower())
                if parts:
                    at, cuts = m.start(1), []
                    for p in parts[:-1]:
                        at += len(p)
                        cuts.append(at)
            edits += [(c, c, " ") for c in cuts]
        for i, ch in enumerate(cur):
            word = EMOJI_WORDS.get(ch)
            if word is None:
                continue
            j = i + 1
            while j < len(cur) and ord(cur[j]) in _KEEP_AFTER_EMOJI:
                j += 1
            after = " " if j < len(cur) and not cur[j].isspace() else ""
            # The word comes from the emoji: a finding on it points at the emoji.
            edits.append((i, j, cur[i:j] + " " + word + after))
        if edits:
            cs.edit(edits)

    def _segment(self, word: str) -> list[str] | None:
        """``word`` as vocabulary words, fewest pieces first; None when it is not."""
        n = len(word)
        best: list[list[str] | None] = [None] * (n + 1)
        best[0] = []
        for i in range(n):
            if best[i] is None:
                continue
            for j in range(i + 3, min(n, i + self._longest) + 1):
                if word[i:j] in self.vocabulary:
                    cand = [*best[i], word[i:j]]  # type: ignore[misc]
                    if best[j] is None or len(cand) < len(best[j]):  # type: ignore[arg-type]
                        best[j] = cand
        return best[n] if best[n] and len(best[n]) > 1 else None  # type: ignore[arg-type]


def _hidden_inner(tag: str) -> tuple[int, int]:
    """The content span of a comment, script or style element (relative offsets)."""
    if tag.startswith("<!--"):
        end = len(tag) - 3 if tag.endswith("-->") else len(tag)
        return 4, max(4, end)
    open_end = tag.find(">") + 1
    close = tag.rfind("</")
    return open_end, close if close >= open_end else len(tag)


class _OneForOne(dict[int, str]):
    """``str.translate`` table of :func:`_char`, filled on first sight of a character."""

    def __missing__(self, key: int) -> str:
        self[key] = rep = _char(chr(key)) if key > 127 else chr(key)
        return rep


_ONE_FOR_ONE = _OneForOne()
_EMOJI_WORD = re.compile("[" + "".join(EMOJI_WORDS) + "]")


@cache
def _char(c: str) -> str:
    """One non-ASCII character's canonical spelling ('' when it is invisible)."""
    o = ord(c)
    if unicodedata.category(c) == "Cf" or o in _FILLERS or 0xE0000 <= o <= 0xE0FFF:
        return ""
    if c in _DASHES:
        return "-"
    benign = c.translate(_BENIGN)
    if benign != c:
        return benign
    n = unicodedata.normalize("NFKC", c)
    if n == c:
        return c
    if len(n) == 1:
        return "-" if n in _DASHES else n.translate(_BENIGN)
    if unicodedata.category(c).startswith("L"):
        return n  # a ligature: "ﬁ" -> "fi"
    return c  # "™" would become "TM" and glue onto the word before it


@cache
def _fold_map() -> dict[str, str]:
    """Non-ASCII letters that look like one ASCII letter, from Unicode's confusables."""
    from confusable_homoglyphs.utils import load

    data: dict[str, list[dict[str, str]]] = load("confusables.json")
    out: dict[str, str] = {}
    for ch, glyphs in data.items():
        if len(ch) != 1 or ch.isascii() or not unicodedata.category(ch).startswith("L"):
            continue
        if unicodedata.normalize("NFD", ch) != ch:
            continue  # an accented letter ("é") is a letter of its own, not a disguise
        cands = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii()]
        cands = [g for g in cands if g.isalpha()]
        if not cands:
            continue
        same = [g for g in cands if g.islower() == ch.islower()]
        out[ch] = (same or cands)[0]
    return out


# --- the vocabulary ----------------------------------------------------------------------

_MAX_STRINGS = 256


def vocabulary_words(sources: Iterable[str]) -> set[str]:
    """The words (3+ letters) that regex sources or plain phrases can match.

    Each pattern is expanded into the strings it matches (an optional part both ways,
    each alternative, a repeat once; a character class only when it is a short list of
    letters), and those strings are cut into words. A pattern too large to expand gives
    the words it spells literally.
    """
    out: set[str] = set()
    for src in sources:
        try:
            strings = _expand(sre.parse(src))
        except (re.error, _TooMany, RecursionError):
            strings = [re.sub(r"\\.", " ", src)]
        for s in strings:
            out.update(w.lower() for w in _WORDS.findall(s) if len(w) >= 3)
    return out


class _TooMany(Exception):
    pass


def _expand(parsed: Any) -> list[str]:
    outs = [""]
    for op, av in parsed:
        name = str(op)
        if name == "LITERAL":
            alts = [chr(av)]
        elif name in {"NOT_LITERAL", "ANY"}:
            alts = [" "]
        elif name == "IN":
            lits = [chr(v) for o, v in av if str(o) == "LITERAL"]
            alts = lits if lits and len(lits) == len(av) and len(lits) <= 4 else [" "]
        elif name == "SUBPATTERN":
            alts = _expand(av[-1])
        elif name == "BRANCH":
            alts = [s for branch in av[1] for s in _expand(branch)]
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, _hi, sub = av
            inner = _expand(sub)
            alts = ([""] if lo == 0 else []) + inner
        elif name in ("CATEGORY",):
            alts = [" "]
        else:  # AT, ASSERT, ASSERT_NOT, GROUPREF ...: match no characters here
            alts = [""]
        outs = [o + a for o in outs for a in alts]
        if len(outs) > _MAX_STRINGS:
            raise _TooMany
    return outs
