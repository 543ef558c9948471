"""Inspection commands end to end on real runs: full and prefix run ids, logs, graph, agents."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli

GATED = """\
pipeline: gated
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A}}
  b: {agent: test_follow, needs: [a], with: {label: B}, approve: [lead]}
approvers: {lead: [dana]}
"""

FAILING = """\
pipeline: failing
goal: {objective: grow_revenue, kpi: revenue}
steps:
  a: {agent: test_note, with: {label: A, fail: true}}
"""

LONG_ID = "repeat-purchase-2026-12-03-abcdef"


def _narrow(cli: Cli) -> Cli:
    return Cli(cwd=cli.cwd, env=cli.env | {"COLUMNS": "60"})


def test_runs_shows_full_ids_even_on_a_narrow_terminal(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GATED)
    assert sqlite_cli("run", "p.yaml", "--run-id", LONG_ID, "-q").returncode == 3
    r = _narrow(sqlite_cli)("runs")
    assert r.returncode == 0, r.stderr
    assert LONG_ID in r.stdout and "…" not in r.stdout


def test_every_run_command_accepts_a_unique_prefix(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GATED)
    assert sqlite_cli("run", "p.yaml", "--run-id", LONG_ID, "-q").returncode == 3
    st = sqlite_cli("status", "repeat-pur", "--json")
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["run"]["run_id"] == LONG_ID
    audit = sqlite_cli("audit", "--run", "repeat", "--json")
    assert json.loads(audit.stdout)[0]["run_id"] == LONG_ID
    ok = sqlite_cli("approve", "repeat-p", "b", "--as", "dana")
    assert ok.returncode == 0, ok.stderr
    assert sqlite_cli("report", "rep").returncode == 0


def test_an_ambiguous_prefix_lists_the_matches(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FAILING)
    for rid in ("fail-one", "fail-two"):
        assert sqlite_cli("run", "f.yaml", "--run-id", rid, "-q").returncode == 1
    r = sqlite_cli("status", "fail")
    assert r.returncode == 2
    assert "run.ambiguous" in r.stderr and "fail-one" in r.stderr and "fail-two" in r.stderr
    assert "Traceback" not in r.stderr
    # A prefix is literal: LIKE wildcards and case do not widen it.
    assert "run.unknown" in sqlite_cli("status", "FAIL").stderr
    assert "run.unknown" in sqlite_cli("status", "fail_").stderr
    assert sqlite_cli("resume", "fail-t").returncode == 1  # resolved, retried, fails again


def test_logs_prints_the_traceback_unescaped(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FAILING)
    assert sqlite_cli("run", "f.yaml", "--run-id", "crash-run", "-q").returncode == 1
    r = sqlite_cli("logs", "crash", "a")
    assert r.returncode == 0, r.stderr
    assert "agent crashed" in r.stdout
    assert "Traceback (most recent call last):\n" in r.stdout
    assert 'raise RuntimeError("the test agent was told to fail")' in r.stdout
    assert "\\n" not in r.stdout
    missing = sqlite_cli("logs", "crash-run", "nosuch")
    assert missing.returncode == 2 and "run.unknown-step" in missing.stderr


def test_graph_shows_steps_and_internal_only_on_request(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GATED)
    r = sqlite_cli("graph", "p.yaml")
    assert r.returncode == 0, r.stderr
    assert "gate" not in r.stdout and "s_a --> s_b" in r.stdout
    assert "s_a -.-> s_a" not in r.stdout
    internal = sqlite_cli("graph", "p.yaml", "--internal")
    assert "gate" in internal.stdout


def test_agents_is_a_compact_table_and_one_agent_shows_readable_types(sqlite_cli: Cli) -> None:
    r = sqlite_cli("agents")
    assert r.returncode == 0, r.stderr
    assert "test_note" in r.stdout and "<class" not in r.stdout
    assert "parameter" not in r.stdout and "hold_until" not in r.stdout  # no field lists
    assert len(r.stdout.splitlines()) < 40
    one = sqlite_cli("agents", "budget_allocation")
    assert "<class" not in one.stdout
    assert "float" in one.stdout and "list[str]" in one.stdout
    assert "output" in one.stdout
