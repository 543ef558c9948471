"""The curated public API: sorted, complete, nothing private leaks; errors carry codes."""

from __future__ import annotations

import re
from pathlib import Path

import conductor
from conductor import errors

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_exists() -> None:
    assert conductor.__all__ == sorted(conductor.__all__)
    for name in conductor.__all__:
        assert hasattr(conductor, name), name
        assert not name.startswith("_")


def test_every_error_is_exported_with_a_code() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ConductorError)
        assert re.fullmatch(r"[a-z]+\.[a-z-]+", cls.default_code), name
        assert name in conductor.__all__


def test_errors_render_location_and_hint() -> None:
    e = errors.PipelineError(
        "unknown key 'x'", file="p.yaml", line=3, column=5, hint="did you mean 'y'?"
    )
    assert str(e) == "p.yaml:3:5: unknown key 'x'\n  hint: did you mean 'y'?"
    d = errors.DataError(
        "required column is missing", source="events", column="channel", file="e.csv"
    )
    assert str(d) == "data source 'events' (e.csv) column 'channel': required column is missing"
    assert d.to_dict()["code"] == "data.invalid"


def test_agents_package_uses_only_the_public_api() -> None:
    for path in (ROOT / "agents").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"from conductor\._|import conductor\._", text), path
