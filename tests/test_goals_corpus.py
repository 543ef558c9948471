"""The goal corpus: every phrasing in tests/goal_corpus.yaml parses to its expected fields."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from conductor.errors import GoalError
from conductor.goals import BusinessGoal, parse_goal

CORPUS = yaml.safe_load((Path(__file__).parent / "goal_corpus.yaml").read_text(encoding="utf-8"))


def _id(item: dict[str, Any]) -> str:
    return str(item["text"])[:60] + f" @{item['today']}"


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def _check_spans(goal: BusinessGoal, text: str) -> None:
    for name, span in goal.spans.items():
        assert text[span.start : span.end] == span.text, name
    for c in goal.constraints:
        assert c.span is not None
        assert text[c.span.start : c.span.end] == c.span.text


def test_corpus_is_big_and_varied() -> None:
    assert len(CORPUS) >= 80
    errors = {item["error"] for item in CORPUS if "error" in item}
    assert {"goal.unparsed", "goal.contradiction", "goal.invalid-horizon"} <= errors
    currencies = {
        item["expect"]["budget"]["currency"]
        for item in CORPUS
        if item.get("expect", {}).get("budget")
    }
    assert {"USD", "EUR", "GBP", "CAD", "SEK"} <= currencies


@pytest.mark.parametrize("item", CORPUS, ids=_id)
def test_corpus_item(item: dict[str, Any]) -> None:
    text, today = item["text"], item["today"]
    assert isinstance(today, dt.date)
    if "error" in item:
        with pytest.raises(GoalError) as info:
            parse_goal(text, today=today)
        assert info.value.code == item["error"], str(info.value)
        assert info.value.hint, "every goal error says how to fix it"
        return
    goal = parse_goal(text, today=today)
    _check_spans(goal, text)
    expect = item["expect"]
    for key, want in expect.items():
        if key == "target":
            if want is None:
                assert goal.target is None
                continue
            assert goal.target is not None, "no target"
            assert goal.target.kind == want["kind"], goal.target
            assert _close(goal.target.value, want["value"]), goal.target
            assert _close(goal.target.baseline, want.get("baseline")), goal.target
        elif key == "budget":
            if want is None:
                assert goal.budget is None, goal.budget
                continue
            assert goal.budget is not None, "no budget"
            assert _close(goal.budget.amount, want["amount"]), goal.budget
            assert goal.budget.currency == want["currency"], goal.budget
        elif key == "horizon":
            assert goal.horizon is not None
            assert (goal.horizon.start, goal.horizon.end) == (want["start"], want["end"])
        elif key == "constraints":
            got = sorted((c.kind, round(c.value, 6), c.channel) for c in goal.constraints)
            exp = sorted((c["kind"], round(c["value"], 6), c.get("channel")) for c in want)
            assert got == exp
        elif key == "defaults":
            for name in want:
                assert name in goal.defaults, goal.defaults
        elif key == "warnings":
            for part in want:
                assert any(part in w for w in goal.warnings), goal.warnings
        elif key == "no_warnings":
            assert goal.warnings == []
        else:
            got = getattr(goal, key)
            got = got.value if hasattr(got, "value") else got
            assert got == want, f"{key}: {got!r} != {want!r}"
