"""The CLI starts light: heavy libraries load only for the commands that use them.

Behaviour, not timings: a fresh interpreter imports ``conductor.cli`` (or runs
``conductor --help``) and the modules that cost seconds at start-up (issue 20) are not
in ``sys.modules``; plugins are found by their metadata and imported only when used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, python_json

HEAVY = ["langgraph", "duckdb", "scipy", "langchain_core", "sklearn", "agents"]


def _loaded_after(code: str, tmp_path: Path) -> list[str]:
    """Which of HEAVY a fresh interpreter has imported after running ``code``."""
    probe = (
        f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONDUCTOR_HOME": str(tmp_path / "home")}
    env.pop("CONDUCTOR_PLUGINS", None)
    loaded: list[str] = python_json(probe, env=env, cwd=tmp_path)
    return loaded


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    assert _loaded_after("import conductor.cli", tmp_path) == []


def test_help_loads_no_heavy_library(tmp_path: Path) -> None:
    code = (
        "import contextlib, io\n"
        "from conductor.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "    assert main(['validate', '--help']) == 0\n"
        "    assert main(['new', 'agent', '--help']) == 0"
    )
    assert _loaded_after(code, tmp_path) == []


def test_public_names_still_import_from_the_package(tmp_path: Path) -> None:
    # `from conductor import X` loads what X needs, on first use.
    code = "from conductor import Agent, DataNeed, Runner, validate_pipeline"
    assert {"duckdb", "langgraph"} <= set(_loaded_after(code, tmp_path))


def test_asking_for_one_agent_imports_only_its_plugin(tmp_path: Path) -> None:
    # The three built-ins are entry points of this package; asking for the journey
    # agent imports agents.journey, not the budget or personalization agents.
    code = (
        "from conductor.agents import agent_names, get_agent\n"
        "assert {'budget_allocation', 'journey_analytics', 'personalization'} <= "
        "set(agent_names())\n"
        "assert 'agents' not in sys.modules\n"
        "get_agent('journey_analytics')\n"
        "assert 'agents.journey' in sys.modules, sorted(sys.modules)\n"
        "assert 'agents.budget' not in sys.modules\n"
        "assert 'agents.personalization' not in sys.modules"
    )
    assert "agents" in _loaded_after(code, tmp_path)


def test_validating_the_shipped_pipeline_loads_no_model_library(tmp_path: Path) -> None:
    # Validation plans every step, so the agents are imported; the maths libraries they
    # fit with (scipy) load only when a step runs.
    code = (
        "from conductor.pipeline import validate_pipeline\n"
        f"report = validate_pipeline({str(ROOT / 'pipelines' / 'growth.yaml')!r})\n"
        "assert not report.errors, report.errors"
    )
    loaded = _loaded_after(code, tmp_path)
    assert "agents" in loaded  # the steps were planned
    assert "scipy" not in loaded and "sklearn" not in loaded


def test_checking_copy_with_a_cached_model_loads_no_model_library(tmp_path: Path) -> None:
    # The first check trains the semantic model (scikit-learn) and keeps it; every later
    # `check-copy` scores with numpy alone and loads no graph, database or fitting library.
    brand = ROOT / "pipelines" / "brands" / "acme.yaml"
    code = (
        "import contextlib, io, os\n"
        f"os.environ['CONDUCTOR_CACHE_DIR'] = {str(tmp_path / 'cache')!r}\n"
        "from conductor.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main(['check-copy', '--brand', {str(brand)!r}, '--channel', 'sms', "
        "'Prices nobody can beat, hurry before it is gone forever. Reply STOP to opt out.'])\n"
        "assert code == 1, (code, out.getvalue())\n"
        "assert 'claims.semantic.urgency' in out.getvalue(), out.getvalue()"
    )
    assert "sklearn" in _loaded_after(code, tmp_path)  # first use: trained
    assert _loaded_after(code, tmp_path) == []  # then: read from the cache


def test_help_still_lists_every_command() -> None:
    from conductor.cli import app

    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    assert {"validate", "run", "runs", "inbox", "check-copy", "demo"} <= set(names)
    groups = [
        g.name or (g.typer_instance.info.name if g.typer_instance else "")
        for g in app.registered_groups
    ]
    assert "new" in groups
    names += [str(g) for g in groups]
    proc = subprocess.run(
        [sys.executable, "-m", "conductor", "--help"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert set(names) <= listed, proc.stdout
