"""FakeChatModel: a scripted, deterministic chat model that behaves like a real one."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, Field

from conductor.llm import FakeChatModel


class Pick(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(description="A channel.")


def test_plays_text_in_order_with_usage_and_model_name() -> None:
    fake = FakeChatModel(responses=["one", "two"], model_name="gpt-4o-mini")
    first = fake.invoke("12345678")
    assert first.content == "one"
    assert first.usage_metadata == {"input_tokens": 2, "output_tokens": 1, "total_tokens": 3}
    assert first.response_metadata["model_name"] == "gpt-4o-mini"
    assert fake.invoke([HumanMessage(content="x")]).content == "two"
    assert fake.remaining == 0
    assert [m[0].content for m in fake.requests] == ["12345678", "x"]


def test_exhausted_script_says_so() -> None:
    fake = FakeChatModel(responses=["only"])
    fake.invoke("a")
    with pytest.raises(AssertionError, match="script exhausted: request 2 but only 1"):
        fake.invoke("b")


def test_fixed_usage_and_exceptions() -> None:
    fake = FakeChatModel(responses=[ValueError("nope"), "ok"], usage=(7, 3))
    with pytest.raises(ValueError, match="nope"):
        fake.invoke("a")
    assert fake.invoke("a").usage_metadata == {
        "input_tokens": 7,
        "output_tokens": 3,
        "total_tokens": 10,
    }


def test_structured_output_from_dict_model_and_callable() -> None:
    fake = FakeChatModel(
        responses=[
            {"channel": "email"},
            Pick(channel="sms"),
            lambda messages: {"channel": str(messages[-1].content)},
        ]
    )
    structured = fake.with_structured_output(Pick)
    assert structured.invoke("x") == Pick(channel="email")
    assert structured.invoke("x") == Pick(channel="sms")
    assert structured.invoke("social") == Pick(channel="social")


def test_structured_output_include_raw_reports_parse_errors() -> None:
    fake = FakeChatModel(responses=[{"channel": 3}, "{not json", '{"channel": "tv"}'])
    structured = fake.with_structured_output(Pick, include_raw=True)
    bad = structured.invoke("x")
    assert bad["parsed"] is None
    assert bad["parsing_error"] is not None
    assert isinstance(bad["raw"], AIMessage)
    broken = structured.invoke("x")
    assert broken["parsed"] is None
    assert broken["raw"].invalid_tool_calls[0]["args"] == "{not json"
    assert structured.invoke("x")["parsed"] == Pick(channel="tv")


def test_json_mode_and_bind_tools() -> None:
    fake = FakeChatModel(responses=['{"channel": "ooh"}', {"channel": "radio"}, "plain"])
    assert fake.with_structured_output(Pick, method="json_mode").invoke("x") == Pick(channel="ooh")
    tooled = fake.bind_tools([Pick], tool_choice="Pick")
    msg = tooled.invoke("x")
    assert msg.tool_calls[0]["name"] == "Pick"
    assert msg.tool_calls[0]["args"] == {"channel": "radio"}
    assert fake.request_kwargs[1]["tool_choice"] == "Pick"
    assert fake.invoke("x").content == "plain"


def test_copies_share_the_script() -> None:
    fake = FakeChatModel(responses=["a", "b"])
    copy = fake.model_copy()
    assert copy.invoke("x").content == "a"
    assert fake.invoke("x").content == "b"
    assert fake.remaining == copy.remaining == 0


def test_deterministic_across_instances() -> None:
    def run() -> list[object]:
        fake = FakeChatModel(responses=[{"channel": "email"}, "hi"])
        a = fake.bind_tools([Pick]).invoke("q")
        b = fake.invoke("q")
        return [a.tool_calls, a.usage_metadata, b.content, b.usage_metadata]

    assert run() == run()
