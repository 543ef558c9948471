"""Reading rule-pack files: the built-in vocabularies and a brand's custom claim packs.

:func:`builtin` reads one file of ``conductor/brand/vocab/`` once (on first use) and
checks it against what the engine reads from it (:data:`BUILTIN`): every family the
engine needs, nothing it would ignore, patterns in lower case where they run on
lowered text. :func:`load_custom_pack` reads a custom claim pack and checks each of its
examples against its own words and patterns. Every problem is a
:class:`~conductor.errors.BrandError` at ``file:line:col`` with a hint.

:func:`family_sources` and :func:`family_matcher` turn a family into what the engine
scans with: regex sources for the built-in combinations, a phrase family
(:class:`~conductor.brand._family._Family`) for a custom family.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from conductor._cache import cache_dir, digest, read_cached, write_cached
from conductor._yaml import read_yaml, to_plain, yaml_position
from conductor.brand._errors import brand_file_error, schema_error
from conductor.brand._family import _entry, _Family, _Field
from conductor.brand._pack_file import CustomFamily, CustomPackFile, Family, PackFile, expand_gaps
from conductor.brand._text import _NORMALISE, _bounded_phrase, _lower, _lower_phrase, _phrase
from conductor.errors import BrandError

__all__ = [
    "BUILTIN",
    "VOCAB_DIR",
    "CustomPack",
    "builtin",
    "family_matcher",
    "family_sources",
    "load_custom_pack",
]

VOCAB_DIR = Path(__file__).resolve().parent / "vocab"
_DOCS = "docs/brand.md, 'Rule packs as data'"
# Escapes (\s, \W, \b, ...) keep their case; only the letters outside them are checked.
_LETTERS_ESCAPED = re.compile(r"\\.")
# A custom family's name becomes the rule id claims.custom.<name>.
_RULE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class _Use:
    """How the engine reads a built-in family.

    ``text``: its patterns and words are found in copy; ``words``: a word list, read as
    words only. ``case``: the letter case its patterns (text) or words (word lists) must
    be in; built-in text patterns run on lowered copy, so they are lower case.
    """

    kind: Literal["text", "words"] = "text"
    case: Literal["lower", "upper", "any"] = "lower"


_T, _W = _Use(), _Use("words")

BUILTIN: dict[str, dict[str, _Use] | None] = {
    "health": dict.fromkeys(
        (
            "conditions",
            "disease-verbs",
            "cures",
            "condition-nouns",
            "support-verbs",
            "body-functions",
        ),
        _T,
    ),
    "finance": dict.fromkeys(
        (
            "guarantees",
            "not-guaranteed",
            "promises",
            "negatable-promises",
            "performers",
            "performance-verbs",
            "performance-figures",
            "forward-promises",
            "investment-terms",
        ),
        _T,
    ),
    "endorsements": dict.fromkeys(
        (
            "typical-results",
            "outcomes",
            "results-vary",
            "reviews",
            "review-glyphs",
            "review-sources",
        ),
        _T,
    ),
    "superlatives": {"superlatives": _T, "sources": _T},
    "negation": {
        "negators": _W,
        "negating-endings": _W,
        "clause-breaks": _T,
        "not-negations": _W,
    },
    # Text addressed to a reviewer or a model: language-neutral markup, then one family
    # per language (ISO 639-1 code); the engine checks every family on every brand.
    "instructions": dict.fromkeys(("any", "en", "es", "fr", "de"), _T),
    "hygiene": {
        "placeholders": _T,
        "cased-placeholders": _Use(case="any"),
        "opt-out": _T,
        "unsubscribe-link": _T,
        "role-mailboxes": _W,
        "allowed-caps": _Use("words", "upper"),
    },
    # Every family is a sensitive category (its name as brand files write it): words.
    "sensitive": None,
}
"""Each built-in file -> the families the engine reads from it (None: any, as words)."""

_REQUIRED_TEXT = {"health", "finance", "endorsements"}

_M = TypeVar("_M", bound=BaseModel)


def _read(path: Path, model: type[_M]) -> tuple[_M, Any]:
    """A pack file validated against ``model``, with its positioned YAML."""
    data, _text = read_yaml(path, error=brand_file_error)
    if not isinstance(data, Mapping):
        lc = getattr(data, "lc", None)
        raise BrandError(
            "a rule pack must be a mapping of keys ('name:', 'description:', 'families:')",
            file=path,
            line=lc.line + 1 if lc is not None and lc.line is not None else 1,
            column=1,
            code="brand.schema",
            hint=f"see {_DOCS}",
        )
    try:
        return model.model_validate(to_plain(data)), data
    except ValidationError as exc:
        raise schema_error(
            exc, data, str(path), model, code="brand.schema", hint=f"see {_DOCS}"
        ) from None


def _error(path: Path, data: Any, loc: Sequence[str | int], message: str, hint: str) -> BrandError:
    line, col = yaml_position(data, loc)
    return BrandError(message, file=path, line=line, column=col, code="brand.schema", hint=hint)


# --- built-in files ------------------------------------------------------------------------


@cache
def builtin(name: str, folder: Path = VOCAB_DIR) -> PackFile:
    """The built-in pack file ``<folder>/<name>.yaml``, read and checked once.

    Raises:
        BrandError: The file is missing, is not valid YAML, breaks the pack schema or
            does not hold what the engine reads from it; located by line and column.
    """
    path = folder / f"{name}.yaml"
    # Reading and checking the eight built-in files is a third of a `check-copy`; a file
    # that checked once is kept, as checked, under a key of its bytes and the checking code.
    entry = _cache_entry(name, path)
    if entry is not None and (hit := read_cached(entry, PackFile)) is not None:
        return hit  # type: ignore[no-any-return]
    pack, data = _read(path, PackFile)
    _check_builtin(name, pack, path, data)
    if entry is not None:
        write_cached(entry, pack)
    return pack


_PACK_CACHE_FORMAT = "builtin-pack/1"


@cache
def _checking_code() -> bytes:
    """The source of the code that reads and checks a pack, and pydantic's version."""
    import inspect

    import pydantic

    files = (Path(__file__), Path(inspect.getfile(PackFile)), Path(inspect.getfile(read_yaml)))
    return b"\0".join([pydantic.VERSION.encode(), *(f.read_bytes() for f in files)])


