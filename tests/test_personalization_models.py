"""Personalization maths: off-policy estimators, the bandit, suppression, fairness, segments."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.personalization import (
    decide,
    estimate_propensities,
    evaluate_policy,
    fit_reward_model,
    importance_weights,
    lift,
)
from agents.personalization._features import Rfm, is_sensitive, kmeans_segments, rfm_segments
from agents.personalization._privacy import fairness_report, suppress
from conductor import DataError

# --------------------------------------------------------------------------- estimators


def test_estimators_on_a_hand_computed_case() -> None:
    rewards = np.array([1.0, 0.0, 0.0, 1.0])
    logged = np.array([0, 1, 0, 1])
    mu = np.array([0.8, 0.2, 0.5, 0.5])
    target = np.tile([1.0, 0.0], (4, 1))  # always action 0
    q = np.tile([0.6, 0.2], (4, 1))
    res = evaluate_policy("new", rewards, logged, mu, target, q)
    ips, snips, dr = res.estimates
    # weights 1.25, 0, 2, 0
    assert ips.value == pytest.approx((1.25 * 1 + 2 * 0) / 4)
    assert snips.value == pytest.approx(1.25 / 3.25)
    # DR terms: 0.6 + 1.25 * 0.4, 0.6, 0.6 + 2 * (0 - 0.6), 0.6
    terms = np.array([1.1, 0.6, -0.6, 0.6])
    assert dr.value == pytest.approx(terms.mean())
    assert dr.std_error == pytest.approx(terms.std(ddof=1) / 2)
    assert dr.ci_low == pytest.approx(dr.value - 1.959963984540054 * dr.std_error)
    assert ips.std_error == pytest.approx(np.array([1.25, 0, 0, 0]).std(ddof=1) / 2)
    assert res.effective_sample_size == pytest.approx(3.25**2 / (1.25**2 + 4))

    clipped = evaluate_policy("new", rewards, logged, mu, target, q, max_weight=1.5)
    assert clipped.clipped_share == pytest.approx(0.25)
    assert clipped.estimates[0].value == pytest.approx(1.25 / 4)
    assert clipped.estimates[1].value == pytest.approx(1.25 / 2.75)


def test_logging_policy_estimates_are_the_on_policy_mean() -> None:
    rng = np.random.default_rng(0)
    n = 500
    r = (rng.random(n) < 0.3).astype(float)
    a = rng.integers(0, 3, n)
    p = rng.uniform(0.1, 0.9, n)
    probs = np.zeros((n, 3))
    probs[np.arange(n), a] = p
    res = evaluate_policy("logging", r, a, p, probs, np.zeros((n, 3)))
    for e in res.estimates:
        assert e.value == pytest.approx(r.mean())
    same = lift("x", res, res)
    assert same.value == 0.0 and same.std_error == 0.0


def _simulated_log(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    true_logit = np.stack([-1 + x[:, 0], -1 - x[:, 0], -0.5 + 0.5 * x[:, 1]], axis=1)
    true_p = 1 / (1 + np.exp(-true_logit))
    logit_mu = np.stack([0.5 * x[:, 1], -0.5 * x[:, 1], np.zeros(n)], axis=1)
    mu = np.exp(logit_mu)
    mu /= mu.sum(axis=1, keepdims=True)
    a = (rng.random(n)[:, None] > np.cumsum(mu, axis=1)).sum(axis=1)
    r = (rng.random(n) < true_p[np.arange(n), a]).astype(float)
    return {"x": x, "true_p": true_p, "mu": mu, "a": a, "r": r}


def test_estimators_cover_a_known_policy_value() -> None:
    d = _simulated_log(40_000, seed=1)
    n = d["r"].size
    # target: action 0 when x0 > 0, else action 1 -> the true value is known exactly
    pick = np.where(d["x"][:, 0] > 0, 0, 1)
    target = np.zeros((n, 3))
    target[np.arange(n), pick] = 1.0
    truth = float(d["true_p"][np.arange(n), pick].mean())
    p_logged = d["mu"][np.arange(n), d["a"]]
    res = evaluate_policy("t", d["r"], d["a"], p_logged, target, d["true_p"])
    for e in res.estimates:
        assert e.ci_low <= truth <= e.ci_high, e
    ips, _, dr = res.estimates
    assert dr.std_error < ips.std_error  # a good reward model shrinks the variance
    # a biased reward model: DR stays unbiased thanks to the correction term
    biased = evaluate_policy("t", d["r"], d["a"], p_logged, target, d["true_p"] + 0.2)
    assert biased.estimates[2].ci_low <= truth <= biased.estimates[2].ci_high


# --------------------------------------------------------------------------- bandit


def test_logistic_fit_recovers_known_weights() -> None:
    d = _simulated_log(30_000, seed=2)
    X = np.column_stack([np.ones(d["r"].size), d["x"]])
    w = importance_weights(d["mu"][np.arange(d["r"].size), d["a"]], d["r"].size, 50.0)
    model = fit_reward_model(X, d["a"], d["r"], w, 3, kind="logistic", prior_precision=1.0)
    expected = np.array([[-1, 1, 0], [-1, -1, 0], [-0.5, 0, 0.5]])
    assert np.allclose(model.means, expected, atol=0.12)
    assert model.trained.all()
    pred = model.predict(X[:1000])
    assert np.abs(pred - d["true_p"][:1000]).mean() < 0.03


def test_linear_model_for_value_rewards() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    a = rng.integers(0, 2, n)
    r = np.where(a == 0, 10 + 5 * X[:, 1], 12 - 2 * X[:, 1]) + rng.normal(size=n)
    model = fit_reward_model(X, a, r, np.ones(n), 3, kind="linear")
    assert np.allclose(model.means[:2], [[10, 5], [12, -2]], atol=0.15)
    assert not model.trained[2]  # never logged: prior only, never chosen
    dec = decide(model, X, exploration=0.2, samples=8, rng=rng)
    assert set(np.unique(dec.action)) <= {0, 1}


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 1000),
    exploration=st.floats(0, 0.5),
    samples=st.integers(1, 12),
    allowed_bits=st.lists(st.booleans(), min_size=4, max_size=4).filter(any),
)
def test_decisions_are_a_proper_policy(
    seed: int, exploration: float, samples: int, allowed_bits: list[bool]
) -> None:
    rng = np.random.default_rng(seed)
    n, d = 300, 3
    X = np.column_stack([np.ones(n), rng.normal(size=(n, d - 1))])
    a = rng.integers(0, 4, 2000)
    Xl = np.column_stack([np.ones(2000), rng.normal(size=(2000, d - 1))])
    r = (rng.random(2000) < 0.3).astype(float)
    model = fit_reward_model(Xl, a, r, np.ones(2000), 4, kind="logistic")
    allowed = np.array(allowed_bits)
    dec = decide(
        model,
        X,
        allowed=allowed,
        exploration=exploration,
        samples=samples,
        rng=rng,
        return_probs=True,
    )
    assert dec.probs is not None
    assert np.allclose(dec.probs.sum(axis=1), 1.0)
    assert (dec.probs[:, ~allowed] == 0).all()
    assert allowed[dec.action].all()
    assert np.allclose(dec.propensity, dec.probs[np.arange(n), dec.action])
    assert (dec.propensity > 0).all()
    if exploration == 0 and samples == 1:
        scores = np.where(allowed, dec.expected, -np.inf)
        assert (dec.action == scores.argmax(axis=1)).all()


def test_thompson_propensities_match_frequencies() -> None:
    rng = np.random.default_rng(4)
    Xl = np.column_stack([np.ones(300), rng.normal(size=300)])
    a = rng.integers(0, 3, 300)
    r = (rng.random(300) < 0.3).astype(float)
    model = fit_reward_model(Xl, a, r, np.ones(300), 3, kind="logistic")
    X = np.tile([[1.0, 0.3]], (60_000, 1))  # identical customers share one distribution
    dec = decide(model, X, exploration=0.1, samples=8, rng=rng, return_probs=True)
    assert dec.probs is not None
    freq = np.bincount(dec.action, minlength=3) / X.shape[0]
    assert np.allclose(freq, dec.probs[0], atol=0.01)


def test_estimated_propensities_are_close_to_the_truth() -> None:
    d = _simulated_log(20_000, seed=5)
    X = np.column_stack([np.ones(d["r"].size), d["x"]])
    est = estimate_propensities(X, d["a"], 3)
    true = d["mu"][np.arange(d["r"].size), d["a"]]
    assert np.abs(est - true).mean() < 0.02


# --------------------------------------------------------------------------- privacy


def _con(rows: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW customers AS SELECT * FROM (VALUES {rows}) "
        "t(customer_id, consent_marketing, age, country, score, vip)"
    )
    return con


def test_suppression_rules_and_reasons() -> None:
    con = _con(
        "('a', true, 30, 'DE', 5, true), ('b', false, 30, 'DE', 5, false), "
        "('c', true, 15, 'DE', 5, false), ('d', true, NULL, 'DE', 5, false), "
        "('e', true, 40, 'US', 5, false), ('f', NULL, 40, 'DE', 5, false), "
        "('g', true, 40, 'DE', 1, false), ('h', true, 40, NULL, 5, false), "
        "('i', true, 40, 'DE', 5, true)"
    )
    cols = {c: t for c, t, *_ in con.execute("DESCRIBE customers").fetchall()}
    ex = SimpleNamespace
    rules = SimpleNamespace(
        min_age=18,
        exclusions=[
            ex(name="us", column="country", op="in", value=["US"], reason="US law"),
            ex(name="low", column="score", op="lt", value=2, reason="low score"),
            ex(name="vip", column="VIP", op="is_true", value=None, reason="VIPs are hand-served"),
        ],
    )
    s = suppress(con, cols, rules)
    got = dict(zip("abcdefghi", s.reason.tolist(), strict=True))
    assert got["b"] == "no marketing consent"
    assert got["c"] == "under minimum age 18"
    assert got["d"] == "age unknown (minimum age 18)"
    assert got["e"] == "us: US law"
    assert got["f"] == "marketing consent unknown"
    assert got["g"] == "low: low score"
    assert got["h"] == "us: country unknown"
    assert got["a"] == "vip: VIPs are hand-served"
    assert got["i"] == "vip: VIPs are hand-served"
    assert not s.eligible.any()
    assert s.min_age_enforced == 18

    ok = suppress(
        con,
        cols,
        SimpleNamespace(
            min_age=None,
            exclusions=[
                ex(name="n", column="country", op="not_in", value=["DE"], reason="DE only"),
            ],
        ),
    )
    assert ok.reason.tolist() == [
        "",
        "no marketing consent",
        "",
        "",
        "n: DE only",
        "marketing consent unknown",
        "",
        "n: country unknown",
        "",
    ]
    assert ok.eligible.sum() == 5


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_non_finite_age_or_score_is_unknown_not_a_pass(bad: str) -> None:
    # DuckDB orders NaN above every number, so a raw "nan" >= 18 would let the customer
    # through the minimum age; a non-finite value must count as unknown (suppressed).
    con = _con(
        f"('a', true, '{bad}'::DOUBLE, 'DE', 5.0, false), "
        f"('b', true, 30.0, 'DE', '{bad}'::DOUBLE, false), ('c', true, 30.0, 'DE', 5.0, false)"
    )
    cols = {c: t for c, t, *_ in con.execute("DESCRIBE customers").fetchall()}
    rules = SimpleNamespace(
        min_age=18,
        exclusions=[
            SimpleNamespace(name="low", column="score", op="lt", value=2, reason="low score")
        ],
    )
    s = suppress(con, cols, rules)
    assert s.reason.tolist() == ["age unknown (minimum age 18)", "low: score unknown", ""]
    assert s.eligible.tolist() == [False, False, True]


def test_suppression_without_consent_column() -> None:
    con = duckdb.connect()
    con.execute("CREATE VIEW customers AS SELECT 'a' AS customer_id, 1 AS x")
    with pytest.raises(DataError) as err:
        suppress(con, {"customer_id": "VARCHAR", "x": "INTEGER"}, None)
    assert err.value.code == "data.missing-column"


def test_fairness_gap_is_flagged() -> None:
    n = 400
    groups = {"g": np.array(["a"] * 200 + ["b"] * 180 + ["tiny"] * 20, dtype=object)}
    eligible = np.ones(n, dtype=bool)
    treated = np.zeros(n, dtype=bool)
    treated[:180] = True  # a: 90 %
    treated[200:290] = True  # b: 50 %
    treated[380:] = False  # tiny group ignored for the gap (too small)
    action = np.zeros(n, dtype=np.int64)
    expected = np.full(n, 0.1)
    rep = fairness_report(groups, eligible, treated, action, expected, ["x"], 0.1)
    assert rep.gaps["g"] == pytest.approx(0.4)
    assert rep.flagged == ["g"]
    rep2 = fairness_report(groups, eligible, treated, action, expected, ["x"], 0.5)
    assert rep2.flagged == []
    assert {r.level for r in rep.rows} == {"a", "b", "tiny"}


# --------------------------------------------------------------------------- segments


def test_rfm_cells_are_named_and_partition_customers() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    rfm = Rfm(
        recency_days=rng.exponential(60, n),
        frequency=rng.poisson(2, n).astype(float),
        monetary=rng.gamma(2, 50, n),
        frequency_label="conversions",
        has_monetary=True,
        as_of="2026-11-01",
    )
    seg = rfm_segments(rfm, 3)
    assert seg.labels.shape == (n,)
    assert len(seg.names) == len(set(seg.names)) == seg.labels.max() + 1
    champ = seg.names.index("Champions")
    hib = seg.names.index("Hibernating")
    rows_c, rows_h = seg.labels == champ, seg.labels == hib
    assert rfm.recency_days[rows_c].max() < rfm.recency_days[rows_h].min()
    assert rfm.frequency[rows_c].min() > rfm.frequency[rows_h].max()
    assert seg.traits[champ]["monetary"] > 0


def test_kmeans_finds_separated_groups() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal([5, 100], [1, 5], size=(500, 2))
    b = rng.normal([60, 10], [5, 2], size=(500, 2))
    data = np.vstack([a, b])
    seg = kmeans_segments({"recency_days": data[:, 0], "monetary": data[:, 1]}, 2, rng)
    assert sorted(np.bincount(seg.labels).tolist()) == [500, 500]
    assert len(set(seg.labels[:500])) == 1
    assert seg.names[seg.labels[0]] == "Recent, high-spend"
    assert seg.names[seg.labels[-1]] == "Lapsed, low-spend"
    assert seg.traits[seg.labels[0]]["monetary"] == pytest.approx(100, abs=1)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("religion", True),
        ("Religion", True),
        ("health_interest", True),
        ("is_health_customer", True),
        ("wealth", False),
        ("healthy", False),
        ("sexual_orientation_flag", True),
        ("orientation", False),
    ],
)
def test_sensitive_name_matching(column: str, expected: bool) -> None:
    assert is_sensitive(column, ["religion", "health", "sexual_orientation"]) is expected
