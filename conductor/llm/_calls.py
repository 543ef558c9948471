"""Language models: the OpenAI-compatible chat-model factory, structured output, usage and cost.

Everything in Conductor works without a model. When ``OPENAI_API_KEY`` is set,
:func:`chat_model_from_env` builds a ``ChatOpenAI`` (any OpenAI-compatible server via
``OPENAI_BASE_URL``; model from ``CONDUCTOR_MODEL``), and :func:`structured_call` gets a
validated pydantic object out of it:

- invalid output (not JSON, or JSON that breaks the schema) is retried with the
  validation errors fed back to the model, a bounded number of times;
- transient failures (429, 5xx, connection errors, timeouts, malformed response bodies)
  are retried with exponential backoff and jitter, honouring ``Retry-After``;
- everything else, or an exhausted budget, ends in one :class:`~conductor.errors.LLMError`
  with a stable code;
- every request is recorded in a :class:`UsageLedger` (tokens, cost) and checked against
  the run's :class:`Limits` before it is sent.

The SDK's own hidden retries are switched off (``max_retries=0``) so that this module
is the only place that retries, and its behaviour is what the tests pin down.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ValidationError

from conductor.errors import BudgetExceeded, LLMError
from conductor.llm._ledger import UsageLedger
from conductor.llm._meter import (
    CALL_ID_KEY,
    DEFER_KEY,
    PURPOSE_KEY,
    UsageMeter,
    error_code,
    meters_of,
)

__all__ = [
    "DEFAULT_MODEL",
    "AnswerLimits",
    "RetryPolicy",
    "chat_model_from_env",
    "structured_call",
]

DEFAULT_MODEL = "gpt-4o-mini"

SchemaT = TypeVar("SchemaT", bound=BaseModel)
Method = Literal["function_calling", "json_mode"]

# How much of a bad answer is echoed back to the model with the validation errors.
_ECHO_CHARS = 2000
_MAX_LISTED_ERRORS = 12


@dataclass(frozen=True)
class AnswerLimits:
    """How large a model's answer may be before it is refused as invalid (and retried
    like any other invalid answer): nothing a model says is trusted to be small.

    Attributes:
        max_answer_chars: The whole answer (the function arguments or the text).
        max_field_chars: Any one string in the structured answer.

    The defaults can be set with ``CONDUCTOR_LLM_MAX_ANSWER_CHARS`` and
    ``CONDUCTOR_LLM_MAX_FIELD_CHARS``.
    """

    max_answer_chars: int = 256_000
    max_field_chars: int = 64_000

    @classmethod
    def from_env(cls) -> AnswerLimits:
        """The limits, with the environment's overrides (a bad value is an LLMError)."""
        values: dict[str, int] = {}
        for name, env in (
            ("max_answer_chars", "CONDUCTOR_LLM_MAX_ANSWER_CHARS"),
            ("max_field_chars", "CONDUCTOR_LLM_MAX_FIELD_CHARS"),
        ):
            raw = os.environ.get(env, "").strip()
            if not raw:
                continue
            if not raw.isdigit() or int(raw) < 1:
                raise LLMError(
                    f"{env}={raw!r} is not a positive whole number",
                    code="llm.bad-config",
                    hint=f"unset {env}, or give a number of characters such as 64000",
                )
            values[name] = int(raw)
        return cls(**values)

    def problems(self, raw: Any, parsed: Any) -> list[str]:
        """Why an answer is too large (empty when it is within the limits)."""
        size = _answer_size(raw)
        if size > self.max_answer_chars:
            return [
                f"the answer is {size:,} characters long; at most {self.max_answer_chars:,} "
                "are accepted: answer briefly"
            ]
        for where, text in _strings(parsed):
            if len(text) > self.max_field_chars:
                return [
                    f"{where or '(value)'}: {len(text):,} characters; at most "
                    f"{self.max_field_chars:,} are accepted in one field: keep it short"
                ]
        return []


def _answer_size(raw: Any) -> int:
    if not isinstance(raw, AIMessage):
        return 0
    size = len(raw.content) if isinstance(raw.content, str) else len(str(raw.content))
    for call in [*raw.tool_calls, *raw.invalid_tool_calls]:
        args = call.get("args")
        size += len(args) if isinstance(args, str) else len(json.dumps(args, default=str))
    return size


