"""`conductor parse-goal`, `plan` and `graph` through the real CLI: offline, no key,
nothing run and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Cli

GOAL = (
    "Grow online revenue 12% in Q3 2027 with a $250k budget across SEM, Meta and email, "
    "no TikTok; keep CPA under $40"
)

PIPELINE = """\
pipeline: planned
goal: "Grow online revenue 12% in Q3 2027 with a $250k budget across search, social and email"
today: 2027-01-10
steps:
  notes: {agent: test_note, with: {label: N}}
  tagline: {agent: test_tagline, needs: [notes], with: {product: trail shoes}, approve: [lead]}
approvers: {lead: [dana]}
"""


@pytest.fixture
def cli(sqlite_cli: Cli) -> Cli:
    return sqlite_cli  # nothing here touches a store: one backend is enough


def test_parse_goal_json_has_typed_fields_and_spans(cli: Cli) -> None:
    r = cli("parse-goal", GOAL, "--today", "2027-01-10", "--json")
    assert r.returncode == 0, r.stderr
    goal = json.loads(r.stdout)
    assert goal["objective"] == "grow_revenue"
    assert goal["budget"] == {"amount": 250000.0, "currency": "USD"}
    assert (goal["horizon"]["start"], goal["horizon"]["end"]) == ("2027-07-01", "2027-09-30")
    assert goal["channels"] == ["paid_search", "social", "email"]
    assert goal["excluded_channels"] == ["tiktok"]
    span = goal["spans"]["budget"]
    assert GOAL[span["start"] : span["end"]] == "$250k" == span["text"]


def test_parse_goal_human_output_shows_where_values_came_from(cli: Cli) -> None:
    r = cli("parse-goal", GOAL, "--today", "2027-01-10")
    assert r.returncode == 0, r.stderr
    assert "'$250k'" in r.stdout and "'CPA under $40'" in r.stdout
    assert "CPA at most 40 USD" in r.stdout


def test_unreadable_goal_is_one_clear_error_with_an_example(cli: Cli) -> None:
    r = cli("parse-goal", "make things better")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "goal.unparsed" in r.stderr and "e.g." in r.stderr


def test_plan_shows_specs_with_provenance_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = cli("plan", "p.yaml")
    assert r.returncode == 0, r.stderr
    assert "parameter: with.product" in r.stdout
    assert "Nothing was run or written." in r.stdout
    assert "sign-off by lead" in r.stdout

    data = json.loads(cli("plan", "p.yaml", "--json").stdout)
    tagline = data["steps"]["tagline"]
    assert tagline["spec"] == {"product": "trail shoes", "channel": "social", "tone": "warm"}
    assert tagline["provenance"]["product"] == {"source": "parameter", "detail": "with.product"}
    assert tagline["provenance"]["tone"]["source"] == "default"
    assert tagline["spec_hash"].startswith("sha256:")
    assert data["goal"]["budget"]["amount"] == 250000.0
    assert not (tmp_path / ".conductor").exists()
    assert not (tmp_path / "counts" / "notes.count").exists()


def test_graph_prints_mermaid_with_step_and_gate_nodes(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = cli("graph", "p.yaml", "--internal")
    assert r.returncode == 0, r.stderr
    assert r.stdout.lstrip("-\n").find("graph TD") >= 0
    for node in ("notes(notes)", "tagline(tagline)", "tagline.gate"):
        assert node.replace(".", "\\2e") in r.stdout or node in r.stdout
    assert "notes -.-> tagline;" in r.stdout
