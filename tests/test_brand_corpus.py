"""The brand rule engine against a hand-labelled corpus (tests/brand_corpus/).

Precision and recall are counted on (item, rule id) labels: a rule that fires on an item
whose labels do not name it is a false positive, a labelled rule that does not fire is a
false negative. Both must stay at or above 0.95 overall; the per-family figures are
printed (``pytest -s``) so a regression in one family is easy to spot.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from conductor.brand import BrandStrategy, load_brand, rule_ids
from conductor.specs import Artifact, Copy
from conductor.verdict import Verdict

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "brand_corpus"
BRANDS = ROOT / "pipelines" / "brands"

# Items where the engine is knowingly wrong: id -> (the rule ids it reports, why). The test
# asserts the wrong answer exactly, so a fix shows up as a failure to update this table.
KNOWN_DIFFERENCES: dict[str, tuple[set[str], str]] = {
    "vit-hard-09": (
        {"claims.health.disclaimer-missing", "voice.all-caps"},
        "'IBS' is an acronym the brand file does not list in voice.allowed_caps",
    ),
}


@cache
def brand(name: str) -> BrandStrategy:
    return load_brand(BRANDS / f"{name}.yaml")


def _items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in doc["items"]:
            item.setdefault("brand", doc.get("brand"))
            item["file"] = path.name
            items.append(item)
    return items


ITEMS = _items()
_ARTIFACT: TypeAdapter[Any] = TypeAdapter(Artifact)


def artifact(item: dict[str, Any]) -> Any:
    if "artifact" in item:
        return _ARTIFACT.validate_python({"id": item["id"], **item["artifact"]})
    return Copy(
        id=item["id"], channel=item["channel"], text=item["text"], subject=item.get("subject")
    )


@cache
def verdict(item_id: str) -> Verdict:
    item = BY_ID[item_id]
    return brand(item["brand"]).review([artifact(item)])


BY_ID = {item["id"]: item for item in ITEMS}


def found(item_id: str) -> set[str]:
    return {v.rule for v in verdict(item_id).violations}


def mask(masked: str, value: str) -> str:
    """``value`` with the characters ``masked`` hides hidden the same way."""
    assert len(masked) == len(value) and masked != value
    return "".join("•" if m == "•" else c for m, c in zip(masked, value, strict=True))


def family(rule: str) -> str:
    return rule.rsplit(".", 1)[0]


# --- the corpus itself ------------------------------------------------------------------


def test_corpus_is_big_and_well_formed() -> None:
    assert len(BY_ID) == len(ITEMS), "duplicate item ids"
    copies = [i for i in ITEMS if "text" in i]
    others = [i for i in ITEMS if "artifact" in i]
    assert len(copies) >= 150
    assert len([i for i in others if i["artifact"]["kind"] in ("allocation", "audience")]) >= 30
    assert {i["brand"] for i in copies} == {"acme", "vitalis", "northbank"}
    assert {i["channel"] for i in copies} >= {"email", "sms", "push", "social"}
    known = set(rule_ids())
    for item in ITEMS:
        assert set(item["expect"]) <= known, f"{item['id']}: unknown rule id in expect"
    # Every family is exercised, and so is every rule a deterministic check can report
    # (the model-tone rule needs an LLM; tests/test_brand_engine.py covers it).
    labelled = {r for i in ITEMS for r in i["expect"]}
    assert known - labelled == {"voice.model-tone"}
    tags = Counter(t for i in ITEMS for t in i.get("tags", []))
    assert tags["near-miss"] >= 30 and tags["injection"] >= 10


# --- precision and recall ---------------------------------------------------------------


def _scores() -> tuple[Counter[str], Counter[str], Counter[str]]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for item in ITEMS:
        expected, got = set(item["expect"]), found(item["id"])
        for r in got & expected:
            tp[family(r)] += 1
        for r in got - expected:
            fp[family(r)] += 1
        for r in expected - got:
            fn[family(r)] += 1
    return tp, fp, fn


def test_precision_and_recall_on_the_violating_set() -> None:
    tp, fp, fn = _scores()
    print(f"\n{'family':28} {'tp':>4} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>7}")
    for fam in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[fam] / ((tp[fam] + fp[fam]) or 1)
        r = tp[fam] / ((tp[fam] + fn[fam]) or 1)
        print(f"{fam:28} {tp[fam]:4} {fp[fam]:3} {fn[fam]:3} {p:9.3f} {r:7.3f}")
    t, f_p, f_n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    precision, recall = t / (t + f_p), t / (t + f_n)
    print(f"{'all':28} {t:4} {f_p:3} {f_n:3} {precision:9.3f} {recall:7.3f}")
    assert t >= 200, "too few labelled violations for the figures to mean anything"
    assert precision >= 0.95
    assert recall >= 0.95


def test_item_level_detection() -> None:
    """Whether an item is flagged at all: violating items are, near misses are not."""
    flagged_wrong = [
        i["id"]
        for i in ITEMS
        if bool(found(i["id"])) != bool(i["expect"]) and i["id"] not in KNOWN_DIFFERENCES
    ]
    assert flagged_wrong == []
    near = [i for i in ITEMS if "near-miss" in i.get("tags", [])]
    assert all(not found(i["id"]) for i in near if i["id"] not in KNOWN_DIFFERENCES)


# --- item by item -----------------------------------------------------------------------


@pytest.mark.parametrize("item_id", [i["id"] for i in ITEMS])
def test_item(item_id: str) -> None:
    item = BY_ID[item_id]
    expected = set(item["expect"])
    if item_id in KNOWN_DIFFERENCES:
        expected = KNOWN_DIFFERENCES[item_id][0]
    assert found(item_id) == expected, verdict(item_id).violations
    if "signoff" in item:
        assert bool(verdict(item_id).signoff) is item["signoff"], verdict(item_id).signoff
    for v in verdict(item_id).violations:
        # Every finding explains itself and locates itself.
        assert v.message and v.fix and v.artifact_id == item_id
        if v.start is not None:
            fields = {**item.get("artifact", {}), **item}
            source = fields[v.field]
            if v.rule == "content.personal-data":
                # The excerpt masks the data it points at: never a copy of it.
                assert v.excerpt == mask(v.excerpt, source[v.start : v.end])
                continue
            assert source[v.start : v.end] == v.excerpt


def test_known_differences_are_real_items() -> None:
    for item_id, (rules, why) in KNOWN_DIFFERENCES.items():
        assert item_id in BY_ID and why
        assert rules != set(BY_ID[item_id]["expect"])


# --- prompt injection -------------------------------------------------------------------


INJECTED = [i for i in ITEMS if "base" in i]


@pytest.mark.parametrize("item_id", [i["id"] for i in INJECTED])
def test_injection_never_weakens_the_verdict(item_id: str) -> None:
    item = BY_ID[item_id]
    with_injection, without = verdict(item_id), verdict(item["base"])
    assert {v.rule for v in without.violations} <= {v.rule for v in with_injection.violations}
    assert with_injection.action.rank >= without.action.rank
    assert "content.instructions-in-copy" in {v.rule for v in with_injection.violations}


def test_injection_items_are_blocked_or_worse() -> None:
    # Every brand blocks or escalates copy that tries to instruct the reviewer.
    for item in ITEMS:
        if "injection" in item.get("tags", []) and "base" in item:
            assert verdict(item["id"]).action.value in ("block", "escalate")