def _strings(value: Any, where: str = "") -> list[tuple[str, str]]:
    """Every string in a parsed answer with its path; iterative, so depth cannot hurt."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, BaseModel):
            item = dict(item)
        if isinstance(item, str):
            found.append((path, item))
        elif isinstance(item, dict):
            stack.extend((f"{path}.{k}".lstrip("."), v) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
    return found


def chat_model_from_env(
    env: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
    max_retries: int = 0,
) -> BaseChatModel | None:
    """The configured chat model, or None when no model is configured.

    Reads ``OPENAI_API_KEY`` (required), ``OPENAI_BASE_URL`` (any OpenAI-compatible
    server) and ``CONDUCTOR_MODEL`` (default ``gpt-4o-mini``).

    Args:
        env: Environment to read (default: ``os.environ``).
        timeout: Seconds before a request is abandoned (it is then retried by
            :func:`structured_call`); default ``CONDUCTOR_LLM_TIMEOUT`` or 30.
        max_retries: Retries inside the OpenAI SDK. Keep 0: :func:`structured_call`
            retries with backoff and records every attempt.

    Returns:
        A ``ChatOpenAI`` with temperature 0, or None without ``OPENAI_API_KEY``.
    """
    import os

    source = os.environ if env is None else env
    key = source.get("OPENAI_API_KEY", "").strip()
    if not key:
        return None
    from langchain_openai import ChatOpenAI

    if timeout is None:
        raw = source.get("CONDUCTOR_LLM_TIMEOUT", "").strip() or "30"
        try:
            timeout = float(raw)
        except ValueError:
            raise LLMError(
                f"CONDUCTOR_LLM_TIMEOUT must be a number of seconds, not {raw!r}",
                code="llm.bad-config",
                hint="e.g. CONDUCTOR_LLM_TIMEOUT=30",
            ) from None
    base_url = source.get("OPENAI_BASE_URL", "").strip() or None
    model = source.get("CONDUCTOR_MODEL", "").strip() or DEFAULT_MODEL
    return ChatOpenAI(
        model=model,
        api_key=key,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        temperature=0,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    The n-th retry (0-based) waits ``min(max_delay, initial_delay * multiplier**n)``
    scaled by a random factor in ``[1 - jitter, 1 + jitter]``, or the server's
    ``Retry-After`` if that is longer. A ``Retry-After`` beyond ``max_retry_after`` is
    not waited for: the call fails at once with ``llm.unavailable``.

    Attributes:
        max_retries: Transient failures tolerated per call (on top of the attempts at
            valid output).
        initial_delay: Seconds before the first retry.
        multiplier: Growth factor of the delay.
        max_delay: Cap on the computed delay, in seconds.
        jitter: Relative random spread of the delay, 0..1.
        max_retry_after: Longest ``Retry-After`` honoured, in seconds.
        sleep: Sleeps for the given seconds (inject a recorder in tests).
        rng: Random source for jitter (seed it for reproducible delays).
    """

    max_retries: int = 4
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 20.0
    jitter: float = 0.2
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier**retry)
        spread = self.jitter * (2 * self.rng.random() - 1)
        wait = max(0.0, base * (1 + spread))
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


