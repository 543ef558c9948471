"""Input limits: how big, deep and long anything Conductor reads from a file may be.

Every YAML file (pipelines, brands, brand packs, channel taxonomies, edited artifacts)
and every path a pipeline names are checked against these before they are used, so a
mangled or hostile file is a clear error instead of a crash, a hang or a full memory.
Each limit can be raised with an environment variable (read on every check, so tests
and one-off runs can change it); docs/pipelines.md § Limits lists them.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = [
    "InputLimits",
    "data_path_problem",
    "input_limits",
    "path_problem",
    "special_file_problem",
    "sql_file_problem",
]


@dataclass(frozen=True)
class InputLimits:
    """The limits in force (defaults; each field's ``env`` variable overrides it)."""

    file_bytes: int = 5_000_000
    """Size of one YAML file (``CONDUCTOR_MAX_FILE_BYTES``)."""
    depth: int = 100
    """Nesting of mappings and lists, aliases expanded (``CONDUCTOR_MAX_YAML_DEPTH``)."""
    nodes: int = 100_000
    """Values in one YAML document, aliases expanded (``CONDUCTOR_MAX_YAML_NODES``)."""
    scalar_chars: int = 1_000_000
    """Characters in one YAML value or key (``CONDUCTOR_MAX_YAML_SCALAR``)."""
    number_digits: int = 1_000
    """Digits in one YAML number (``CONDUCTOR_MAX_NUMBER_DIGITS``)."""
    path_chars: int = 4_096
    """Characters in a path a file names (``CONDUCTOR_MAX_PATH``)."""
    path_part_chars: int = 255
    """Characters in one folder or file name of such a path (``CONDUCTOR_MAX_PATH_PART``)."""


_ENV = {
    "file_bytes": "CONDUCTOR_MAX_FILE_BYTES",
    "depth": "CONDUCTOR_MAX_YAML_DEPTH",
    "nodes": "CONDUCTOR_MAX_YAML_NODES",
    "scalar_chars": "CONDUCTOR_MAX_YAML_SCALAR",
    "number_digits": "CONDUCTOR_MAX_NUMBER_DIGITS",
    "path_chars": "CONDUCTOR_MAX_PATH",
    "path_part_chars": "CONDUCTOR_MAX_PATH_PART",
}


def input_limits() -> InputLimits:
    """The limits now: the defaults, each overridden by its environment variable when set
    to a positive whole number (anything else is ignored)."""
    given: dict[str, int] = {}
    for f in fields(InputLimits):
        raw = os.environ.get(_ENV[f.name], "").strip()
        if raw.isdigit() and len(raw) < 19 and int(raw) > 0:
            given[f.name] = int(raw)
    return InputLimits(**given)


def path_problem(path: str | Path) -> tuple[str, str] | None:
    """What is wrong with a path's text, as ``(code, message)``; None when it is usable.

    Only the text is looked at (no file is touched): a NUL byte, or more characters than
    any file system takes, which the operating system would reject with a crash-like
    error deep inside whatever first used the path.
    """
    text = str(path)
    limits = input_limits()
    if "\0" in text:
        return "path.nul-byte", "the path contains a NUL byte (\\0)"
    if len(text) > limits.path_chars:
        return (
            "path.too-long",
            f"the path is {len(text):,} characters long (at most {limits.path_chars:,})",
        )
    longest = max(Path(text).parts, key=len, default="")
    if len(longest) > limits.path_part_chars:
        return (
            "path.too-long",
            f"a folder or file name in the path is {len(longest):,} characters long "
            f"(at most {limits.path_part_chars:,})",
        )
    return None


def special_file_problem(path: Path) -> tuple[str, str] | None:
    """``(code, message)`` when ``path`` exists but is neither a regular file nor a folder.

    A FIFO, socket or device would block or never end when read, so it is refused without
    being opened (``os.stat`` does not open it). A missing or unreadable path is left to
    the caller's own "not found" check (None).
    """
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return "path.special-file", f"not a regular file: it is {kind}"


def data_path_problem(path: Path) -> tuple[str, str] | None:
    """``(code, message)`` for a data source's path (a file or a glob such as
    ``spend_*.csv``): its text (:func:`path_problem`), then every file it matches
    (:func:`special_file_problem`). None when it is usable or simply matches nothing."""
    if problem := path_problem(path):
        return problem
    if not path.name:
        return "path.no-file-name", f"{path} names no file (it is the root of a drive)"
    try:
        # At most this many matches are looked at: a name of '**' walks the whole tree.
        matches = list(itertools.islice(path.parent.glob(path.name), 10_000))
    except (OSError, ValueError):
        return None
    for match in matches:
        if problem := special_file_problem(match):
            code, message = problem
            return code, f"{match}: {message}" if match != path else message
    return None


_SQL_STRING = re.compile(r"'((?:[^']|'')*)'")


def sql_file_problem(sql: str, base: Path) -> tuple[str, str] | None:
    """``(code, message)`` when a string literal of a DuckDB query names a FIFO, socket or
    device (``read_csv('pipe.csv')`` would block DuckDB for ever); None otherwise.

    Every literal that could be a path is looked up, relative to ``base`` as DuckDB's
    ``file_search_path`` reads it; a path built by the query itself is not seen.
    """
    for literal in _SQL_STRING.findall(sql):
        text = literal.replace("''", "'")
        if not text or path_problem(text):
            continue
        path = Path(text) if Path(text).is_absolute() else base / text
        problem = data_path_problem(path)
        if problem is not None and problem[0] == "path.special-file":
            return problem[0], f"the query reads {text!r}: {problem[1]}"
    return None
