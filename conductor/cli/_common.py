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

__all__ = ["JsonOpt", "TodayOpt", "err", "out", "parse_today", "print_json"]

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
