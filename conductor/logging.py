"""Logging: structlog configured once, PII redacted before anything is written.

People get a quiet, readable console (warnings and errors by default); machines get JSON
lines per run in ``<run folder>/run.log.jsonl``. Every event carries ``run_id``, ``step``
and ``agent`` when known (bound with :func:`structlog.contextvars.bind_contextvars`).
The :func:`redact_pii` processor runs before any renderer, so emails, phone numbers,
card numbers, IBANs and national ids never reach a file or a terminal.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from conductor._pii import redact

__all__ = [
    "configure_logging",
    "configure_logging_once",
    "redact_data",
    "redact_pii",
    "redact_text",
    "run_log_file",
]


def redact_text(text: str) -> str:
    """Replace emails, phone numbers, card numbers (Luhn-valid), IBANs and national ids.

    The detectors are :mod:`conductor._pii`'s, the ones the brand rule
    ``content.personal-data`` uses, so what the brand review flags in copy is what the
    log never shows.
    """
    return redact(text)


def redact_data(value: Any) -> Any:
    """``value`` with :func:`redact_text` applied to every string in it (dicts, lists and
    tuples are copied; keys are kept)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_data(v) for v in value)
    return value


_redact = redact_data


def redact_pii(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact PII in every value of the event."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact(value)
    return event_dict


class _RunFileSink:
    """Writes JSON lines to the current run's log file (thread-safe)."""

    def __init__(self) -> None:
        self._fh: TextIO | None = None
        self._lock = threading.Lock()

    def open(self, path: Path) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __call__(
        self, _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        with self._lock:
            if self._fh is not None:
                self._fh.write(json.dumps(dict(event_dict), default=str) + "\n")
                self._fh.flush()
        return event_dict


_SINK = _RunFileSink()
_CONFIGURED = False

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS |= {"error": logging.ERROR, "critical": logging.CRITICAL}


def configure_logging(level: str | None = None, *, json_console: bool = False) -> None:
    """Configure structlog once for the process (idempotent; later calls change the level).

    Args:
        level: Minimum level shown on the console (the run file gets everything).
        json_console: Print JSON lines instead of the pretty console format.
    """
    global _CONFIGURED
    # The CLI shows progress and errors itself; structlog's console output is for
    # people debugging (CONDUCTOR_LOG_LEVEL=info). Run files always get everything.
    level = level or os.environ.get("CONDUCTOR_LOG_LEVEL", "critical")
    console_level = _LEVELS.get(level.lower(), logging.CRITICAL)

    def console_filter(
        _: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if _LEVELS.get(method, logging.INFO) < console_level:
            raise structlog.DropEvent
        # People get one line; the traceback stays in the run's JSON log.
        event_dict.pop("traceback", None)
        return event_dict

    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_console
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # The traceback is text too (an exception's message may quote an address),
            # so it is rendered before the redaction runs, not after.
            structlog.processors.format_exc_info,
            redact_pii,
            _SINK,
            console_filter,
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    _CONFIGURED = True


def configure_logging_once() -> None:
    """Configure logging with defaults unless it is configured already (the CLI, a runner)."""
    if not _CONFIGURED:
        configure_logging()


def run_log_file(path: Path | None) -> None:
    """Send JSON lines to ``path`` (the run's log), or stop with ``None``."""
    if path is None:
        _SINK.close()
    else:
        _SINK.open(path)
