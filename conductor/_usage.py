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

# The code lives in three modules, one concept each, importing one way: prices
# (conductor._prices), then the ledger and limits (conductor._usage_ledger), then the
# LangChain callback (conductor._meter). This module keeps every name importable here.
from conductor._meter import (
    CALL_ID_KEY,
    DEFER_KEY,
    PURPOSE_KEY,
    UsageMeter,
    error_code,
    metered,
    meters_of,
)
from conductor._prices import DEFAULT_PRICES, ModelPrice, PriceTable
from conductor._usage_ledger import (
    LedgerState,
    Limits,
    LimitsLike,
    Listener,
    ModelTotals,
    UsageLedger,
    UsageRecord,
    UsageTotals,
)

__all__ = [
    "CALL_ID_KEY",
    "DEFAULT_PRICES",
    "DEFER_KEY",
    "PURPOSE_KEY",
    "LedgerState",
    "Limits",
    "LimitsLike",
    "Listener",
    "ModelPrice",
    "ModelTotals",
    "PriceTable",
    "UsageLedger",
    "UsageMeter",
    "UsageRecord",
    "UsageTotals",
    "error_code",
    "metered",
    "meters_of",
]
