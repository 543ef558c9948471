"""The budget allocation agent: planning, running on files, fit recovery, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.budget import BudgetAllocationAgent, BudgetPlan, BudgetSpec, History, fit_model
from agents.budget._model import contributions_of
from conductor import (
    AgentError,
    BusinessGoal,
    Constraint,
    DataCatalog,
    DataError,
    DataSource,
    GoalError,
    Horizon,
    Inputs,
    Money,
    PlanContext,
    RunContext,
    Target,
)

# channel: (decay, half-saturation $/week, shape, max weekly effect, mean weekly spend)
TRUE = {
    "search": (0.2, 5000.0, 1.2, 40000.0, 6000.0),
    "social": (0.5, 4000.0, 2.0, 30000.0, 4000.0),
    "email": (0.3, 1000.0, 1.0, 9000.0, 1200.0),
}
FIRST = dt.date(2024, 1, 1)


def simulate(weeks: int, seed: int = 0, noise: float = 1500.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spend, media = [], np.zeros(weeks)
    for decay, k, s, beta, mean in TRUE.values():
        x = mean * rng.lognormal(-0.1, 0.45, weeks)
        x = np.where(rng.random(weeks) < 0.1, x * 0.15, x)
        a, carry = np.empty(weeks), x[0]
        for t in range(weeks):
            carry = decay * carry + (1 - decay) * x[t]
            a[t] = carry
        media += beta * a**s / (a**s + k**s)
        spend.append(x)
    doy = np.array([(FIRST + dt.timedelta(weeks=i)).timetuple().tm_yday for i in range(weeks)])
    base = (
        120000 * (1 + 0.05 * np.arange(weeks) / 52) * (1 + 0.1 * np.cos(2 * np.pi * doy / 365.25))
    )
    return np.column_stack(spend), base + media + rng.normal(0, noise, weeks)


def true_rois(spend: np.ndarray) -> np.ndarray:
    """Each channel's true contribution over the history per unit of its spend."""
    out = []
    for i, (decay, k, s, beta, _) in enumerate(TRUE.values()):
        x = spend[:, i]
        a, carry = np.empty(len(x)), x[0]
        for t in range(len(x)):
            carry = decay * carry + (1 - decay) * x[t]
            a[t] = carry
        out.append((beta * a**s / (a**s + k**s)).sum() / x.sum())
    return np.array(out)


def write(tmp: Path, weeks: int = 78, seed: int = 0, wide: bool = False) -> dict[str, Path]:
    spend, y = simulate(weeks, seed)
    names = list(TRUE)
    dates = [FIRST + dt.timedelta(weeks=i) for i in range(weeks)]
    paths = {"spend": tmp / "spend.csv", "outcomes": tmp / "outcomes.csv"}
    with paths["spend"].open("w", newline="") as fh:
        w = csv.writer(fh)
        if wide:
            w.writerow(["date", *[f"spend_{n}" for n in names]])
            w.writerows(
                [d.isoformat(), *(f"{v:.2f}" for v in spend[i])] for i, d in enumerate(dates)
            )
        else:
            w.writerow(["date", "channel", "spend"])
            for i, d in enumerate(dates):
                w.writerows([d.isoformat(), n, f"{spend[i, j]:.2f}"] for j, n in enumerate(names))
    with paths["outcomes"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "revenue"])
        w.writerows([d.isoformat(), f"{y[i]:.2f}"] for i, d in enumerate(dates))
    return paths


def goal(**kw: object) -> BusinessGoal:
    base: dict[str, object] = {
        "objective": "grow_revenue",
        "kpi": "revenue",
        "budget": Money(amount=130000, currency="EUR"),
        "horizon": Horizon(start=dt.date(2025, 7, 7), end=dt.date(2025, 10, 5), label="Q3 2025"),
    }
    base.update(kw)
    return BusinessGoal.model_validate(base)


def plan(g: BusinessGoal, params: dict | None = None, brand: object = None) -> BudgetSpec:
    ctx = PlanContext(step="budget", goal=g, params=params or {}, spec_type=BudgetSpec, brand=brand)
    spec = BudgetAllocationAgent().plan(ctx)
    assert isinstance(spec, BudgetSpec)
    return spec


def run(tmp: Path, spec: BudgetSpec, paths: dict[str, Path] | None = None) -> BudgetPlan:
    paths = paths or write(tmp)
    cat = DataCatalog({k: DataSource(path=v) for k, v in paths.items()})
    ctx = RunContext(
        run_id="t", step="budget", agent="budget_allocation", goal=goal(), out_dir=tmp / "out"
    )
    try:
        return BudgetAllocationAgent().run(spec, Inputs(upstream={}, catalog=cat), ctx)
    finally:
        cat.close()