def builtin_digest(name: str, folder: Path = VOCAB_DIR) -> str | None:
    """A hash of the built-in pack file ``name`` and the code that checks it (None when
    the file cannot be read): the cache key of what is derived from it."""
    try:
        raw = (folder / f"{name}.yaml").read_bytes()
    except OSError:
        return None  # reading it again says what is wrong
    return digest(_PACK_CACHE_FORMAT, raw, _checking_code())


def _cache_entry(name: str, path: Path) -> Path | None:
    folder = cache_dir()
    key = builtin_digest(name, path.parent)
    return None if folder is None or key is None else folder / f"pack-{name}-{key}.pickle"


def _check_builtin(name: str, pack: PackFile, path: Path, data: Any) -> None:
    if pack.name != name:
        raise _error(
            path,
            data,
            ["name"],
            f"the pack in {name}.yaml must be named {name!r}",
            f"write 'name: {name}'",
        )
    if (pack.required_text is None) == (name in _REQUIRED_TEXT):
        raise _error(
            path,
            data,
            ["required_text"] if pack.required_text else ["name"],
            f"the {name} pack {'needs' if name in _REQUIRED_TEXT else 'takes no'} 'required_text'",
            f"see {_DOCS}",
        )
    uses = BUILTIN[name]
    expected = uses if uses is not None else dict.fromkeys(pack.families, _W)
    for fam_name, fam in pack.families.items():
        use = expected.get(fam_name)
        if use is None:
            raise _error(
                path,
                data,
                ["families", fam_name],
                f"unknown family {fam_name!r}: the engine reads only "
                + ", ".join(repr(f) for f in expected),
                "add entries to an existing family, or put new claims in a custom pack "
                "(claims.packs.custom)",
            )
        _check_family(fam, use, path, data, ["families", fam_name])
    missing = [f for f in expected if f not in pack.families]
    if missing:
        raise _error(
            path,
            data,
            ["families"],
            f"the engine reads family {missing[0]!r} from {name}.yaml, and it is missing",
            "add it back (to switch a rule off for one brand, use review_policy.disabled)",
        )


