"""The canonical text the brand rules match on (conductor/brand/_canonical.py).

Unit tests of each stage, and properties: every canonical span maps inside the original
text, every finding of the engine points at the text as written, plain ASCII prose comes
back unchanged with offsets one to one, and text of only invisible characters is empty.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conductor.brand import BrandStrategy, check_copy, load_brand
from conductor.brand._canonical import EMOJI_WORDS, Canonicaliser, vocabulary_words

BRANDS = Path(__file__).resolve().parent.parent / "pipelines" / "brands"

VOCAB = vocabulary_words(
    [
        r"cures?",
        r"guarantee[ds]?",
        r"(?:the|world's)\s+best\b",
        r"arthritis",
        r"risk[\s-]free",
        r"no\s+more",
        r"cheap",
        r"act now",
        r"trailhawk",
        r"coinswift",
    ]
)
CANON = Canonicaliser(VOCAB)


@cache
def brand(name: str) -> BrandStrategy:
    return load_brand(BRANDS / f"{name}.yaml")


# --- the vocabulary ----------------------------------------------------------------------


def test_vocabulary_expands_patterns_into_words() -> None:
    assert {"cure", "cures", "guarantee", "guaranteed", "guarantees", "best", "world"} <= VOCAB
    assert {"risk", "free", "more", "cheap", "act", "now"} <= VOCAB
    assert "s" not in VOCAB and "no" not in VOCAB  # words of three letters or more


def test_vocabulary_survives_patterns_too_large_to_expand() -> None:
    words = vocabulary_words([r"(?:a|b|c|d)(?:e|f|g|h)(?:i|j|k|l)(?:m|n|o|p)(?:q|r)" * 3 + "zebra"])
    assert "zebra" in words


# --- each stage --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cu\u200bre", "cure"),  # zero-width space
        ("cu\u00adre", "cure"),  # soft hyphen
        ("cu\u2060re", "cure"),  # word joiner
        ("cu\u202ere\u202c", "cure"),  # bidi controls
        ("\ufeffcure", "cure"),  # BOM
        ("\u0441ur\u0435", "cure"),  # Cyrillic с and е
        ("R\u0456sk-free", "Risk-free"),  # Cyrillic і
        ("\uff43\uff55\uff52\uff45", "cure"),  # fullwidth
        ("\uff03\uff11", "#1"),
        ("\U0001d41c\U0001d42e\U0001d42b\U0001d41e", "cure"),  # mathematical bold
        ("Risk\u2011free", "Risk-free"),  # non-breaking hyphen
        ("Risk\u2013free", "Risk-free"),  # en dash
        ("<b>cu</b><b>re</b>", "cure"),
        ("&#99;ure", "cure"),
        ("&#x63;ure", "cure"),
        ("sky&shy;rocket", "skyrocket"),
        ("c-u-r-e", "cure"),
        ("c.u.r.e", "cure"),
        ("c u r e", "cure"),
        ("cur3", "cure"),
        ("guar4nteed", "guaranteed"),
        ("b3st", "best"),
        ("Tra1lhawk", "Trailhawk"),
        ("CH3AP", "CHEAP"),
        ("#CureArthritis", "#Cure Arthritis"),
        ("#curearthritis", "#cure arthritis"),
        ("#CoinSwift", "#CoinSwift"),  # a name written as a hashtag stays whole
        ("\U0001f6ab arthritis", "\U0001f6ab no more arthritis"),
        ("it\u2019s \u201cok\u201d\u00a0now", 'it\'s "ok" now'),
        ("\u0441.u.r.e", "cure"),  # a lookalike letter, then dotted apart
        (
            "\uff03\uff23\uff55\uff52\uff45\uff21\uff52\uff54\uff48\uff52\uff49\uff54\uff49\uff53",
            "#Cure Arthritis",
        ),
        ("\u201cc.u.r.e\u201d", '"cure"'),
    ],
)
def test_each_evasion_has_one_canonical_spelling(text: str, canonical: str) -> None:
    c = CANON(text)
    assert c.text == canonical
    # The whole canonical text comes from the original, invisible edges aside.
    a, b = c.span(0, len(c.text))
    assert CANON(text[a:b]).text == canonical


@pytest.mark.parametrize(
    "text",
    [
        "U.S.A. and e.g. and p.m.",  # dotted letters that spell no vocabulary word
        "Sizes S M L",
        "Doors open at 4pm, code 80302, B12 and D3, 2x points, W-2",
        "Acme\u2122 and GORE-TEX\u00ae",  # NFKC would glue "TM" onto the word
        "caf\u00e9 na\u00efve",  # accented letters are letters, not disguises
        "\u041d\u0430\u0448 \u0447\u0430\u0439 \u0441 \u043c\u0451\u0434\u043e\u043c",  # Russian
        "#TrailTuesday",
        "Price < $50 & more",
    ],
)
def test_honest_text_keeps_its_words(text: str) -> None:
    c = CANON(text)
    assert c.text.replace("#Trail Tuesday", "#TrailTuesday") == text
    assert c.obfuscated(0, len(c.text)) is None or text.startswith("#")


def test_html_comment_is_hidden_and_tags_are_gone() -> None:
    c = CANON("Hi <!-- reply STOP --> there<br>friend")
    assert "<" not in c.text and "!" not in c.text
    ((a, b),) = c.hidden
    assert c.text[a:b].strip() == "reply STOP"
    assert c.original[slice(*c.span(a, b))].strip() == "reply STOP"
    assert c.text.endswith("there\nfriend")


def test_a_link_keeps_its_target_as_text() -> None:
    c = CANON('<a href="https://x.example/cure-it">Shop</a>')
    assert "https://x.example/cure-it" in c.text and "Shop" in c.text


def test_spans_map_back_to_the_original() -> None:
    text = "Our tea c.u.r.e.s arthritis"
    c = CANON(text)
    i = c.text.index("cures")
    assert c.span(i, i + 5) == (8, 17)
    assert c.obfuscated(i, i + 5) == "c.u.r.e.s"
    j = c.text.index("arthritis")
    assert c.span(j, j + 9) == (18, 27) and c.obfuscated(j, j + 9) is None


def test_every_emoji_word_is_a_single_code_point() -> None:
    assert all(len(e) == 1 and w for e, w in EMOJI_WORDS.items())


# --- the engine reports on the text as written ---------------------------------------------


def test_a_finding_on_obfuscated_text_says_so_and_points_at_the_original() -> None:
    text = "Our tea c.u.r.e.s arthritis."
    v = check_copy(brand("vitalis"), "push", text).violations
    (claim,) = [x for x in v if x.rule == "claims.health.disease-claim"]
    assert claim.start is not None and claim.end is not None
    assert text[claim.start : claim.end] == claim.excerpt
    assert claim.excerpt.startswith("c.u.r.e.s")
    assert "obfuscated: 'c.u.r.e.s" in claim.message


def test_a_plain_finding_says_nothing_about_obfuscation() -> None:
    v = check_copy(brand("vitalis"), "push", "Our tea cures arthritis.").violations
    assert v and all("obfuscated" not in x.message for x in v)


def test_a_claim_in_a_link_says_where_it_was() -> None:
    v = check_copy(
        brand("vitalis"), "social", "Read more at www.cure-arthritis-fast.com"
    ).violations
    (claim,) = [x for x in v if x.rule == "claims.health.disease-claim"]
    assert "in a link" in claim.message


# --- properties --------------------------------------------------------------------------

_TRICKY = (
    "abcdeirstu CURE 0134 .-#<>&;/:!*{}_\n"
    "\u200b\u200c\u200d\u00ad\u2060\u202e\ufeff\ufe0f\u0301\u0441\u0435\u0456\uff43\uff11"
    "\u2013\u2011\u2122\ufb01\u00e9\u2019\u00a0\U0001f6ab\U0001f947\U0001f600"
)
_SNIPPETS = st.sampled_from(
    [
        "<b>",
        "</b>",
        "<!--",
        "-->",
        "&#99;",
        "&amp;",
        "&shy;",
        "{{",
        "}}",
        "https://x.example/a-b",
        "www.",
        "c.u.r.e",
        "#Cure",
        "cur3",
        " ",
        "\U0001f6ab ",
        '<a href="https://x.example/cure">',
    ]
)
_TEXT = st.lists(st.one_of(st.text(alphabet=_TRICKY, max_size=6), _SNIPPETS), max_size=14).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.data())
def test_every_canonical_span_lies_inside_the_original(text: str, data: st.DataObject) -> None:
    c = CANON(text)
    n = len(c.text)
    i = data.draw(st.integers(0, n))
    j = data.draw(st.integers(i, n))
    a, b = c.span(i, j)
    assert 0 <= a <= b <= len(text)
    if c.starts is not None:
        assert list(c.starts) == sorted(c.starts)
        assert all(s <= e for s, e in zip(c.starts, c.ends or (), strict=True))
    for s, e in c.hidden:
        assert 0 <= s < e <= n


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT, st.sampled_from(["acme", "vitalis", "northbank"]))
def test_every_finding_points_inside_the_text_as_written(text: str, name: str) -> None:
    for v in check_copy(brand(name), "push", text, subject=text or None).violations:
        if v.start is None:
            continue
        source = text
        assert v.end is not None and 0 <= v.start <= v.end <= len(source)
        assert source[v.start : v.end] == v.excerpt


_WORDS = st.sampled_from(
    [
        "Our",
        "new",
        "trail",
        "boots",
        "are",
        "back",
        "in",
        "stores",
        "this",
        "weekend",
        "and",
        "they",
        "fit",
        "wide",
        "feet",
        "a",
        "I",
        "the",
        "best",
        "cure",
        "guaranteed",
        "free",
        "risk",
        "cheap",
        "don't",
        "it's",
        "20%",
        "$50",
        "(maybe)",
        "well,",
        "yes.",
        "no!",
        "why?",
        "Summit:",
        "Boulder",
        "-",
        "CO",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=30).map(" ".join))
def test_plain_ascii_prose_is_its_own_canonical_text(text: str) -> None:
    c = CANON(text)
    assert c.text == text
    assert c.starts is None and c.identity
    assert c.span(0, len(text)) == (0, len(text))


@settings(max_examples=100, deadline=None)
@given(
    st.text(
        alphabet="\u200b\u200c\u200d\u00ad\u2060\u202a\u202c\u202e\ufeff\u2066\u2069 \n", min_size=1
    )
)
def test_text_of_only_invisible_characters_is_empty(text: str) -> None:
    v = check_copy(brand("acme"), "push", text).violations
    assert [x.rule for x in v] == ["content.empty"]


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        # The voice checks still skip what they skipped: a placeholder's capitals next to
        # a link, an address or a merge tag in capitals.
        ("Hi [FIRST_NAME], see https://acme.example/x today.", ["content.placeholder"]),
        # (the address is personal data; its capitals are still not shouting)
        ("Write to JANE@EXAMPLE.COM today.", ["content.personal-data"]),
        ("Hi {{FIRST_NAME}}, new boots are in.", []),
        # "<!--" is no exclamation mark; a comment's capitals are not the copy's voice.
        ("New boots are in! <!-- HERO IMAGE! --> Come try a pair.", []),
    ],
)
def test_links_merge_tags_and_comments_are_not_the_copys_voice(text: str, rules: list[str]) -> None:
    assert [v.rule for v in check_copy(brand("acme"), "push", text).violations] == rules
