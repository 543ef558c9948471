"""The LangChain side of usage metering: a callback that limit-checks and records requests.

:class:`UsageMeter` is a LangChain callback handler that checks a
:class:`~conductor.llm._ledger.UsageLedger`'s limits before each chat-model request and
records the request after it, so any code that calls a model through LangChain is
counted; :func:`metered` attaches one to a chat model. Also here: the stable error codes
of failed requests (:func:`error_code`) and parsing of token use out of LangChain results.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import openai
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from conductor.errors import ConductorError
from conductor.llm._ledger import LimitsLike, Listener, UsageLedger

__all__ = [
    "CALL_ID_KEY",
    "DEFER_KEY",
    "PURPOSE_KEY",
    "UsageMeter",
    "error_code",
    "metered",
    "meters_of",
]

#: Metadata keys :func:`conductor.llm.structured_call` puts on its requests.
PURPOSE_KEY = "conductor_purpose"
CALL_ID_KEY = "conductor_call_id"
DEFER_KEY = "conductor_defer"


class UsageMeter(BaseCallbackHandler):
    """LangChain callback that checks limits before a chat-model request and records it after.

    ``raise_error`` makes LangChain propagate :class:`BudgetExceeded` out of the
    callback, so the request is never sent.

    Args:
        ledger: Where records go.
        limits: Limits to enforce (default: the ledger's).
        step: Pipeline step stamped on the records.
        purpose: Default purpose (a request's ``conductor_purpose`` metadata wins).
        on_record: Also called with each record made through this meter.
    """

    raise_error = True
    run_inline = True

    def __init__(
        self,
        ledger: UsageLedger,
        *,
        limits: LimitsLike | None = None,
        step: str | None = None,
        purpose: str = "agent",
        on_record: Listener | None = None,
    ) -> None:
        self.ledger = ledger
        self.limits = limits
        self.step = step
        self.purpose = purpose
        self.on_record = on_record
        self._runs: dict[uuid.UUID, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: uuid.UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Check limits and remember the request."""
        meta = metadata or {}
        params = kwargs.get("invocation_params") or {}
        model = str(
            params.get("model")
            or params.get("model_name")
            or (serialized or {}).get("kwargs", {}).get("model_name")
            or meta.get("ls_model_name")
            or "unknown"
        )
        estimate = self.ledger.estimate(model, [m for batch in messages for m in batch])
        self.ledger.reserve(self.limits, estimate)
        with self._lock:
            self._runs[run_id] = {
                "model": model,
                "purpose": str(meta.get(PURPOSE_KEY) or self.purpose),
                "id": str(meta.get(CALL_ID_KEY) or uuid.uuid4().hex),
                "defer": bool(meta.get(DEFER_KEY)),
            }

    def on_llm_end(self, response: LLMResult, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        """Record token use of a finished request."""
        info = self._pop(run_id)
        if info is None:
            return
        usage = _usage_of(response)
        model = _model_of(response) or info["model"]
        rec = self.ledger._make(
            model=model,
            purpose=info["purpose"],
            step=self.step,
            id=info["id"],
            ok=True,
            error=None,
            **usage,
        )
        if info["defer"]:
            self.ledger._hold(rec, self.on_record)
        else:
            self.ledger._commit(rec, self.on_record)

    def on_llm_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        """Record a failed request (no tokens are billed for it)."""
        info = self._pop(run_id)
        if info is None:
            return
        rec = self.ledger._make(
            model=info["model"],
            purpose=info["purpose"],
            step=self.step,
            id=info["id"],
            ok=False,
            error=error_code(error),
            input_tokens=0,
            output_tokens=0,
            cached_input_tokens=0,
        )
        self.ledger._commit(rec, self.on_record)

    def _pop(self, run_id: uuid.UUID) -> dict[str, Any] | None:
        with self._lock:
            info = self._runs.pop(run_id, None)
        if info is not None:
            self.ledger.release()
        return info


class _QuietLimitStops(logging.Filter):
    """Drop LangChain's warning about a callback error when the 'error' is our limit stop.

    LangChain logs every exception raised in a callback before re-raising it; a
    :class:`BudgetExceeded` from :class:`UsageMeter` is a deliberate stop that the caller
    reports once, so the extra warning would only repeat it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (
            len(args) == 3 and args[0] == "UsageMeter" and "BudgetExceeded(" in str(args[2])
        )


logging.getLogger("langchain_core.callbacks.manager").addFilter(_QuietLimitStops())


def metered(
    model: BaseChatModel,
    ledger: UsageLedger,
    limits: LimitsLike | None = None,
    *,
    step: str | None = None,
    purpose: str = "agent",
    on_record: Listener | None = None,
) -> BaseChatModel:
    """A copy of ``model`` whose every request is limit-checked and recorded in ``ledger``.

    The copy is still a chat model of the same class, so ``invoke``,
    ``with_structured_output`` and ``bind_tools`` work as before. Give it to agents as
    ``RunContext.llm``.

    Args:
        model: The chat model.
        ledger: The run's ledger.
        limits: Limits to enforce (default: the ledger's).
        step: Step name stamped on the records.
        purpose: Purpose stamped on records of direct calls.
        on_record: Also called with each record (JSON dict) made through this model.

    Returns:
        The metered model.
    """
    meter = UsageMeter(ledger, limits=limits, step=step, purpose=purpose, on_record=on_record)
    existing = model.callbacks
    handlers: list[Any]
    if existing is None:
        handlers = [meter]
    elif isinstance(existing, list):
        handlers = [*existing, meter]
    else:
        manager = existing.copy()
        manager.add_handler(meter, inherit=False)
        return model.model_copy(update={"callbacks": manager})
    return model.model_copy(update={"callbacks": handlers})


def meters_of(model: Any) -> list[UsageMeter]:
    """The usage meters already attached to a chat model (or a binding of one)."""
    seen: set[int] = set()
    found: list[UsageMeter] = []
    current = model
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        callbacks = getattr(current, "callbacks", None)
        handlers = callbacks if isinstance(callbacks, list) else getattr(callbacks, "handlers", [])
        found.extend(h for h in handlers or [] if isinstance(h, UsageMeter))
        current = getattr(current, "bound", None)
    return found


def error_code(error: BaseException) -> str:
    """The stable code recorded for a failed request."""
    if isinstance(error, ConductorError):
        return error.code
    if isinstance(error, openai.APITimeoutError):
        return "llm.timeout"
    if isinstance(error, openai.APIConnectionError):
        return "llm.unavailable"
    if isinstance(error, openai.RateLimitError):
        return "llm.quota" if _is_quota(error) else "llm.rate-limited"
    if isinstance(error, openai.APIStatusError):
        if error.status_code in (401, 403):
            return "llm.auth"
        if error.status_code >= 500 or error.status_code in (408, 409):
            return "llm.unavailable"
        return "llm.rejected"
    if isinstance(error, (json.JSONDecodeError, openai.APIResponseValidationError)):
        return "llm.bad-response"
    return "llm.failed"


def _is_quota(error: openai.APIStatusError) -> bool:
    """OpenAI answers 429 both for 'slow down' and for 'out of credit'; only the first passes."""
    code = getattr(error, "code", None)
    body = error.body if isinstance(error.body, dict) else {}
    inner = body.get("error", body) if isinstance(body, dict) else {}
    return "insufficient_quota" in (
        str(code),
        str(inner.get("code") if isinstance(inner, dict) else ""),
        str(inner.get("type") if isinstance(inner, dict) else ""),
    )


def _usage_of(response: LLMResult) -> dict[str, int]:
    inp = out = cached = 0
    found = False
    for gens in response.generations:
        for gen in gens:
            meta = (
                getattr(gen.message, "usage_metadata", None)
                if isinstance(gen, ChatGeneration)
                else None
            )
            if meta:
                found = True
                inp += int(meta.get("input_tokens", 0))
                out += int(meta.get("output_tokens", 0))
                details = meta.get("input_token_details") or {}
                cached += int(details.get("cache_read", 0) or 0)
    if not found:
        # Providers that only fill the legacy llm_output block (older OpenAI-compatible servers).
        token_usage = (response.llm_output or {}).get("token_usage") or {}
        inp = int(token_usage.get("prompt_tokens", 0) or 0)
        out = int(token_usage.get("completion_tokens", 0) or 0)
    return {"input_tokens": inp, "output_tokens": out, "cached_input_tokens": cached}


def _model_of(response: LLMResult) -> str | None:
    for gens in response.generations:
        for gen in gens:
            if isinstance(gen, ChatGeneration):
                name = gen.message.response_metadata.get("model_name")
                if name:
                    return str(name)
    name = (response.llm_output or {}).get("model_name")
    return str(name) if name else None
