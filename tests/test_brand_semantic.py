"""Claims caught by meaning (issue 17 item 2): the semantic check beside the phrase rules.

The acceptance figures are measured on ``tests/semantic_corpus/holdout.yaml``, the part
of the labelled realistic corpus that was written before the classifier and never tuned
on (benchmarks/brand_semantic.py prints the per-family table, benchmarks/README.md
records it).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conductor.brand import check_copy, load_brand, parse_brand, rule_ids
from conductor.brand._semantic import (
    SEMANTIC_DIR,
    SemanticModel,
    _read_words,
    semantic_model,
    sentences,
)
from conductor.errors import BrandError
from conductor.verdict import Action, Severity

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "semantic_corpus"
BRANDS = ROOT / "pipelines" / "brands"


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "brand_semantic", ROOT / "benchmarks" / "brand_semantic.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["brand_semantic"] = mod
    spec.loader.exec_module(mod)
    return mod


BENCH = _bench()


@pytest.fixture(scope="module")
def bench_brands() -> Any:
    return BENCH.brands()


# --- the corpus ----------------------------------------------------------------------


def test_corpus_is_big_labelled_and_split() -> None:
    hold, tune = BENCH.lines("holdout"), BENCH.lines("tune")
    assert len(hold) >= 120 and len(hold) + len(tune) >= 300
    labels = {"pass", *BENCH.FAMILIES}
    for part in (hold, tune):
        assert {line["label"] for line in part} == labels
        assert {line["industry"] for line in part} >= {
            "health",
            "finance",
            "retail",
            "travel",
            "saas",
            "food",
        }
        assert {line["lang"] for line in part} == {"en", "es", "fr", "de"}
    # The two parts share no line: the holdout is unseen text.
    assert not {x["text"] for x in hold} & {x["text"] for x in tune}


def test_tuning_lines_are_the_tune_corpus_and_never_the_holdout() -> None:
    doc = yaml.safe_load((SEMANTIC_DIR / "tuning.yaml").read_text(encoding="utf-8"))
    shipped = {
        x
        for spec in doc["families"].values()
        for v in spec.values()
        for xs in v.values()
        for x in xs
    }
    assert shipped == {x["text"] for x in BENCH.lines("tune")}
    every = {
        x
        for path in SEMANTIC_DIR.glob("*.yaml")
        for spec in yaml.safe_load(path.read_text(encoding="utf-8"))["families"].values()
        for v in spec.values()
        if isinstance(v, dict)
        for xs in v.values()
        for x in xs
    }
    for part in ("holdout", "fresh", "third"):  # the parts the check is judged on
        assert not every & {x["text"] for x in BENCH.lines(part)}, part


# --- the labelled corpus: regression guards, not the target ------------------------------
#
# The target is recall >= 0.85 with precision >= 0.9 on copy the check was not
# tuned on. The holdout's totals were looked at while the check was built and merged, so
# it is a validation set (0.85 / 0.90 there); fresh.yaml, written by a second writer and
# scored once, was the unseen test, and there the target is NOT met (0.65 / 0.84, see
# benchmarks/README.md); third.yaml, by a third writer, scored once: 0.52 / 0.77. These bounds only catch a regression below today's figures.


def test_holdout_recall_and_precision(bench_brands: Any) -> None:
    both = BENCH.score("holdout", "both", bench_brands)
    det = BENCH.score("holdout", "deterministic", bench_brands)
    print(
        f"holdout: both R={both['recall']:.2f} P={both['precision']:.2f}; "
        f"deterministic R={det['recall']:.2f} P={det['precision']:.2f}"
    )
    assert both["recall"] >= 0.83
    assert both["precision"] >= 0.87
    # The phrase rules alone are where the issue found them: the check is what lifts recall.
    assert det["recall"] < 0.3


def test_fresh_corpus_recall_and_precision(bench_brands: Any) -> None:
    both = BENCH.score("fresh", "both", bench_brands)
    print(f"fresh: both R={both['recall']:.2f} P={both['precision']:.2f}")
    assert both["recall"] >= 0.6
    assert both["precision"] >= 0.8


def test_third_corpus_recall_and_precision(bench_brands: Any) -> None:
    # third.yaml: a third writer, 150 lines, scored once unseen at 0.52 / 0.77 (target not met).
    both = BENCH.score("third", "both", bench_brands)
    print(f"third: both R={both['recall']:.2f} P={both['precision']:.2f}")
    assert both["recall"] >= 0.48
    assert both["precision"] >= 0.72


# --- behaviour --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vitalis() -> Any:
    return load_brand(BRANDS / "vitalis.yaml")


def _semantic(v: Any) -> list[Any]:
    return [x for x in v.violations if x.rule.startswith("claims.semantic.")]


def test_paraphrased_disease_claim_is_a_semantic_finding(vitalis: Any) -> None:
    text = "Hello there, Sam. Wave goodbye to migraines with our magnesium blend."
    found = _semantic(check_copy(vitalis, "social", text))
    assert len(found) == 1
    f = found[0]
    assert f.rule == "claims.semantic.disease"
    assert f.message.startswith("semantic (disease): reads like '")
    assert f.severity is Severity.ERROR and f.action is Action.REVISE  # not block
    assert (f.start, f.end) == (18, len(text))
    assert f.excerpt == text[18:]
    assert f.fix


def test_hashtag_and_emoji_are_read_as_words(vitalis: Any) -> None:
    # A hashtag the canonical text splits into a phrase rule's words is the phrase rule's;
    # a paraphrase inside a hashtag is left to meaning.
    found = check_copy(vitalis, "social", "#CureArthritis today").violations
    assert [x.rule for x in found] == ["claims.health.disease-claim"]
    assert [x.rule for x in _semantic(check_copy(vitalis, "social", "#ByeByeMigraines"))] == [
        "claims.semantic.disease"
    ]
    assert _read_words("🚫 arthritis #BeatDiabetes") == "no arthritis beat diabetes"


def test_honest_near_misses_pass(vitalis: Any) -> None:
    for text in (
        "Our migraine diary app helps you track triggers and share them with your doctor.",
        "Free boot fitting days run until Sunday 12 October at 6pm.",
    ):
        assert _semantic(check_copy(vitalis, "social", text)) == [], text


def test_no_duplicate_of_a_phrase_rule_finding(vitalis: Any) -> None:
    v = check_copy(vitalis, "social", "Our elderberry syrup cures the flu.")
    assert "claims.health.disease-claim" in {x.rule for x in v.violations}
    assert _semantic(v) == []


def test_disabled_by_config_and_by_rule() -> None:
    text = (BRANDS / "vitalis.yaml").read_text(encoding="utf-8")
    line = "Wave goodbye to migraines with our magnesium blend."
    off = parse_brand(text.replace("\nclaims:\n", "\nclaims:\n  semantic: {enabled: false}\n", 1))
    assert _semantic(check_copy(off, "social", line)) == []
    policy = text.replace(
        "\nreview_policy:\n", '\nreview_policy:\n  disabled: ["claims.semantic.*"]\n'
    )
    assert policy != text
    assert _semantic(check_copy(parse_brand(policy), "social", line)) == []
    # Turning the phrase rule off accepts the claim: by meaning too.
    rule_off = text.replace(
        "\nreview_policy:\n", '\nreview_policy:\n  disabled: ["claims.health.disease-claim"]\n'
    )
    assert _semantic(check_copy(parse_brand(rule_off), "social", line)) == []
    high = text.replace("\nclaims:\n", "\nclaims:\n  semantic: {thresholds: {disease: 1.0}}\n", 1)
    assert _semantic(check_copy(parse_brand(high), "social", line)) == []


def test_languages_field() -> None:
    text = (CORPUS / "brand.yaml").read_text(encoding="utf-8")
    b = parse_brand(text)
    assert b.languages == ["en", "es", "fr", "de"]
    assert _semantic(check_copy(b, "social", "Unser Tee heilt Arthritis ganz natürlich."))
    assert parse_brand(text.replace("languages: [en, es, fr, de]\n", "")).languages == ["en"]
    with pytest.raises(BrandError):
        parse_brand(text.replace("languages: [en, es, fr, de]", "languages: [English]"))


def test_rule_ids_are_catalogued() -> None:
    ids = set(rule_ids())
    for fam in BENCH.FAMILIES:
        assert f"claims.semantic.{fam}" in ids


def test_deterministic_across_loads() -> None:
    lines = [x["text"] for x in BENCH.lines("holdout")]

    def run() -> list[Any]:
        b = load_brand(CORPUS / "brand.yaml")
        return [check_copy(b, "web", t).violations for t in lines]

    first = run()
    semantic_model.cache_clear()  # a fresh model, trained again
    assert run() == first


def test_scoring_equals_the_fitted_classifier() -> None:
    fams = ("disease", "guarantee", "past-performance", "testimonial", "superlative", "urgency")
    m = SemanticModel(fams, ("en", "es", "fr", "de"))  # trained here: its fit is at hand
    assert m._fitted is not None
    low = [_read_words(x["text"]) for x in BENCH.lines("holdout")]
    direct = m._fitted.clf.predict_proba(m._fitted.features(low))
    assert abs(m.proba(low) - direct).max() < 1e-9


def test_sentences_keep_offsets_and_join_short_ones() -> None:
    text = "Vitalis: Act now. Stock is almost gone!\nSee you."
    spans = sentences(text)
    # "Vitalis:" is joined to the next sentence; a short last one stays as it is.
    assert [text[a:b] for a, b in spans] == [
        "Vitalis: Act now.",
        "Stock is almost gone!",
        "See you.",
    ]


def test_runs_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model is read from the installed wheel: no socket is ever opened."""

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setitem(os.environ, "HF_HUB_OFFLINE", "1")
    import conductor.brand._semantic as sem

    sem._encoder.cache_clear()
    semantic_model.cache_clear()
    assert semantic_model(("urgency",), ("en",)).hits("Hurry, almost sold out!", {"urgency": 0.3})


def test_exemplar_entries_must_be_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import conductor.brand._semantic as sem

    (tmp_path / "health.yaml").write_text(
        "name: health\nfamilies:\n  disease:\n    exemplars:\n      en:\n        - cures: all\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sem, "SEMANTIC_DIR", tmp_path)
    sem._pack.cache_clear()
    try:
        with pytest.raises(BrandError, match="not a line of text"):
            sem._pack("health")
    finally:
        sem._pack.cache_clear()


def test_an_analysis_statement_is_not_read_as_marketing_copy() -> None:
    # An insight's statement is an analysis, not a message to a customer: the learned
    # families (testimonial, urgency, ...) do not apply, the phrase rules still do.
    from conductor.specs import Insight

    brand = load_brand(BRANDS / "vitalis.yaml")
    statement = (
        "The recommended split adds 7,708 revenue (+1.9%) over 13.1 weeks vs the current "
        "mix at the same spend (90% interval 4,505 to 12,420)."
    )
    insight = Insight(id="i", statement=statement, evidence={"uplift": 7708.0})
    assert _semantic(brand.review([insight], step=None)) == []
    copy = check_copy(brand, "social", "#ByeByeMigraines")
    assert _semantic(copy), "the same engine reads customer copy by meaning"
