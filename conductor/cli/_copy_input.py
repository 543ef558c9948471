"""Where ``conductor check-copy`` gets its copy: the argument, a file or standard input.

A file is read like every other file Conductor reads (:func:`conductor._yaml.read_text_file`:
regular files only, at most ``CONDUCTOR_MAX_FILE_BYTES``, UTF-8); standard input is read
as bytes and decoded as UTF-8 whatever the terminal's encoding, so a ``PYTHONIOENCODING``
meant for output never garbles the copy. Problems are :class:`~conductor.errors.DataError`
with a ``copy.*`` code (exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from conductor._limits import input_limits
from conductor._yaml import read_text_file
from conductor.errors import DataError

__all__ = ["read_copy"]

STDIN = "-"

_CODES = {
    "file.not-found": "copy.not-found",
    "file.unreadable": "copy.unreadable",
    "file.too-large": "copy.too-large",
}


def _error(message: str, *, file: Any = None, code: str = "", hint: str = "") -> DataError:
    if code == "file.unreadable" and "codec can't decode" in message:
        code, hint = "copy.not-utf8", "save the copy as UTF-8 text"
    elif code == "file.too-large":
        hint = "set CONDUCTOR_MAX_FILE_BYTES to check a bigger copy"
    return DataError(message, file=file, code=_CODES.get(code, code), hint=hint)


def _decode(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(f"cannot read the copy: {exc}", file=where, code="file.unreadable") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_copy(text: str | None, file: str | None) -> str:
    """The copy to check: ``text``, or the content of ``file`` (``-``: standard input).

    Exactly one of them must be given; ``text`` may itself be ``-`` for standard input.
    """
    if (text is None) == (file is None):
        import typer

        raise typer.BadParameter(
            "give the copy as TEXT, or with --file PATH, or '-' to read standard input"
            if text is None
            else "give the copy either as TEXT or with --file, not both"
        )
    if text is not None and text != STDIN:
        return text
    source = file if file is not None else STDIN
    if source != STDIN:
        return read_text_file(Path(source), error=_error)
    limit = input_limits().file_bytes
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read(limit + 1) if stream is not None else sys.stdin.read().encode("utf-8")
    if len(data) > limit:
        raise _error(
            f"the copy on standard input is larger than {limit:,} bytes",
            file="(standard input)",
            code="file.too-large",
        )
    return _decode(data, "(standard input)")
