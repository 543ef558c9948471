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

import importlib.util
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conductor._cache import cache_dir, digest, read_cached, write_cached
from conductor._yaml import read_yaml, to_plain
from conductor.brand._errors import brand_file_error
from conductor.brand._text import _NORMALISE

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
    # The engine scores its scan text, whose quotes are straightened; the exemplars get
    # the same treatment so a curly “quote” and a straight one read alike.
    text = text.translate(_NORMALISE)
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
        raise brand_file_error(
            f"the semantic exemplars in {name}.yaml must be named {name!r}", file=path
        )
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


class _Encoder:
    """WordLlama's packaged model, read from the installed wheel (no network, ever).

    ``WordLlama.load()`` looks for the tokenizer in a folder the wheel does not have and
    then downloads it; the files are in the wheel, so they are opened directly. The
    sentence vector is WordLlama's: the mean of the token embeddings, L2-normalised.
    Llama's tokenizer runs BPE over a whole sentence as one piece (~40 µs a word); its
    pieces never cross a space, so words are tokenized one by one and remembered, which
    gives the same ids for a fraction of the cost.
    """

    _MAX_CACHE = 200_000

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        root = _wordllama_folder()
        self._tok = Tokenizer.from_file(
            str(root / "tokenizers" / "l2_supercat_tokenizer_config.json")
        )
        self._weights = _mapped_tensor(
            root / "weights" / "l2_supercat_256.safetensors", "embedding.weight"
        )
        self._ids: dict[str, list[int]] = {}

    def _word(self, word: str) -> list[int]:
        ids = self._ids.get(word)
        if ids is None:
            if len(self._ids) >= self._MAX_CACHE:
                self._ids.clear()
            ids = self._ids[word] = self._tok.encode(word, add_special_tokens=False).ids
        return ids

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._weights.shape[1]), dtype=np.float64)
        for row, text in enumerate(texts):
            ids = [i for w in text.split() for i in self._word(w)]
            if ids:
                v = self._weights[ids].mean(axis=0, dtype=np.float64)
                n = float(np.linalg.norm(v))
                out[row] = v / n if n else v
        return out


def _wordllama_folder() -> Path:
    """The installed ``wordllama`` package's folder, found without importing it (its
    ``__init__`` loads requests and pydantic models we do not use: ~0.2 s)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:  # pragma: no cover - a declared dependency
        raise ModuleNotFoundError("wordllama is not installed")
    return Path(spec.origin).parent


_SAFETENSORS_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64}


def _mapped_tensor(path: Path, name: str) -> np.ndarray:
    """One tensor of a ``.safetensors`` file, memory-mapped (rows are read when used).

    The format is an 8-byte little-endian header length, a JSON header naming each
    tensor's dtype, shape and byte range after the header, then the bytes. Mapping
    instead of reading the 16 MB table costs nothing per process; values are the same.
    """
    with path.open("rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
    info = header[name]
    start, end = info["data_offsets"]
    dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
    shape = tuple(int(n) for n in info["shape"])
    if end - start != dtype.itemsize * math.prod(shape):
        raise ValueError(f"{path.name}: {name} does not fill its byte range")
    return np.memmap(path, dtype=dtype, mode="r", offset=8 + size + start, shape=shape)


@cache
def _encoder() -> _Encoder:
    return _Encoder()


def _embed(texts: list[str]) -> np.ndarray:
    return _encoder().embed(texts)


# --- the model --------------------------------------------------------------------------


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


def _char_grams(text: str) -> list[str]:
    """scikit-learn's ``char_wb`` analyser, lowercase, n-grams of 2 to 5 characters.

    Each word is padded with a space on each side; a word no longer than ``n`` gives
    itself once and stops the longer sizes. Written out here so that scoring a sentence
    needs neither scikit-learn nor scipy (seconds of imports in every `check-copy`); a
    test pins it to scikit-learn's own analyser.
    """
    out: list[str] = []
    for word in text.lower().split():
        w = f" {word} "
        size = len(w)
        for n in range(2, 6):
            if size <= n:
                out.append(w)
                break
            out.extend(w[i : i + n] for i in range(size - n + 1))
    return out


def _word_grams(text: str) -> list[str]:
    """scikit-learn's ``word`` analyser, lowercase, words and pairs of words."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


