"""Model answers of any size: an answer or a string field over the limit is refused as
invalid and retried like any other invalid answer, and warnings quote only an excerpt
(issue 16: a 40 MB `audience` went into the spec and was quoted in full)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, ConfigDict

from conductor.errors import LLMError
from conductor.goals import parse_goal_with_llm
from conductor.llm import AnswerLimits, FakeChatModel, UsageLedger, structured_call


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    lines: list[str]


SMALL = {"title": "ok", "lines": ["a", "b"]}


def test_a_huge_field_is_refused_and_retried() -> None:
    huge = {"title": "x" * 70_000, "lines": []}
    fake = FakeChatModel(responses=[huge, SMALL])
    led = UsageLedger()
    assert structured_call(fake, Note, "note", ledger=led, purpose="t") == Note(**SMALL)
    feedback = fake.requests[1][-1].content
    assert "title: 70,000 characters; at most 64,000" in feedback
    # The rejected answer echoed back is cut, not sent again in full.
    assert len(fake.requests[1][-2].content) <= 2_000
    assert [r.error for r in led.calls] == ["llm.invalid-output", None]


def test_a_huge_string_deep_in_a_list_is_found() -> None:
    fake = FakeChatModel(responses=[{"title": "t", "lines": ["a", "y" * 100]}, SMALL])
    limits = AnswerLimits(max_field_chars=50)
    assert structured_call(fake, Note, "n", purpose="t", limits=limits) == Note(**SMALL)
    assert "lines[1]: 100 characters" in fake.requests[1][-1].content


def test_a_huge_answer_is_refused_even_when_every_field_is_short() -> None:
    many = {"title": "t", "lines": ["z" * 10] * 1_000}
    fake = FakeChatModel(responses=[many] * 2)
    with pytest.raises(LLMError) as err:
        structured_call(
            fake,
            Note,
            "n",
            purpose="t",
            max_attempts=2,
            limits=AnswerLimits(max_answer_chars=5_000),
        )
    assert err.value.code == "llm.invalid-output"
    assert "at most 5,000 are accepted" in err.value.message


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_LLM_MAX_FIELD_CHARS", "10")
    fake = FakeChatModel(responses=[{"title": "a" * 11, "lines": []}, SMALL])
    assert structured_call(fake, Note, "n", purpose="t") == Note(**SMALL)
    monkeypatch.setenv("CONDUCTOR_LLM_MAX_FIELD_CHARS", "lots")
    with pytest.raises(LLMError) as err:
        structured_call(FakeChatModel(responses=[SMALL]), Note, "n", purpose="t")
    assert (
        err.value.code == "llm.bad-config" and "CONDUCTOR_LLM_MAX_FIELD_CHARS" in err.value.message
    )


def test_a_goal_model_answer_with_a_huge_audience_never_reaches_the_goal() -> None:
    text = "Get more people to sign up in Q3 2027, spending $80k."
    base = {"markets": [], "excluded_channels": [], "constraints": [], "evidence": []}
    huge = {**base, "objective": "acquire", "kpi": "conversions", "audience": "A" * 200_000}
    fake = FakeChatModel(responses=[huge] * 3)
    with pytest.raises(LLMError) as err:
        parse_goal_with_llm(text, today=dt.date(2026, 11, 23), model=fake, force=True)
    assert err.value.code == "llm.invalid-output"
    assert len(err.value.message) < 1_000


def test_warnings_quote_an_excerpt_of_what_the_model_said() -> None:
    text = "Get more people to sign up in Q3 2027, spending $80k."
    base = {"markets": [], "excluded_channels": [], "constraints": []}
    answer = {
        **base,
        "objective": "acquire",
        "kpi": "conversions",
        "audience": "lapsed " * 5_000,
        "evidence": [{"field": "audience", "quote": "lapsed " * 5_000}],
    }
    goal = parse_goal_with_llm(
        text, today=dt.date(2026, 11, 23), model=FakeChatModel(responses=[answer]), force=True
    )
    assert goal.audience is None
    [warning] = [w for w in goal.warnings if w.startswith("audience")]
    assert len(warning) < 500 and "(35,000 characters)" in warning
