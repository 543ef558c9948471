"""Rule packs as data: the built-in vocab files, their checks, and custom claim packs.

The built-in words and patterns live in ``conductor/brand/vocab/*.yaml``; every file must
load, hold what the engine reads, and catch its own examples. A broken file (built-in or
a brand's custom pack) is one ``BrandError`` at ``file:line:col``. A custom pack's
families are rules of their own (``claims.custom.<family>``) that flag the copy they
describe and pass the copy they do not.
"""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path

import pytest
from hypothesis import example as hypothesis_example
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from conductor.brand import BrandStrategy, check_copy, load_brand, parse_brand
from conductor.brand._pack_file import CustomFamily, CustomPackFile, Family, PackFile
from conductor.brand._packs import (
    allowed_caps,
    clause_break,
    negators,
    not_negation,
    sensitive_synonyms,
    sources,
)
from conductor.brand._plan_checks import sensitive_category
from conductor.brand._vocab import BUILTIN, VOCAB_DIR, builtin, load_custom_pack
from conductor.errors import BrandError
from conductor.verdict import Action, Severity

ROOT = Path(__file__).resolve().parent.parent
PACKS = ROOT / "tests" / "brand_packs"
DOCS = ROOT / "docs" / "brand.md"

# A brand with every built-in claim pack on, and nothing else that could fire.
_ALL_PACKS = """
name: Testbrand
company:
  legal_name: Testbrand Inc.
  postal_address: 1 Main Street, Springfield
  unsubscribe_url: https://testbrand.example/u
voice: {max_exclamations: null, max_caps_words: null, max_emoji: null}
claims:
  packs: {health: {}, finance: {}, endorsements: {}}
"""


@cache
def all_packs() -> BrandStrategy:
    return parse_brand(_ALL_PACKS, source="all-packs.yaml")


def rules_on(text: str) -> set[str]:
    return {v.rule for v in check_copy(all_packs(), "social", text).violations}


# --- the built-in files -----------------------------------------------------------------


