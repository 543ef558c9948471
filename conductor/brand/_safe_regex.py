"""Brand-supplied regular expressions that cannot make a check slow.

A brand file (``voice.banned``, ``claims.forbidden`` with ``regex: true``,
``disclaimers[].when`` with ``when_regex: true``) and a custom claim pack may carry
regular expressions written by the brand's team. The engine runs them with Python's
``re``, a backtracking matcher: a pattern such as ``(a+)+b`` makes it try every way of
splitting a run of ``a`` between the two repeats, and a 30-character copy then runs for
minutes. Two guarantees keep every brand pattern linear in the length of the copy:

1. **No ambiguity** (:func:`unsafe_construct`, at load). The pattern's position
   automaton (Glushkov's construction, one state per character-matching item) must not
   be able to read the same text along two different loops (*exponential* ambiguity:
   ``(a+)+``, ``(a|a)*``, ``(\\w|\\d)+``) or along a loop that leads into another loop
   on the same text (*polynomial* ambiguity: ``\\d+\\d+``, ``.*x.*``). Without either,
   a backtracking matcher does a bounded amount of work per character it reads.
   Backreferences (``\\1``, ``(?(1)...)``) are refused: they are not regular at all.
2. **Bounded reach** (:func:`bounded_source`, at compile time). Each unbounded repeat
   (``*``, ``+``, ``{n,}``) is capped at :data:`MAX_REPEAT` characters' worth of
   repetitions, so a match attempt reads a bounded stretch of text and ``finditer``
   over a text of *n* characters does O(*n*) work, not O(*n*²).

``google-re2`` (linear by construction) was measured and not used: it has no
lookarounds (``free\\s+gift(?!\\s+with\\s+purchase)`` in the shipped acme brand needs
one, and the engine bounds every pattern with ``(?<!\\w)``/``(?!\\w)``), and its ``\\w``,
``\\d``, ``\\s`` and ``\\b`` are ASCII-only, so ``pregnan\\w*`` would stop at an accented
letter. The checks here use only the standard library's own parser (``re._parser``).
"""

from __future__ import annotations

import itertools
import re
import re._constants as _c
import re._parser as _p
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_REPEAT", "UnsafePattern", "bounded_source", "unsafe_construct"]

MAX_REPEAT = 100
"""How many times an unbounded repeat may match at most (``\\s+`` -> ``\\s{1,100}``)."""

_MAX_POSITIONS = 400  # a longer pattern is refused: the analysis is quadratic in it
_UNROLL = 24  # counted repeats up to this many positions are analysed exactly


class UnsafePattern(ValueError):
    """A brand pattern refused because it could make the backtracking matcher slow."""

    code = "brand.unsafe-pattern"

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint
        self.loc: tuple[str | int, ...] = ()  # where in the model, when a validator knows


# --- character sets ---------------------------------------------------------------

_CATEGORY: dict[Any, Callable[[str], bool]] = {
    _c.CATEGORY_DIGIT: lambda ch: unicodedata.category(ch) == "Nd",
    _c.CATEGORY_NOT_DIGIT: lambda ch: unicodedata.category(ch) != "Nd",
    _c.CATEGORY_SPACE: lambda ch: ch.isspace(),
    _c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    _c.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    _c.CATEGORY_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
}

# Characters every analysis looks at, besides the pattern's own literals and range ends:
# one of each kind the categories distinguish (ASCII, accented, other scripts, digits of
# other scripts, spaces, typographic punctuation, line breaks).
_SAMPLE = (
    "".join(chr(i) for i in range(32, 127))
    + "\t\n\r\x0b\x0c\x00\u00a0\u2003\u200b\u00ad"
    + "éÉßœжЖΩω٣５ａ中"
    + "’‘“”—–…€£•✓"
)


def _item_test(op: Any, av: Any, icase: bool) -> Callable[[str], bool]:
    """Whether one character-matching item (LITERAL, IN, ANY, ...) accepts a character."""
    if op is _c.LITERAL:
        lit = chr(av)
        if icase:
            low = lit.lower()
            return lambda ch: ch.lower() == low
        return lambda ch: ch == lit
    if op is _c.NOT_LITERAL:
        lit = chr(av)
        if icase:
            low = lit.lower()
            return lambda ch: ch.lower() != low
        return lambda ch: ch != lit
    if op is _c.ANY:
        return lambda ch: ch != "\n"
    if op is _c.CATEGORY:
        return _CATEGORY[av]
    if op is _c.RANGE:
        lo, hi = av
        if icase:
            return lambda ch: any(
                lo <= ord(v) <= hi for v in {ch, ch.lower(), ch.upper()} if len(v) == 1
            )
        return lambda ch: lo <= ord(ch) <= hi
    if op is _c.IN:
        negate = bool(av) and av[0][0] is _c.NEGATE
        parts = [_item_test(o, a, icase) for o, a in (av[1:] if negate else av)]
        if negate:
            return lambda ch: not any(t(ch) for t in parts)
        return lambda ch: any(t(ch) for t in parts)
    raise AssertionError(f"not a character item: {op}")


