"""Token use, cost and run limits for language-model calls.

One :class:`UsageLedger` per run holds a :class:`UsageRecord` for every request sent to
a model (successful or not). Records come from a LangChain callback, :class:`UsageMeter`,
so any code that calls a model through LangChain is counted: :func:`structured_call`,
and agents calling ``ctx.llm`` directly once the model is wrapped by :func:`metered`.
The meter checks the run's :class:`Limits` *before* each request, so a capped run stops
before it spends more, with a :class:`~conductor.errors.BudgetExceeded` that says which
limit to raise; the ledger state (``to_dict``/``from_dict``) is checkpointed with the run
so a resumed run keeps counting from where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import openai
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conductor.errors import BudgetExceeded, ConductorError

__all__ = [
    "DEFAULT_PRICES",
    "Limits",
    "LimitsLike",
    "ModelPrice",
    "PriceTable",
    "UsageLedger",
    "UsageMeter",
    "UsageRecord",
    "UsageTotals",
    "error_code",
    "metered",
]

#: Metadata keys :func:`conductor.llm.structured_call` puts on its requests.
PURPOSE_KEY = "conductor_purpose"
CALL_ID_KEY = "conductor_call_id"
DEFER_KEY = "conductor_defer"

# Rough characters-per-token ratio of English text for OpenAI tokenizers; only used to
# estimate a request's cost before it is sent, never to bill.
_CHARS_PER_TOKEN = 4.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Limits(_Model):
    """Per-run caps on model use (the pipeline's ``limits:`` block)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_llm_cost_usd: float | None = Field(
        default=None, ge=0, description="Stop before the run's model cost would pass this (USD)."
    )
    max_llm_calls: int | None = Field(
        default=None, ge=0, description="Stop before the run sends more than this many requests."
    )


class LimitsLike(Protocol):
    """Anything with the two limit fields (``Limits`` here, or the pipeline's ``limits:``)."""

    @property
    def max_llm_cost_usd(self) -> float | None:
        """USD cap, or None."""

    @property
    def max_llm_calls(self) -> int | None:
        """Request cap, or None."""


class ModelPrice(_Model):
    """What one model costs, in USD per million tokens."""

    input: float = Field(ge=0, description="USD per 1M input (prompt) tokens.")
    output: float = Field(ge=0, description="USD per 1M output (completion) tokens.")
    cached_input: float | None = Field(
        default=None, ge=0, description="USD per 1M cached input tokens; None = input price."
    )


# List prices of OpenAI's API (USD per 1M tokens, standard tier) as published in 2025.
# Prices change: override them in the pipeline or with CONDUCTOR_PRICES.
DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "gpt-4o-mini": ModelPrice(input=0.15, output=0.60, cached_input=0.075),
    "gpt-4o": ModelPrice(input=2.50, output=10.00, cached_input=1.25),
    "gpt-4.1": ModelPrice(input=2.00, output=8.00, cached_input=0.50),
    "gpt-4.1-mini": ModelPrice(input=0.40, output=1.60, cached_input=0.10),
    "gpt-4.1-nano": ModelPrice(input=0.10, output=0.40, cached_input=0.025),
    "gpt-5": ModelPrice(input=1.25, output=10.00, cached_input=0.125),
    "gpt-5-mini": ModelPrice(input=0.25, output=2.00, cached_input=0.025),
    "gpt-5-nano": ModelPrice(input=0.05, output=0.40, cached_input=0.005),
    "o3": ModelPrice(input=2.00, output=8.00, cached_input=0.50),
    "o3-mini": ModelPrice(input=1.10, output=4.40, cached_input=0.55),
    "o4-mini": ModelPrice(input=1.10, output=4.40, cached_input=0.275),
    "gpt-4-turbo": ModelPrice(input=10.00, output=30.00),
    "gpt-3.5-turbo": ModelPrice(input=0.50, output=1.50),
}