FAST = {"bootstrap": 4}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write(tmp_path_factory.mktemp("budget"))


# ---------------------------------------------------------------------------- plan


def test_plan_derives_from_goal_and_brand() -> None:
    g = goal(
        channels=["Search", "social", "email"],
        excluded_channels=["tv"],
        constraints=[
            Constraint(kind="max_channel_share", channel="social", value=0.5),
            Constraint(kind="min_channel_spend", channel="email", value=5000),
            Constraint(kind="min_roas", value=1.5),
        ],
        target=Target(kind="relative", value=0.1),
    )
    brand = SimpleNamespace(
        budget=SimpleNamespace(max_share={"*": 0.6}, banned_channels=["TikTok"], max_change=0.5)
    )
    ctx = PlanContext(
        step="budget", goal=g, params={"bootstrap": 7}, spec_type=BudgetSpec, brand=brand
    )
    spec = BudgetAllocationAgent().plan(ctx)
    assert spec.budget == 130000 and spec.currency == "EUR"
    assert spec.horizon_weeks == pytest.approx(13.0) and spec.period == "Q3 2025"
    assert spec.channels == ["search", "social", "email"]
    assert spec.max_share == {"social": 0.5} and spec.min_spend == {"email": 5000}
    assert spec.min_roas == 1.5 and spec.target_growth == 0.1
    assert spec.brand_max_share == {"*": 0.6} and spec.banned_channels == ["tiktok"]
    assert spec.max_change == 0.5 and spec.bootstrap == 7
    assert ctx.provenance["budget"].source == "goal"
    assert ctx.provenance["brand_max_share"].source == "brand"
    assert ctx.provenance["bootstrap"].source == "parameter"


def test_budget_from_with_satisfies_the_goal_requirement() -> None:
    g = goal(budget=None)
    with pytest.raises(GoalError) as info:
        plan(g)
    assert info.value.code == "goal.missing-field"
    assert plan(g, {"budget": 5000}).budget == 5000
    BudgetAllocationAgent().check_goal(g, "budget")  # deferred to plan(), which sees `with:`


# ---------------------------------------------------------------------------- run


def test_run_produces_a_typed_plan_summing_to_the_budget(
    tmp_path: Path, data: dict[str, Path]
) -> None:
    spec = plan(goal(), {**FAST, "decision": "point"})
    out = run(tmp_path, spec, data)
    assert out.decision == "point"
    assert out.spend == pytest.approx(130000, rel=1e-8)
    assert out.allocation.total == pytest.approx(130000, abs=0.05)
    assert sum(c.previous for c in out.channels) == pytest.approx(130000)
    assert {c.channel for c in out.channels} == set(TRUE)
    ids = [a.id for a in out.artifacts()]
    assert len(ids) == len(set(ids)) and "budget/allocation" in ids
    assert any(i.startswith("budget/saturation/") for i in ids)
    assert out.expected_kpi.low <= out.expected_kpi.value <= out.expected_kpi.high
    assert out.uplift.value >= -1e-6  # the optimum is never worse than the current mix
    funded = [c for c in out.channels if c.min_amount < c.amount < c.max_amount]
    assert all(c.marginal_roi == pytest.approx(out.marginal_price, rel=1e-4) for c in funded)
    assert out.diagnostics.r2 > 0.8 and out.diagnostics.holdout_mape is not None
    assert Path(out.files["fit"]).exists()
    assert "EUR over 13 weeks" in out.summary()
    again = BudgetPlan.model_validate(json.loads(out.model_dump_json()))
    assert again == out


def test_wide_table_gives_the_same_channels(tmp_path: Path) -> None:
    paths = write(tmp_path, wide=True)
    out = run(tmp_path, plan(goal(), FAST), paths)
    assert {c.channel for c in out.channels} == set(TRUE)


def test_brand_rules_and_exclusions_are_respected(tmp_path: Path, data: dict[str, Path]) -> None:
    brand = SimpleNamespace(
        budget=SimpleNamespace(max_share={"*": 0.5}, banned_channels=["email"], max_change=None)
    )
    out = run(tmp_path, plan(goal(), FAST, brand), data)
    amounts = out.allocation.amounts
    assert amounts["email"] == 0
    assert all(v <= 0.5 * 130000 + 1e-6 for v in amounts.values())
    assert sum(amounts.values()) == pytest.approx(130000, abs=0.05)


def test_max_change_vs_current_mix(tmp_path: Path, data: dict[str, Path]) -> None:
    out = run(tmp_path, plan(goal(), {**FAST, "max_change": 0.2}), data)
    for c in out.channels:
        assert abs(c.change) <= 0.2 * c.previous + 1e-6


