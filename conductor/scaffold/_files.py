"""Reading the templates shipped in the package, and writing files without overwriting."""

from __future__ import annotations

import string
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from conductor.errors import ScaffoldError

LINE_LENGTH = 88
"""The line length the generated code keeps: ruff's default, and within the project's 100."""


def template(name: str) -> str:
    """The text of the template ``name`` under ``templates/``."""
    return resources.files("conductor.scaffold").joinpath("templates", name).read_text("utf-8")


def render(name: str, values: Mapping[str, str]) -> str:
    """The template ``name`` with its ``${key}`` placeholders filled from ``values``."""
    return string.Template(template(name)).substitute(values)


def fit(compact: str, exploded: str) -> str:
    """``compact`` when each of its lines fits the line length, else ``exploded``.

    ``exploded`` ends its bracket with a trailing comma, which the formatter keeps as it
    is: either way ``ruff format`` leaves the generated code unchanged.
    """
    return compact if all(len(line) <= LINE_LENGTH for line in compact.splitlines()) else exploded


def refuse_existing(path: Path, what: str, *, empty_folder_ok: bool = False) -> None:
    """Raise when ``path`` exists (with ``empty_folder_ok``, unless it is an empty folder).

    Raises:
        ScaffoldError: ``new.exists``.
    """
    if empty_folder_ok and path.is_dir() and not any(path.iterdir()):
        return
    if path.exists() or path.is_symlink():
        raise ScaffoldError(
            f"{what} already exists; nothing was written",
            path=path,
            code="new.exists",
            hint="a scaffold never overwrites anything: choose another name or folder "
            "(--dir / --out), or move the existing one away",
        )


def write_all(files: Mapping[Path, str]) -> list[Path]:
    """Write every file (folders created), refusing first if any of them exists.

    Raises:
        ScaffoldError: ``new.exists`` (nothing written), ``new.unwritable``.
    """
    for path in files:
        refuse_existing(path, "the file")
    written: list[Path] = []
    for path, text in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        except FileExistsError:  # appeared since the check: still never overwritten
            refuse_existing(path, "the file")
        except OSError as exc:
            raise ScaffoldError(
                f"cannot write {path}: {exc.strerror or exc}",
                path=path,
                code="new.unwritable",
                hint="choose a folder you can write to (--dir / --out)",
            ) from None
        written.append(path)
    return written