class PriceTable(_Model):
    """Model name -> price. Unknown models cost 0 and are flagged as unpriced.

    A model name matches its exact key first, then the longest key it starts with
    followed by ``-`` (so ``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``);
    a provider prefix such as ``openai/`` is ignored.
    """

    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="Model name (or name prefix) -> price per 1M tokens.",
    )

    @classmethod
    def with_overrides(
        cls, overrides: Mapping[str, ModelPrice | Mapping[str, float]]
    ) -> PriceTable:
        """The default table with some models added or re-priced.

        Args:
            overrides: Model name -> price (a :class:`ModelPrice` or a mapping with
                ``input``, ``output`` and optionally ``cached_input``).

        Raises:
            ConductorError: ``llm.bad-price`` when a price is malformed.
        """
        prices = dict(DEFAULT_PRICES)
        for name, price in overrides.items():
            try:
                prices[name] = ModelPrice.model_validate(price)
            except ValidationError as exc:
                raise ConductorError(
                    f"price for model {name!r} is invalid: {_first_error(exc)}",
                    code="llm.bad-price",
                    hint='write prices as {"input": 0.15, "output": 0.6} (USD per 1M tokens)',
                ) from exc
        return cls(prices=prices)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PriceTable:
        """Defaults plus ``CONDUCTOR_PRICES`` (JSON text, or a path to a JSON file).

        Raises:
            ConductorError: ``llm.bad-price`` when the variable cannot be read.
        """
        raw = env.get("CONDUCTOR_PRICES", "").strip()
        if not raw:
            return cls()
        text = raw
        if not raw.startswith("{"):
            try:
                text = Path(raw).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConductorError(
                    f"CONDUCTOR_PRICES names a file that cannot be read: {raw}",
                    code="llm.bad-price",
                    hint="set CONDUCTOR_PRICES to JSON text or to the path of a JSON file",
                ) from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConductorError(
                f"CONDUCTOR_PRICES is not valid JSON: {exc}",
                code="llm.bad-price",
                hint='example: {"my-model": {"input": 0.2, "output": 0.8}}',
            ) from exc
        if not isinstance(data, dict):
            raise ConductorError(
                "CONDUCTOR_PRICES must be a JSON object of model name -> price",
                code="llm.bad-price",
                hint='example: {"my-model": {"input": 0.2, "output": 0.8}}',
            )
        return cls.with_overrides(data)

    def lookup(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or None when the table does not know it."""
        name = model.strip().lower()
        if "/" in name:
            name = name.rsplit("/", 1)[1]
        table = {k.lower(): v for k, v in self.prices.items()}
        if name in table:
            return table[name]
        best = None
        for key in table:
            if name.startswith(key + "-") and (best is None or len(key) > len(best)):
                best = key
        return table[best] if best is not None else None

    def cost(
        self, model: str, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0
    ) -> tuple[float, bool]:
        """``(cost in USD, whether the model was priced)`` of one request."""
        price = self.lookup(model)
        if price is None:
            return 0.0, False
        cached = min(max(cached_input_tokens, 0), input_tokens)
        cached_rate = price.input if price.cached_input is None else price.cached_input
        usd = (
            (input_tokens - cached) * price.input
            + cached * cached_rate
            + output_tokens * price.output
        ) / 1_000_000
        return usd, True


class UsageRecord(_Model):
    """One request to a model."""

    id: str = Field(description="Unique id of the request.")
    model: str = Field(description="Model name as the provider reported it.")
    purpose: str = Field(description="What the request was for, e.g. 'goal-parse'.")
    step: str | None = Field(default=None, description="Pipeline step that made it, if any.")
    input_tokens: int = Field(default=0, ge=0, description="Prompt tokens.")
    output_tokens: int = Field(default=0, ge=0, description="Completion tokens.")
    cached_input_tokens: int = Field(
        default=0, ge=0, description="Prompt tokens served from cache."
    )
    cost_usd: float = Field(default=0.0, ge=0, description="Cost from the price table (USD).")
    priced: bool = Field(
        default=True, description="False when the model is not in the price table."
    )
    ok: bool = Field(
        default=True, description="False when the request failed or its output was unusable."
    )
    error: str | None = Field(
        default=None, description="Error code when not ok, e.g. 'llm.timeout'."
    )
    ts: dt.datetime = Field(description="When the request finished (UTC).")


class ModelTotals(_Model):
    """Totals for one model."""

    calls: int = Field(default=0, description="Requests sent.")
    input_tokens: int = Field(default=0, description="Prompt tokens.")
    output_tokens: int = Field(default=0, description="Completion tokens.")
    cost_usd: float = Field(default=0.0, description="Cost in USD.")


class UsageTotals(_Model):
    """What a run has used so far (shown by ``conductor status`` and in ``result.json``)."""

    calls: int = Field(description="Requests sent, including failed ones.")
    failed_calls: int = Field(description="Requests that failed or returned unusable output.")
    input_tokens: int = Field(description="Prompt tokens.")
    output_tokens: int = Field(description="Completion tokens.")
    cost_usd: float = Field(description="Cost in USD.")
    unpriced_models: list[str] = Field(
        description="Models missing from the price table (their cost is counted as 0)."
    )
    by_model: dict[str, ModelTotals] = Field(description="The same, per model.")
    by_purpose: dict[str, ModelTotals] = Field(description="The same, per purpose.")


class LedgerState(_Model):
    """The serialisable part of a ledger (checkpointed with the run)."""

    run_id: str | None = Field(default=None, description="Run the ledger belongs to.")
    calls: list[UsageRecord] = Field(default_factory=list, description="Every request, in order.")


Listener = Callable[[dict[str, Any]], None]


class UsageLedger:
    """Token use and cost of every model request of a run; enforces :class:`Limits`.

    Thread-safe: parallel steps may share one ledger.

    Args:
        run_id: The run, named in limit errors.
        prices: Price table (default: :data:`DEFAULT_PRICES`).
        limits: Limits enforced before each request (default: none).
        calls: Records to start from (e.g. restored from a checkpoint).
        clock: Returns the current time (injected for tests).
    """

    def __init__(
        self,
        *,
        run_id: str | None = None,
        prices: PriceTable | None = None,
        limits: LimitsLike | None = None,
        calls: Iterable[UsageRecord] = (),
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.run_id = run_id
        self.prices = prices or PriceTable()
        self.limits: LimitsLike = limits or Limits()
        self._calls: list[UsageRecord] = list(calls)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.RLock()
        self._inflight = 0
        self._held: dict[str, tuple[UsageRecord, Listener | None]] = {}
        self._listeners: list[Listener] = []

    # -- state -------------------------------------------------------------------------

    @property
    def calls(self) -> list[UsageRecord]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._calls)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly state, for the run checkpoint."""
        with self._lock:
            state = LedgerState(run_id=self.run_id, calls=list(self._calls))
        return state.model_dump(mode="json")

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any] | None,
        *,
        prices: PriceTable | None = None,
        limits: LimitsLike | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> UsageLedger:
        """Restore a ledger saved by :meth:`to_dict` (limits and prices come from config).

        Raises:
            ConductorError: ``llm.bad-ledger`` when the saved state is not a ledger.
        """
        try:
            state = LedgerState.model_validate(dict(data or {}))
        except ValidationError as exc:
            raise ConductorError(
                f"saved LLM usage is unreadable: {_first_error(exc)}",
                code="llm.bad-ledger",
                hint="the run state was written by another version; start a new run",
            ) from exc
        return cls(
            run_id=state.run_id, prices=prices, limits=limits, calls=state.calls, clock=clock
        )

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(record_as_json)`` for every record added; returns an unsubscriber."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    # -- recording ---------------------------------------------------------------------

    def record(
        self,
        *,
        model: str,
        purpose: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
        ok: bool = True,
        error: str | None = None,
        step: str | None = None,
        id: str | None = None,
    ) -> UsageRecord:
        """Price and add one request.

        Returns:
            The record added.
        """
        rec = self._make(
            model=model,
            purpose=purpose,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
            ok=ok,
            error=error,
            step=step,
            id=id,
        )
        self._commit(rec, None)
        return rec

    def add(self, record: UsageRecord | Mapping[str, Any]) -> UsageRecord:
        """Add a record made elsewhere (e.g. by an agent's own client), as is.

        A mapping without ``ts``/``id``/``cost_usd`` gets them filled in, the cost from
        this ledger's price table. This is what ``RunContext.llm_usage`` should call.
        """
        if isinstance(record, UsageRecord):
            rec = record
        else:
            data = dict(record)
            if "cost_usd" not in data:
                cost, priced = self.prices.cost(
                    str(data.get("model", "")),
                    int(data.get("input_tokens", 0)),
                    int(data.get("output_tokens", 0)),
                    int(data.get("cached_input_tokens", 0)),
                )
                data.setdefault("cost_usd", cost)
                data.setdefault("priced", priced)
            data.setdefault("id", uuid.uuid4().hex)
            data.setdefault("ts", self._clock())
            data.setdefault("purpose", "agent")
            try:
                rec = UsageRecord.model_validate(data)
            except ValidationError as exc:
                raise ConductorError(
                    f"LLM usage record is invalid: {_first_error(exc)}",
                    code="llm.bad-usage",
                    hint="pass model, purpose, input_tokens and output_tokens",
                ) from exc
        self._commit(rec, None)
        return rec

    def _make(self, **kw: Any) -> UsageRecord:
        cost, priced = self.prices.cost(
            kw["model"], kw["input_tokens"], kw["output_tokens"], kw["cached_input_tokens"]
        )
        return UsageRecord(
            id=kw.pop("id") or uuid.uuid4().hex,
            cost_usd=cost,
            priced=priced,
            ts=self._clock(),
            **kw,
        )

    def _commit(self, rec: UsageRecord, extra: Listener | None) -> None:
        with self._lock:
            self._calls.append(rec)
            listeners = list(self._listeners)
        payload = rec.model_dump(mode="json")
        for listener in [*listeners, *([extra] if extra else [])]:
            listener(payload)

    def _hold(self, rec: UsageRecord, extra: Listener | None) -> None:
        """Keep a finished request aside until its caller says whether its output was usable."""
        with self._lock:
            self._held[rec.id] = (rec, extra)

    def settle(self, call_id: str, *, error: str | None = None) -> UsageRecord | None:
        """Commit a held record, marking it failed with ``error`` if the output was unusable.

        Returns None when nothing is held under ``call_id`` (the request failed before an
        answer arrived, and was recorded then).
        """
        with self._lock:
            held = self._held.pop(call_id, None)
        if held is None:
            return None
        rec, extra = held
        if error is not None:
            rec = rec.model_copy(update={"ok": False, "error": error})
        self._commit(rec, extra)
        return rec

    # -- totals and limits -------------------------------------------------------------

    @property
    def cost_usd(self) -> float:
        """Total cost so far (USD)."""
        with self._lock:
            return math.fsum(r.cost_usd for r in self._calls) + math.fsum(
                r.cost_usd for r, _ in self._held.values()
            )

    def totals(self) -> UsageTotals:
        """Sums over every record, overall, per model and per purpose."""
        with self._lock:
            records = list(self._calls)
        by_model: dict[str, ModelTotals] = {}
        by_purpose: dict[str, ModelTotals] = {}
        for rec in records:
            for key, bucket in ((rec.model, by_model), (rec.purpose, by_purpose)):
                t = bucket.setdefault(key, ModelTotals())
                t.calls += 1
                t.input_tokens += rec.input_tokens
                t.output_tokens += rec.output_tokens
                t.cost_usd += rec.cost_usd
        return UsageTotals(
            calls=len(records),
            failed_calls=sum(1 for r in records if not r.ok),
            input_tokens=sum(r.input_tokens for r in records),
            output_tokens=sum(r.output_tokens for r in records),
            cost_usd=math.fsum(r.cost_usd for r in records),
            unpriced_models=sorted({r.model for r in records if not r.priced}),
            by_model=by_model,
            by_purpose=by_purpose,
        )

    def estimate(self, model: str, messages: Sequence[BaseMessage] | str) -> float:
        """A lower-bound cost estimate (USD) of sending ``messages`` to ``model``.

        Input tokens are estimated from the text length; output tokens from the mean
        output of earlier successful requests to the same model.
        """
        text = messages if isinstance(messages, str) else "".join(_text(m) for m in messages)
        in_tokens = math.ceil(len(text) / _CHARS_PER_TOKEN)
        with self._lock:
            outs = [r.output_tokens for r in self._calls if r.model == model and r.ok]
        out_tokens = round(sum(outs) / len(outs)) if outs else 0
        return self.prices.cost(model, in_tokens, out_tokens)[0]

    def check(self, limits: LimitsLike | None = None, *, next_cost_usd: float = 0.0) -> None:
        """Raise :class:`BudgetExceeded` if one more request would pass a limit.

        Args:
            limits: Limits to check (default: the ledger's own).
            next_cost_usd: Estimated cost of the request about to be sent.

        Raises:
            BudgetExceeded: ``limits.llm-calls`` or ``limits.llm-cost``.
        """
        with self._lock:
            self._check(limits or self.limits, next_cost_usd)

    def _check(self, limits: LimitsLike, next_cost_usd: float) -> None:
        sent = len(self._calls) + len(self._held) + self._inflight
        if limits.max_llm_calls is not None and sent + 1 > limits.max_llm_calls:
            raise BudgetExceeded(
                f"LLM call limit reached: this run has sent {sent} request(s) to a model "
                f"and max_llm_calls is {limits.max_llm_calls}",
                run=self.run_id,
                limit="max_llm_calls",
                code="limits.llm-calls",
                hint="raise limits.max_llm_calls in the pipeline and resume the run; "
                "finished steps are kept",
            )
        spent = self.cost_usd
        cap = limits.max_llm_cost_usd
        if cap is not None and spent + next_cost_usd > cap:
            raise BudgetExceeded(
                f"LLM cost limit reached: this run has spent ${spent:.4f} on {sent} request(s); "
                f"the next request (about ${next_cost_usd:.4f}) would pass "
                f"max_llm_cost_usd = ${cap:.4f}",
                run=self.run_id,
                limit="max_llm_cost_usd",
                code="limits.llm-cost",
                hint="raise limits.max_llm_cost_usd in the pipeline and resume the run; "
                "finished steps are kept",
            )

    def reserve(self, limits: LimitsLike | None, next_cost_usd: float) -> None:
        """Check the limits and count one request as in flight, atomically."""
        with self._lock:
            self._check(limits or self.limits, next_cost_usd)
            self._inflight += 1

    def release(self) -> None:
        """The in-flight request reserved by :meth:`reserve` has finished."""
        with self._lock:
            self._inflight = max(0, self._inflight - 1)


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


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return json.dumps(content, default=str)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])