def test_plan_stays_within_the_spends_the_history_has_seen(
    tmp_path: Path, data: dict[str, Path]
) -> None:
    # With a large budget the best split on the fitted curves pushes social past anything
    # it ever spent; by default the plan stops at the top of its history and says so.
    spend, _ = simulate(78)
    big = goal(budget=Money(amount=250000, currency="EUR"))
    held = run(tmp_path, plan(big, FAST), data)
    free = run(tmp_path, plan(big, {**FAST, "history_range": None}), data)
    social = {p.channel: p for p in held.channels}["social"]
    q95 = float(np.percentile(spend[:, list(TRUE).index("social")], 95))
    assert social.weekly == pytest.approx(q95, rel=1e-4)  # the CSV rounds to cents
    assert any(r.startswith("history range: 90%") for r in social.bound_reasons)
    assert any(
        "social is held at the top of its historical weekly spend" in w for w in held.warnings
    )
    assert {p.channel: p for p in free.channels}["social"].weekly > q95 * 1.1
    assert free.media_kpi.value > held.media_kpi.value  # on the fitted curves, as expected
    # A small budget: search is kept at the bottom of its history rather than switched off.
    small = goal(budget=Money(amount=60000, currency="EUR"))
    low = {p.channel: p for p in run(tmp_path, plan(small, FAST), data).channels}["search"]
    assert low.weekly == pytest.approx(float(np.percentile(spend[:, 0], 5)), rel=1e-4)


def test_target_mode_spends_least_to_reach_the_target(
    tmp_path: Path, data: dict[str, Path]
) -> None:
    full = run(tmp_path, plan(goal(), FAST), data)
    target = full.expected_kpi.value - 0.5 * full.media_kpi.value
    out = run(tmp_path, plan(goal(), {**FAST, "mode": "target", "target": target}), data)
    assert out.spend < 130000
    assert out.target_met and out.expected_kpi.value == pytest.approx(target, rel=1e-4)
    assert out.decision == "point"  # the least spend reaching a target is the fitted curves'


def test_roas_bound_caps_spend(tmp_path: Path, data: dict[str, Path]) -> None:
    full = run(tmp_path, plan(goal(), FAST), data)
    roas = full.media_kpi.value / full.spend * 1.1
    out = run(tmp_path, plan(goal(), {**FAST, "min_roas": roas}), data)
    assert out.spend < 130000
    assert out.media_kpi.value / out.spend >= roas * (1 - 1e-6)


# ---------------------------------------------------------------------------- fit


def test_fit_recovers_known_roi_and_curves() -> None:
    # Search and social vary enough to pin their average return; email's spend is small
    # beside the KPI, so its return is not identified to 15% even at this low noise: the
    # fit must then say so, with a bootstrap interval that is wide and holds the truth.
    spend, y = simulate(104, seed=3, noise=300.0)
    hist = History([FIRST + dt.timedelta(weeks=i) for i in range(104)], list(TRUE), spend, y)
    fit = fit_model(hist, bootstrap=20)
    assert fit.r2 > 0.95
    for i, (name, (decay, *_)) in enumerate(TRUE.items()):
        x = spend[:, i]
        true_roi = true_rois(spend)[i]
        est_roi = fit.contributions[:, i].sum() / x.sum()
        assert abs(fit.params.decay[i] - decay) < 0.15
        if name == "email":
            draws = [contributions_of(fit, p)[:, i].sum() / x.sum() for p in fit.draws]
            low, high = np.percentile(draws, [5, 95])
            assert low <= true_roi <= high
            assert high / low > 1.4
        else:
            assert est_roi == pytest.approx(true_roi, rel=0.1)


# ---------------------------------------------------------------------------- bad input


def _rewrite(path: Path, fn) -> None:  # type: ignore[no-untyped-def]
    rows = list(csv.reader(path.open()))
    rows = [rows[0], *fn(rows[1:])]
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_negative_spend_is_a_clear_error(tmp_path: Path) -> None:
    paths = write(tmp_path)
    _rewrite(
        paths["spend"],
        lambda rows: [[r[0], r[1], "-5"] if i == 7 else r for i, r in enumerate(rows)],
    )
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), FAST), paths)
    assert info.value.code == "data.negative-spend" and "negative spend" in str(info.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["spend", "outcomes"])
def test_non_finite_numbers_are_a_clear_error(tmp_path: Path, where: str, value: str) -> None:
    # DuckDB reads "nan" and "inf" as numbers; they must not reach the fit.
    paths = write(tmp_path)
    if where == "spend":
        _rewrite(
            paths["spend"],
            lambda rows: [[*r[:2], value] if i == 7 else r for i, r in enumerate(rows)],
        )
    else:
        _rewrite(
            paths["outcomes"],
            lambda rows: [[r[0], value] if i == 7 else r for i, r in enumerate(rows)],
        )
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), FAST), paths)
    assert info.value.code == ("data.bad-spend" if where == "spend" else "data.bad-kpi")
    assert "not finite numbers" in str(info.value)


