"""The usage ledger: token use, cost and run limits of a run's model requests.

One :class:`UsageLedger` per run holds a :class:`UsageRecord` for every request sent to
a model (successful or not) and checks the run's :class:`Limits` before each request,
raising :class:`~conductor.errors.BudgetExceeded` that says which limit to raise. Its
state (``to_dict``/``from_dict``) is checkpointed with the run so a resumed run keeps
counting from where it stopped. Records are fed by :class:`conductor.llm._meter.UsageMeter`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from langchain_core.messages import BaseMessage
from pydantic import ConfigDict, Field, ValidationError

from conductor.errors import BudgetExceeded, ConductorError
from conductor.llm._prices import PriceTable, _first_error, _Model

__all__ = [
    "LedgerState",
    "Limits",
    "LimitsLike",
    "Listener",
    "ModelTotals",
    "UsageLedger",
    "UsageRecord",
    "UsageTotals",
]

# Rough characters-per-token ratio of English text for OpenAI tokenizers; only used to
# estimate a request's cost before it is sent, never to bill.
_CHARS_PER_TOKEN = 4.0


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


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return json.dumps(content, default=str)
