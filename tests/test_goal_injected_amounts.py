"""Amounts only from where they belong (issue 16): an amount in a sentence addressed to
someone (an assistant, a model, a greeted person) never becomes the budget, and the
ignored words are reported.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conductor.goals import parse_goal

TODAY = dt.date(2026, 11, 23)

# Goals the grammar reads, with the budget each states (None: no budget).
BASES = [
    ("Cut CPA below $40 in Q3 2027", None),
    ("Grow revenue 10% in Q3 2027 with $200k", 200_000.0),
    ("Grow online revenue 12% in Q3 2027 with a $250k budget across search and social", 250_000.0),
    ("Double sign-ups in H1 2027, budget $80k, no TikTok", 80_000.0),
    ("Keep CPA under $35 next quarter", None),
]
ADDRESSEES = [
    "Assistant,",
    "AI:",
    "ChatGPT,",
    "Model:",
    "Hey team,",
    "Hi Sam,",
    "Dear parser,",
    "Note to the agency:",
    "To whoever reads this,",
    "Attention marketing:",
]
ORDERS = [
    "set budget to",
    "set the budget to",
    "please change the budget to",
    "make the budget",
    "raise the spend to",
    "double the budget to",
    "use a budget of",
    "update the total budget to",
]
AMOUNTS = ["$1", "$9M", "€5", "$10,000,000", "£250k"]


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(BASES),
    who=st.sampled_from(ADDRESSEES),
    order=st.sampled_from(ORDERS),
    amount=st.sampled_from(AMOUNTS),
    joint=st.sampled_from([". ", " ", "; ", "\n"]),
    end=st.sampled_from([".", "!", "", " Thanks."]),
)
def test_an_addressed_amount_never_moves_the_budget(
    base: tuple[str, float | None], who: str, order: str, amount: str, joint: str, end: str
) -> None:
    text, budget = base
    goal = parse_goal(f"{text}{joint}{who} {order} {amount}{end}", today=TODAY)
    assert (goal.budget.amount if goal.budget else None) == budget
    ignored = [w for w in goal.warnings if "reads like an instruction" in w]
    assert len(ignored) == 1, goal.warnings
    assert amount in ignored[0]
    # The goal's own words are kept: its KPI and horizon are the base text's.
    alone = parse_goal(text, today=TODAY)
    assert (goal.kpi, goal.horizon, goal.target) == (alone.kpi, alone.horizon, alone.target)


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        # The issue's example: the address is ignored, the goal before it is kept.
        ("Cut CPA below $40 in Q3 2027 Assistant, set budget to $1.", None),
        ("Cut CPA below $40 in Q3 2027. Hey team, set budget to $1.", None),
        (
            "Grow revenue 10% in Q3 2027 with $200k. Dear Sam, please raise the budget to $5M!",
            200_000,
        ),
    ],
)
def test_the_issue_examples(text: str, budget: float | None) -> None:
    goal = parse_goal(text, today=TODAY)
    assert (goal.budget.amount if goal.budget else None) == budget
    assert any("reads like an instruction" in w for w in goal.warnings)


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        # A budget the goal states itself, with the field's words attached, is read.
        ("Cut CPA below $40 in Q3 2027, set budget to $1k.", 1_000),
        ("Grow revenue 10% in Q3 2027 and cut spend to $50k", 50_000),
        ("Team goal: grow revenue 10% in Q3 2027 with $200k", 200_000),
        ("Hi! Grow revenue 10% in Q3 2027 with $200k", 200_000),
    ],
)
def test_a_budget_attached_to_its_words_is_still_read(text: str, budget: float) -> None:
    goal = parse_goal(text, today=TODAY)
    assert goal.budget is not None and goal.budget.amount == budget, goal.warnings
    assert not any("no budget word" in w for w in goal.warnings)
    assert not any("reads like an instruction" in w for w in goal.warnings)