class _Grams:
    """One fitted TF-IDF vectorizer folded into the classifier's weights for its columns.

    The vectorizers are binary (a gram counts once per sentence), so a sentence's
    features are a set of columns. Character n-grams never cross a word (``char_wb``),
    so each word's columns are computed once and remembered, and a sentence's are the
    union of its words'. Only plain data is kept (the vocabulary, the weights, a
    module-level analyser), so a pickled model loads with numpy alone.
    """

    _MAX_CACHE = 200_000

    def __init__(
        self,
        analyze: Callable[[str], list[str]],
        vocabulary: Mapping[str, int],
        idf: np.ndarray,
        weights: np.ndarray,
        *,
        per_word: bool,
    ) -> None:
        self._analyze = analyze
        self._vocab: dict[str, int] = {str(g): int(i) for g, i in vocabulary.items()}
        idf = np.asarray(idf, dtype=np.float64)
        self._idf2 = idf * idf
        self._w = np.ascontiguousarray(weights.T * idf[:, None])  # (features, classes)
        self._per_word = per_word
        self._words: dict[str, frozenset[int]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # The per-word memo is rebuilt on use; it is not part of the model.
        return {**self.__dict__, "_words": {}}

    def _columns(self, text: str) -> frozenset[int]:
        vocab = self._vocab
        return frozenset(vocab[g] for g in self._analyze(text) if g in vocab)

    def _word(self, word: str) -> frozenset[int]:
        cols = self._words.get(word)
        if cols is None:
            if len(self._words) >= self._MAX_CACHE:
                self._words.clear()
            cols = self._words[word] = self._columns(word)
        return cols

    def logits(self, low: str) -> np.ndarray:
        if self._per_word:
            cols: set[int] | frozenset[int] = set().union(*(self._word(w) for w in low.split()))
        else:
            cols = self._columns(low)
        if not cols:
            return np.zeros(self._w.shape[1])
        idx = np.fromiter(cols, dtype=np.intp, count=len(cols))
        idx.sort()  # a fixed order of summation: the same text, the same bits
        return np.asarray(self._w[idx].sum(axis=0) / np.sqrt(self._idf2[idx].sum()))


@dataclass(frozen=True)
class _Fitted:
    """What training fitted, kept by the process that trained (never pickled): the
    classifier and the vectorizers, for the test that pins scoring to them."""

    clf: LogisticRegression
    chars: Any
    words: Any

    def features(self, low: list[str]) -> Any:
        from scipy.sparse import csr_matrix, hstack

        emb = csr_matrix(_embed(low))
        return hstack([emb, self.chars.transform(low), self.words.transform(low)]).tocsr()


class SemanticModel:
    """The classifier for one set of families and languages, trained on first use."""

    def __init__(
        self,
        families: tuple[str, ...],
        languages: tuple[str, ...],
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Train on the packs' lines in ``languages``, plus ``extra`` (text, label) pairs
        (used by benchmarks/brand_semantic.py to cross-validate on the tuning corpus)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts: list[str] = []
        labels: list[str] = []
        self._exemplars: dict[str, tuple[list[str], np.ndarray]] = {}
        self._disclosure: re.Pattern[str] | None = None
        tuning = _pack("tuning")["families"]
        for fam in families:
            pack = _pack(FAMILIES[fam])
            spec = pack["families"][fam]
            pos = _lines(spec.get("exemplars"), languages)
            neg = _lines(spec.get("counter"), languages)
            tuned = _lines((tuning.get(fam) or {}).get("exemplars"), languages)
            texts += pos + neg + tuned
            labels += [fam] * len(pos) + ["pass"] * len(neg) + [fam] * len(tuned)
            self._exemplars[fam] = (pos, _embed([_read_words(x) for x in pos]))
            if fam == "testimonial":
                words = _lines(pack.get("disclosures"), languages)
                if words:
                    self._disclosure = re.compile("|".join(words), re.IGNORECASE)
        # Ordinary sentences that claim nothing: the `pass` class of every model, in every
        # shipped language whatever the brand sells in, so a sentence in a language with no
        # claim exemplars reads as no claim rather than as the nearest family by accident.
        plain = _lines(
            _pack("neutral")["families"]["neutral"].get("counter"), sorted(exemplar_languages())
        )
        plain += _lines(tuning["pass"].get("counter"), languages)
        texts += plain
        labels += ["pass"] * len(plain)
        for text, label in extra:
            texts.append(text)
            labels.append(label if label in families else "pass")
        low = [_read_words(t) for t in texts]
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), binary=True)
        words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), binary=True)
        chars.fit(low)
        words.fit(low)
        clf = LogisticRegression(C=10.0, max_iter=5000)
        self._fitted: _Fitted | None = _Fitted(clf, chars, words)
        clf.fit(self._fitted.features(low), labels)
        self._classes = [str(c) for c in clf.classes_]
        self._families = [(i, c) for i, c in enumerate(self._classes) if c != "pass"]
        # Scoring goes through the fitted weights directly: the same arithmetic as
        # predict_proba (a test pins it), without scikit-learn's per-call validation,
        # which costs ~10x the maths on one short sentence, and without its import.
        w = np.asarray(clf.coef_, dtype=np.float64)
        if w.shape[0] == 1:  # two classes: one row for the second; softmax of (-z, z)/2
            w = np.vstack([-w / 2, w / 2])
            bias = np.array([-1.0, 1.0]) * float(clf.intercept_[0]) / 2
        else:
            bias = np.asarray(clf.intercept_, dtype=np.float64)
        dim = _embed(["x"]).shape[1]
        n_chars = len(chars.vocabulary_)
        self._bias, self._w_emb = bias, w[:, :dim]
        self._grams = [
            _Grams(
                _char_grams,
                chars.vocabulary_,
                chars.idf_,
                w[:, dim : dim + n_chars],
                per_word=True,
            ),
            _Grams(
                _word_grams, words.vocabulary_, words.idf_, w[:, dim + n_chars :], per_word=False
            ),
        ]

    def __getstate__(self) -> dict[str, Any]:
        # The scikit-learn objects stay behind: a cached model loads with numpy alone.
        return {**self.__dict__, "_fitted": None}

    def proba(self, low: list[str]) -> np.ndarray:
        """Class probabilities (columns in ``classes``) of each lowered sentence."""
        z = _embed(low) @ self._w_emb.T + self._bias
        for g in self._grams:
            z += np.stack([g.logits(s) for s in low])
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    @property
    def classes(self) -> list[str]:
        """The model's classes: the families it was trained on and ``pass``."""
        return list(self._classes)

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
        proba = self.proba(low)
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


