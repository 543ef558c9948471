"""YAML files with positions: reading, locating keys, and plain Python values.

Loaded with ruamel's round-trip loader, so every key keeps its line and column and an
error can point at ``file:line:col``. Pipeline loading and validation use it, and so do
brand files and approval files.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError, YAMLFutureWarning, YAMLWarning

from conductor._cache import cache_dir, digest, read_cached, write_cached
from conductor._limits import InputLimits, input_limits, path_problem, special_file_problem
from conductor.errors import ConductorError, PipelineError


@dataclass
class _Doc:
    """The raw YAML tree with positions, for locating errors."""

    file: Path
    root: Any
    text: str

    def pos(self, *path: str | int) -> tuple[int | None, int | None]:
        """1-based (line, column) of the deepest key of ``path`` that exists."""
        return yaml_position(self.root, path)

    def error(
        self, message: str, *path: str | int, code: str, hint: str = "", key: str | None = None
    ) -> PipelineError:
        line, col = self.pos(*path)
        return PipelineError(
            message,
            file=self.file,
            line=line,
            column=col,
            key=key or ".".join(str(p) for p in path),
            code=code,
            hint=hint,
        )


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def yaml_position(
    root: Any, path: Sequence[str | int], start: tuple[int | None, int | None] = (1, 1)
) -> tuple[int | None, int | None]:
    """1-based (line, column) of the deepest key of ``path`` that exists in ruamel data.

    Args:
        root: A document loaded by ruamel's round-trip loader (it keeps positions).
        path: Keys and list indexes from the root, as in a pydantic error's ``loc``.
        start: The answer when not even the first key exists.
    """
    node = root
    best = start
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and key in node:
                if lc is not None:
                    line, col = lc.key(key)
                    best = (line + 1, col + 1)
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                if lc is not None:
                    line, col = lc.item(key)
                    best = (line + 1, col + 1)
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return best


def to_plain(node: Any) -> Any:
    """ruamel's round-trip types -> plain Python (dates stay dates).

    Pydantic then sees ordinary dicts, lists and scalars, and strict types behave as they
    do with JSON.
    """
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


_PATH_HINT = "paths are relative to the file that names them"


def _shown(path: str | Path, most: int = 120) -> str:
    """A path fit for a message: NUL bytes visible, a huge one shortened."""
    text = str(path).replace("\0", "\\0")
    return text if len(text) <= most else f"{text[: most - 30]}...{text[-20:]}"


# ------------------------------------------------------------------------------ limits

_FLOW_CHARS = re.compile(r"[\"'#\[\]{}]")
_NODE_BEFORE = frozenset("\n:-,[{?")
_NUMBERISH = re.compile(r"[-+]?\.?[0-9][0-9a-fA-FxXoObB_.:,eE+-]*")
_NUMBER_TAGS = ("int", "float")


def _starts_node(text: str, i: int) -> bool:
    """True when the character at ``i`` begins a YAML node: only blanks between it and a
    line start, ``:``, ``-``, ``,``, ``[``, ``{`` or ``?`` (a ``[`` inside a word does not)."""
    k = i - 1
    while k >= 0 and text[k] in " \t":
        k -= 1
    return k < 0 or text[k] in _NODE_BEFORE


def _flow_too_deep(text: str, limit: int) -> int | None:
    """Offset of the first ``[`` or ``{`` nested more than ``limit`` deep, or None.

    A quick look before the parser: ruamel's scanner needs seconds to reach a depth of a
    few hundred brackets on one line (it re-checks every open bracket for a key at each
    character), and its composer recurses once per level. Quoted text and comments are
    skipped; a bracket counts only where a node can start, so brackets in plain text do
    not add up. It may miss odd nesting (the event scan still catches that), never the
    reverse.
    """
    depth = 0
    i = 0
    while (m := _FLOW_CHARS.search(text, i)) is not None:
        j = m.start()
        c = text[j]
        i = j + 1
        if c == "#":
            if j == 0 or text[j - 1] in " \t\n":
                end = text.find("\n", j)
                if end < 0:
                    return None
                i = end
        elif c in "]}":
            depth = max(0, depth - 1)
        elif not _starts_node(text, j):
            continue
        elif c == '"':
            k = j + 1
            while (k := text.find('"', k)) >= 0:
                slashes = 0
                while text[k - 1 - slashes] == "\\":
                    slashes += 1
                if slashes % 2 == 0:
                    break
                k += 1
            if k < 0:
                return None
            i = k + 1
        elif c == "'":
            k = j + 1
            while (k := text.find("'", k)) >= 0 and text.startswith("''", k):
                k += 2
            if k < 0:
                return None
            i = k + 1
        else:
            depth += 1
            if depth > limit:
                return j
    return None


def _events(text: str) -> Iterator[Any]:
    """ruamel's parse events, ending quietly at the first syntax error (the real load
    reports it, located, in the caller's words)."""
    try:
        yield from _yaml().parse(text)
    except YAMLError:
        return


def _number_digits(event: Any) -> int:
    """Digits (and letters) of a scalar YAML would read as a number; 0 when it would not."""
    tag = str(event.tag or "")
    value = event.value
    if (event.style is None and _NUMBERISH.fullmatch(value)) or tag.rsplit(":", 1)[-1].lstrip(
        "!"
    ) in _NUMBER_TAGS:
        return sum(ch.isalnum() for ch in value)  # hex digits too; 'e', 'x' are near enough
    return 0


def check_yaml_limits(
    text: str,
    *,
    file: str | Path | None,
    error: Callable[..., ConductorError] = PipelineError,
    limits: InputLimits | None = None,
) -> None:
    """Refuse YAML text that breaks an input limit, before it is loaded.

    One pass over ruamel's parse events (which, unlike its composer, does not recurse),
    counting what loading would build with every alias expanded: nesting depth
    (``yaml.too-deep``), values (``yaml.too-many-nodes``, or ``yaml.alias-bomb`` when
    aliases multiply them or an alias is inside what it names), the length of each value
    (``yaml.too-long``), the digits of each number (``yaml.number-too-long``) and keys
    that are lists or mappings (``yaml.complex-key``, which ruamel cannot even compare).
    Each error is located at the value that broke the limit. Syntax errors are left to
    the load that follows.
    """
    lim = limits or input_limits()
    if (at := _flow_too_deep(text, lim.depth)) is not None:
        line = text.count("\n", 0, at)
        col = at - (text.rfind("\n", 0, at) + 1)
        raise error(
            f"lists and mappings are nested more than {lim.depth} deep",
            file=file,
            line=line + 1,
            column=col + 1,
            code="yaml.too-deep",
            hint=_DEEP_HINT,
        )
    _LimitScan(lim, file, error).run(text)


@dataclass
class _Open:
    """A list or mapping whose end event has not come yet."""

    anchor: str | None
    mapping: bool
    values: int = 1  # itself, then everything inside it, aliases expanded
    below: int = 0  # how deep its contents nest, aliases expanded
    children: int = 0  # keys and values so far (even: the next one is a key)


@dataclass
class _LimitScan:
    """:func:`check_yaml_limits`'s pass over the events."""

    lim: InputLimits
    file: str | Path | None
    error: Callable[..., ConductorError]
    stack: list[_Open] = field(default_factory=list)
    #: anchor -> (values, depth, is a collection) of what an alias to it expands to
    anchors: dict[str, tuple[int, int, bool]] = field(default_factory=dict)
    total: int = 0
    aliased: bool = False

    def fail(self, code: str, message: str, event: Any, hint: str) -> ConductorError:
        mark = event.start_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        return self.error(message, file=self.file, line=line, column=col, code=code, hint=hint)

    def run(self, text: str) -> None:
        for event in _events(text):
            if isinstance(event, ev.CollectionStartEvent):
                self.start(event)
            elif isinstance(event, ev.CollectionEndEvent):
                self.end()
            elif isinstance(event, ev.ScalarEvent):
                self.scalar(event)
            elif isinstance(event, ev.AliasEvent):
                self.alias(event)

    def _at_key(self) -> bool:
        return bool(self.stack) and self.stack[-1].mapping and self.stack[-1].children % 2 == 0

    def _add(self, event: Any, values: int, below: int) -> None:
        """Count a value (``values`` once expanded) into the document and its parent."""
        self.total += values
        if self.total > self.lim.nodes:
            if self.aliased:
                raise self.fail(
                    "yaml.alias-bomb",
                    f"aliases (*name) expand this document to more than {self.lim.nodes:,} values",
                    event,
                    "write the values out, or use fewer nested aliases",
                )
            raise self.fail(
                "yaml.too-many-nodes",
                f"the document has more than {self.lim.nodes:,} values",
                event,
                "split it into smaller files, or set CONDUCTOR_MAX_YAML_NODES",
            )
        if self.stack:
            parent = self.stack[-1]
            parent.values += values
            parent.below = max(parent.below, below)
            parent.children += 1

    def start(self, event: Any) -> None:
        if self._at_key():
            raise self.fail(
                "yaml.complex-key",
                "a key is a list or a mapping",
                event,
                "keys are plain words; quote a key that starts with '[' or '{'",
            )
        if len(self.stack) + 1 > self.lim.depth:
            raise self.fail(
                "yaml.too-deep",
                f"lists and mappings are nested more than {self.lim.depth} deep",
                event,
                _DEEP_HINT,
            )
        self._anchor(event)
        self._add(event, 1, 0)
        if self.stack:  # its own contents are counted into it, then into the parent
            self.stack[-1].values -= 1
        self.stack.append(_Open(event.anchor, isinstance(event, ev.MappingStartEvent)))

    def end(self) -> None:
        done = self.stack.pop()
        if done.anchor:
            self.anchors[str(done.anchor)] = (done.values, done.below + 1, True)
        if self.stack:
            parent = self.stack[-1]
            parent.values += done.values
            parent.below = max(parent.below, done.below + 1)

    def scalar(self, event: Any) -> None:
        if len(event.value) > self.lim.scalar_chars:
            raise self.fail(
                "yaml.too-long",
                f"a value is {len(event.value):,} characters long "
                f"(at most {self.lim.scalar_chars:,})",
                event,
                "keep long text in a file of its own, or set CONDUCTOR_MAX_YAML_SCALAR",
            )
        if (digits := _number_digits(event)) > self.lim.number_digits:
            raise self.fail(
                "yaml.number-too-long",
                f"a number has {digits:,} digits (at most {self.lim.number_digits:,})",
                event,
                "write a number of ordinary size, or quote it if it is an identifier",
            )
        self._anchor(event)
        if event.anchor:
            self.anchors[str(event.anchor)] = (1, 0, False)
        self._add(event, 1, 0)

    def _anchor(self, event: Any) -> None:
        """A second ``&name`` is refused: ruamel only warns, and which one an alias means
        is then easy to get wrong."""
        name = event.anchor
        if name and (str(name) in self.anchors or any(o.anchor == name for o in self.stack)):
            raise self.fail(
                "yaml.syntax",
                f"invalid YAML: the anchor &{name} is defined twice",
                event,
                "give each anchor its own name",
            )

    def alias(self, event: Any) -> None:
        self.aliased = True
        name = str(event.anchor)
        if any(str(o.anchor) == name for o in self.stack if o.anchor):
            raise self.fail(
                "yaml.alias-bomb",
                f"the alias *{name} is inside the value it names, so it would expand without end",
                event,
                "write the value out instead of the alias",
            )
        values, below, collection = self.anchors.get(name, (1, 0, False))
        if collection and self._at_key():
            raise self.fail(
                "yaml.complex-key",
                f"a key is an alias (*{name}) of a list or a mapping",
                event,
                "keys are plain words",
            )
        if len(self.stack) + below > self.lim.depth:
            raise self.fail(
                "yaml.too-deep",
                f"this alias nests lists and mappings more than {self.lim.depth} deep",
                event,
                _DEEP_HINT,
            )
        self._add(event, values, below)


_DEEP_HINT = "a pipeline nests a few levels; check for brackets that are never closed"


def read_text_file(path: Path, *, error: Callable[..., ConductorError] = PipelineError) -> str:
    """A UTF-8 text file's content, refused before reading when it could not be a config file.

    The path's text is checked first (:func:`conductor._limits.path_problem`); the file is
    opened without blocking and checked to be a regular file (a FIFO or a device would
    block or never end) no bigger than ``InputLimits.file_bytes``, and no more than that
    is ever read. Line ends are normalised as ``Path.read_text`` does.
    """
    limits = input_limits()
    if problem := path_problem(path):
        code, message = problem
        raise error(message, file=_shown(path), code=code, hint=_PATH_HINT)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(
            "file not found", file=path, code="file.not-found", hint="check the path"
        ) from None
    except OSError as exc:
        raise error(f"cannot read file: {exc}", file=path, code="file.unreadable") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error(
                "this is a folder, not a file", file=path, code="file.unreadable", hint=_PATH_HINT
            )
        if not stat.S_ISREG(mode):
            code, message = special_file_problem(path) or ("path.special-file", "not a file")
            raise error(message, file=path, code=code, hint="name a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limits.file_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read file: {exc}", file=path, code="file.unreadable") from None
    finally:
        os.close(fd)
    if len(data) > limits.file_bytes:
        raise error(
            f"the file is larger than {limits.file_bytes:,} bytes",
            file=path,
            code="file.too-large",
            hint="a pipeline, brand or taxonomy file is a few kilobytes; "
            "set CONDUCTOR_MAX_FILE_BYTES to allow a bigger one",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"cannot read file: {exc}", file=path, code="file.unreadable") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Parsing a brand or pipeline file (the limits scan, then ruamel's pure-Python loader) is
# a tenth of a `check-copy`. A file that parsed is kept in the user's cache folder with
# its positions, one entry per file path, under a key of its text, the limits it passed
# and this code: the same bytes give the same document, and an edit replaces the entry.
_PARSE_FORMAT = "yaml-parse/1"


@cache
def _parser_code() -> bytes:
    import ruamel.yaml

    return Path(__file__).read_bytes() + str(ruamel.yaml.__version__).encode()


def cached_parse(text: str, source: str, parser: str, parse: Callable[[str], Any]) -> Any:
    """``parse(text)``, or the document it gave last time for this ``source`` and text.

    Args:
        text: The YAML text.
        source: The file it came from (one cache entry per file: an edit replaces it).
        parser: Names ``parse`` in the key (two callers parse the same text their way).
        parse: Checks the limits and loads; its errors are raised, never kept.
    """
    folder = cache_dir()
    if folder is None:
        return parse(text)
    key = digest(_PARSE_FORMAT, parser, text, repr(input_limits()), _parser_code())
    entry = folder / "yaml" / f"{digest(str(Path(source).resolve()))}.pickle"
    hit = read_cached(entry, tuple)
    if hit is not None and len(hit) == 2 and hit[0] == key:
        return hit[1]
    data = parse(text)
    write_cached(entry, (key, data))
    return data


_EXPLICIT_TAG = re.compile(r"(?<![\w!])!!?[\w:/.-]*")


def read_yaml(
    path: Path, *, error: Callable[..., ConductorError] = PipelineError
) -> tuple[Any, str]:
    """Read a YAML file with positions; syntax errors and limits become located errors.

    Raises:
        ConductorError: made by ``error`` -- the file is missing, unreadable, not a
            regular file or too large (:func:`read_text_file`), breaks an input limit
            (:func:`check_yaml_limits`) or is not valid YAML (``yaml.syntax``).
    """
    text = read_text_file(path, error=error)
    return cached_parse(text, str(path), "read_yaml", lambda t: _parse(t, path, error)), text


def _parse(text: str, path: Path, error: Callable[..., ConductorError]) -> Any:
    check_yaml_limits(text, file=path, error=error)
    try:
        with warnings.catch_warnings():
            # ruamel warns on what it tolerates (a reused anchor): a mistake in a config file.
            warnings.simplefilter("error", YAMLWarning)
            warnings.simplefilter("error", YAMLFutureWarning)
            return _yaml().load(text)
    except (YAMLWarning, YAMLFutureWarning) as exc:
        first = next(iter(str(exc).strip().splitlines()), "") or type(exc).__name__
        raise error(f"invalid YAML: {first}", file=path, code="yaml.syntax") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        if "duplicate key" in str(exc):
            problem = "duplicate key " + problem.split("duplicate key", 1)[-1].strip()
        raise error(
            f"invalid YAML: {problem}",
            file=path,
            line=line,
            column=col,
            code="yaml.syntax",
            hint="check indentation and quoting on this line (tabs are not allowed in YAML)",
        ) from None
    except YAMLError as exc:
        raise error(f"invalid YAML: {exc}", file=path, code="yaml.syntax") from None
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        # An explicit tag the value does not fit ("!!int winback", "!!float x"): ruamel's
        # constructor raises a bare ValueError with no position, so point at the first tag.
        tagged = _EXPLICIT_TAG.search(text)
        line = text.count("\n", 0, tagged.start()) + 1 if tagged else None
        raise error(
            f"invalid YAML: a value cannot be read as its tag ({exc})",
            file=path,
            line=line,
            code="yaml.syntax",
            hint="remove the explicit tag (such as !!int) or give a value of that type",
        ) from None
