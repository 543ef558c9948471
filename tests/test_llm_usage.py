"""Usage ledger, price table, limits and the metering wrapper (no network)."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ConfigDict, Field

from conductor.errors import BudgetExceeded, ConductorError
from conductor.llm import (
    DEFAULT_PRICES,
    FakeChatModel,
    Limits,
    ModelPrice,
    PriceTable,
    UsageLedger,
    metered,
    structured_call,
)

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return T0


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(description="A number.")


# -- price table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
    ],
)
def test_price_lookup_matches_exact_then_longest_dated_prefix(name: str, expected: str) -> None:
    assert PriceTable().lookup(name) == DEFAULT_PRICES[expected]


@pytest.mark.parametrize("name", ["llama-3-70b", "gpt-4omni", "", "fake-model"])
def test_unknown_model_is_unpriced(name: str) -> None:
    table = PriceTable()
    assert table.lookup(name) is None
    assert table.cost(name, 1000, 1000) == (0.0, False)


def test_cost_uses_per_million_prices_and_cached_rate() -> None:
    table = PriceTable.with_overrides({"m": {"input": 2.0, "output": 8.0, "cached_input": 0.5}})
    cost, priced = table.cost("m", 1_000_000, 500_000, cached_input_tokens=400_000)
    assert priced
    assert cost == pytest.approx(600_000 * 2.0 / 1e6 + 400_000 * 0.5 / 1e6 + 500_000 * 8.0 / 1e6)
    # Cached tokens beyond the prompt are clamped rather than billed twice.
    assert table.cost("m", 10, 0, cached_input_tokens=99)[0] == pytest.approx(10 * 0.5 / 1e6)


def test_overrides_keep_defaults_and_reject_bad_prices() -> None:
    table = PriceTable.with_overrides({"gpt-4o-mini": ModelPrice(input=1, output=1)})
    assert table.lookup("gpt-4o-mini") == ModelPrice(input=1, output=1)
    assert table.lookup("gpt-4o") == DEFAULT_PRICES["gpt-4o"]
    with pytest.raises(ConductorError) as err:
        PriceTable.with_overrides({"x": {"input": -1, "output": 1}})
    assert err.value.code == "llm.bad-price"
    assert "x" in err.value.message


def test_prices_from_env_json_and_file(tmp_path) -> None:
    assert PriceTable.from_env({}).prices == PriceTable().prices
    table = PriceTable.from_env({"CONDUCTOR_PRICES": '{"local": {"input": 1, "output": 2}}'})
    assert table.cost("local", 1_000_000, 0)[0] == pytest.approx(1.0)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"local": {"input": 3, "output": 4}}))
    assert PriceTable.from_env({"CONDUCTOR_PRICES": str(path)}).cost("local", 0, 10**6)[0] == 4
    for bad in ("{not json", str(tmp_path / "missing.json"), "[1, 2]"):
        with pytest.raises(ConductorError) as err:
            PriceTable.from_env({"CONDUCTOR_PRICES": bad})
        assert err.value.code == "llm.bad-price"


# -- ledger ------------------------------------------------------------------------------


def test_record_prices_and_totals() -> None:
    led = UsageLedger(run_id="r1", clock=clock)
    led.record(model="gpt-4o-mini", purpose="goal-parse", input_tokens=1000, output_tokens=100)
    led.record(model="gpt-4o", purpose="copy", input_tokens=2000, output_tokens=0, step="s")
    led.record(
        model="mystery",
        purpose="copy",
        input_tokens=5,
        output_tokens=5,
        ok=False,
        error="llm.timeout",
    )
    totals = led.totals()
    assert totals.calls == 3
    assert totals.failed_calls == 1
    assert totals.input_tokens == 3005
    assert totals.output_tokens == 105
    expected = (1000 * 0.15 + 100 * 0.60 + 2000 * 2.50) / 1e6
    assert totals.cost_usd == pytest.approx(expected)
    assert led.cost_usd == pytest.approx(expected)
    assert totals.unpriced_models == ["mystery"]
    assert totals.by_model["gpt-4o"].calls == 1
    assert totals.by_purpose["copy"].input_tokens == 2005
    assert led.calls[1].step == "s"
    assert led.calls[0].ts == T0


def test_ledger_round_trips_through_json() -> None:
    led = UsageLedger(run_id="r1", clock=clock)
    led.record(model="gpt-4o-mini", purpose="p", input_tokens=10, output_tokens=2)
    led.record(model="x", purpose="p", ok=False, error="llm.unavailable")
    data = json.loads(json.dumps(led.to_dict()))
    back = UsageLedger.from_dict(data, limits=Limits(max_llm_calls=5))
    assert back.to_dict() == led.to_dict()
    assert back.run_id == "r1"
    assert back.limits.max_llm_calls == 5
    assert UsageLedger.from_dict(None).calls == []
    with pytest.raises(ConductorError) as err:
        UsageLedger.from_dict({"calls": [{"model": 3}]})
    assert err.value.code == "llm.bad-ledger"


def test_add_accepts_foreign_records_and_fills_cost() -> None:
    led = UsageLedger(clock=clock)
    rec = led.add({"model": "gpt-4o", "purpose": "own-client", "input_tokens": 1_000_000})
    assert rec.cost_usd == pytest.approx(2.5)
    assert rec.priced
    assert rec.ts == T0
    with pytest.raises(ConductorError) as err:
        led.add({"model": "gpt-4o", "input_tokens": -3})
    assert err.value.code == "llm.bad-usage"
    assert len(led) == 1


def test_subscribers_see_every_record_until_unsubscribed() -> None:
    led = UsageLedger(clock=clock)
    seen: list[dict[str, object]] = []
    stop = led.subscribe(seen.append)
    led.record(model="m", purpose="p", input_tokens=1)
    stop()
    led.record(model="m", purpose="p", input_tokens=2)
    assert [r["input_tokens"] for r in seen] == [1]
    assert seen[0]["ts"] == T0.isoformat().replace("+00:00", "Z")


def test_call_limit_refuses_the_call_that_would_pass_it() -> None:
    led = UsageLedger(run_id="r9", limits=Limits(max_llm_calls=2))
    led.check()
    led.record(model="m", purpose="p")
    led.check()
    led.record(model="m", purpose="p")
    with pytest.raises(BudgetExceeded) as err:
        led.check()
    assert err.value.code == "limits.llm-calls"
    assert err.value.limit == "max_llm_calls"
    assert err.value.run == "r9"
    assert "max_llm_calls" in err.value.hint
    assert "resume" in err.value.hint
    # Raising the cap lets the run continue.
    led.check(Limits(max_llm_calls=3))


def test_cost_limit_counts_the_estimated_next_call() -> None:
    led = UsageLedger(limits=Limits(max_llm_cost_usd=0.001))
    led.record(model="gpt-4o", purpose="p", input_tokens=300)  # $0.00075
    led.check(next_cost_usd=0.0002)
    with pytest.raises(BudgetExceeded) as err:
        led.check(next_cost_usd=0.0003)
    assert err.value.code == "limits.llm-cost"
    assert "$0.0008" in err.value.message
    # A zero cap still allows unpriced calls (their cost is unknown, counted as 0).
    UsageLedger(limits=Limits(max_llm_cost_usd=0)).check(next_cost_usd=0.0)


def test_estimate_uses_text_length_and_past_outputs() -> None:
    led = UsageLedger()
    assert led.estimate("gpt-4o", "x" * 4000) == pytest.approx(1000 * 2.5 / 1e6)
    led.record(model="gpt-4o", purpose="p", output_tokens=100)
    led.record(model="gpt-4o", purpose="p", output_tokens=300)
    assert led.estimate("gpt-4o", [HumanMessage(content="x" * 4000)]) == pytest.approx(
        (1000 * 2.5 + 200 * 10.0) / 1e6
    )
    assert led.estimate("unknown-model", "x" * 4000) == 0.0


records = st.lists(
    st.tuples(
        st.sampled_from(["gpt-4o-mini", "gpt-4o", "o3", "local-llm"]),
        st.integers(0, 200_000),
        st.integers(0, 50_000),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(records)
def test_totals_are_sums_of_records_and_survive_a_checkpoint(rows) -> None:
    led = UsageLedger(clock=clock)
    for model, inp, out, ok in rows:
        led.record(
            model=model,
            purpose="p",
            input_tokens=inp,
            output_tokens=out,
            ok=ok,
            error=None if ok else "llm.failed",
        )
    totals = led.totals()
    assert totals.calls == len(rows)
    assert totals.input_tokens == sum(r[1] for r in rows)
    assert math.isclose(
        totals.cost_usd,
        sum(v.cost_usd for v in totals.by_model.values()),
        rel_tol=1e-9,
        abs_tol=1e-12,
    )
    assert totals.cost_usd == pytest.approx(
        sum(PriceTable().cost(m, i, o)[0] for m, i, o, _ in rows), abs=1e-12
    )
    assert ("local-llm" in totals.unpriced_models) == any(r[0] == "local-llm" for r in rows)
    assert UsageLedger.from_dict(led.to_dict()).totals() == totals


@settings(max_examples=40, deadline=None)
@given(cap=st.integers(0, 6), calls=st.integers(0, 10))
def test_never_more_calls_than_the_cap(cap: int, calls: int) -> None:
    fake = FakeChatModel(responses=["ok"] * calls)
    led = UsageLedger(limits=Limits(max_llm_calls=cap))
    model = metered(fake, led)
    made = 0
    for _ in range(calls):
        try:
            model.invoke("hi")
            made += 1
        except BudgetExceeded:
            break
    assert made == min(cap, calls)
    assert len(led) == made
    assert fake.remaining == calls - made


# -- metering ----------------------------------------------------------------------------


def test_metered_model_records_direct_and_structured_calls() -> None:
    fake = FakeChatModel(
        responses=["hello", {"amount": 3}], model_name="gpt-4o-mini", usage=(100, 10)
    )
    led = UsageLedger(clock=clock)
    step_records: list[dict[str, object]] = []
    model = metered(fake, led, step="copy", purpose="copy-variants", on_record=step_records.append)
    assert isinstance(model, FakeChatModel)
    assert model.invoke("hi").content == "hello"
    assert model.with_structured_output(Answer).invoke("n?") == Answer(amount=3)
    assert [(r.purpose, r.step, r.input_tokens, r.output_tokens) for r in led.calls] == [
        ("copy-variants", "copy", 100, 10),
        ("copy-variants", "copy", 100, 10),
    ]
    assert led.cost_usd == pytest.approx(2 * (100 * 0.15 + 10 * 0.6) / 1e6)
    assert [r["id"] for r in step_records] == [r.id for r in led.calls]
    # The original model is untouched.
    fake2 = FakeChatModel(responses=["x"])
    metered(fake2, led)
    fake2.invoke("hi")
    assert len(led) == 2


def test_metered_model_stops_before_sending_when_the_cap_is_hit() -> None:
    fake = FakeChatModel(responses=["a", "b", "c"], model_name="gpt-4o", usage=(400, 0))
    led = UsageLedger(limits=Limits(max_llm_cost_usd=0.0015))
    model = metered(fake, led)
    model.invoke("x")
    with pytest.raises(BudgetExceeded) as err:
        model.invoke("x" * 1000)  # ~250 tokens estimate: 0.001 + 0.000625 > cap
    assert err.value.code == "limits.llm-cost"
    assert fake.remaining == 2  # nothing was sent
    assert len(led) == 1


def test_failed_requests_are_recorded_with_their_code() -> None:
    fake = FakeChatModel(responses=[TimeoutError("slow")])
    led = UsageLedger()
    with pytest.raises(TimeoutError):
        metered(fake, led).invoke("x")
    (rec,) = led.calls
    assert not rec.ok
    assert rec.error == "llm.failed"
    assert rec.input_tokens == 0


def test_structured_call_does_not_double_count_a_metered_model() -> None:
    fake = FakeChatModel(responses=[{"amount": 1}, {"amount": 2}], usage=(10, 1))
    led = UsageLedger()
    model = metered(fake, led, step="s")
    structured_call(model, Answer, "q", ledger=led, purpose="p")
    structured_call(model, Answer, "q", purpose="p2")
    assert [(r.purpose, r.step) for r in led.calls] == [("p", "s"), ("p2", "s")]
    # A second, separate ledger passed explicitly is filled too.
    other = UsageLedger()
    model2 = metered(FakeChatModel(responses=[{"amount": 3}]), led)
    structured_call(model2, Answer, "q", ledger=other, purpose="p3")
    assert len(other) == 1
    assert len(led) == 3


def test_any_object_with_the_limit_fields_works_as_limits() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class PipelineLimits:  # stands in for the pipeline's own `limits:` model
        max_llm_cost_usd: float | None = None
        max_llm_calls: int | None = 1

    fake = FakeChatModel(responses=["a", "b"])
    led = UsageLedger()
    model = metered(fake, led, PipelineLimits())
    model.invoke("x")
    with pytest.raises(BudgetExceeded):
        model.invoke("x")
