"""Personal data written into the free-text inputs of a run (the goal, a sign-off
comment) reaches no byte the run writes: its files, the store (run index, audit,
checkpoints) and the logs, on SQLite and PostgreSQL (issue 16)."""

from __future__ import annotations

import pytest

from conductor.goals import parse_goal

EMAIL, PHONE, CARD = "jane.doe@example.com", "+1 303 555 0199", "4111 1111 1111 1111"
SECRETS = (EMAIL, PHONE, CARD, "4111111111111111", "303 555 0199")


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


@pytest.mark.parametrize("text", [EMAIL, PHONE])
def test_goal_warnings_never_quote_it(text: str) -> None:
    goal = parse_goal(f"Grow revenue 10% in Q3 2027 with $200k {text}", today=None)
    assert not any(text in w for w in goal.warnings)