def _literals(op: Any, av: Any, out: set[str]) -> None:
    """The characters an item names (literals and range ends, with neighbours and case)."""
    if op in (_c.LITERAL, _c.NOT_LITERAL):
        out.add(chr(av))
    elif op is _c.RANGE:
        for i in (av[0] - 1, av[0], av[1], av[1] + 1):
            if 0 <= i <= 0x10FFFF:
                out.add(chr(i))
    elif op is _c.IN:
        for o, a in av:
            _literals(o, a, out)


# --- the position automaton -------------------------------------------------------


@dataclass
class _Automaton:
    """Glushkov's position automaton of a pattern: state 0 is the start."""

    tests: list[Callable[[str], bool]] = field(default_factory=lambda: [lambda ch: False])
    # follow[p][q]: the constructs (tags) that let q follow p. Two tags on one edge are
    # two routes through the pattern, which a backtracking matcher both tries: `(a*)*`
    # has one position with a self-loop from the inner and one from the outer repeat.
    follow: list[dict[int, set[int]]] = field(default_factory=lambda: [{}])
    chars: set[str] = field(default_factory=lambda: set(_SAMPLE))
    lookarounds: list[Any] = field(default_factory=list)
    tags: int = 0

    def link(self, a: _Part, b: _Part) -> None:
        """Let ``b``'s first positions follow ``a``'s last ones (twice where the empty
        text between them can be matched two ways: `a(?:|)b`)."""
        self.tags += 2
        for p in a.last:
            for q in b.first:
                tags = self.follow[p].setdefault(q, set())
                tags.add(self.tags)
                if p in a.tail_multi or q in b.head_multi:
                    tags.add(self.tags - 1)

    def position(self, test: Callable[[str], bool]) -> int:
        if len(self.tests) > _MAX_POSITIONS:
            raise UnsafePattern(
                "the pattern is too long to check", "split it into several shorter patterns"
            )
        self.tests.append(test)
        self.follow.append({})
        return len(self.tests) - 1


@dataclass(frozen=True)
class _Part:
    nullable: bool
    first: frozenset[int]
    last: frozenset[int]
    empty_ways: int = 0  # how many ways the part matches the empty text (capped at 2)
    head_multi: frozenset[int] = frozenset()  # first positions reached two ways
    tail_multi: frozenset[int] = frozenset()  # last positions that reach the end two ways


_EMPTY = _Part(True, frozenset(), frozenset(), 1)


def _concat(a: _Part, b: _Part, auto: _Automaton) -> _Part:
    auto.link(a, b)
    head, tail = a.head_multi, b.tail_multi
    if a.nullable:
        head |= b.head_multi | (b.first if a.empty_ways > 1 else frozenset())
    if b.nullable:
        tail |= a.tail_multi | (a.last if b.empty_ways > 1 else frozenset())
    return _Part(
        a.nullable and b.nullable,
        a.first | b.first if a.nullable else a.first,
        a.last | b.last if b.nullable else b.last,
        min(2, a.empty_ways * b.empty_ways),
        head,
        tail,
    )


def _star(a: _Part, auto: _Automaton) -> _Part:
    if a.nullable:
        # `(a*)*`, `(a?)+`, `(?:a*b?)*`: every split of a run into iterations (some of
        # them empty) is a separate route.
        raise _Ambiguous("exponential")
    auto.link(a, a)
    return _Part(True, a.first, a.last, 1, a.head_multi, a.tail_multi)


def _optional(a: _Part) -> _Part:
    return _Part(True, a.first, a.last, min(2, a.empty_ways + 1), a.head_multi, a.tail_multi)


class _Ambiguous(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT))


def _build(items: Iterable[tuple[Any, Any]], auto: _Automaton, icase: bool) -> _Part:
    part = _EMPTY
    for op, av in items:
        part = _concat(part, _build_item(op, av, auto, icase), auto)
    return part


