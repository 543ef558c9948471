"""YAML files with positions: reading, locating keys, and plain Python values.

Loaded with ruamel's round-trip loader, so every key keeps its line and column and an
error can point at ``file:line:col``. Pipeline loading and validation use it, and so do
brand files and approval files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

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


def read_yaml(
    path: Path, *, error: Callable[..., ConductorError] = PipelineError
) -> tuple[Any, str]:
    """Read a YAML file with positions; syntax errors become located errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(
            "file not found", file=path, code="file.not-found", hint="check the path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read file: {exc}", file=path, code="file.unreadable") from None
    try:
        return _yaml().load(text), text
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