def _check_family(fam: Family, use: _Use, path: Path, data: Any, loc: list[str | int]) -> None:
    if use.kind == "words" and fam.patterns:
        raise _error(
            path,
            data,
            [*loc, "patterns"],
            "this family is a word list",
            "write its entries under 'words:'",
        )
    entries = fam.words if use.kind == "words" else fam.patterns
    key = "words" if use.kind == "words" else "patterns"
    for i, entry in enumerate(entries):
        letters = _LETTERS_ESCAPED.sub("", entry) if key == "patterns" else entry
        want = letters.lower() if use.case == "lower" else letters.upper()
        if use.case != "any" and letters != want:
            raise _error(
                path,
                data,
                [*loc, key, i],
                f"{key[:-1]} {entry!r} must be in {use.case} case",
                "built-in patterns run on lower-cased copy, so a capital never matches"
                if use.case == "lower"
                else "acronyms are compared in capitals",
            )


def family_sources(fam: Family, *, cased: bool = False) -> tuple[str, ...]:
    """A family as regex sources: its patterns (gaps expanded), then its words.

    Words become word-bounded phrases for lowered text (``cased``: for the text as
    written).
    """
    words = [_bounded_phrase(_phrase(w) if cased else _lower_phrase(w), w) for w in fam.words]
    return (*(expand_gaps(p) for p in fam.patterns), *words)


# --- custom packs ------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomPack:
    """A custom claim pack as loaded: the file, its families, where each is written."""

    source: str
    pack: CustomPackFile
    lines: dict[str, tuple[int | None, int | None]]


def load_custom_pack(path: Path) -> CustomPack:
    """Read and check a custom claim pack.

    Raises:
        BrandError: The file is missing or unreadable, is not valid YAML, breaks the
            pack schema, names a family badly, or has an example its family misses.
    """
    pack, data = _read(path, CustomPackFile)
    for name, fam in pack.families.items():
        loc: list[str | int] = ["families", name]
        if not _RULE_NAME.fullmatch(name):
            raise _error(
                path,
                data,
                loc,
                f"family name {name!r} must be lower-case words joined by '-'",
                f"it becomes the rule id claims.custom.<name>, e.g. "
                f"'{_slug(name) or 'hangover-cures'}'",
            )
        matcher = family_matcher(fam)
        for i, example in enumerate(fam.examples):
            if not matcher.finditer(_example(example)):
                raise _error(
                    path,
                    data,
                    [*loc, "examples", i],
                    f"example {example!r} is not matched by any word or pattern of family {name!r}",
                    "fix the words or patterns, or the example (examples are copy the "
                    "family must catch)",
                )
    lines = {name: yaml_position(data, ["families", name]) for name in pack.families}
    return CustomPack(str(path), pack, lines)


def _slug(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", name.lower()))


def _example(text: str) -> _Field:
    scan = text.translate(_NORMALISE)
    return _Field("example", text, scan, _lower(scan))


def family_matcher(fam: CustomFamily) -> _Family:
    """A custom family as one phrase family: its patterns and words, on whole words."""
    return _Family(
        [
            *(_entry(expand_gaps(p), fam, regex=True) for p in fam.patterns),
            *(_entry(w, fam) for w in fam.words),
        ]
    )
