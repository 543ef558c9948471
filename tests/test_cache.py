"""The cache folder keeps what start-up would otherwise redo — parsed YAML, the checked
built-in packs, their vocabulary — and never changes an answer: the same bytes give the
same document, an edit or another limit is parsed again, an error is never kept, and a
damaged entry is rebuilt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conductor import _yaml
from conductor._cache import digest, read_cached, write_cached
from conductor._yaml import read_yaml, yaml_position
from conductor.brand import _compiled, _vocab
from conductor.errors import ConductorError, PipelineError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CONDUCTOR_CACHE_DIR", str(folder))
    return folder


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("parsed again although the cache had it")

    monkeypatch.setattr(_yaml, "_parse", refuse)


def test_a_file_parses_once_and_keeps_its_positions(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("pipeline: demo\nsteps:\n  a: {agent: x}\n")
    first, _ = read_yaml(f)
    _no_parsing(monkeypatch)
    again, text = read_yaml(f)
    assert again == first and text == f.read_text()
    assert yaml_position(again, ["steps", "a"]) == yaml_position(first, ["steps", "a"]) == (3, 3)
    assert len(list((cache / "yaml").iterdir())) == 1


def test_an_edit_is_parsed_again_in_the_same_entry(cache: Path, tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("a: 1\n")
    assert read_yaml(f)[0] == {"a": 1}
    f.write_text("a: 2\n")
    assert read_yaml(f)[0] == {"a": 2}
    assert len(list((cache / "yaml").iterdir())) == 1  # one entry per file, replaced


def test_errors_are_never_kept(cache: Path, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("a: [1, 2\n")
    for _ in range(2):
        with pytest.raises(PipelineError) as err:
            read_yaml(f)
        assert err.value.code == "yaml.syntax"
    assert not (cache / "yaml").exists()


def test_a_stricter_limit_is_applied_to_a_cached_file(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "deep.yaml"
    f.write_text("a:\n  b:\n    c:\n      d: 1\n")
    read_yaml(f)
    monkeypatch.setenv("CONDUCTOR_MAX_YAML_DEPTH", "2")
    with pytest.raises(ConductorError) as err:
        read_yaml(f)
    assert err.value.code == "yaml.too-deep"


@pytest.mark.parametrize("damage", [b"", b"garbage", b"\x80\x05N."])
def test_a_damaged_entry_is_parsed_again(cache: Path, tmp_path: Path, damage: bytes) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("a: 1\n")
    read_yaml(f)
    (entry,) = (cache / "yaml").iterdir()
    entry.write_bytes(damage)
    assert read_yaml(f)[0] == {"a": 1}
    assert read_cached(entry, tuple) is not None  # rewritten whole


def test_no_cache_folder_still_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_CACHE_DIR", "off")
    f = tmp_path / "p.yaml"
    f.write_text("a: 1\n")
    assert read_yaml(f)[0] == {"a": 1}
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("CONDUCTOR_CACHE_DIR", str(blocker / "sub"))
    assert read_yaml(f)[0] == {"a": 1}


def test_an_object_that_will_not_pickle_is_skipped(tmp_path: Path) -> None:
    write_cached(tmp_path / "x.pickle", lambda: None)  # no error: only speed is lost
    assert read_cached(tmp_path / "x.pickle", object) is None


def test_digest_keeps_parts_apart() -> None:
    assert digest("ab", "c") != digest("a", "bc")
    assert digest(b"x") == digest("x")


def test_built_in_packs_and_their_vocabulary_come_from_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _vocab.builtin.cache_clear()
    _compiled._builtin_vocabulary.cache_clear()
    try:
        packs = {name: _vocab.builtin(name) for name in _vocab.BUILTIN}
        words = _compiled._builtin_vocabulary()
        assert "guaranteed" in words or "guarantee" in words
        _vocab.builtin.cache_clear()
        _compiled._builtin_vocabulary.cache_clear()

        def refuse(*_: Any, **__: Any) -> Any:
            raise AssertionError("read a built-in pack again although the cache had it")

        monkeypatch.setattr(_vocab, "_read", refuse)
        monkeypatch.setattr(_compiled, "vocabulary_words", refuse)
        assert {name: _vocab.builtin(name) for name in _vocab.BUILTIN} == packs
        assert _compiled._builtin_vocabulary() == words
    finally:
        _vocab.builtin.cache_clear()
        _compiled._builtin_vocabulary.cache_clear()


def test_an_edited_built_in_pack_is_read_and_checked_again(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "vocab"
    folder.mkdir()
    src = _vocab.VOCAB_DIR / "negation.yaml"
    (folder / "negation.yaml").write_bytes(src.read_bytes())
    _vocab.builtin.cache_clear()
    try:
        _vocab.builtin("negation", folder)
        _vocab.builtin.cache_clear()
        text = src.read_text().replace("name: negation", "name: not-negation", 1)
        (folder / "negation.yaml").write_text(text)
        with pytest.raises(ConductorError) as err:
            _vocab.builtin("negation", folder)
        assert "must be named 'negation'" in str(err.value)
    finally:
        _vocab.builtin.cache_clear()
