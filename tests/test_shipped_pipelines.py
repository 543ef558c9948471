"""Every shipped pipeline validates on a fresh clone: before `conductor demo` has run.

The pipelines are copied to a clean folder (no `demo-out/`, nothing generated), as a
fresh clone has them, and the real `conductor validate` is run on each.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, Cli, make_env

SHIPPED = sorted((ROOT / "pipelines").glob("*.yaml"))
SAMPLE = ROOT / "pipelines" / "data"


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    """The repository's `pipelines/` folder alone, in a folder where no demo has run."""
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    assert not (tmp_path / "demo-out").exists()
    return tmp_path


def test_there_are_shipped_pipelines() -> None:
    assert [p.name for p in SHIPPED] and "growth.yaml" in {p.name for p in SHIPPED}


@pytest.mark.parametrize("pipeline", SHIPPED, ids=lambda p: p.name)
def test_shipped_pipeline_validates_before_the_demo_has_run(
    fresh_clone: Path, pipeline: Path
) -> None:
    cli = Cli(cwd=fresh_clone, env=make_env(fresh_clone))
    r = cli("validate", f"pipelines/{pipeline.name}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"pipelines/{pipeline.name} is valid" in r.stdout
    assert "warning" not in r.stdout.lower(), r.stdout


def test_validate_of_every_shipped_pipeline_at_once(fresh_clone: Path) -> None:
    """`conductor validate pipelines/*.yaml`, as the README and CI run it."""
    cli = Cli(cwd=fresh_clone, env=make_env(fresh_clone))
    r = cli("validate", *(f"pipelines/{p.name}" for p in SHIPPED))
    assert r.returncode == 0, r.stdout + r.stderr


def test_shipped_sample_data_is_small() -> None:
    """A sample, not a data set: it lives in git."""
    size = sum(p.stat().st_size for p in SAMPLE.iterdir() if p.is_file())
    assert size < 400_000, f"pipelines/data/ is {size:,} bytes"
    assert (SAMPLE / "README.md").exists()
