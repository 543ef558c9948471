"""The semantic model's disk cache: a second process loads what the first trained, a
damaged or foreign file means train again, and the key follows what the model depends on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import python_json
from hypothesis import given, settings
from hypothesis import strategies as st

from conductor._cache import cache_dir
from conductor.brand import _semantic
from conductor.brand._semantic import (
    SemanticModel,
    _char_grams,
    _word_grams,
    load_or_train,
    model_key,
)

FAMS = ("disease", "guarantee")
LANGS = ("en",)
LINES = ["wave goodbye to migraines", "zero downside, guaranteed", "our spring range is here"]


def _cached(folder: Path) -> list[Path]:
    return sorted(folder.glob("semantic-*.pickle"))


def test_second_load_reads_the_file_and_scores_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_or_train(FAMS, LANGS, tmp_path)
    assert len(_cached(tmp_path)) == 1
    assert not list(tmp_path.glob(".semantic-*"))  # no temporary file left behind

    def no_training(self: SemanticModel, *a: object, **k: object) -> None:
        raise AssertionError("trained again although a cached model was there")

    monkeypatch.setattr(SemanticModel, "__init__", no_training)
    again = load_or_train(FAMS, LANGS, tmp_path)
    assert again.classes == first.classes
    low = [_semantic._read_words(x) for x in LINES]
    np.testing.assert_array_equal(again.proba(low), first.proba(low))
    assert [h.family for h in again.hits(LINES[0], dict.fromkeys(FAMS, 0.5))] == [
        h.family for h in first.hits(LINES[0], dict.fromkeys(FAMS, 0.5))
    ]


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05N."])  # N. = None
def test_a_damaged_cache_file_is_trained_again_and_replaced(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / f"semantic-{model_key(FAMS, LANGS)}.pickle"
    path.write_bytes(damage)
    model = load_or_train(FAMS, LANGS, tmp_path)
    assert isinstance(model, SemanticModel)
    assert path.stat().st_size > 1000  # replaced by a real model


def test_key_follows_families_languages_and_exemplars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = model_key(FAMS, LANGS)
    assert model_key(FAMS, ("en", "es")) != base
    assert model_key(("disease",), LANGS) != base
    # Another set of exemplar files (an edited pack) is another model.
    other = tmp_path / "semantic"
    other.mkdir()
    for f in _semantic.SEMANTIC_DIR.glob("*.yaml"):
        (other / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(_semantic, "SEMANTIC_DIR", other)
    assert model_key(FAMS, LANGS) == base
    (other / "health.yaml").write_text((other / "health.yaml").read_text() + "\n# edited\n")
    assert model_key(FAMS, LANGS) != base


def test_cache_folder_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.setenv("CONDUCTOR_CACHE_DIR", "off")
    assert cache_dir() is None
    monkeypatch.delenv("CONDUCTOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "conductor"


def test_cache_off_or_unwritable_still_gives_a_model(tmp_path: Path) -> None:
    assert isinstance(load_or_train(FAMS, LANGS, None), SemanticModel)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    assert isinstance(load_or_train(FAMS, LANGS, blocker / "sub"), SemanticModel)


def test_a_cached_model_scores_in_a_process_without_scikit_learn(tmp_path: Path) -> None:
    # `check-copy` loads the cached model: scoring must need numpy, not scikit-learn or
    # scipy (seconds of imports), and give the same numbers as the model that trained.
    trained = load_or_train(FAMS, LANGS, tmp_path)
    low = [_semantic._read_words(x) for x in LINES]
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from conductor.brand._semantic import load_or_train, _read_words\n"
        f"m = load_or_train({FAMS!r}, {LANGS!r}, Path({str(tmp_path)!r}))\n"
        f"p = m.proba([_read_words(x) for x in {LINES!r}])\n"
        "print(json.dumps([p.tolist(), [n for n in ('sklearn', 'scipy', 'wordllama') "
        "if n in sys.modules]]))"
    )
    proba, loaded = python_json(probe)
    assert loaded == []
    np.testing.assert_array_equal(np.array(proba), trained.proba(low))


_WORDS = st.lists(
    st.sampled_from([*"abcxyz éçßΣΑİ0129_-'!.,#🚫\t\n ", "cure", "ΣΑΣ ", "  "]), max_size=40
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_WORDS)
def test_the_gram_analysers_are_scikit_learns(text: str) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2)).build_analyzer()
    assert sorted(_char_grams(text)) == sorted(chars(text))
    assert sorted(_word_grams(text)) == sorted(words(text))
