"""Model prices: what a language-model request costs.

:class:`PriceTable` maps model names (or name prefixes) to :class:`ModelPrice` in USD per
million tokens; :data:`DEFAULT_PRICES` holds OpenAI's list prices, overridable in the
pipeline or with ``CONDUCTOR_PRICES``. This is the bottom layer of usage metering: the
ledger (:mod:`conductor.llm._ledger`) prices its records with it, and it also holds the
small pydantic base and error-formatting helper both share.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conductor.errors import ConductorError

__all__ = ["DEFAULT_PRICES", "ModelPrice", "PriceTable"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])
