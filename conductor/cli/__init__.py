"""The ``conductor`` command: a typer app over the Python API.

``_app`` holds the commands; ``_common`` the consoles and shared options; ``_progress``
prints a run's steps live and its closing lines; ``_show`` formats what the inspection
commands print. Exit codes: 0 ok, 1 failed, 2 invalid input, 3 waiting for approval.
"""

from conductor.cli._app import app, main
from conductor.cli._progress import ConsoleObserver

__all__ = ["ConsoleObserver", "app", "main"]
