"""The real openai / langchain-openai client over real HTTP against a scripted server.

Every failure the provider can throw at us ends in a result or in one clear LLMError,
usage and cost are counted for every request, and run limits stop cleanly.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest
from openai_server import (
    ScriptedOpenAI,
    answer,
    hang,
    malformed_body,
    rate_limited,
    server_error,
    status,
)
from pydantic import BaseModel, ConfigDict, Field

from conductor.errors import BudgetExceeded, LLMError
from conductor.llm import (
    Limits,
    RetryPolicy,
    UsageLedger,
    chat_model_from_env,
    metered,
    structured_call,
)

TIMEOUT = 2.0  # well above a local answer even on a loaded machine; below every hang
PRICE_4O_MINI = (120 * 0.15 + 30 * 0.60) / 1e6  # one scripted answer's usage


class Split(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(description="Channel name.")
    amount: float = Field(ge=0, description="Money for it.")


GOOD = {"channel": "email", "amount": 1200.0}


@pytest.fixture
def server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as srv:
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(
    server: ScriptedOpenAI, sleeps: list[float], *, limits: Limits | None = None, retries: int = 3
):
    model = chat_model_from_env(
        {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": server.base_url}, timeout=TIMEOUT
    )
    assert model is not None
    ledger = UsageLedger(run_id="run-1", limits=limits)
    policy = RetryPolicy(max_retries=retries, sleep=sleeps.append, rng=random.Random(0))
    return model, ledger, policy


def call(model, ledger, policy, **kw) -> Split:
    return structured_call(
        model, Split, "split the budget", ledger=ledger, retry=policy, purpose="split", **kw
    )


def test_normal_answer_with_usage_and_cost(server, sleeps) -> None:
    server.script(answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy) == Split(**GOOD)
    (rec,) = ledger.calls
    assert (rec.model, rec.input_tokens, rec.output_tokens, rec.ok) == (
        "gpt-4o-mini",
        120,
        30,
        True,
    )
    assert rec.cost_usd == pytest.approx(PRICE_4O_MINI)
    body = server.requests[0]
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0
    assert body["tool_choice"]["function"]["name"] == "Split"
    assert server.headers[0]["authorization"] == "Bearer sk-test"


def test_dated_model_name_from_the_server_is_priced(server, sleeps) -> None:
    server.script(
        answer(GOOD, model="gpt-4o-2024-08-06", prompt_tokens=1000, completion_tokens=100)
    )
    model, ledger, policy = make(server, sleeps)
    call(model, ledger, policy)
    assert ledger.calls[0].model == "gpt-4o-2024-08-06"
    assert ledger.cost_usd == pytest.approx((1000 * 2.5 + 100 * 10) / 1e6)


def test_429_with_retry_after_then_success(server, sleeps) -> None:
    server.script(rate_limited(retry_after=2), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy) == Split(**GOOD)
    assert sleeps == [2.0]
    assert len(server.requests) == 2  # the SDK did not retry behind our back
    assert [r.error for r in ledger.calls] == ["llm.rate-limited", None]
    assert ledger.cost_usd == pytest.approx(PRICE_4O_MINI)


def test_500_then_success(server, sleeps) -> None:
    server.script(server_error(500), server_error(502), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy) == Split(**GOOD)
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]


def test_hang_past_the_timeout_then_success(server, sleeps) -> None:
    server.script(hang(5), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy) == Split(**GOOD)
    assert [r.error for r in ledger.calls] == ["llm.timeout", None]


def test_hang_every_time_ends_in_llm_timeout(server, sleeps) -> None:
    server.script(hang(5), hang(5))
    model, ledger, policy = make(server, sleeps, retries=1)
    with pytest.raises(LLMError) as err:
        call(model, ledger, policy)
    assert err.value.code == "llm.timeout"
    assert err.value.model == "gpt-4o-mini"
    assert "did not answer in time, 2 time(s)" in err.value.message
    assert len(ledger) == 2
    assert ledger.cost_usd == 0


def test_malformed_json_body_is_retried_then_reported(server, sleeps) -> None:
    server.script(malformed_body(), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy) == Split(**GOOD)
    server.script(malformed_body(), malformed_body())
    model, ledger, policy = make(server, sleeps, retries=1)
    with pytest.raises(LLMError) as err:
        call(model, ledger, policy)
    assert err.value.code == "llm.bad-response"
    assert "OPENAI_BASE_URL" in err.value.hint


def test_schema_breaking_json_gets_feedback_then_succeeds(server, sleeps) -> None:
    server.script(answer({"channel": "email", "amount": -5}), answer("{oops"), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy) == Split(**GOOD)
    second = server.requests[1]["messages"]
    assert second[-2]["role"] == "assistant"
    assert "amount: Input should be greater than or equal to 0" in second[-1]["content"]
    third = server.requests[2]["messages"]
    assert "not valid JSON" in third[-1]["content"]
    assert [r.ok for r in ledger.calls] == [False, False, True]
    assert ledger.cost_usd == pytest.approx(3 * PRICE_4O_MINI)
    assert sleeps == []


def test_schema_breaking_json_every_time_is_one_error(server, sleeps) -> None:
    server.script(*[answer({"channel": "email"})] * 3)
    model, ledger, policy = make(server, sleeps)
    with pytest.raises(LLMError) as err:
        call(model, ledger, policy)
    assert err.value.code == "llm.invalid-output"
    assert "amount: Field required" in err.value.message
    assert ledger.totals().failed_calls == 3
    assert ledger.cost_usd == pytest.approx(3 * PRICE_4O_MINI)


def test_model_that_ignores_the_tool_and_answers_text(server, sleeps) -> None:
    server.script(answer("I think email is best.", as_text=True), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy) == Split(**GOOD)


def test_json_mode_over_http(server, sleeps) -> None:
    server.script(answer({"channel": "email"}), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    assert call(model, ledger, policy, method="json_mode") == Split(**GOOD)
    assert server.requests[0]["response_format"] == {"type": "json_object"}


def test_auth_error_is_not_retried(server, sleeps) -> None:
    server.script(status(401, "Incorrect API key provided"), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    with pytest.raises(LLMError) as err:
        call(model, ledger, policy)
    assert err.value.code == "llm.auth"
    assert "OPENAI_API_KEY" in err.value.hint
    assert server.remaining == 1


def test_unreachable_server_is_llm_unavailable(sleeps) -> None:
    with ScriptedOpenAI() as srv:
        url = srv.base_url
    model = chat_model_from_env({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": url}, timeout=TIMEOUT)
    ledger = UsageLedger()
    with pytest.raises(LLMError) as err:
        structured_call(
            model,
            Split,
            "x",
            ledger=ledger,
            purpose="p",
            retry=RetryPolicy(max_retries=1, sleep=sleeps.append),
        )
    assert err.value.code == "llm.unavailable"
    assert len(ledger) == 2


def test_call_cap_stops_cleanly_and_resumes_after_raising_it(server, sleeps) -> None:
    server.script(answer(GOOD), answer(GOOD), answer(GOOD))
    model, ledger, policy = make(server, sleeps, limits=Limits(max_llm_calls=2))
    call(model, ledger, policy)
    call(model, ledger, policy)
    with pytest.raises(BudgetExceeded) as err:
        call(model, ledger, policy)
    assert err.value.code == "limits.llm-calls"
    assert err.value.run == "run-1"
    assert len(server.requests) == 2  # the third request was never sent
    # Resume: restore the checkpointed ledger with a higher cap; counting continues.
    resumed = UsageLedger.from_dict(ledger.to_dict(), limits=Limits(max_llm_calls=3))
    assert call(model, resumed, policy) == Split(**GOOD)
    assert resumed.totals().calls == 3
    assert resumed.cost_usd == pytest.approx(3 * PRICE_4O_MINI)


def test_cost_cap_stops_during_validation_retries(server, sleeps) -> None:
    server.script(*[answer({"channel": "x"}, prompt_tokens=100_000, completion_tokens=0)] * 3)
    model, ledger, policy = make(server, sleeps, limits=Limits(max_llm_cost_usd=0.02))
    with pytest.raises(BudgetExceeded) as err:
        call(model, ledger, policy)
    assert err.value.code == "limits.llm-cost"
    # The first answer cost $0.015; the second request looked affordable (its prompt
    # is small) but its answer took the run to $0.03, so the third was never sent.
    assert len(server.requests) == 2
    assert ledger.cost_usd == pytest.approx(0.03)
    assert "$0.0300" in err.value.message


def test_metered_model_for_agents_over_http(server, sleeps) -> None:
    server.script(answer("Fresh subject line", as_text=True), answer(GOOD))
    model, ledger, policy = make(server, sleeps)
    seen: list[dict[str, object]] = []
    agent_llm = metered(model, ledger, step="personalize", on_record=seen.append)
    assert agent_llm.invoke("write a subject line").content == "Fresh subject line"
    structured_call(agent_llm, Split, "split", retry=policy, purpose="split")
    assert [(r.step, r.purpose) for r in ledger.calls] == [
        ("personalize", "agent"),
        ("personalize", "split"),
    ]
    assert len(seen) == 2
    assert dt.datetime.fromisoformat(str(seen[0]["ts"])).tzinfo is not None
