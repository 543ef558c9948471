"""Claims caught by meaning (issue 17 item 2): recall and precision per claim family.

Every line of the labelled realistic corpus ``tests/semantic_corpus/`` (``holdout.yaml``,
never tuned on, and ``tune.yaml``) is checked as one piece of web copy against
``tests/semantic_corpus/brand.yaml`` (all claim packs, en/es/fr/de), three ways: the
deterministic phrase rules alone (``claims.semantic.enabled: false``), the semantic check
alone (only its ``claims.semantic.*`` findings), and both (the engine as shipped).

A line counts as flagged when it gets a claim finding (a ``claims.*`` rule other than the
``*-missing`` ones, which ask for a disclaimer rather than say the line claims anything;
``claims.endorsement.disclosure-missing`` does count: it is the testimonial family).
Recall of a family: its lines flagged / its lines. Precision of a family: the flagged
lines attributed to it (by the semantic family, or the family of the deterministic rule)
that really must be flagged / all flagged lines attributed to it. Overall precision: the
flagged lines labelled with a family / all flagged lines.

Run: ``.venv/bin/python benchmarks/brand_semantic.py [--out FILE] [--misses]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from conductor.brand import BrandStrategy, load_brand, parse_brand
from conductor.specs import Copy

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "semantic_corpus"
FAMILIES = ("disease", "guarantee", "past-performance", "superlative", "urgency", "testimonial")

# The family a deterministic rule's finding belongs to.
_DETERMINISTIC = {
    "claims.health.disease-claim": "disease",
    "claims.finance.guaranteed-returns": "guarantee",
    "claims.finance.promissory": "guarantee",
    "claims.finance.past-performance": "past-performance",
    "claims.superlative": "superlative",
    "claims.endorsement.typical-results": "testimonial",
    "claims.endorsement.invented-review": "testimonial",
    # A testimonial quoting a result without the disclosure: the testimonial family itself.
    "claims.endorsement.disclosure-missing": "testimonial",
}


def lines(part: str) -> list[dict[str, Any]]:
    """The labelled lines of ``third``, ``fresh``, ``holdout`` or ``tune``."""
    doc = yaml.safe_load((CORPUS / f"{part}.yaml").read_text(encoding="utf-8"))
    return list(doc["lines"])


def brands() -> dict[str, BrandStrategy]:
    """The corpus brand with the semantic check on, and with it off."""
    path = CORPUS / "brand.yaml"
    text = path.read_text(encoding="utf-8")
    off = text.replace("claims:\n", "claims:\n  semantic: {enabled: false}\n", 1)
    return {"on": load_brand(path), "off": parse_brand(off, source=str(path))}


def families_found(brand: BrandStrategy, text: str, mode: str) -> set[str]:
    """The claim families the engine attributes its findings on ``text`` to."""
    if mode == "semantic":
        # The model itself: in the engine a sentence a phrase rule already flagged is not
        # reported again, which would hide what the model finds on its own.
        model, thresholds = brand.engine()._semantic
        assert model is not None
        f = brand.engine()._prepare("text", text)
        return {hit.family for hit in model.hits(f.scan, thresholds, raw=f.raw)}
    v = brand.review([Copy(id="line", channel="web", text=text)])
    out: set[str] = set()
    for x in v.violations:
        if x.rule.startswith("claims.semantic."):
            if mode != "deterministic":
                out.add(x.rule.removeprefix("claims.semantic."))
        elif mode != "semantic" and (
            x.rule in _DETERMINISTIC
            or (x.rule.startswith("claims.") and not x.rule.endswith("-missing"))
        ):
            out.add(_DETERMINISTIC.get(x.rule, "other"))
    return out


def score(part: str, mode: str, b: dict[str, BrandStrategy] | None = None) -> dict[str, Any]:
    """Per-family and overall recall/precision of one mode on one part of the corpus."""
    b = b or brands()
    brand = b["off"] if mode == "deterministic" else b["on"]
    found = [(line, families_found(brand, line["text"], mode)) for line in lines(part)]
    res: dict[str, Any] = {"families": {}, "misses": [], "false_alarms": []}
    for fam in FAMILIES:
        mine = [got for line, got in found if line["label"] == fam]
        attributed = [line["label"] for line, got in found if fam in got]
        res["families"][fam] = {
            "lines": len(mine),
            "recall": sum(1 for got in mine if got) / len(mine) if mine else 1.0,
            "flagged": len(attributed),
            "precision": (
                sum(1 for lab in attributed if lab != "pass") / len(attributed)
                if attributed
                else 1.0
            ),
        }
    must = [(line, got) for line, got in found if line["label"] != "pass"]
    flagged = [(line, got) for line, got in found if got]
    tp = sum(1 for _line, got in must if got)
    res["recall"] = tp / len(must)
    res["precision"] = tp / len(flagged) if flagged else 1.0
    res["lines"], res["must_flag"] = len(found), len(must)
    res["false_alarms"] = [line["text"] for line, got in found if got and line["label"] == "pass"]
    res["misses"] = [
        (line["label"], line["text"]) for line, got in found if line["label"] != "pass" and not got
    ]
    return res


def table(part: str, results: dict[str, dict[str, Any]]) -> list[str]:
    modes = list(results)
    head = "| family | lines | " + " | ".join(f"{m} R / P" for m in modes) + " |"
    rows = [head, "|---|---|" + "---|" * len(modes)]
    first = results[modes[0]]
    for fam in FAMILIES:
        cells = [
            f"{r['families'][fam]['recall']:.2f} / {r['families'][fam]['precision']:.2f}"
            for r in results.values()
        ]
        rows.append(f"| {fam} | {first['families'][fam]['lines']} | " + " | ".join(cells) + " |")
    cells = [f"**{r['recall']:.2f} / {r['precision']:.2f}**" for r in results.values()]
    rows.append(
        f"| all (must-flag {first['must_flag']} of {first['lines']}) | | "
        + " | ".join(cells)
        + " |"
    )
    return [f"### {part}", "", *rows, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    ap.add_argument(
        "--part", choices=["holdout", "tune", "fresh", "third", "both", "all"], default="all"
    )
    ap.add_argument("--misses", action="store_true", help="list the misses and false alarms")
    args = ap.parse_args()
    b = brands()
    named = {"both": ["holdout", "tune"], "all": ["third", "fresh", "holdout", "tune"]}
    parts = named.get(args.part, [args.part])
    out = ["# Claims caught by meaning: recall / precision per family", ""]
    for part in parts:
        results = {m: score(part, m, b) for m in ("deterministic", "semantic", "both")}
        out += table(part, results)
        if args.misses:
            both = results["both"]
            out += [f"misses: {m}" for m in both["misses"]]
            out += [f"false alarm: {t}" for t in both["false_alarms"]] + [""]
    report = "\n".join(out)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
