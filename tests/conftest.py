"""Shared fixtures: hermetic environment, the real CLI in a subprocess, store backends."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tests" / "plugins"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

sys.path.insert(0, str(PLUGINS))


def python_json(code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    """Run ``code`` in a fresh interpreter and return the JSON its last printed line holds.

    For what only a new process shows: which modules a command imports, what a cache
    written by another process gives back.
    """
    import json

    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env if env is not None else {**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _postgres_up() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained-model cache per test process (conductor.brand's semantic model), never
    the developer's own ~/.cache."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _model_cache: Path) -> None:
    """No test sees a real LLM key, a shared store, or the developer's working folder."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CONDUCTOR_MODEL", "CONDUCTOR_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CONDUCTOR_HOME", str(tmp_path / ".conductor"))
    monkeypatch.setenv("CONDUCTOR_CACHE_DIR", str(_model_cache))


@dataclass
class Cli:
    """Runs the real `conductor` command in a subprocess."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "conductor", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "conductor", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def make_env(tmp_path: Path, backend: str = "sqlite") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONDUCTOR_"))}
    env["CONDUCTOR_HOME"] = str(tmp_path / ".conductor")
    env["CONDUCTOR_CACHE_DIR"] = os.environ.get("CONDUCTOR_CACHE_DIR", str(tmp_path / ".cache"))
    env["CONDUCTOR_PLUGINS"] = "conductor_test_agents"
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGINS), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["CONDUCTOR_TEST_COUNTS"] = str(tmp_path / "counts")
    env["COLUMNS"] = "200"
    (tmp_path / "counts").mkdir(exist_ok=True)
    if backend == "postgres":
        env["CONDUCTOR_DATABASE_URL"] = PG_URL
    return env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not _postgres_up():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return str(request.param)


@pytest.fixture
def cli(tmp_path: Path, backend: str) -> Cli:
    return Cli(cwd=tmp_path, env=make_env(tmp_path, backend))


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    return Cli(cwd=tmp_path, env=make_env(tmp_path, "sqlite"))


@pytest.fixture
def run_id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def counts(tmp_path: Path) -> dict[str, int]:
    """How many times each test-agent step executed."""
    return {p.stem: len(p.read_text().splitlines()) for p in (tmp_path / "counts").glob("*.count")}


@pytest.fixture
def write(tmp_path: Path) -> Iterator[object]:
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    yield _write


def run_personalization(
    paths: dict[str, Path],
    out: Path,
    goal: Any,
    *,
    brand: Any = None,
    llm: Any = None,
    seed: int = 7,
    **params: Any,
) -> Any:
    """Run the personalization agent once on data files, as a step would (no runner)."""
    from agents.personalization import PersonalizationAgent, PersonalizationSpec
    from conductor import DataCatalog, DataSource, Inputs, RunContext

    spec = PersonalizationSpec.model_validate(params)
    cat = DataCatalog({k: DataSource(path=v) for k, v in paths.items()})
    out.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(
        run_id="t",
        step="nba",
        agent="personalization",
        goal=goal,
        out_dir=out,
        brand=brand,
        llm=llm,
        seed=seed,
    )
    try:
        return PersonalizationAgent().run(spec, Inputs(upstream={}, catalog=cat), ctx)
    finally:
        cat.close()
