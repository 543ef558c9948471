"""The demo data generator: data contracts, determinism, and that its truth is right."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conductor.data import DataCatalog, DataNeed, DataSource
from conductor.demo._data import (
    ACTIONS,
    CHANNELS,
    EVENT_TYPES,
    DemoTruth,
    _removal_effects,
    generate_demo_data,
    load_truth,
)
from conductor.demo._truth import (
    attribution_error,
    contacted_without_consent,
    policy_value,
    true_policy_value,
    uplift_share,
)
from conductor.errors import ConductorError, DataError

TODAY = dt.date(2026, 11, 23)
N = 3000

# The data contracts of the journey (issue 4), budget (issue 5) and personalization
# (issue 6) agents, as DataNeeds, so the generated files are checked the way a pipeline
# checks them.
CONTRACTS = {
    "events": DataNeed(
        columns={
            "customer_id": "string",
            "timestamp": "timestamp",
            "channel": "string",
            "event_type": "string",
        },
        optional_columns={"revenue": "number"},
    ),
    "spend": DataNeed(columns={"date": "date", "channel": "string", "spend": "number"}),
    "outcomes": DataNeed(columns={"date": "date", "revenue": "number", "conversions": "number"}),
    "customers": DataNeed(columns={"customer_id": "string", "consent_marketing": "bool"}),
    "exposures": DataNeed(
        columns={
            "customer_id": "string",
            "timestamp": "timestamp",
            "action": "string",
            "reward": "number",
        },
        optional_columns={"propensity": "number"},
    ),
    "actions": DataNeed(
        columns={"id": "string", "channel": "string", "offer": "string", "template": "string"},
        optional_columns={"subject": "string"},
    ),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoTruth]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo_data(out, customers=N, seed=11, today=TODAY)


def _con(out: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    for name in ("events", "customers", "exposures"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{out}/{name}.parquet')")
    for name in ("spend", "outcomes", "actions"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{out}/{name}.csv')")
    con.execute(f"CREATE VIEW rewards AS SELECT * FROM read_parquet('{out}/truth_rewards.parquet')")
    return con


# --- contracts ---------------------------------------------------------------------------


def test_files_satisfy_the_agents_data_contracts(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    cat = DataCatalog({k: DataSource(path=out / v) for k, v in truth.files.items()})
    try:
        for name, need in CONTRACTS.items():
            assert cat.check(name, need) == [], name
        assert cat.columns("events")["timestamp"].startswith("TIMESTAMP")
        assert cat.columns("customers")["consent_marketing"] == "BOOLEAN"
        assert cat.columns("spend")["date"] == "DATE"
    finally:
        cat.close()
    customers = pq.read_schema(out / "customers.parquet")
    for col in ("age", "country", "tenure_days", "avg_order_value", "health_interest", "gender"):
        assert col in customers.names
    # The brand's `suppressed` exclusion reads this flag: a few customers, whatever consent says.
    assert customers.field("suppressed").type == pa.bool_()
    con = _con(out)
    share, both = con.execute(
        "SELECT avg(suppressed::INT), count(*) FILTER (suppressed AND consent_marketing) "
        "FROM customers"
    ).fetchone()
    assert 0.005 < share < 0.05 and both > 0


def test_events_are_well_formed(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    con = _con(out)
    types = {r[0] for r in con.execute("SELECT DISTINCT event_type FROM events").fetchall()}
    assert types == set(EVENT_TYPES)
    touch_channels = con.execute(
        "SELECT DISTINCT channel FROM events WHERE event_type = 'touch'"
    ).fetchall()
    assert {r[0] for r in touch_channels} == set(CHANNELS)
    bad = con.execute(
        """SELECT count(*) FROM events WHERE
             (event_type <> 'touch' AND channel <> '') OR channel IS NULL
             OR ((event_type = 'conversion') <> (revenue IS NOT NULL))
             OR revenue <= 0"""
    ).fetchone()
    assert bad == (0,)
    lo, hi = con.execute(
        "SELECT min(timestamp), max(timestamp) FROM events WHERE event_type = 'touch'"
    ).fetchone()
    assert dt.datetime.combine(TODAY - dt.timedelta(days=90), dt.time()) <= lo
    assert hi < dt.datetime.combine(TODAY, dt.time())
    funnel = dict(con.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert funnel["visit"] > funnel["add_to_cart"] > funnel["checkout"] > funnel["conversion"]
    assert funnel["touch"] == truth.journey.touches
    assert funnel["conversion"] == truth.journey.conversions
    # Every conversion closes a journey: the customer's previous event of interest is a
    # touch, never another conversion.
    orphan = con.execute(
        """SELECT count(*) FROM (
             SELECT event_type, lag(event_type) OVER (PARTITION BY customer_id
               ORDER BY timestamp) AS prev
             FROM events WHERE event_type IN ('touch', 'conversion'))
           WHERE event_type = 'conversion' AND prev IS DISTINCT FROM 'touch'"""
    ).fetchone()
    assert orphan == (0,)


def test_customers_and_exposures(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    con = _con(out)
    n, consent, ids = con.execute(
        "SELECT count(*), avg(consent_marketing::INT), count(DISTINCT customer_id) FROM customers"
    ).fetchone()
    assert n == ids == N
    assert 0.82 < consent < 0.88
    row = con.execute(
        """SELECT count(*), min(propensity), max(propensity), count(DISTINCT action),
                  sum(CASE WHEN reward NOT IN (0, 1) THEN 1 ELSE 0 END)
           FROM exposures"""
    ).fetchone()
    assert row[0] == truth.policy.exposures
    assert row[1] > 0
    assert row[2] <= 1
    assert row[3] == len(ACTIONS)
    assert row[4] == 0
    # Nothing was ever sent to a customer without consent.
    sent = con.execute(
        """SELECT count(*) FROM exposures e JOIN customers c USING (customer_id)
           WHERE NOT c.consent_marketing"""
    ).fetchone()
    assert sent == (0,)
    actions = con.execute("SELECT id, channel, template FROM actions ORDER BY id").fetchall()
    assert {a[0] for a in actions} == set(ACTIONS)
    for action_id, channel, template in actions:
        if action_id != "no_offer":
            assert channel in {"email", "sms", "push"}
            assert "{{ first_name | default('there') }}" in template


def test_templates_render_with_jinja(demo: tuple[Path, DemoTruth]) -> None:
    import jinja2

    out, _ = demo
    rows = _con(out).execute("SELECT template FROM actions WHERE template IS NOT NULL").fetchall()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    assert len(rows) == len(ACTIONS) - 1
    for (template,) in rows:
        text = env.from_string(template).render(first_name="Ines")
        assert text.startswith("Hi Ines,")
        assert "{{" not in text
        # Rendered per segment (no customer name, no brand): still a complete sentence.
        anonymous = env.from_string(template).render(brand_name=None)
        assert anonymous.startswith("Hi there,")
        assert "None" not in anonymous


def test_spend_history_is_two_years_of_weeks_before_today(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    con = _con(out)
    weeks, first, last, channels = con.execute(
        "SELECT count(DISTINCT date), min(date), max(date), count(DISTINCT channel) FROM spend"
    ).fetchone()
    assert weeks == 104
    assert channels == len(CHANNELS)
    assert last + dt.timedelta(days=6) < TODAY
    assert (first, last) == (truth.budget.first_week, truth.budget.last_week)
    assert all(
        d.weekday() == 0 for (d,) in con.execute("SELECT DISTINCT date FROM spend").fetchall()
    )
    quarterly = con.execute(
        "SELECT avg(s) FROM (SELECT sum(spend) s FROM spend GROUP BY (date - ?::DATE) // 91)",
        [truth.budget.first_week],
    ).fetchone()[0]
    assert 200_000 < quarterly < 300_000
    assert con.execute("SELECT min(spend) FROM spend").fetchone()[0] >= 0
    assert con.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 104
    # Enough variation to identify each curve: every channel's spend spans its
    # half-saturation point.
    for name, curve in truth.budget.curves.items():
        lo, hi = con.execute(
            "SELECT min(spend), max(spend) FROM spend WHERE channel = ?", [name]
        ).fetchone()
        assert lo < curve.half_saturation < hi, name
    assert any(c.shape > 1.5 for c in truth.budget.curves.values())


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    a = generate_demo_data(tmp_path / "a", customers=400, seed=3, today=TODAY)
    b = generate_demo_data(tmp_path / "b", customers=400, seed=3, today=TODAY)
    c = generate_demo_data(tmp_path / "c", customers=400, seed=4, today=TODAY)
    assert a == b
    assert a != c
    for name in ("events", "customers", "exposures", "truth_rewards"):
        ta = pq.read_table(tmp_path / "a" / f"{name}.parquet")
        assert ta.equals(pq.read_table(tmp_path / "b" / f"{name}.parquet")), name
        assert not ta.equals(pq.read_table(tmp_path / "c" / f"{name}.parquet")), name
    for name in ("spend.csv", "outcomes.csv", "actions.csv", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "spend.csv").read_bytes() != (
        tmp_path / "c" / "spend.csv"
    ).read_bytes()


def test_progress_is_reported_in_order(tmp_path: Path) -> None:
    seen: list[tuple[str, float, float | None]] = []
    generate_demo_data(
        tmp_path, customers=200, today=TODAY, on_progress=lambda p, d, t: seen.append((p, d, t))
    )
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)
    assert seen[0][1] == 0
    assert seen[-1] == ("done", seen[-1][2], seen[-1][2])


@pytest.mark.parametrize("n", [0, 99, 20_000_001])
def test_bad_size_is_a_clear_error(tmp_path: Path, n: int) -> None:
    with pytest.raises(ConductorError) as err:
        generate_demo_data(tmp_path, customers=n, today=TODAY)
    assert err.value.code == "demo.bad-size"
    assert err.value.hint


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConductorError) as err:
        generate_demo_data(tmp_path / "file" / "demo", customers=200, today=TODAY)
    assert err.value.code == "demo.unwritable"
    (tmp_path / "demo" / "events.parquet").mkdir(parents=True)
    with pytest.raises(ConductorError) as err:
        generate_demo_data(tmp_path / "demo", customers=200, today=TODAY)
    assert err.value.code == "demo.unwritable"


def test_a_datetime_today_means_its_date(tmp_path: Path) -> None:
    a = generate_demo_data(tmp_path / "a", customers=200, today=TODAY)
    b = generate_demo_data(
        tmp_path / "b", customers=200, today=dt.datetime.combine(TODAY, dt.time(15, 30))
    )
    assert a == b


def test_truth_round_trips_through_json(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    assert load_truth(out) == truth


def test_load_truth_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_truth(tmp_path)
    assert err.value.code == "demo.no-truth"
    (tmp_path / "truth.json").write_text('{"seed": 1}')
    with pytest.raises(DataError) as err:
        load_truth(tmp_path)
    assert err.value.code == "demo.bad-truth"


# --- journey truth -----------------------------------------------------------------------


def test_removal_effects_match_a_hand_computed_chain() -> None:
    # start -> A; A -> B 0.5, conv 0.2, null 0.3; B -> A 0.2, conv 0.4, null 0.4.
    # From A: p = 0.2 + 0.5 * pB, pB = 0.4 + 0.2 * p  =>  p = 0.4 / 0.9.
    full = np.zeros((5, 5))
    full[0, 1] = 1.0
    full[1, [2, 3, 4]] = [0.5, 0.2, 0.3]
    full[2, [1, 3, 4]] = [0.2, 0.4, 0.4]
    full[3, 3] = full[4, 4] = 1.0
    p, effects = _removal_effects(full)
    assert p == pytest.approx(0.4 / 0.9, abs=1e-12)
    assert effects[0] == pytest.approx(1.0, abs=1e-12)  # every journey starts with A
    assert effects[1] == pytest.approx(1.0 - 0.2 / (0.4 / 0.9), abs=1e-12)


def test_truth_attribution_sums_to_the_conversions(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    j = truth.journey
    assert math.isclose(sum(j.credits_conversions.values()), j.conversions, rel_tol=1e-12)
    assert math.isclose(sum(j.credits_revenue.values()), j.revenue, rel_tol=1e-9)
    assert math.isclose(sum(j.shares.values()), 1.0, rel_tol=1e-12)
    rows = np.array(j.transition_matrix)
    assert np.allclose(rows.sum(axis=1), 1.0)
    total_rev = _con(out).execute("SELECT sum(revenue) FROM events").fetchone()[0]
    assert j.revenue == pytest.approx(total_rev, abs=0.01)


def _estimated_shares(out: Path) -> dict[str, float]:
    """Markov removal-effect shares estimated from events.parquet alone.

    Journeys split at conversions, as the journey agent's contract defines them.
    """
    paths = (
        _con(out)
        .execute(
            """WITH e AS (
                 SELECT customer_id, timestamp, channel, event_type,
                   coalesce(sum((event_type = 'conversion')::INT) OVER (
                     PARTITION BY customer_id ORDER BY timestamp
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS j
                 FROM events WHERE event_type IN ('touch', 'conversion'))
               SELECT list(channel ORDER BY timestamp) FILTER (WHERE event_type = 'touch'),
                      bool_or(event_type = 'conversion')
               FROM e GROUP BY customer_id, j"""
        )
        .fetchall()
    )
    idx = {c: i + 1 for i, c in enumerate(CHANNELS)}
    n = len(CHANNELS)
    counts = np.zeros((n + 3, n + 3))
    for path, converted in paths:
        prev = 0
        for c in path:
            counts[prev, idx[c]] += 1
            prev = idx[c]
        counts[prev, n + 1 if converted else n + 2] += 1
    counts[n + 1, n + 1] = counts[n + 2, n + 2] = 1
    _, effects = _removal_effects(counts / counts.sum(axis=1, keepdims=True))
    return dict(zip(CHANNELS, effects / effects.sum(), strict=True))


def test_events_follow_the_known_chain(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    estimated = _estimated_shares(out)
    errors = attribution_error(truth, estimated)
    assert max(errors.values()) < 0.04, errors


def test_attribution_error(demo: tuple[Path, DemoTruth]) -> None:
    _, truth = demo
    exact = attribution_error(truth, truth.journey.credits_conversions)
    assert set(exact) == set(CHANNELS)
    assert max(exact.values()) < 1e-12
    scaled = attribution_error(truth, {k: 7 * v for k, v in truth.journey.shares.items()})
    assert max(scaled.values()) < 1e-12
    last_touch_like = attribution_error(truth, {"paid_search": 1.0, "tiktok": 1.0})
    assert last_touch_like["tiktok"] == pytest.approx(0.5)
    assert last_touch_like["social"] == pytest.approx(truth.journey.shares["social"])
    with pytest.raises(ConductorError) as err:
        attribution_error(truth, {"email": 0.0})
    assert err.value.code == "demo.bad-credits"


# --- budget truth ------------------------------------------------------------------------


def test_outcomes_follow_the_known_curves(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    b = truth.budget
    con = _con(out)
    spend = {
        name: np.array(
            [
                r[0]
                for r in con.execute(
                    "SELECT spend FROM spend WHERE channel = ? ORDER BY date", [name]
                ).fetchall()
            ]
        )
        for name in CHANNELS
    }
    rows = con.execute("SELECT date, revenue, conversions FROM outcomes ORDER BY date").fetchall()
    revenue = np.array([r[1] for r in rows])
    media = np.zeros(len(rows))
    for name, curve in b.curves.items():
        x = spend[name]
        a = np.empty_like(x)
        carry = x[0]
        for t, v in enumerate(x):
            carry = curve.decay * carry + (1 - curve.decay) * v
            a[t] = carry
        contrib = curve.response(a)
        media += contrib
        assert curve.roi == pytest.approx(contrib.sum() / x.sum(), rel=1e-6)
    doy = np.array([r[0].timetuple().tm_yday for r in rows], dtype=float)
    season = np.cos(2 * np.pi * (doy - b.seasonality_peak_day) / 365.25)
    t = np.arange(len(rows)) / 52.0
    base = b.baseline_weekly * (1 + b.trend_per_year * t + b.seasonality_amplitude * season)
    resid = revenue - base - media
    assert abs(resid.mean()) < 3 * b.noise_sd / math.sqrt(len(rows))
    assert 0.7 * b.noise_sd < resid.std() < 1.3 * b.noise_sd
    per_conv = revenue / np.array([r[2] for r in rows])
    assert np.all(np.abs(per_conv / b.revenue_per_conversion - 1) < 0.1)


def test_true_optimum_beats_the_current_mix(demo: tuple[Path, DemoTruth]) -> None:
    _, truth = demo
    plan = truth.budget.reference_plan
    assert plan.uplift > 0
    assert plan.uplift_pct > 0.02
    assert sum(plan.allocation.values()) == pytest.approx(plan.budget, rel=1e-6)
    assert uplift_share(truth, plan.allocation, plan.budget, plan.weeks) == pytest.approx(
        1.0, abs=1e-6
    )
    assert uplift_share(truth, plan.current_allocation, plan.budget, plan.weeks) == pytest.approx(
        0.0, abs=1e-9
    )
    everything_on_display = {"display": plan.budget}
    assert uplift_share(truth, everything_on_display, plan.budget, plan.weeks) < 0


@settings(max_examples=15, deadline=None)
@given(
    budget=st.floats(min_value=20_000, max_value=2_000_000),
    weeks=st.sampled_from([4.0, 13.0, 26.0]),
    cap=st.floats(min_value=0.25, max_value=1.0),
    excluded=st.sets(st.sampled_from(CHANNELS), max_size=1),
    seed=st.integers(0, 2**16),
)
def test_optimum_respects_caps_and_no_random_split_beats_it(
    demo: tuple[Path, DemoTruth],
    budget: float,
    weeks: float,
    cap: float,
    excluded: set[str],
    seed: int,
) -> None:
    _, truth = demo
    plan = truth.budget.optimal_plan(budget, weeks, max_share={"*": cap}, excluded=list(excluded))
    alloc = plan.allocation
    assert sum(alloc.values()) == pytest.approx(budget, rel=1e-6)
    for name, amount in alloc.items():
        assert -1e-6 <= amount <= cap * budget * (1 + 1e-6) + 1e-6
        if name in excluded:
            assert amount == pytest.approx(0.0, abs=1e-6)
    best = truth.budget.weekly_revenue({k: v / weeks for k, v in alloc.items()})
    rng = np.random.default_rng(seed)
    allowed = [c for c in CHANNELS if c not in excluded]
    for _ in range(200):
        share = rng.dirichlet(np.ones(len(allowed)))
        if share.max() > cap:
            continue
        trial = {c: s * budget / weeks for c, s in zip(allowed, share, strict=True)}
        assert truth.budget.weekly_revenue(trial) <= best * (1 + 1e-7)


@settings(max_examples=15, deadline=None)
@given(change=st.floats(0.1, 0.6), cap=st.floats(0.5, 1.0))
def test_optimum_within_max_change_of_the_current_mix(
    demo: tuple[Path, DemoTruth], change: float, cap: float
) -> None:
    _, truth = demo
    budget, weeks = 250_000.0, 13.0
    plan = truth.budget.optimal_plan(budget, weeks, max_share={"*": cap}, max_change=change)
    assert sum(plan.allocation.values()) == pytest.approx(budget, rel=1e-6)
    for name, amount in plan.allocation.items():
        cur = plan.current_allocation[name]
        # A share cap below the current share wins over the change floor.
        floor = min(cur * (1 - change), cap * budget)
        assert floor - 1e-3 <= amount <= min(cur * (1 + change), cap * budget) + 1e-3
    free = truth.budget.optimal_plan(budget, weeks, max_share={"*": cap})
    assert plan.revenue <= free.revenue * (1 + 1e-9)
    assert plan.revenue >= plan.current_revenue * (1 - 1e-9)
    # The caps the plan respects are the ones it is scored against.
    assert uplift_share(
        truth, plan.allocation, budget, weeks, max_share={"*": cap}, max_change=change
    ) == pytest.approx(1.0, abs=1e-6)


def test_infeasible_caps_and_bad_budget(demo: tuple[Path, DemoTruth]) -> None:
    _, truth = demo
    with pytest.raises(ConductorError) as err:
        truth.budget.optimal_plan(100_000, 13, max_share={"*": 0.1})
    assert err.value.code == "demo.infeasible-budget"
    with pytest.raises(ConductorError) as err:
        uplift_share(truth, {}, 0.0, 13)
    assert err.value.code == "demo.bad-budget"


# --- personalization truth ---------------------------------------------------------------


def test_policy_values_are_ordered(demo: tuple[Path, DemoTruth]) -> None:
    _, truth = demo
    p = truth.policy
    assert p.oracle_value >= p.logging_value
    assert p.oracle_value >= p.best_single_value == max(p.action_values.values())
    assert p.action_values[p.best_single_action] == p.best_single_value
    assert 0 < p.best_single_value < p.oracle_value < 1


def _public_features(out: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """The reward model's features recomputed from the public files, by customer id."""
    rows = (
        _con(out)
        .execute(
            """WITH rf AS (
                 SELECT customer_id, max(timestamp) AS last,
                        sum((event_type = 'conversion')::INT) AS conv
                 FROM events GROUP BY 1)
               SELECT c.customer_id, c.age, c.tenure_days, c.avg_order_value,
                      c.loyalty_member, c.country,
                      coalesce(least(date_diff('microsecond', rf.last, ?::TIMESTAMP)
                               / 86400e6, 120), 120),
                      least(coalesce(rf.conv, 0), 3)
               FROM customers c LEFT JOIN rf USING (customer_id) ORDER BY c.customer_id""",
            [dt.datetime.combine(TODAY, dt.time())],
        )
        .fetchall()
    )
    feats = {
        "age": np.array([(r[1] - 40) / 15 for r in rows]),
        "tenure": np.array([math.log1p(r[2]) - 6 for r in rows]),
        "aov": np.array([(math.log(r[3]) - 4.3) / 0.45 for r in rows]),
        "loyalty": np.array([float(r[4]) for r in rows]),
        "ship_sensitive": np.array([float(r[5] in ("ES", "IE")) for r in rows]),
        "recency": np.array([(r[6] - 45) / 30 for r in rows]),
        "frequency": np.array([float(r[7]) for r in rows]),
    }
    return [r[0] for r in rows], feats


def _linear(
    feats: dict[str, np.ndarray], intercept: float, weights: dict[str, float]
) -> np.ndarray:
    out = np.full(len(feats["age"]), intercept)
    for name, w in weights.items():
        out = out + w * feats[name]
    return out


def test_reward_model_is_as_documented_and_ignores_sensitive_attributes(
    demo: tuple[Path, DemoTruth],
) -> None:
    out, truth = demo
    p = truth.policy
    used = set(p.base_weights) | {f for w in p.action_weights.values() for f in w}
    assert used <= set(p.features)
    assert not any("health" in f or "gender" in f for f in p.features.values())
    # Recompute every customer's reward probabilities from the public files with the
    # documented formulas: the truth table must match, so no hidden input drives it.
    ids, feats = _public_features(out)
    cols = ", ".join(f"p_{a}" for a in ACTIONS)
    table = np.array(
        _con(out).execute(f"SELECT {cols} FROM rewards ORDER BY customer_id").fetchall()
    )
    assert len(ids) == table.shape[0]
    base = _linear(feats, p.base_intercept, p.base_weights)
    for i, action in enumerate(ACTIONS):
        logit = base + _linear(feats, p.action_intercepts[action], p.action_weights[action])
        assert np.allclose(1 / (1 + np.exp(-logit)), table[:, i], rtol=1e-6, atol=1e-9), action


def test_logged_propensities_follow_the_logging_policy(demo: tuple[Path, DemoTruth]) -> None:
    out, truth = demo
    p = truth.policy
    ids, feats = _public_features(out)
    scores = np.stack(
        [_linear(feats, p.logging_intercepts[a], p.logging_weights[a]) for a in ACTIONS], axis=1
    )
    scores = np.exp(scores / p.logging_temperature)
    probs = scores / scores.sum(axis=1, keepdims=True)
    row_of = {c: i for i, c in enumerate(ids)}
    con = _con(out)
    logged = con.execute("SELECT customer_id, action, propensity FROM exposures").fetchall()
    expect = np.array([probs[row_of[c], ACTIONS.index(a)] for c, a, _ in logged])
    assert np.allclose([r[2] for r in logged], expect, rtol=1e-6, atol=1e-12)
    # Empirical reward rate matches the truth's expectation for the logged actions.
    observed, expected = con.execute(
        f"""SELECT avg(e.reward), avg(CASE e.action
               {" ".join(f"WHEN '{a}' THEN r.p_{a}" for a in ACTIONS)} END)
           FROM exposures e JOIN rewards r USING (customer_id)"""
    ).fetchone()
    n = truth.policy.exposures
    assert abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / n)


def _assign(out: Path, path: Path, choose: str) -> dict[str, str]:
    con = _con(out)
    cols = ", ".join(f"p_{a}" for a in ACTIONS)
    rows = con.execute(f"SELECT customer_id, consent_marketing, {cols} FROM rewards").fetchall()
    if choose == "oracle":
        mapping = {r[0]: ACTIONS[int(np.argmax(r[2:]))] for r in rows}
    else:
        mapping = {r[0]: choose for r in rows}
    pq.write_table(pa.table({"customer_id": list(mapping), "action": list(mapping.values())}), path)
    return mapping


def test_policy_value_of_known_policies(demo: tuple[Path, DemoTruth], tmp_path: Path) -> None:
    out, truth = demo
    p = truth.policy
    oracle = _assign(out, tmp_path / "oracle.parquet", "oracle")
    assert policy_value(truth, out, tmp_path / "oracle.parquet") == pytest.approx(p.oracle_value)
    assert true_policy_value(truth, out, oracle) == pytest.approx(p.oracle_value)
    for action in ACTIONS:
        _assign(out, tmp_path / "one.parquet", action)
        value = policy_value(truth, out, tmp_path / "one.parquet")
        assert value == pytest.approx(p.action_values[action]), action
    # Nobody assigned (everyone suppressed) is the no_offer policy.
    assert true_policy_value(truth, out, {}) == pytest.approx(p.action_values["no_offer"])
    assert true_policy_value(truth, out, dict.fromkeys(oracle, None)) == pytest.approx(
        p.action_values["no_offer"]
    )
    # The oracle contacted customers without consent; the check counts them.
    no_consent = (
        _con(out)
        .execute(
            """SELECT count(*) FROM rewards WHERE NOT consent_marketing
           AND greatest(p_winback_discount_email, p_loyalty_points_email,
                        p_new_arrivals_push, p_free_shipping_sms) > p_no_offer"""
        )
        .fetchone()[0]
    )
    assert contacted_without_consent(truth, out, tmp_path / "oracle.parquet") == no_consent > 0


def test_policy_value_bad_input(demo: tuple[Path, DemoTruth], tmp_path: Path) -> None:
    out, truth = demo
    pq.write_table(
        pa.table({"customer_id": ["C0000001"], "action": ["buy_now_email"]}), tmp_path / "u.parquet"
    )
    with pytest.raises(DataError) as err:
        policy_value(truth, out, tmp_path / "u.parquet")
    assert err.value.code == "demo.unknown-action"
    pq.write_table(
        pa.table({"customer_id": ["C0000001", "C0000001"], "action": ["no_offer"] * 2}),
        tmp_path / "d.parquet",
    )
    with pytest.raises(DataError) as err:
        policy_value(truth, out, tmp_path / "d.parquet")
    assert err.value.code == "demo.duplicate-assignment"
    pq.write_table(pa.table({"who": ["C0000001"]}), tmp_path / "c.parquet")
    with pytest.raises(DataError) as err:
        policy_value(truth, out, tmp_path / "c.parquet")
    assert err.value.code == "demo.bad-assignments"
    with pytest.raises(DataError) as err:
        policy_value(truth, out, tmp_path / "missing.parquet")
    assert err.value.code == "demo.bad-assignments"
    with pytest.raises(DataError) as err:
        true_policy_value(truth, tmp_path, {})
    assert err.value.code == "demo.no-truth"
