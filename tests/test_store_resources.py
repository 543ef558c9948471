"""A full disk, a read-only file system or a lost database is a clear StoreError with
what to do, never 'internal error ... this is a bug' (issue 16)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from conftest import Cli, make_env

from conductor.errors import StoreError
from conductor.store import resource_error

PIPELINE = """\
pipeline: full
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B}}
"""


def test_a_real_sqlite_full_disk_is_store_full(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "db.sqlite")
    con.execute("CREATE TABLE t (x BLOB)")
    con.commit()
    con.execute(f"PRAGMA max_page_count = {con.execute('PRAGMA page_count').fetchone()[0] + 1}")
    with pytest.raises(sqlite3.OperationalError) as info:
        for _ in range(100):
            con.execute("INSERT INTO t VALUES (randomblob(4096))")
    err = resource_error(info.value)
    assert isinstance(err, StoreError) and err.code == "store.full"
    assert "conductor resume" in err.hint


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/runs/r/report.html"), "store.full"),
        (OSError(errno.EROFS, "Read-only file system", "/runs/r"), "store.read-only"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "store.read-only"),
    ],
)
def test_resource_failures_are_recognised_through_the_cause_chain(
    exc: Exception, code: str
) -> None:
    try:
        try:
            raise exc
        except Exception as inner:
            raise RuntimeError("while checkpointing") from inner
    except RuntimeError as outer:
        err = resource_error(outer)
    assert err is not None and err.code == code


def test_a_bug_is_still_a_bug() -> None:
    assert resource_error(ValueError("nope")) is None
    assert resource_error(OSError(errno.ENOENT, "missing")) is None


def test_the_cli_reports_a_full_store_as_an_error_not_a_bug(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    env["CONDUCTOR_PLUGINS"] += ",conductor_test_full_disk"
    env["CONDUCTOR_TEST_SPARE_PAGES"] = "3"
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = Cli(cwd=tmp_path, env=env)("run", "p.yaml", "--run-id", "full-1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert "(store.full)" in r.stderr and "disk is full" in r.stderr
    assert "conductor resume" in r.stderr


def test_a_store_that_fills_mid_run_stops_the_run_resumably(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    # Room for the schema (runs, audit, submissions and their indexes) and the run's first
    # writes, not for all of them: the store fills after the run started.
    full = dict(env, CONDUCTOR_TEST_SPARE_PAGES="10")
    full["CONDUCTOR_PLUGINS"] += ",conductor_test_full_disk"
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = Cli(cwd=tmp_path, env=full)("run", "p.yaml", "--run-id", "full-2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "stopped: the store's disk is full" in r.stderr and "Traceback" not in r.stderr
    # Space freed (the hook gone): resume finishes the run.
    again = Cli(cwd=tmp_path, env=env)("resume", "full-2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Run full-2 done" in again.stdout
