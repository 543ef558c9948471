"""Language models: the chat-model factory, structured calls, token use, cost and limits.

Everything in Conductor works without a model. When ``OPENAI_API_KEY`` is set,
:func:`chat_model_from_env` builds a ``ChatOpenAI`` and :func:`structured_call` gets a
validated pydantic object out of it (invalid answers retried with the errors as
feedback, transient failures retried with backoff).

One :class:`UsageLedger` per run holds a :class:`UsageRecord` for every request sent to
a model (successful or not). Records come from a LangChain callback, :class:`UsageMeter`,
so any code that calls a model through LangChain is counted: :func:`structured_call`,
and agents calling ``ctx.llm`` directly once the model is wrapped by :func:`metered`.
The meter checks the run's :class:`Limits` *before* each request, so a capped run stops
before it spends more, with a :class:`~conductor.errors.BudgetExceeded` that says which
limit to raise; the ledger state (``to_dict``/``from_dict``) is checkpointed with the run
so a resumed run keeps counting from where it stopped. :class:`FakeChatModel` is the
scripted model tests use in place of a provider.
"""

# One concept a module, importing one way: prices (_prices), then the ledger and limits
# (_ledger), then the LangChain callback (_meter), then the calls that use them (_calls).
# The scripted fake (_fake) stands apart.
from conductor.llm._calls import (
    DEFAULT_MODEL,
    AnswerLimits,
    RetryPolicy,
    chat_model_from_env,
    structured_call,
)
from conductor.llm._fake import FakeChatModel, ScriptItem
from conductor.llm._ledger import (
    LedgerState,
    Limits,
    LimitsLike,
    Listener,
    ModelTotals,
    UsageLedger,
    UsageRecord,
    UsageTotals,
)
from conductor.llm._meter import (
    CALL_ID_KEY,
    DEFER_KEY,
    PURPOSE_KEY,
    UsageMeter,
    error_code,
    metered,
    meters_of,
)
from conductor.llm._prices import DEFAULT_PRICES, ModelPrice, PriceTable

__all__ = [
    "CALL_ID_KEY",
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "DEFER_KEY",
    "PURPOSE_KEY",
    "AnswerLimits",
    "FakeChatModel",
    "LedgerState",
    "Limits",
    "LimitsLike",
    "Listener",
    "ModelPrice",
    "ModelTotals",
    "PriceTable",
    "RetryPolicy",
    "ScriptItem",
    "UsageLedger",
    "UsageMeter",
    "UsageRecord",
    "UsageTotals",
    "chat_model_from_env",
    "error_code",
    "metered",
    "meters_of",
    "structured_call",
]