def _build_item(op: Any, av: Any, auto: _Automaton, icase: bool) -> _Part:
    if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN, _c.CATEGORY):
        _literals(op, av, auto.chars)
        p = auto.position(_item_test(op, av, icase))
        return _Part(False, frozenset({p}), frozenset({p}))
    if op is _c.SUBPATTERN:
        _group, add, _del, sub = av
        return _build(sub, auto, bool(icase or add & re.IGNORECASE))
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _build(av, auto, icase)
    if op is _c.BRANCH:
        parts = [_build(b, auto, icase) for b in av[1]]
        return _Part(
            any(x.nullable for x in parts),
            frozenset().union(*(x.first for x in parts)),
            frozenset().union(*(x.last for x in parts)),
            min(2, sum(x.empty_ways for x in parts)),
            frozenset().union(*(x.head_multi for x in parts)),
            frozenset().union(*(x.tail_multi for x in parts)),
        )
    if op in _REPEATS:
        lo, hi, sub = av
        return _repeat(lo, hi, sub, auto, icase)
    if op is _c.AT:
        return _EMPTY
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        auto.lookarounds.append(av[1])
        return _EMPTY
    if op in (_c.GROUPREF, _c.GROUPREF_EXISTS):
        raise UnsafePattern(
            "a backreference (`\\1`, `(?P=name)` or `(?(1)...)`) cannot be matched in linear time",
            "repeat the text the group matches instead of referring back to it",
        )
    raise UnsafePattern(f"the regex construct {op} is not supported", "simplify the pattern")


def _repeat(lo: int, hi: int, sub: Any, auto: _Automaton, icase: bool) -> _Part:
    if hi == 0:
        return _EMPTY
    size = max(1, _size(sub))
    bounded = hi != _c.MAXREPEAT
    if bounded and hi * size <= _UNROLL:
        # Exact: lo mandatory copies, then (hi - lo) nested optional ones.
        part = _EMPTY
        for _ in range(lo):
            part = _concat(part, _build(sub, auto, icase), auto)
        tail = _EMPTY
        for _ in range(hi - lo):
            tail = _optional(_concat(_build(sub, auto, icase), tail, auto))
        return _concat(part, tail, auto)
    # Longer or unbounded: one mandatory copy (if any) and a loop. Looser than the
    # pattern (a loop can repeat more often), so it errs on the side of refusing.
    body = _build(sub, auto, icase)
    loop = _star(body, auto)
    if lo == 0:
        return loop
    return _concat(_build(sub, auto, icase), loop, auto)


def _size(items: Any) -> int:
    """How many character positions a parsed (sub)pattern has (a rough count)."""
    n = 0
    for op, av in items:
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN, _c.CATEGORY):
            n += 1
        elif op is _c.SUBPATTERN:
            n += _size(av[3])
        elif op is _c.BRANCH:
            n += sum(_size(b) for b in av[1])
        elif op in _REPEATS:
            _lo, hi, sub = av
            n += _size(sub) * (min(hi, 4) if hi != _c.MAXREPEAT else 2)
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            n += _size(av)
    return n


# --- ambiguity --------------------------------------------------------------------


def _classes(auto: _Automaton) -> list[set[int]]:
    """For each class of characters no position tells apart, the positions accepting it."""
    seen: dict[tuple[int, ...], None] = {}
    for ch in auto.chars:
        sig = tuple(i for i, t in enumerate(auto.tests) if i and t(ch))
        if sig:
            seen.setdefault(sig, None)
    return [set(sig) for sig in seen]


def _delta(auto: _Automaton, classes: list[set[int]]) -> list[list[list[int]]]:
    """delta[state][class] -> the states reached by reading one character of that class.

    A state is a position entered by one route (tag): a position reached from the same
    position along two routes becomes two states, so the two paths count as two.
    """
    ids: dict[tuple[int, int], int] = {(0, 0): 0}
    for nxt in auto.follow:
        for q, tags in nxt.items():
            for t in tags:
                ids.setdefault((q, t), len(ids))
    by_pos: dict[int, list[int]] = {}
    for (q, _t), i in ids.items():
        by_pos.setdefault(q, []).append(i)
    delta: list[list[list[int]]] = [[] for _ in ids]
    for (p, _t), i in ids.items():
        nxt = auto.follow[p]
        delta[i] = [
            sorted(ids[(q, t)] for q, tags in nxt.items() if q in acc for t in tags)
            for acc in classes
        ]
    return delta


