"""Claims caught by meaning: a small offline classifier beside the phrase rules.

Phrase lists cannot enumerate meaning ("wave goodbye to migraines", "zero downside").
This check reads each sentence of a field and scores it against the claim families the
brand's packs turn on (health → ``disease``; finance → ``guarantee`` and
``past-performance``; endorsements → ``testimonial``; ``claims.superlatives`` →
``superlative`` and ``urgency``). It is trained, once per process and configuration, on
the exemplars and counter-exemplars of ``vocab/semantic/*.yaml`` in the brand's
``languages``; nothing is downloaded and the same text always gets the same findings.

The model (chosen on ``tests/semantic_corpus/tune.yaml``, see benchmarks/README.md):

- features: the sentence embedding of WordLlama's ``l2_supercat_256`` (static token
  embeddings averaged; the weights and the tokenizer ship inside the ``wordllama`` wheel,
  loaded here from the installed package, never from a hub), plus TF-IDF over character
  2-5-grams and word 1-2-grams (they carry morphology across languages: cure/cura/guérit);
- a multinomial logistic regression (scikit-learn, lbfgs: deterministic) over the
  enabled families plus ``pass`` (the counter-exemplars);
- a sentence is flagged when its best family's probability reaches the threshold; the
  reason names that family's closest exemplar by embedding cosine.

Hashtags are split into words (``#CureArthritis`` → "Cure Arthritis") and a few emoji
that stand for words are read as those words (🚫 → "no") before scoring; offsets stay
those of the original sentence. A testimonial is not flagged when the copy carries a
disclosure (the pack's ``disclosures``: "results vary", "paid", "#ad", ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conductor._yaml import read_yaml, to_plain
from conductor.brand._errors import brand_file_error

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

__all__ = [
    "FAMILIES",
    "SEMANTIC_DIR",
    "Hit",
    "SemanticModel",
    "exemplar_languages",
    "semantic_model",
    "sentences",
]

SEMANTIC_DIR = Path(__file__).parent / "vocab" / "semantic"

# family -> the pack file (vocab/semantic/<pack>.yaml) that carries its exemplars.
FAMILIES: dict[str, str] = {
    "disease": "health",
    "guarantee": "finance",
    "past-performance": "finance",
    "testimonial": "endorsements",
    "superlative": "superlatives",
    "urgency": "superlatives",
}

# Emoji that marketers use as words ("🚫 arthritis"); the rest stay as they are.
_EMOJI_WORDS = {
    "🚫": " no ",
    "❌": " no ",
    "⛔": " no ",
    "✖": " no ",
    "✅": " yes ",
    "💯": " guaranteed ",
    "⏰": " hurry ",
    "⏳": " hurry ",
    "🔝": " top ",
    "🥇": " number one ",
}
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
# A sentence ends at . ! ? ; : followed by space, or at a line break.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;:])\s+|\n+")
_MAX_SENTENCES = 400  # a bound on the work per field; copy is short, a page is not


@dataclass(frozen=True)
class Hit:
    """A sentence that reads like a claim of a family."""

    family: str
    start: int
    end: int
    score: float
    exemplar: str


def _read_words(text: str) -> str:
    for emoji, word in _EMOJI_WORDS.items():
        if emoji in text:
            text = text.replace(emoji, word)
    if "#" in text:
        text = _HASHTAG.sub(lambda m: " " + _CAMEL.sub(" ", m.group(1)) + " ", text)
    return " ".join(text.split()).lower()


def sentences(text: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the sentences of ``text``, stripped of outer space.

    A sentence of fewer than three words ("Vitalis:", "No.", "Go now.") is joined to the
    next one: alone it has too little meaning to score, and a sender's name or a one-word
    answer would otherwise read like anything.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_BREAK.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if any(c.isalnum() for c in text[a:b]):
            out.append((a, b))
    merged: list[tuple[int, int]] = []
    short = False
    for a, b in out:
        if short:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
        short = len(text[merged[-1][0] : merged[-1][1]].split()) < 3
    return merged[:_MAX_SENTENCES]


# --- the exemplars ----------------------------------------------------------------------


@cache
def _pack(name: str) -> dict[str, Any]:
    data, _ = read_yaml(SEMANTIC_DIR / f"{name}.yaml", error=brand_file_error)
    plain = to_plain(data)
    path = SEMANTIC_DIR / f"{name}.yaml"
    if not isinstance(plain, dict) or plain.get("name") != name:
        raise brand_file_error(f"the semantic exemplars in {name}.yaml must be named {name!r}", file=path)
    # An unquoted "a: b" in a list is a mapping, not a line: say so rather than train on it.
    for fam, spec in (plain.get("families") or {}).items():
        for kind in ("exemplars", "counter"):
            for lang, xs in (spec.get(kind) or {}).items():
                bad = [x for x in xs or () if not isinstance(x, str) or not x.strip()]
                if bad:
                    raise brand_file_error(
                        f"{name}.yaml: families.{fam}.{kind}.{lang} holds {bad[0]!r}, not a "
                        "line of text (quote a line that contains ': ')",
                        file=path,
                    )
    return plain


def _lines(by_lang: Mapping[str, Sequence[str]] | None, languages: Sequence[str]) -> list[str]:
    if not by_lang:
        return []
    return [str(x) for lang in languages for x in by_lang.get(lang) or ()]


@cache
def exemplar_languages() -> frozenset[str]:
    """Every language some shipped pack carries exemplars for."""
    langs: set[str] = set()
    for pack in set(FAMILIES.values()):
        for spec in _pack(pack)["families"].values():
            langs.update(spec.get("exemplars") or {})
    return frozenset(langs)


# --- the encoder ------------------------------------------------------------------------


@cache
def _encoder() -> Any:
    """WordLlama's packaged model, read from the installed wheel (no network, ever).

    ``WordLlama.load()`` looks for the tokenizer in a folder the wheel does not have and
    then downloads it; the files are in the wheel, so they are opened directly.
    """
    import wordllama
    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    root = Path(wordllama.__file__).parent
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np") as f:
        weights = f.get_tensor("embedding.weight")
    return WordLlamaInference(weights, tokenizer)


def _embed(texts: list[str]) -> np.ndarray:
    return np.asarray(_encoder().embed(texts, norm=True), dtype=np.float64)


# --- the model --------------------------------------------------------------------------


class SemanticModel:
    """The classifier for one set of families and languages, trained on first use."""

    def __init__(self, families: tuple[str, ...], languages: tuple[str, ...]) -> None:
        from scipy.sparse import csr_matrix, hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self._hstack, self._csr = hstack, csr_matrix
        texts: list[str] = []
        labels: list[str] = []
        self._exemplars: dict[str, tuple[list[str], np.ndarray]] = {}
        self._disclosure: re.Pattern[str] | None = None
        for fam in families:
            pack = _pack(FAMILIES[fam])
            spec = pack["families"][fam]
            pos = _lines(spec.get("exemplars"), languages)
            neg = _lines(spec.get("counter"), languages)
            texts += pos + neg
            labels += [fam] * len(pos) + ["pass"] * len(neg)
            self._exemplars[fam] = (pos, _embed([_read_words(x) for x in pos]))
            if fam == "testimonial":
                words = _lines(pack.get("disclosures"), languages)
                if words:
                    self._disclosure = re.compile("|".join(words), re.IGNORECASE)
        # Ordinary sentences that claim nothing: the `pass` class of every model.
        plain = _lines(_pack("neutral")["families"]["neutral"].get("counter"), languages)
        texts += plain
        labels += ["pass"] * len(plain)
        low = [_read_words(t) for t in texts]
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        self._words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
        self._chars.fit(low)
        self._words.fit(low)
        self._clf: LogisticRegression = LogisticRegression(C=10.0, max_iter=5000)
        self._clf.fit(self._features(low), labels)
        classes = [str(c) for c in self._clf.classes_]
        self._families = [(i, c) for i, c in enumerate(classes) if c != "pass"]

    def _features(self, low: list[str]) -> Any:
        emb = self._csr(_embed(low))
        return self._hstack([emb, self._chars.transform(low), self._words.transform(low)]).tocsr()

    def hits(
        self, text: str, thresholds: Mapping[str, float], *, raw: str | None = None
    ) -> list[Hit]:
        """The sentences of ``text`` whose best family scores at or above its threshold.

        ``raw`` is the field before the brand's approved text was blanked out of ``text``:
        a testimonial's disclosure is looked for there (the brand's own disclosure is
        approved text).
        """
        spans = sentences(text)
        if not spans or not self._families:
            return []
        low = [_read_words(text[a:b]) for a, b in spans]
        proba = self._clf.predict_proba(self._features(low))
        disclosed = (
            self._disclosure is not None and self._disclosure.search(raw or text) is not None
        )
        out: list[Hit] = []
        for row, (a, b) in enumerate(spans):
            i, fam = max(self._families, key=lambda ic: float(proba[row, ic[0]]))
            score = float(proba[row, i])
            if score < thresholds.get(fam, 1.1) or (fam == "testimonial" and disclosed):
                continue
            out.append(Hit(fam, a, b, score, self._closest(fam, low[row])))
        return out

    def _closest(self, family: str, low: str) -> str:
        pos, vecs = self._exemplars[family]
        if not pos:
            return family
        sims = vecs @ _embed([low])[0]
        return pos[int(np.argmax(sims))]


@cache
def semantic_model(families: tuple[str, ...], languages: tuple[str, ...]) -> SemanticModel:
    """The model for these families and languages, built once per process."""
    return SemanticModel(families, languages)