# --- the trained-model cache -----------------------------------------------------------
#
# Training takes seconds (most of a one-line `check-copy`); the result depends only on the
# exemplar files, this module's code, the families, the languages and the library
# versions, so it is kept in the user's cache folder (conductor._cache) under a key made
# of all of them and reused by the next process.

_CACHE_FORMAT = "semantic-model/2"  # 2: plain arrays, no scikit-learn objects


def model_key(families: tuple[str, ...], languages: tuple[str, ...]) -> str:
    """A hash of everything the trained model depends on."""
    from importlib.metadata import PackageNotFoundError, version

    parts: list[bytes | str] = [_CACHE_FORMAT, Path(__file__).read_bytes()]
    for f in sorted(SEMANTIC_DIR.glob("*.yaml")):
        parts += [f.name, f.read_bytes()]
    parts.append(repr((families, languages)))
    for dist in ("scikit-learn", "numpy", "scipy", "wordllama"):
        try:
            parts.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            parts.append(dist)
    return digest(*parts)


def load_or_train(
    families: tuple[str, ...], languages: tuple[str, ...], folder: Path | None
) -> SemanticModel:
    """The trained model from ``folder`` when a valid one is there, else trained and
    saved there (``folder=None``: trained, not saved)."""
    if folder is None:
        return SemanticModel(families, languages)
    path = folder / f"semantic-{model_key(families, languages)}.pickle"
    model = read_cached(path, SemanticModel)
    if model is None:
        model = SemanticModel(families, languages)
        write_cached(path, model)
    return model


@cache
def semantic_model(families: tuple[str, ...], languages: tuple[str, ...]) -> SemanticModel:
    """The model for these families and languages: built once per process, and kept on
    disk between processes (:func:`cache_dir`)."""
    return load_or_train(families, languages, cache_dir())