def _sccs(nodes: Iterable[Any], edges: Callable[[Any], Iterable[Any]]) -> dict[Any, int]:
    """Tarjan's strongly connected components, iteratively; node -> component id."""
    index: dict[Any, int] = {}
    low: dict[Any, int] = {}
    comp: dict[Any, int] = {}
    stack: list[Any] = []
    on: set[Any] = set()
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(edges(w))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp[w] = index[v]
                        if w == v:
                            break
    return comp


def _ambiguity(auto: _Automaton) -> str | None:
    """'exponential', 'polynomial' or None for the automaton's degree of ambiguity.

    Exponential: some state reaches a pair of different states and back to itself on
    one text (a loop the matcher can go round two ways). Polynomial: distinct states p
    and q with p -v-> p, p -v-> q and q -v-> q for one text v.
    """
    classes = _classes(auto)
    delta = _delta(auto, classes)
    n_cls = len(classes)

    def pair_edges(pq: tuple[int, int]) -> Iterable[tuple[int, int]]:
        p, q = pq
        for c in range(n_cls):
            for p2 in delta[p][c]:
                for q2 in delta[q][c]:
                    yield (p2, q2)

    states = range(len(delta))
    # Only pairs reachable from a diagonal pair matter: both runs read the same text.
    reach: set[tuple[int, int]] = set()
    todo = [(s, s) for s in states]
    reach.update(todo)
    while todo:
        for nxt in pair_edges(todo.pop()):
            if nxt not in reach:
                reach.add(nxt)
                todo.append(nxt)
    comp = _sccs(sorted(reach), lambda pq: (x for x in pair_edges(pq) if x in reach))
    diag = {comp[(s, s)] for s in states}
    if any(p != q and comp[(p, q)] in diag for p, q in reach):
        return "exponential"

    # Polynomial: a loop state p and a loop state q != p, with (p, q) in the same
    # component as (p, p) in the pair graph... checked exactly on the triple graph.
    single = _sccs(states, lambda s: (t for c in range(n_cls) for t in delta[s][c]))
    looping = {
        s
        for s in states
        if any(t == s or single[t] == single[s] for c in range(n_cls) for t in delta[s][c])
    }
    for p in looping:
        for q in looping:
            if p == q or (p, q) not in reach or single[p] == single[q]:
                continue
            if _triple_path(delta, n_cls, (p, p, q), (p, q, q)):
                return "polynomial"
    return None


def _triple_path(
    delta: list[list[list[int]]], n_cls: int, src: tuple[int, int, int], dst: tuple[int, int, int]
) -> bool:
    """Whether three runs read one non-empty text from ``src`` to ``dst`` together."""
    seen: set[tuple[int, int, int]] = set()
    todo = [src]
    while todo:
        a, b, c = todo.pop()
        for k in range(n_cls):
            for a2 in delta[a][k]:
                for b2 in delta[b][k]:
                    for c2 in delta[c][k]:
                        t = (a2, b2, c2)
                        if t == dst:
                            return True
                        if t not in seen:
                            seen.add(t)
                            todo.append(t)
    return False


# --- public -----------------------------------------------------------------------


def _analyse(parsed: Any, icase: bool) -> str | None:
    auto = _Automaton()
    try:
        _build(parsed, auto, icase)
    except _Ambiguous as exc:
        return exc.kind
    kind = _ambiguity(auto)
    if kind:
        return kind
    for sub in auto.lookarounds:
        kind = _analyse(sub, icase)
        if kind:
            return kind
    return None


