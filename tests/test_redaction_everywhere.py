"""Personal data written into the free-text inputs of a run (the goal, a sign-off
comment) reaches no byte the run writes: its files, the store (run index, audit,
checkpoints) and the logs, on SQLite and PostgreSQL (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PG_URL, Cli

from conductor.goals import parse_goal

EMAIL, PHONE, CARD = "jane.doe@example.com", "+1 303 555 0199", "4111 1111 1111 1111"
SECRETS = (EMAIL, PHONE, CARD, "4111111111111111", "303 555 0199")

PIPELINE = f"""\
pipeline: pii
description: "Owner {EMAIL}, desk {PHONE}, billed to {CARD}"
goal: "Grow revenue 10% in Q3 2027 with $200k; questions to {EMAIL} or {PHONE}, card {CARD}"
today: 2026-11-23
steps:
  a: {{agent: test_note, with: {{label: A}}, description: "ask {EMAIL} / {PHONE} / {CARD}"}}
  b:
    agent: test_follow
    needs: [a]
    with: {{label: B}}
    approve: [lead]
    description: "sign-off desk {PHONE}, mail {EMAIL}, card {CARD}"
approvers: {{lead: [dana]}}
"""


def test_the_goal_parser_removes_personal_data_and_says_so() -> None:
    goal = parse_goal(
        f"Grow revenue 10% in Q3 2027 with $200k, call {EMAIL} or {PHONE}, card {CARD}",
        today=None,
    )
    dumped = goal.model_dump_json()
    assert not any(s in dumped for s in SECRETS)
    assert "[EMAIL]" in goal.source_text and "[CARD]" in goal.source_text
    # The placeholder is not read as the email channel, the phone not as an amount.
    assert goal.channels is None and goal.budget is not None and goal.budget.amount == 200_000
    assert any("personal data removed" in w and "a card number" in w for w in goal.warnings)


def _every_byte(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_file_or_store_record_holds_the_personal_data(
    cli: Cli, tmp_path: Path, run_id: str, backend: str
) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    started = cli("run", "p.yaml", "--run-id", run_id)
    assert started.returncode == 3, started.stdout + started.stderr
    comment = f"ok, but ring me on {PHONE} or mail {EMAIL}"
    done = cli("approve", run_id, "b", "--as", "dana", "--comment", comment)
    assert done.returncode == 0, done.stdout + done.stderr
    written = _every_byte(tmp_path / ".conductor")
    for secret in SECRETS:
        assert secret.encode() not in written, secret
    audit = cli("audit", "--run", run_id, "--json")
    assert not any(s in audit.stdout for s in SECRETS)
    assert "[PHONE]" in audit.stdout  # the comment is kept, redacted
    if backend == "postgres":
        import psycopg

        with psycopg.connect(PG_URL) as con:
            rows = con.execute(
                "SELECT row_to_json(t)::text FROM conductor_audit t WHERE run_id = %s", (run_id,)
            ).fetchall()
            rows += con.execute(
                "SELECT row_to_json(t)::text FROM conductor_runs t WHERE run_id = %s", (run_id,)
            ).fetchall()
        dumped = json.dumps(rows)
        assert rows and not any(s in dumped for s in SECRETS)


@pytest.mark.parametrize("text", [EMAIL, PHONE])
def test_goal_warnings_never_quote_it(text: str) -> None:
    goal = parse_goal(f"Grow revenue 10% in Q3 2027 with $200k {text}", today=None)
    assert not any(text in w for w in goal.warnings)