def test_every_vocab_file_is_a_known_pack() -> None:
    assert {p.stem for p in VOCAB_DIR.glob("*.yaml")} == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_file_loads_and_holds_what_the_engine_reads(name: str) -> None:
    pack = builtin(name)
    assert isinstance(pack, PackFile) and pack.name == name and pack.description
    uses = BUILTIN[name]
    if uses is not None:
        assert list(pack.families) == list(uses)
    for fam_name, fam in pack.families.items():
        assert fam.description, fam_name
        assert fam.examples, f"{name}.{fam_name}: every family shows an example"
    text = (VOCAB_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# "), "every file opens with a comment for the reader"


# Family -> the rule its examples fire, on a brand with every pack on.
_FIRES = {
    ("health", "conditions"): "claims.health.disease-claim",
    ("health", "disease-verbs"): "claims.health.disease-claim",
    ("health", "cures"): "claims.health.disease-claim",
    ("health", "condition-nouns"): "claims.health.disease-claim",
    ("health", "support-verbs"): "claims.health.disclaimer-missing",
    ("health", "body-functions"): "claims.health.disclaimer-missing",
    ("finance", "guarantees"): "claims.finance.guaranteed-returns",
    ("finance", "promises"): "claims.finance.promissory",
    ("finance", "negatable-promises"): "claims.finance.promissory",
    ("finance", "investment-terms"): "claims.finance.risk-warning-missing",
    ("endorsements", "typical-results"): "claims.endorsement.typical-results",
    ("endorsements", "outcomes"): "claims.endorsement.disclosure-missing",
    ("endorsements", "reviews"): "claims.endorsement.invented-review",
    ("endorsements", "review-glyphs"): "claims.endorsement.invented-review",
    ("superlatives", "superlatives"): "claims.superlative",
    ("finance", "performers"): "claims.finance.risk-warning-missing",
    **{("instructions", lang): "content.instructions-in-copy" for lang in BUILTIN["instructions"]},
    ("hygiene", "placeholders"): "content.placeholder",
    ("hygiene", "cased-placeholders"): "content.placeholder",
}
# Family -> the rule its examples must NOT fire: the family lifts it.
_LIFTS = {
    ("finance", "not-guaranteed"): "claims.finance.guaranteed-returns",
    ("endorsements", "results-vary"): "claims.endorsement.disclosure-missing",
    ("endorsements", "review-sources"): "claims.endorsement.invented-review",
    ("superlatives", "sources"): "claims.superlative",
}
_TEXT_FAMILIES = sorted(
    (pack, fam)
    for pack, uses in BUILTIN.items()
    for fam, use in (uses or {}).items()
    if use.kind == "text" and pack != "negation"
)


def test_every_text_family_is_tested_below() -> None:
    assert set(_TEXT_FAMILIES) == set(_FIRES) | set(_LIFTS) | {
        ("hygiene", "opt-out"),
        ("hygiene", "unsubscribe-link"),
        # Parts of claims.finance.past-performance (a result, then a promise), whose
        # examples are fragments; tests/test_brand_instructions_pii.py checks them whole.
        ("finance", "performance-verbs"),
        ("finance", "performance-figures"),
        ("finance", "forward-promises"),
    }


@pytest.mark.parametrize(("pack", "family"), _TEXT_FAMILIES, ids="-".join)
def test_builtin_examples_are_caught_by_their_family(pack: str, family: str) -> None:
    rx = re.compile("|".join(sources(pack, family)))
    cased = family == "cased-placeholders"
    for example in builtin(pack).families[family].examples:
        text = example if cased else example.lower().replace("’", "'")
        assert rx.search(text), f"{pack}.{family}: {example!r}"
        if (pack, family) in _FIRES:
            assert _FIRES[pack, family] in rules_on(example), example
        if (pack, family) in _LIFTS:
            assert _LIFTS[pack, family] not in rules_on(example), example


def test_the_lifting_examples_hold_the_claim_they_lift() -> None:
    # A qualifier's example is only a test when the claim is there too.
    claims = {
        ("endorsements", "results-vary"): ("endorsements", "outcomes"),
        ("endorsements", "review-sources"): ("endorsements", "reviews"),
        ("superlatives", "sources"): ("superlatives", "superlatives"),
    }
    for qualifier, claim in claims.items():
        rx = re.compile("|".join(sources(*claim)))
        for example in builtin(qualifier[0]).families[qualifier[1]].examples:
            assert rx.search(example.lower()), (qualifier, example)


def test_opt_out_and_unsubscribe_examples_satisfy_their_channels() -> None:
    sms = parse_brand(_ALL_PACKS + "channels: {sms: {require_opt_out: true}}\n")
    for example in builtin("hygiene").families["opt-out"].examples:
        assert not check_copy(sms, "sms", f"Sale today. {example}").violations, example
    email = parse_brand(_ALL_PACKS + "channels: {email: {require_unsubscribe: true}}\n")
    for example in builtin("hygiene").families["unsubscribe-link"].examples:
        rules = {v.rule for v in check_copy(email, "email", f"Hello. {example}").violations}
        assert "channel.unsubscribe-missing" not in rules, example


def test_negation_examples() -> None:
    fams = builtin("negation").families
    neg = re.compile(negators())
    for example in fams["negators"].examples + fams["negating-endings"].examples:
        assert neg.search(example.lower()), example
        assert not rules_on(example) & {
            "claims.health.disease-claim",
            "claims.finance.promissory",
        }, example
    # Across a clause break, or in "not only", the claim stands.
    for example in fams["clause-breaks"].examples:
        assert re.search(clause_break(), example.lower()), example
        assert "claims.health.disease-claim" in rules_on(example), example
    not_only = re.compile(f"(?:{negators()}){not_negation()}")
    for example in fams["not-negations"].examples:
        assert not_only.search(example.lower()), example
        assert "claims.health.disease-claim" in rules_on(example), example


def test_allowed_caps_and_sensitive_examples() -> None:
    caps = allowed_caps()
    assert all(w in caps for w in builtin("hygiene").families["allowed-caps"].examples)
    assert "FDA" in caps and "fda" not in caps
    for category, fam in builtin("sensitive").families.items():
        assert sensitive_synonyms()[category] == tuple(fam.words)
        for column in fam.examples:
            assert sensitive_category(column, [category]) == category, (category, column)
    assert sensitive_category("religious_affiliation", ["religion"]) == "religion"
    assert sensitive_category("favourite_colour", ["religion", "health"]) is None


# --- a broken built-in file -------------------------------------------------------------


def _health_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """vocab/health.yaml in ``tmp_path`` with one edit; returns it and the edited line."""
    text = (VOCAB_DIR / "health.yaml").read_text(encoding="utf-8")
    assert old in text, old
    edited = text.replace(old, new, 1)
    path = tmp_path / "health.yaml"
    path.write_text(edited, encoding="utf-8")
    line = edited[: edited.index(new)].count("\n") + 1 + len(re.match(r"\n*", new)[0])
    return path, line


_BROKEN_BUILTIN = [
    ("      - arthritis\n", "      - Arthritis\n", "pattern 'Arthritis' must be in lower case"),
    ("      - arthritis\n", "      - (arthritis\n", "pattern is not a valid regular expression"),
    ("  cures:\n", "  cure-words:\n", "unknown family 'cure-words'"),
    (
        "    examples:\n      - The miracle",
        "    exampels:\n      - The miracle",
        "(did you mean 'examples'?)",
    ),
    ("name: health\n", "name: wellness\n", "must be named 'health'"),
    ("required_text: >-\n", "required_txt: >-\n", "unknown key 'required_txt'"),
]


@pytest.mark.parametrize(("old", "new", "message"), _BROKEN_BUILTIN)
def test_broken_builtin_file_is_a_located_brand_error(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path, line = _health_copy(tmp_path, old, new)
    with pytest.raises(BrandError) as info:
        builtin("health", tmp_path)
    err = info.value
    assert message in err.message
    assert err.file == str(path) and err.line == line, str(err)
    assert str(err).startswith(f"{path}:{line}:")
    assert err.code == "brand.schema" and err.hint


def test_missing_family_and_bad_yaml_in_a_builtin_file(tmp_path: Path) -> None:
    text = (VOCAB_DIR / "health.yaml").read_text(encoding="utf-8")
    start = text.index("  cures:\n")
    end = text.index("  condition-nouns:\n")
    (tmp_path / "health.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(BrandError, match="reads family 'cures'") as info:
        builtin("health", tmp_path)
    assert info.value.line == text[: text.index("families:")].count("\n") + 1
    (tmp_path / "health.yaml").write_text("name: health\nfamilies: [\n", encoding="utf-8")
    with pytest.raises(BrandError, match="invalid YAML") as info:
        builtin("health", tmp_path)
    assert info.value.code == "brand.yaml" and info.value.line == 3


def test_word_lists_take_no_patterns_and_text_families_take_words(tmp_path: Path) -> None:
    text = (VOCAB_DIR / "negation.yaml").read_text(encoding="utf-8")
    old = "    words: [only, just, merely]\n"
    (tmp_path / "negation.yaml").write_text(
        text.replace(old, "    patterns: [only]\n"), encoding="utf-8"
    )
    with pytest.raises(BrandError, match="this family is a word list") as info:
        builtin("negation", tmp_path)
    assert info.value.line == text[: text.index(old)].count("\n") + 1
    # A reviewer may add plain phrases to a built-in family: no regex needed.
    health = (VOCAB_DIR / "health.yaml").read_text(encoding="utf-8")
    (tmp_path / "health.yaml").write_text(
        health.replace("  conditions:\n", "  conditions:\n    words: [Hay Fever]\n", 1),
        encoding="utf-8",
    )
    fam = builtin("health", tmp_path).families["conditions"]
    assert (
        fam.words == ["Hay Fever"]
        and fam.patterns == builtin("health").families["conditions"].patterns
    )


# --- custom packs -------------------------------------------------------------------------


@cache
def spirits() -> BrandStrategy:
    return load_brand(PACKS / "spirits.yaml")


def test_custom_pack_flags_its_claims_under_its_own_rule_ids() -> None:
    b = spirits()
    assert [p.pack.name for p in b.custom_packs] == ["alcohol", "legal"]
    text = "Summer is here. Our gin spritz prevents your next hangover."
    [v] = check_copy(b, "social", text).violations
    assert v.rule == "claims.custom.hangover-cures"
    assert (v.start, v.end) == (text.index("prevents"), len(text) - 1)
    assert v.excerpt == "prevents your next hangover"
    assert v.message == (
        "'prevents your next hangover': alcohol may not be marketed as preventing hangovers."
    )
    assert v.fix == "Talk about the taste instead."
    # The family's severity, and the action the brand's policy names the rule with.
    assert v.severity is Severity.CRITICAL and v.action is Action.ESCALATE
    [w] = check_copy(b, "social", "Good for your heart, and delicious.").violations
    assert (w.rule, w.severity, w.action) == (
        "claims.custom.health-benefits",
        Severity.ERROR,
        Action.REVISE,
    )
    assert w.fix == "Remove the claim or reword it."
    # The second pack of the list, with the policy's severity override.
    [x] = check_copy(b, "social", "One For The Road!").violations
    assert (x.rule, x.severity, x.excerpt) == (
        "claims.custom.drive-after-drinking",
        Severity.CRITICAL,
        "One For The Road",
    )


@pytest.mark.parametrize(
    "text",
    [
        "A crisp gin with juniper and lemon peel. Serve it cold.",
        "It is not good for your heart, so enjoy it in moderation.",  # negatable
        "Our gin prevents boredom. Hangovers are no fun.",  # the gap stops at the sentence
        "Our one-of-a-kind road trip playlist.",
    ],
)
def test_custom_pack_passes_honest_copy(text: str) -> None:
    assert check_copy(spirits(), "social", text).violations == []


def test_custom_rules_are_disabled_and_checked_on_insights_too() -> None:
    text = (PACKS / "spirits.yaml").read_text(encoding="utf-8")
    text = text.replace("review_policy:\n", "review_policy:\n  disabled: [claims.custom.*]\n")
    b = parse_brand(text, source=str(PACKS / "spirits-disabled.yaml"))
    assert check_copy(b, "social", "No hangover, guaranteed.").violations == []
    from conductor.specs import Insight

    v = spirits().review([Insight(id="i", statement="Gin is good for your health.")])
    assert {x.rule for x in v.violations} == {
        "claims.custom.health-benefits",
        "insight.no-evidence",
    }


def test_custom_packs_without_the_loader_are_read_from_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PACKS)
    data = {
        "name": "Juniper",
        "company": {
            "legal_name": "Juniper & Sons Distillers Ltd.",
            "postal_address": "4 Still Lane, Leith",
            "unsubscribe_url": "https://juniper.example/unsubscribe",
        },
        "claims": {"packs": {"custom": "alcohol.yaml"}},
    }
    b = BrandStrategy.model_validate(data)
    assert [p.pack.name for p in b.custom_packs] == ["alcohol"]
    assert check_copy(b, "social", "Hangover-free fun.").violations[0].rule == (
        "claims.custom.hangover-cures"
    )


# --- broken custom packs ----------------------------------------------------------------


def _brand_with(tmp_path: Path, pack_text: str, brand_text: str | None = None) -> Path:
    """spirits.yaml and its packs in ``tmp_path``, alcohol.yaml replaced by ``pack_text``."""
    for name in ("legal.yaml", "spirits.yaml"):
        shutil.copy(PACKS / name, tmp_path / name)
    (tmp_path / "alcohol.yaml").write_text(pack_text, encoding="utf-8")
    if brand_text is not None:
        (tmp_path / "spirits.yaml").write_text(brand_text, encoding="utf-8")
    return tmp_path / "spirits.yaml"


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


_ALCOHOL = (PACKS / "alcohol.yaml").read_text(encoding="utf-8")
_SPIRITS = (PACKS / "spirits.yaml").read_text(encoding="utf-8")

_BROKEN_CUSTOM = {
    "unknown key": (
        ("    fix: Talk", "    fixx: Talk"),
        "brand.schema",
        "unknown key 'fixx' (did you mean 'fix'?)",
        "rename it to 'fix'",
    ),
    "wrong type": (
        ("    negatable: true", "    negatable: sometimes"),
        "brand.schema",
        "families.health-benefits.negatable: Input should be a valid boolean",
        "Rule packs as data",
    ),
    "bad yaml": (
        ("    examples: [Good for your heart.]", "    examples: [Good for your heart.]]"),
        "brand.yaml",
        "invalid YAML",
        "check indentation and quoting",
    ),
    "bad regex": (
        ("['good\\s+for", "['(good\\s+for"),
        "brand.schema",
        "families.health-benefits.patterns.0: pattern is not a valid regular expression",
        "Rule packs as data",
    ),
    "missing message": (
        ("    message: drinking may not be presented as healthy.\n", ""),
        "brand.schema",
        "missing required key 'message'",
        "add 'message:'",
    ),
    "example not caught": (
        ("    examples: [Good for your heart.]", "    examples: [Great for your heart.]"),
        "brand.schema",
        "example 'Great for your heart.' is not matched by any word or pattern of "
        "family 'health-benefits'",
        "examples are copy the family must catch",
    ),
    "bad family name": (
        ("  health-benefits:", "  Health_Benefits:"),
        "brand.schema",
        "family name 'Health_Benefits' must be lower-case words joined by '-'",
        "e.g. 'health-benefits'",
    ),
    "built-in key": (
        (
            "description: Claims an alcohol",
            "required_text: Drink responsibly.\ndescription: Claims an alcohol",
        ),
        "brand.schema",
        "unknown key 'required_text'",
        "allowed keys here: name, description, families",
    ),
}


@pytest.mark.parametrize("case", sorted(_BROKEN_CUSTOM))
def test_broken_custom_pack_is_one_located_brand_error(tmp_path: Path, case: str) -> None:
    (old, new), code, message, hint = _BROKEN_CUSTOM[case]
    assert old in _ALCOHOL
    pack_text = _ALCOHOL.replace(old, new, 1)
    brand = _brand_with(tmp_path, pack_text)
    with pytest.raises(BrandError) as info:
        load_brand(brand)
    err = info.value
    assert (err.code, err.file) == (code, str(tmp_path / "alcohol.yaml")), str(err)
    assert message in err.message and hint in err.hint, str(err)
    where = new.strip().splitlines()[0] if new else "  health-benefits:"
    assert err.line == _line_of(pack_text, where), str(err)
    assert err.column is not None and str(err).startswith(f"{err.file}:{err.line}:{err.column}: ")
    assert err.exit_code == 2


def test_missing_custom_pack_is_located_in_the_brand_file(tmp_path: Path) -> None:
    text = _SPIRITS.replace("[alcohol.yaml, legal.yaml]", "[alcohol.yaml, legl.yaml]")
    brand = _brand_with(tmp_path, _ALCOHOL, text)
    with pytest.raises(BrandError) as info:
        load_brand(brand)
    err = info.value
    assert err.code == "brand.not-found" and err.file == str(brand)
    assert err.message == (
        f"custom claim pack 'legl.yaml' not found (looked for {tmp_path / 'legl.yaml'})"
    )
    assert (err.line, err.column) == (
        _line_of(text, "    custom:"),
        text.index("legl") - text.rindex("\n", 0, text.index("legl")),
    )
    assert "relative to the brand file" in err.hint


def test_custom_rule_ids_in_the_policy_are_checked(tmp_path: Path) -> None:
    text = _SPIRITS.replace("claims.custom.hangover-cures:", "claims.custom.hangover-cure:")
    with pytest.raises(BrandError) as info:
        load_brand(_brand_with(tmp_path, _ALCOHOL, text))
    err = info.value
    assert err.code == "brand.schema" and err.line == _line_of(text, "    claims.custom.hangover")
    assert "unknown rule id 'claims.custom.hangover-cure'" in err.message
    assert "did you mean 'claims.custom.hangover-cures'?" in err.message
    # Without the packs the ids are unknown, and the prefix too.
    bare = _SPIRITS.replace("    custom: [alcohol.yaml, legal.yaml]\n", "    health: {}\n")
    with pytest.raises(
        BrandError, match=re.escape("unknown rule id 'claims.custom.hangover-cures'")
    ):
        parse_brand(bare)
    with pytest.raises(BrandError, match=r"unknown rule id 'claims\.custom\.\*'"):
        parse_brand(_ALL_PACKS + "review_policy: {disabled: [claims.custom.*]}\n")


def test_two_packs_may_not_define_the_same_family(tmp_path: Path) -> None:
    legal = (PACKS / "legal.yaml").read_text(encoding="utf-8")
    brand = _brand_with(tmp_path, _ALCOHOL)
    (tmp_path / "legal.yaml").write_text(
        legal.replace("drive-after-drinking:", "hangover-cures:"), encoding="utf-8"
    )
    with pytest.raises(BrandError) as info:
        load_brand(brand)
    err = info.value
    assert err.file == str(tmp_path / "legal.yaml") and err.line == _line_of(legal, "  drive-")
    assert f"family 'hangover-cures' is also defined in {tmp_path / 'alcohol.yaml'}" in err.message


# --- a property ---------------------------------------------------------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8)


@settings(max_examples=60, deadline=None)
@given(word=_WORD, before=st.lists(_WORD, max_size=4), after=st.lists(_WORD, max_size=4))
@hypothesis_example(word="null", before=[], after=[])  # a YAML keyword, quoted in the pack
@hypothesis_example(word="aaa", before=[], after=["one"])  # no other check speaks up
def test_a_word_family_flags_exactly_its_whole_words(
    word: str, before: list[str], after: list[str]
) -> None:
    """A family of one word flags it as a whole word in any case, and nothing else."""
    pack = (
        f"name: p\ndescription: d\nfamilies:\n  banned-word:\n    description: d\n"
        f"    words: ['{word}']\n    message: not allowed.\n"
    )
    brand = _brand_for_pack(pack)
    others = [w for w in [*before, *after] if w != word]
    assert check_copy(brand, "social", " ".join(others) + ".").violations == []
    # Inside a longer word it is no match.
    assert check_copy(brand, "social", f"x{word}y.").violations == []
    shouted = " ".join([*before, word.upper(), *after]) + "."
    hits = [v for v in check_copy(brand, "social", shouted).violations if v.excerpt == word.upper()]
    assert hits and all(v.rule == "claims.custom.banned-word" for v in hits)
    first = hits[0]
    assert shouted[first.start : first.end] == word.upper()  # type: ignore[misc]


@cache
def _brand_for_pack(pack_text: str) -> BrandStrategy:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="pack-"))
    (folder / "p.yaml").write_text(pack_text, encoding="utf-8")
    # Only the pack's own rule is under test: the semantic check (which reads a lone
    # fragment such as "one." as a superlative now and then) is left out.
    text = _ALL_PACKS.replace("finance: {}, ", "").replace(
        "{health: {}, endorsements: {}}", "{custom: p.yaml}"
    )
    return parse_brand(text + "  semantic: {enabled: false}\n", source=str(folder / "brand.yaml"))


# --- the docs ---------------------------------------------------------------------------


def _docs_section() -> str:
    docs = DOCS.read_text(encoding="utf-8")
    return docs.split("\n## Rule packs as data", 1)[1].split("\n## ", 1)[0]


def test_docs_describe_every_key_of_a_pack_file() -> None:
    section = _docs_section()
    models: list[type[BaseModel]] = [PackFile, CustomPackFile, Family, CustomFamily]
    missing = sorted({f for m in models for f in m.model_fields if f"| `{f}` |" not in section})
    assert missing == [], f"document these pack-file keys in docs/brand.md: {missing}"
    for name in BUILTIN:
        assert f"`{name}.yaml`" in section


def test_the_example_pack_in_the_docs_is_the_tested_one(tmp_path: Path) -> None:
    section = _docs_section()
    example = section.split("### A custom pack", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "alcohol.yaml").write_text(example, encoding="utf-8")
    documented = load_custom_pack(tmp_path / "alcohol.yaml").pack
    assert documented == load_custom_pack(PACKS / "alcohol.yaml").pack