def unsafe_construct(src: str, *, icase: bool = True) -> UnsafePattern | None:
    """Why ``src`` could make a backtracking matcher slow, or None if it cannot.

    The message quotes the smallest part of the pattern (a group, a repeat) that is
    unsafe on its own, and the hint says how to write it instead.
    """
    flags = re.IGNORECASE if icase else 0
    try:
        parsed = _p.parse(src, flags)
        kind = _analyse(parsed, icase)
    except UnsafePattern as exc:
        return exc
    if kind is None:
        return None
    culprit = _culprit(src, kind, icase) or src
    if kind == "polynomial":
        return UnsafePattern(
            f"adjacent repeats `{culprit}` can match the same characters, so the matcher "
            "tries every split between them: polynomial time",
            "make neighbouring repeats match different characters (`\\w+\\s+\\w+`, "
            "not `\\w+\\s*\\w+`), or drop one of them",
        )
    m = _NESTED.match(culprit)
    inner = (m.group(1) or m.group(3)) if m else None
    if inner and inner[-1:] in "+*" and "|" not in inner:
        fixed = src.replace(culprit, inner, 1)
        return UnsafePattern(
            f"nested quantifier `{culprit}` can take exponential time",
            f"repeat once: write `{fixed}`"
            if unsafe_construct(fixed, icase=icase) is None
            else f"repeat once (`{inner}`, not `{culprit}`)",
        )
    if "|" in culprit:
        return UnsafePattern(
            f"repeated alternatives `{culprit}` can match the same text in several ways, "
            "which takes exponential time",
            "make the alternatives start with different characters, or merge them into "
            "one character class (`[ab]+`)",
        )
    return UnsafePattern(
        f"nested quantifier `{culprit}` can take exponential time: a repeat inside a "
        "repeat can split a text in exponentially many ways",
        "repeat each part once, e.g. `a+b` instead of `(a+)+b`",
    )


_NESTED = re.compile(r"^\(\?:(.+)\)([+*])$|^\((.+)\)([+*])$")


def _culprit(src: str, kind: str, icase: bool) -> str | None:
    """The shortest group or repeat of ``src`` that is ambiguous (``kind``) by itself."""
    best: str | None = None
    for start, end in _spans(src):
        piece = src[start:end]
        if best is not None and len(piece) >= len(best):
            continue
        try:
            if _analyse(_p.parse(piece, re.IGNORECASE if icase else 0), icase) == kind:
                best = piece
        except (re.error, UnsafePattern):
            continue
    return best


def _spans(src: str) -> list[tuple[int, int]]:
    """Spans of every group (with its quantifier) and every quantified atom of ``src``."""
    spans: list[tuple[int, int]] = []
    opens: list[int] = []
    i = 0
    in_class = False
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if src[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            opens.append(i)
        elif ch == ")" and opens:
            start = opens.pop()
            end = _quantifier_end(src, i + 1)
            spans.append((start, end))
        i += 1
    # Two adjacent quantified atoms (polynomial cases such as `\d+\d+`).
    atoms = list(_QUANTIFIED.finditer(src))
    for a, b in itertools.pairwise(atoms):
        spans.append((a.start(), b.end()))
    return spans


_QUANTIFIED = re.compile(r"(?:\\.|\[(?:\\.|[^\]\\])+\]|[^\\()|\[\]])(?:[*+?]|\{\d*,?\d*\})\??")


def _quantifier_end(src: str, i: int) -> int:
    m = re.compile(r"(?:[*+?]|\{\d*,?\d*\})[?+]?").match(src, i)
    return m.end() if m else i


_UNBOUNDED = re.compile(r"\{(\d+),\}")


def bounded_source(src: str) -> str:
    """``src`` with every unbounded repeat capped at :data:`MAX_REPEAT` repetitions.

    ``\\s+`` becomes ``\\s{1,100}``, ``\\w*?`` ``\\w{0,100}?``, ``x{3,}`` ``x{3,100}``;
    escapes and character classes are left as they are.
    """
    out: list[str] = []
    i = 0
    in_class = False
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\\":
            out.append(src[i : i + 2])
            i += 2
            continue
        if in_class:
            out.append(ch)
            in_class = ch != "]"
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # A ']' right after '[' or '[^' is a literal.
            if src[i : i + 1] == "^":
                out.append("^")
                i += 1
            if src[i : i + 1] == "]":
                out.append("]")
                i += 1
            continue
        prev = src[i - 1] if i else ""
        if ch in "*+" and prev not in "(|" and not _is_quantifier_suffix(src, i):
            out.append(f"{{{0 if ch == '*' else 1},{MAX_REPEAT}}}")
            i += 1
            continue
        if ch == "{":
            m = _UNBOUNDED.match(src, i)
            if m:
                lo = int(m.group(1))
                out.append(f"{{{lo},{max(lo, MAX_REPEAT)}}}")
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _is_quantifier_suffix(src: str, i: int) -> bool:
    """Whether the ``+`` at ``i`` makes the quantifier before it possessive (``a*+``)."""
    if src[i] != "+" or i == 0:
        return False
    j = i - 1
    if src[j] in "*+?" and (j == 0 or src[j - 1] != "\\"):
        return True
    return src[j] == "}" and re.search(r"\{\d*,?\d*\}$", src[:i]) is not None
