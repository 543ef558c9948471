"""structured_call: validation feedback, retries with backoff, clear errors (fake model)."""

from __future__ import annotations

import json
import random

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from conductor.errors import BudgetExceeded, LLMError
from conductor.llm import (
    FakeChatModel,
    Limits,
    RetryPolicy,
    UsageLedger,
    chat_model_from_env,
    structured_call,
)

REQ = httpx.Request("POST", "http://llm.test/v1/chat/completions")


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(description="A channel.")
    share: float = Field(ge=0, le=1, description="Share of budget.")


def status_error(cls: type[openai.APIStatusError], code: int, headers=None, body=None):
    response = httpx.Response(code, headers=headers or {}, request=REQ)
    return cls(f"Error code: {code}", response=response, body=body)


def rate_limit(retry_after: str | None = None, **headers: str) -> openai.RateLimitError:
    hdrs = dict(headers)
    if retry_after is not None:
        hdrs["retry-after"] = retry_after
    return status_error(openai.RateLimitError, 429, hdrs)


def policy(sleeps: list[float], **kw) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps.append, rng=random.Random(7), **kw)


GOOD = {"channel": "email", "share": 0.4}


def test_valid_answer_first_time() -> None:
    fake = FakeChatModel(responses=[GOOD])
    led = UsageLedger()
    assert structured_call(fake, Plan, "plan it", ledger=led, purpose="plan") == Plan(**GOOD)
    (rec,) = led.calls
    assert rec.ok
    assert rec.purpose == "plan"
    # The schema went to the model as a forced tool.
    kwargs = fake.request_kwargs[0]
    assert kwargs["tools"][0]["function"]["name"] == "Plan"


def test_invalid_output_is_retried_with_the_errors_as_feedback() -> None:
    fake = FakeChatModel(responses=[{"channel": "email", "share": 4}, "{broken", GOOD])
    led = UsageLedger()
    sys = SystemMessage(content="You plan budgets.")
    out = structured_call(
        fake, Plan, [sys, HumanMessage(content="plan")], ledger=led, purpose="plan"
    )
    assert out == Plan(**GOOD)
    second, third = fake.requests[1], fake.requests[2]
    assert second[0] == sys
    assert isinstance(second[2], AIMessage)
    assert json.loads(second[2].content) == {"channel": "email", "share": 4}
    assert "share: Input should be less than or equal to 1" in second[3].content
    assert "Call the function Plan again" in second[3].content
    assert third[4].content == "{broken"
    assert "not valid JSON" in third[5].content
    # Every answer is counted, the unusable ones flagged.
    assert [(r.ok, r.error) for r in led.calls] == [
        (False, "llm.invalid-output"),
        (False, "llm.invalid-output"),
        (True, None),
    ]
    assert all(r.input_tokens > 0 for r in led.calls)


def test_invalid_output_budget_ends_in_one_clear_error() -> None:
    fake = FakeChatModel(responses=[{"channel": 1}] * 3, model_name="gpt-4o-mini", usage=(50, 5))
    led = UsageLedger()
    with pytest.raises(LLMError) as err:
        structured_call(fake, Plan, "plan", ledger=led, max_attempts=3, purpose="plan")
    e = err.value
    assert e.code == "llm.invalid-output"
    assert e.model == "gpt-4o-mini"
    assert "3 attempt(s)" in e.message
    assert "share: Field required" in e.message
    assert e.hint
    assert fake.remaining == 0
    assert led.totals().failed_calls == 3
    assert led.totals().input_tokens == 150
    assert led.cost_usd > 0


def test_plain_text_answer_is_invalid_output() -> None:
    fake = FakeChatModel(responses=[AIMessage(content="Sure! Email, 40%.")] * 2)
    with pytest.raises(LLMError) as err:
        structured_call(fake, Plan, "plan", max_attempts=2, purpose="plan")
    assert err.value.code == "llm.invalid-output"
    assert "no Plan object" in err.value.message


def test_json_mode_parses_content_and_feeds_back_errors() -> None:
    fake = FakeChatModel(responses=['{"channel": "email"}', json.dumps(GOOD)])
    out = structured_call(fake, Plan, "plan", purpose="plan", method="json_mode")
    assert out == Plan(**GOOD)
    assert fake.request_kwargs[0]["response_format"] == {"type": "json_object"}
    assert "one JSON object that matches the Plan schema" in fake.requests[1][-1].content


def test_transient_errors_back_off_and_honour_retry_after() -> None:
    sleeps: list[float] = []
    fake = FakeChatModel(
        responses=[
            rate_limit(retry_after="3"),
            status_error(openai.InternalServerError, 503),
            openai.APITimeoutError(request=REQ),
            openai.APIConnectionError(request=REQ),
            GOOD,
        ]
    )
    led = UsageLedger()
    pol = policy(sleeps, initial_delay=0.5, multiplier=2, jitter=0.2)
    assert structured_call(fake, Plan, "p", ledger=led, retry=pol, purpose="p") == Plan(**GOOD)
    assert len(sleeps) == 4
    assert sleeps[0] == 3.0  # Retry-After beats the 0.5 s backoff
    for n, wait in enumerate(sleeps[1:], start=1):
        assert 0.5 * 2**n * 0.8 <= wait <= 0.5 * 2**n * 1.2
    assert [r.error for r in led.calls] == [
        "llm.rate-limited",
        "llm.unavailable",
        "llm.timeout",
        "llm.unavailable",
        None,
    ]


