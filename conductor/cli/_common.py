"""What every part of the ``conductor`` command shares: the two consoles, the ``--today``
and ``--json`` options, date parsing and JSON output.

Standard output carries results (tables, JSON, outcome lines); standard error carries
progress, problems and hints, so ``--json`` output can be piped.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = [
    "JsonOpt",
    "RunIdArg",
    "TodayOpt",
    "err",
    "full_run_id",
    "out",
    "parse_today",
    "print_json",
]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def parse_today(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


TodayOpt = Annotated[
    str | None, typer.Option("--today", help="Planning date YYYY-MM-DD (default: today).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


RunIdArg = Annotated[str, typer.Argument(help="Run id, or a unique prefix of it.")]


def full_run_id(ref: str, store: Any = None) -> str:
    """The full id of the run ``ref`` names (the id or a unique prefix), via ``store`` if given.

    Raises:
        RunError: ``run.unknown`` or ``run.ambiguous`` (see :func:`conductor.store.resolve_run_id`).
    """
    from conductor.store import open_store, resolve_run_id

    if store is not None:
        return resolve_run_id(store, ref)
    own = open_store()
    try:
        return resolve_run_id(own, ref)
    finally:
        own.close()