def test_resampled_plan_averages_the_refits_and_keeps_every_bound(
    tmp_path: Path, data: dict[str, Path]
) -> None:
    point = run(tmp_path / "p", plan(goal(), {**FAST, "decision": "point"}), data)
    out = run(tmp_path / "r", plan(goal(), FAST), data)  # resampled is the default
    assert out.decision == "resampled"
    assert out.spend == pytest.approx(130000, rel=1e-8)
    assert all(c.min_amount - 1e-6 <= c.amount <= c.max_amount + 1e-6 for c in out.channels)
    # Same fit, same refits: only the choice of split differs.
    assert out.diagnostics.r2 == point.diagnostics.r2
    assert out.marginal_price == point.marginal_price
    assert [c.amount for c in out.channels] != pytest.approx([c.amount for c in point.channels])
    # No refits, nothing to average: the fitted curves' optimum.
    assert run(tmp_path / "n", plan(goal(), {"bootstrap": 0}), data).decision == "point"


@pytest.mark.parametrize(
    ("where", "value", "shown"),
    [("spend", "2024-13-45", "e.g. '2024-13-45'"), ("outcomes", "", "the date is empty")],
)
def test_an_unreadable_date_is_a_clear_error_with_an_example(
    tmp_path: Path, where: str, value: str, shown: str
) -> None:
    paths = write(tmp_path)
    _rewrite(
        paths[where], lambda rows: [[value, *r[1:]] if i == 7 else r for i, r in enumerate(rows)]
    )
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), FAST), paths)
    assert (info.value.code, info.value.source, info.value.column) == (
        "data.bad-date",
        where,
        "date",
    )
    assert f"1 row(s) have a missing or unreadable date ({shown})" in str(info.value)


def test_missing_weeks_are_a_clear_error(tmp_path: Path) -> None:
    paths = write(tmp_path)
    _rewrite(paths["spend"], lambda rows: [r for r in rows if r[0] != "2024-03-04"])
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), FAST), paths)
    assert info.value.code == "data.missing-weeks" and "2024-03-04" in str(info.value)


def test_channel_without_spend_is_a_clear_error(tmp_path: Path) -> None:
    paths = write(tmp_path)
    _rewrite(
        paths["spend"], lambda rows: [[r[0], r[1], "0"] if r[1] == "email" else r for r in rows]
    )
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), FAST), paths)
    assert info.value.code == "data.channel-no-spend" and "email" in str(info.value)
    ok = run(tmp_path, plan(goal(), {**FAST, "excluded_channels": ["email"]}), paths)
    assert ok.allocation.amounts["email"] == 0


def test_unknown_channel_names_are_a_clear_error(tmp_path: Path, data: dict[str, Path]) -> None:
    with pytest.raises(AgentError) as info:
        run(tmp_path, plan(goal(channels=["search", "socail"]), FAST), data)
    assert info.value.code == "budget.unknown-channel"
    assert "'socail' -> 'social'" in str(info.value)


def test_missing_kpi_column_is_a_clear_error(tmp_path: Path, data: dict[str, Path]) -> None:
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), {**FAST, "kpi": "revnue"}), data)
    assert info.value.code == "data.missing-column" and "revenue" in str(info.value)


def test_short_and_flat_history_warn(tmp_path: Path) -> None:
    paths = write(tmp_path, weeks=30)
    _rewrite(
        paths["spend"],
        lambda rows: [[r[0], r[1], "1000.00"] if r[1] == "email" else r for r in rows],
    )
    out = run(tmp_path, plan(goal(), FAST), paths)
    text = " ".join(out.warnings)
    assert "less than a year" in text and "email: weekly spend barely varies" in text


@settings(max_examples=6, deadline=None)
@given(st.lists(st.floats(0, 80000), min_size=3, max_size=3))
def test_minimums_above_the_budget_always_name_the_clash(
    tmp_path_factory: pytest.TempPathFactory, mins: list[float]
) -> None:
    tmp = tmp_path_factory.mktemp("inf")
    paths = write(tmp, weeks=40)
    spec = plan(goal(), {"bootstrap": 0, "min_spend": dict(zip(TRUE, mins, strict=True))})
    if sum(mins) > 130000:
        with pytest.raises(AgentError) as info:
            run(tmp, spec, paths)
        assert info.value.code == "budget.infeasible"
        assert "min_spend" in str(info.value) and "130,000" in str(info.value)
    else:
        out = run(tmp, spec, paths)
        assert out.spend == pytest.approx(130000, rel=1e-8)
        for c, m in zip(TRUE, mins, strict=True):
            assert out.allocation.amounts[c] >= m - 0.01