def structured_call(
    model: BaseChatModel,
    schema: type[SchemaT],
    messages: Sequence[BaseMessage] | str,
    *,
    ledger: UsageLedger | None = None,
    max_attempts: int = 3,
    retry: RetryPolicy | None = None,
    purpose: str,
    method: Method = "function_calling",
    limits: AnswerLimits | None = None,
) -> SchemaT:
    """Ask ``model`` for an instance of ``schema``, with validation feedback and retries.

    Args:
        model: A LangChain chat model (e.g. from :func:`chat_model_from_env`, or
            :func:`metered`).
        schema: The pydantic model the answer must validate against.
        messages: The conversation (a str is one user message).
        ledger: Where to record usage and check limits. Not needed when ``model`` is
            already :func:`metered` with the same ledger (it is never counted twice).
        max_attempts: Answers accepted from the model before giving up on invalid output.
        retry: Backoff for transient failures (default :class:`RetryPolicy`).
        purpose: What the call is for, recorded with its usage (e.g. ``goal-parse``).
        method: ``function_calling`` (default: the most widely supported by
            OpenAI-compatible servers) or ``json_mode``.
        limits: Largest answer and string field accepted (default
            :meth:`AnswerLimits.from_env`); a larger answer counts as invalid.

    Returns:
        The validated object.

    Raises:
        LLMError: ``llm.invalid-output`` after ``max_attempts`` unusable answers;
            ``llm.unavailable`` / ``llm.timeout`` / ``llm.bad-response`` when transient
            failures outlast the retry policy; ``llm.auth``, ``llm.quota``,
            ``llm.rejected`` or ``llm.failed`` at once for failures retrying cannot fix.
        BudgetExceeded: A run limit would be passed by the next request.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    policy = retry or RetryPolicy()
    bounds = limits or AnswerLimits.from_env()
    history: list[BaseMessage] = (
        [HumanMessage(content=messages)] if isinstance(messages, str) else list(messages)
    )
    model_name = _model_name(model)
    runnable = _structured(model, schema, method)
    extra, ledgers = _meters(model, ledger, purpose)

    answers = transient = 0  # valid-output attempts, transient failures
    while True:
        call_id = uuid.uuid4().hex
        try:
            out = runnable.invoke(history, config=_request_config(purpose, call_id, extra))
        except BudgetExceeded:
            raise
        except Exception as exc:
            _settle(ledgers, call_id, error_code(exc))
            transient += 1
            wait = _retry_wait(exc, transient, answers + transient, policy, model_name, purpose)
            policy.sleep(wait)
            continue

        answers += 1
        parsed, problems, echo = _validated_answer(out, schema, ledgers, call_id, bounds)
        if parsed is not None:
            return parsed
        if answers >= max_attempts:
            raise _no_usable_answer(schema, purpose, problems, model_name, answers, transient)
        history = [*history, *_feedback_turn(echo, problems, schema, method)]


def _meters(
    model: BaseChatModel, ledger: UsageLedger | None, purpose: str
) -> tuple[list[UsageMeter], Collection[UsageLedger]]:
    """The meter to add for ``ledger`` (none if ``model`` is metered with it already), and
    every ledger the call is recorded in."""
    existing = meters_of(model)
    extra = (
        [UsageMeter(ledger, purpose=purpose)]
        if ledger is not None and not any(m.ledger is ledger for m in existing)
        else []
    )
    ledgers = {id(m.ledger): m.ledger for m in [*existing, *extra]}.values()
    return extra, ledgers


def _request_config(purpose: str, call_id: str, extra: Sequence[UsageMeter]) -> RunnableConfig:
    return RunnableConfig(
        metadata={PURPOSE_KEY: purpose, CALL_ID_KEY: call_id, DEFER_KEY: True},
        callbacks=list(extra),
        run_name=f"conductor:{purpose}",
    )


def _retry_wait(
    exc: Exception, retry: int, attempt: int, policy: RetryPolicy, model_name: str, purpose: str
) -> float:
    """Seconds to wait before retrying after failed request ``exc`` (``retry`` counts the
    failures so far, from 1); raises the LLMError when retrying cannot help or may not."""
    code = error_code(exc)
    if not _is_transient(exc):
        raise _fatal(exc, code, model_name, attempt) from exc
    after = _retry_after(exc)
    if retry > policy.max_retries:
        raise _exhausted(exc, code, model_name, attempt, policy) from exc
    if after is not None and after > policy.max_retry_after:
        raise LLMError(
            f"the model provider asked to wait {after:.0f} s before retrying "
            f"({purpose}); that is longer than the {policy.max_retry_after:.0f} s "
            "Conductor waits",
            model=model_name,
            attempt=attempt,
            code="llm.unavailable",
            hint="try again later, or raise the request quota of your API key",
        ) from exc
    return policy.delay(retry - 1, after)


def _validated_answer(
    out: Any,
    schema: type[SchemaT],
    ledgers: Collection[UsageLedger],
    call_id: str,
    limits: AnswerLimits,
) -> tuple[SchemaT | None, list[str], str]:
    """Read one answer (see :func:`_read`) and settle its request: valid or not."""
    try:
        too_large = limits.problems(
            out.get("raw") if isinstance(out, dict) else None,
            out.get("parsed") if isinstance(out, dict) else out,
        )
        if too_large:
            raw = out.get("raw") if isinstance(out, dict) else None
            _settle(ledgers, call_id, "llm.invalid-output")
            return None, too_large, _echo(raw)
        parsed, problems, echo = _read(out, schema)
    except Exception:
        _settle(ledgers, call_id, "llm.failed")
        raise
    _settle(ledgers, call_id, None if parsed is not None else "llm.invalid-output")
    return parsed, problems, echo


def _no_usable_answer(
    schema: type[BaseModel],
    purpose: str,
    problems: Sequence[str],
    model_name: str,
    answers: int,
    transient: int,
) -> LLMError:
    return LLMError(
        f"the model gave no usable {schema.__name__} for {purpose} in "
        f"{answers} attempt(s); last problems: {'; '.join(problems)}",
        model=model_name,
        attempt=answers + transient,
        code="llm.invalid-output",
        hint="use a more capable model (CONDUCTOR_MODEL), or simplify the request",
    )


def _structured(model: BaseChatModel, schema: type[BaseModel], method: Method) -> Any:
    import inspect

    try:
        accepts_method = "method" in inspect.signature(model.with_structured_output).parameters
    except (TypeError, ValueError):
        accepts_method = False
    if accepts_method:
        return model.with_structured_output(schema, include_raw=True, method=method)
    return model.with_structured_output(schema, include_raw=True)


def _read(out: Any, schema: type[SchemaT]) -> tuple[SchemaT | None, list[str], str]:
    """(valid object or None, problems, the raw answer to echo back)."""
    raw = out.get("raw") if isinstance(out, dict) else None
    parsed = out.get("parsed") if isinstance(out, dict) else out
    error = out.get("parsing_error") if isinstance(out, dict) else None
    echo = _echo(raw)
    if parsed is not None and error is None:
        if isinstance(parsed, schema):
            return parsed, [], echo
        try:
            return schema.model_validate(parsed), [], echo
        except ValidationError as exc:
            return None, _describe(exc), echo
    if error is not None:
        return None, _describe(error), echo
    if isinstance(raw, AIMessage) and raw.invalid_tool_calls:
        bad = raw.invalid_tool_calls[0]
        return (
            None,
            [f"the function arguments were not valid JSON ({bad.get('error') or 'unparseable'})"],
            echo,
        )
    return None, [f"no {schema.__name__} object in the answer (answered in plain text?)"], echo


def _describe(error: BaseException) -> list[str]:
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ValidationError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ValidationError):
        lines = []
        for err in cause.errors()[:_MAX_LISTED_ERRORS]:
            loc = ".".join(str(p) for p in err["loc"]) or "(whole object)"
            if err["type"] == "json_invalid":
                lines.append(f"not valid JSON: {err['msg']}")
            else:
                lines.append(f"{loc}: {err['msg']}")
        return lines
    text = str(error).strip().splitlines()
    return [text[0][:300] if text else type(error).__name__]


def _echo(raw: Any) -> str:
    if not isinstance(raw, AIMessage):
        return ""
    if raw.tool_calls:
        text = json.dumps(raw.tool_calls[0]["args"], default=str)
    elif raw.invalid_tool_calls:
        text = str(raw.invalid_tool_calls[0].get("args") or "")
    else:
        text = raw.content if isinstance(raw.content, str) else json.dumps(raw.content, default=str)
    return text[:_ECHO_CHARS] or "(empty answer)"


def _feedback_turn(
    echo: str, problems: Sequence[str], schema: type[BaseModel], method: Method
) -> list[BaseMessage]:
    """The rejected answer, echoed back, and what was wrong with it."""
    return [AIMessage(content=echo), HumanMessage(content=_feedback(problems, schema, method))]


def _feedback(problems: Sequence[str], schema: type[BaseModel], method: Method) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    how = (
        f"Call the function {schema.__name__} again with corrected arguments."
        if method == "function_calling"
        else f"Answer again with one JSON object that matches the {schema.__name__} schema."
    )
    return f"Your previous answer could not be used:\n{listed}\n{how} Fix only what is listed."


def _settle(ledgers: Any, call_id: str, error: str | None) -> None:
    for led in ledgers:
        led.settle(call_id, error=error)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        if isinstance(exc, openai.RateLimitError):
            return error_code(exc) != "llm.quota"
        return exc.status_code >= 500 or exc.status_code in (408, 409)
    return isinstance(exc, (json.JSONDecodeError, openai.APIResponseValidationError))


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


_FATAL_HINTS = {
    "llm.auth": "check OPENAI_API_KEY (and OPENAI_BASE_URL if you use another server)",
    "llm.quota": "the API key has no credit left; top it up or use another key",
    "llm.rejected": "check CONDUCTOR_MODEL names a model the server offers",
    "llm.failed": "see the log for details; this is not a failure Conductor knows how to retry",
}


def _fatal(exc: BaseException, code: str, model: str, attempt: int) -> LLMError:
    status = getattr(exc, "status_code", None)
    what = f"HTTP {status}: " if status else ""
    return LLMError(
        f"the model request failed ({what}{_short(exc)})",
        model=model,
        attempt=attempt,
        code=code,
        hint=_FATAL_HINTS.get(code, _FATAL_HINTS["llm.failed"]),
    )


def _exhausted(
    exc: BaseException, code: str, model: str, attempts: int, policy: RetryPolicy
) -> LLMError:
    if code == "llm.timeout":
        message = f"the model did not answer in time, {attempts} time(s) in a row"
        hint = "the server is slow or overloaded; try again later or raise the timeout"
    elif code == "llm.bad-response":
        message = f"the server sent a response that is not valid JSON, {attempts} time(s) in a row"
        hint = "check OPENAI_BASE_URL points to an OpenAI-compatible server"
    else:
        code = "llm.unavailable"
        message = f"the model provider is unavailable after {attempts} attempt(s) ({_short(exc)})"
        hint = "try again later; the run can be resumed and keeps what is done"
    return LLMError(
        f"{message}; gave up after {policy.max_retries} retries",
        model=model,
        attempt=attempts,
        code=code,
        hint=hint,
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:200]


def _model_name(model: Any) -> str:
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    bound = getattr(model, "bound", None)
    return _model_name(bound) if bound is not None else type(model).__name__