def test_retry_after_ms_header_is_used() -> None:
    sleeps: list[float] = []
    fake = FakeChatModel(responses=[rate_limit(**{"retry-after-ms": "2500"}), GOOD])
    structured_call(fake, Plan, "p", retry=policy(sleeps, jitter=0), purpose="p")
    assert sleeps == [2.5]


def test_a_retry_after_too_long_is_not_waited_for() -> None:
    sleeps: list[float] = []
    fake = FakeChatModel(responses=[rate_limit(retry_after="3600"), GOOD])
    with pytest.raises(LLMError) as err:
        structured_call(fake, Plan, "p", retry=policy(sleeps, max_retry_after=60), purpose="p")
    assert err.value.code == "llm.unavailable"
    assert "3600" in err.value.message
    assert sleeps == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (lambda: status_error(openai.InternalServerError, 500), "llm.unavailable"),
        (rate_limit, "llm.unavailable"),
        (lambda: openai.APITimeoutError(request=REQ), "llm.timeout"),
        (lambda: json.JSONDecodeError("Expecting value", "{", 1), "llm.bad-response"),
    ],
)
def test_transient_budget_exhausted_gives_one_error(error, code: str) -> None:
    sleeps: list[float] = []
    fake = FakeChatModel(responses=[error() for _ in range(3)])
    led = UsageLedger()
    with pytest.raises(LLMError) as err:
        structured_call(
            fake, Plan, "p", ledger=led, retry=policy(sleeps, max_retries=2), purpose="p"
        )
    assert err.value.code == code
    assert err.value.attempt == 3
    assert "gave up after 2 retries" in err.value.message
    assert len(sleeps) == 2
    assert len(led) == 3
    assert fake.remaining == 0


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (status_error(openai.AuthenticationError, 401), "llm.auth"),
        (status_error(openai.NotFoundError, 404), "llm.rejected"),
        (status_error(openai.BadRequestError, 400), "llm.rejected"),
        (
            status_error(
                openai.RateLimitError,
                429,
                body={"message": "You exceeded your current quota", "code": "insufficient_quota"},
            ),
            "llm.quota",
        ),
        (RuntimeError("boom"), "llm.failed"),
    ],
)
def test_non_transient_errors_fail_at_once(error: Exception, code: str) -> None:
    sleeps: list[float] = []
    fake = FakeChatModel(responses=[error, GOOD])
    with pytest.raises(LLMError) as err:
        structured_call(fake, Plan, "p", retry=policy(sleeps), purpose="p")
    assert err.value.code == code
    assert err.value.hint
    assert sleeps == []
    assert fake.remaining == 1


def test_budget_stops_between_attempts_and_is_not_retried() -> None:
    fake = FakeChatModel(responses=[{"channel": 1}, GOOD], usage=(10, 1))
    led = UsageLedger(limits=Limits(max_llm_calls=1))
    with pytest.raises(BudgetExceeded) as err:
        structured_call(fake, Plan, "p", ledger=led, purpose="p")
    assert err.value.code == "limits.llm-calls"
    assert fake.remaining == 1
    assert [(r.ok, r.error) for r in led.calls] == [(False, "llm.invalid-output")]


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        structured_call(FakeChatModel(), Plan, "p", max_attempts=0, purpose="p")


@settings(max_examples=80, deadline=None)
@given(
    retry=st.integers(0, 12),
    after=st.one_of(st.none(), st.floats(0, 100)),
    jitter=st.floats(0, 1),
    seed=st.integers(0, 2**32),
)
def test_backoff_delay_bounds(retry: int, after: float | None, jitter: float, seed: int) -> None:
    pol = RetryPolicy(
        initial_delay=0.5, multiplier=2, max_delay=20, jitter=jitter, rng=random.Random(seed)
    )
    wait = pol.delay(retry, after)
    base = min(20.0, 0.5 * 2**retry)
    assert wait >= base * (1 - jitter) - 1e-9 or (after is not None and wait >= after)
    assert wait <= max(base * (1 + jitter), after or 0) + 1e-9
    if after is not None:
        assert wait >= after


def test_chat_model_from_env() -> None:
    assert chat_model_from_env({}) is None
    assert chat_model_from_env({"OPENAI_API_KEY": "  "}) is None
    model = chat_model_from_env({"OPENAI_API_KEY": "sk-test"}, timeout=2.5)
    assert model is not None
    assert model.model_name == "gpt-4o-mini"  # type: ignore[attr-defined]
    assert model.temperature == 0  # type: ignore[attr-defined]
    assert model.max_retries == 0  # type: ignore[attr-defined]
    assert model.request_timeout == 2.5  # type: ignore[attr-defined]
    custom = chat_model_from_env(
        {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "CONDUCTOR_MODEL": "llama3",
        }
    )
    assert custom.model_name == "llama3"  # type: ignore[union-attr]
    assert custom.openai_api_base == "http://127.0.0.1:9/v1"  # type: ignore[union-attr]
    assert custom.root_client.max_retries == 0  # type: ignore[union-attr]


def test_chat_model_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    assert chat_model_from_env() is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("CONDUCTOR_MODEL", "gpt-4.1-mini")
    model = chat_model_from_env()
    assert model is not None
    assert model.model_name == "gpt-4.1-mini"  # type: ignore[attr-defined]
