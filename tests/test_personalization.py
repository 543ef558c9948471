"""Personalization agent: end to end, privacy, sensitive attributes, bad input, messages."""

from __future__ import annotations

import csv
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import run_personalization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.personalization import (
    PersonalizationAgent,
    PersonalizationPlan,
    PersonalizationSpec,
)
from conductor import (
    Action,
    BusinessGoal,
    Copy,
    DataCatalog,
    DataError,
    DataSource,
    Inputs,
    PlanContext,
    RunContext,
    Severity,
    SpecError,
    Verdict,
    Violation,
)

ACTIONS = [
    {"id": "email_discount", "channel": "email", "offer": "15% off your next order"},
    {"id": "sms_reminder", "channel": "sms", "offer": "your basket is waiting"},
    {"id": "push_new", "channel": "push", "offer": "new arrivals this week"},
]


# --------------------------------------------------------------------------- fakes


class FakeBrand:
    """The parts of the brand contract this agent uses (brand.py is written elsewhere)."""

    def __init__(self, **audience: Any) -> None:
        rules: dict[str, Any] = {
            "consent_required": True,
            "min_age": None,
            "sensitive_attributes": [],
            "fairness_groups": [],
            "fairness_threshold": 0.1,
            "max_contacts_per_week": None,
            "exclusions": [],
        }
        rules.update(audience)
        self.name = "Acme"
        self.company = SimpleNamespace(
            legal_name="Acme Ltd",
            postal_address="1 Main St, Springfield",
            unsubscribe_url="https://acme.example/unsubscribe",
            sms_opt_out="Reply STOP to opt out",
        )
        self.audience = SimpleNamespace(**rules)
        self.reviewed: list[list[Any]] = []

    def footer(self, channel: str) -> str:
        if channel == "email":
            return (
                f"Unsubscribe: {self.company.unsubscribe_url} | {self.company.legal_name}, "
                f"{self.company.postal_address}"
            )
        if channel == "sms":
            return str(self.company.sms_opt_out)
        return ""

    def review(self, artifacts: Any, *, step: str | None = None) -> Verdict:
        arts = list(artifacts)
        self.reviewed.append(arts)
        out = []
        for a in arts:
            if isinstance(a, Copy):
                m = re.search(r"guaranteed", a.text, re.IGNORECASE)
                if m:
                    out.append(
                        Violation(
                            rule="claims.guarantee",
                            severity=Severity.ERROR,
                            action=Action.REVISE,
                            artifact_id=a.id,
                            artifact_kind="copy",
                            start=m.start(),
                            end=m.end(),
                            excerpt=m.group(0),
                            message="no guarantees",
                            replacement="designed",
                        )
                    )
        return Verdict(violations=out, checked=len(arts))


def exclusion(name: str, column: str, op: str, value: Any, reason: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, column=column, op=op, value=value, reason=reason)


class FakeStructured:
    def __init__(self, parent: FakeLLM, schema: Any) -> None:
        self.parent, self.schema = parent, schema

    def invoke(self, messages: Any) -> Any:
        self.parent.calls.append(messages)
        return self.schema.model_validate({"variants": self.parent.variants})


class FakeLLM:
    def __init__(self, variants: list[dict[str, Any]]) -> None:
        self.variants = variants
        self.calls: list[Any] = []

    def with_structured_output(self, schema: Any) -> FakeStructured:
        return FakeStructured(self, schema)


# --------------------------------------------------------------------------- data


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def make_world(
    folder: Path,
    *,
    n: int = 400,
    n_log: int = 3000,
    seed: int = 0,
    propensity: bool = True,
    religion_predicts: bool = False,
) -> dict[str, Path]:
    """Customers, a logged history with a known reward model, and events."""
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0, n)
    age = rng.integers(14, 80, n)
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
    religion = rng.choice(["a", "b"], n)
    customers = [
        {
            "customer_id": f"c{i:05d}",
            "consent_marketing": bool(rng.random() < 0.8),
            "age": int(age[i]),
            "tenure_months": round(float(tenure[i]), 2),
            "plan": plan[i],
            "gender": rng.choice(["f", "m"]),
            "religion": religion[i],
            "country": rng.choice(["DE", "FR", "US"]),
        }
        for i in range(n)
    ]
    who = rng.integers(0, n, n_log)
    act = rng.integers(0, 3, n_log)
    t = (tenure[who] - 24) / 24
    base = np.array([-1.0, -1.5, -2.0])[act]
    slope = np.array([1.2, -0.8, 0.2])[act]
    logit = base + slope * t + 0.8 * (plan[who] == "pro") * (act == 2)
    if religion_predicts:
        logit = logit + 3.0 * (religion[who] == "a") * (act == 1) - 3.0 * (act == 1)
    reward = (rng.random(n_log) < 1 / (1 + np.exp(-logit))).astype(int)
    exposures = []
    for j in range(n_log):
        row: dict[str, Any] = {
            "customer_id": f"c{who[j]:05d}",
            "timestamp": f"2026-10-{1 + j % 28:02d}T10:00:00",
            "action": ACTIONS[act[j]]["id"],
            "reward": int(reward[j]),
        }
        if propensity:
            row["propensity"] = 1 / 3
        exposures.append(row)
    events = []
    for i in range(n):
        for k in range(int(rng.integers(0, 6))):
            conv = rng.random() < 0.3
            events.append(
                {
                    "customer_id": f"c{i:05d}",
                    "timestamp": f"2026-{1 + (i + k) % 10:02d}-{1 + k:02d}T12:00:00",
                    "channel": "email",
                    "event_type": "conversion" if conv else "visit",
                    "revenue": round(float(rng.gamma(2, 30)), 2) if conv else 0.0,
                }
            )
    return {
        "customers": _write_csv(folder / "customers.csv", customers),
        "exposures": _write_csv(folder / "exposures.csv", exposures),
        "events": _write_csv(folder / "events.csv", events),
    }


GOAL = BusinessGoal(objective="retain", kpi="conversions", audience="lapsed customers")


def run_agent(
    paths: dict[str, Path],
    out: Path,
    *,
    brand: Any = None,
    llm: Any = None,
    seed: int = 7,
    **params: Any,
) -> PersonalizationPlan:
    params.setdefault("actions", ACTIONS)
    plan: PersonalizationPlan = run_personalization(
        paths, out, GOAL, brand=brand, llm=llm, seed=seed, **params
    )
    return plan


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_world(tmp_path_factory.mktemp("world"))


# --------------------------------------------------------------------------- end to end


def test_run_end_to_end(world: dict[str, Path], tmp_path: Path) -> None:
    brand = FakeBrand(min_age=18, fairness_groups=["gender"])
    plan = run_agent(world, tmp_path, brand=brand, fairness_groups=["gender"])
    p = plan.policy
    assert p.customers == 400
    assert p.suppressed + p.eligible == 400
    assert p.treated + p.control + p.out_of_audience == p.eligible
    assert p.model == "logistic"
    assert p.propensities == "logged"

    assignments = pq.read_table(plan.assignments_path).to_pylist()
    suppression = pq.read_table(plan.suppression_path).to_pylist()
    assert len(assignments) == p.treated + p.control
    assert len(suppression) == p.suppressed
    assert {r["group"] for r in assignments} <= {"policy", "explore", "control"}
    for r in assignments:
        if r["group"] == "control":
            assert r["action"] is None and r["policy_action"] is not None
        else:
            assert r["action"] in {a["id"] for a in ACTIONS}
            assert 0 < r["propensity"] <= 1
            assert r["uplift"] == pytest.approx(r["expected_reward"] - r["best_single_reward"])
    assert not {r["customer_id"] for r in assignments} & {r["customer_id"] for r in suppression}
    reasons = {r["reason"] for r in suppression}
    assert "no marketing consent" in reasons
    assert "under minimum age 18" in reasons

    # segments add up and are named
    assert sum(s.size for s in plan.segments) == 400
    assert all(s.name and s.definition for s in plan.segments)
    # per-customer tables are files, not state
    dumped = plan.model_dump(mode="json")
    assert "c00001" not in str(dumped)
    assert PersonalizationPlan.model_validate(dumped) == plan

    # messages carry the channel's required elements
    ids = [a.id for a in plan.artifacts()]
    assert len(ids) == len(set(ids))
    for c in plan.messages:
        if c.channel == "email":
            assert "Unsubscribe: https://acme.example/unsubscribe" in c.text
            assert "1 Main St" in c.text
            assert c.subject
        if c.channel == "sms":
            assert c.text.endswith("Reply STOP to opt out")
    assert {(m.segment, m.action) for m in plan.message_index} == {
        (c.segment, c.id.split("/")[2].replace("-", "_")) for c in plan.messages
    }
    for aud in plan.audiences:
        assert aud.consent_checked
        assert aud.min_age == 18
        assert aud.fairness_gap == plan.fairness.max_gap
    assert {r.level for r in plan.fairness.rows} == {"f", "m"}
    assert "gender" not in p.attributes_used  # fairness groups are measured, not targeted
    # the known reward model favours per-customer choices; evaluation is reported
    new = plan.evaluation.get("new", "dr")
    assert new.ci_low <= new.value <= new.ci_high
    assert plan.evaluation.get("logging", "ips").value == pytest.approx(
        plan.evaluation.get("logging", "dr").value
    )
    assert "customers" in plan.summary()


def test_policy_beats_logging_on_known_model(tmp_path: Path) -> None:
    paths = make_world(tmp_path, n=1500, n_log=12000, seed=3)
    plan = run_agent(paths, tmp_path / "out", exploration=0.0, control_share=0.0)
    ev = plan.evaluation
    # uniform logging over actions with very different conversion rates: learning wins
    assert ev.get("new", "dr").value > ev.get("logging", "dr").value
    assert ev.better_than_logging
    assert plan.policy.uplift >= 0


def test_deterministic_for_a_seed(world: dict[str, Path], tmp_path: Path) -> None:
    a = run_agent(world, tmp_path / "a", seed=5)
    b = run_agent(world, tmp_path / "b", seed=5)
    ta = pq.read_table(a.assignments_path)
    tb = pq.read_table(b.assignments_path)
    assert ta.equals(tb)
    assert a.evaluation == b.evaluation


def test_kmeans_and_no_events(world: dict[str, Path], tmp_path: Path) -> None:
    plan = run_agent(world, tmp_path / "k", segment_method="kmeans", segment_count=4)
    assert 1 < len(plan.segments) <= 4
    assert all(s.method == "kmeans" for s in plan.segments)
    assert len({s.name for s in plan.segments}) == len(plan.segments)
    no_events = {k: v for k, v in world.items() if k != "events"}
    plan2 = run_agent(no_events, tmp_path / "n")
    assert any("no `events` source" in w for w in plan2.warnings)
    assert "recency_days" not in plan2.policy.attributes_used


def test_target_segments_leave_others_untouched(world: dict[str, Path], tmp_path: Path) -> None:
    full = run_agent(world, tmp_path / "f")
    name = full.segments[0].name
    plan = run_agent(world, tmp_path / "t", target_segments=[name])
    treated_segments = {s.name for s in plan.segments if s.treated}
    assert treated_segments == {name}
    assert plan.policy.out_of_audience > 0
    with pytest.raises(SpecError) as err:
        run_agent(world, tmp_path / "x", target_segments=["Nobody here"])
    assert err.value.code == "personalization.unknown-segment"


# --------------------------------------------------------------------------- plan


def test_plan_derives_from_goal_and_brand() -> None:
    goal = BusinessGoal(
        objective="retain",
        kpi="revenue",
        audience="lapsed high-value customers",
        channels=["email", "sms"],
    )
    brand = FakeBrand(fairness_groups=["gender"], fairness_threshold=0.05)
    ctx = PlanContext(
        step="nba",
        goal=goal,
        params={"actions": ACTIONS, "exploration": 0.1},
        spec_type=PersonalizationSpec,
        brand=brand,
    )
    spec = PersonalizationAgent().plan(ctx)
    assert spec.channels == ["email", "sms"]
    assert spec.target_segments is not None and "At risk" in spec.target_segments
    assert spec.reward_label == "revenue"
    assert spec.fairness_groups == ["gender"]
    assert spec.fairness_threshold == 0.05
    assert spec.exploration == 0.1
    assert ctx.provenance["channels"].source == "goal"
    assert ctx.provenance["fairness_groups"].source == "brand"
    assert ctx.provenance["exploration"].source == "parameter"
    assert ctx.provenance["seed"].source == "default"


def test_channels_restrict_actions(world: dict[str, Path], tmp_path: Path) -> None:
    plan = run_agent(world, tmp_path, channels=["email", "push"])
    assigned = {r["action"] for r in pq.read_table(plan.assignments_path).to_pylist()}
    assert "sms_reminder" not in assigned
    with pytest.raises(SpecError) as err:
        run_agent(world, tmp_path / "x", channels=["tv"])
    assert err.value.code == "personalization.no-allowed-action"


# --------------------------------------------------------------------------- privacy


@st.composite
def customer_tables(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=12, max_value=40))
    consent = st.sampled_from(["true", "false", "", "yes", "0", "1", "TRUE", "no"])
    return [
        {
            "customer_id": f"u{i}",
            "consent_marketing": draw(consent),
            "age": draw(st.one_of(st.just(""), st.integers(min_value=10, max_value=90))),
            "country": draw(st.sampled_from(["DE", "FR", "US", ""])),
            "vip": draw(st.sampled_from(["true", "false"])),
            "spend": draw(st.floats(min_value=0, max_value=1000, allow_nan=False)),
        }
        for i in range(n)
    ]


_TRUE = {"true", "yes", "1", "t", "y"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=customer_tables(), seed=st.integers(min_value=0, max_value=10_000))
def test_nobody_without_consent_or_excluded_gets_an_action(
    rows: list[dict[str, Any]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    log = [
        {
            "customer_id": f"u{int(rng.integers(0, len(rows)))}",
            "timestamp": "2026-10-01T00:00:00",
            "action": ACTIONS[j % 3]["id"],
            "reward": int(rng.random() < 0.3),
        }
        for j in range(60)
    ]
    brand = FakeBrand(
        min_age=18,
        exclusions=[exclusion("no-us", "country", "in", ["US"], "US rules")],
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {
            "customers": _write_csv(folder / "c.csv", rows),
            "exposures": _write_csv(folder / "e.csv", log),
        }
        plan = run_agent(paths, folder / "out", brand=brand, seed=seed, control_share=0.2)
        got = {r["customer_id"]: r for r in pq.read_table(plan.assignments_path).to_pylist()}
        supp = {r["customer_id"]: r for r in pq.read_table(plan.suppression_path).to_pylist()}
    for r in rows:
        consent = r["consent_marketing"].strip().lower() in _TRUE
        age_ok = r["age"] != "" and int(r["age"]) >= 18
        country_ok = r["country"] not in ("US", "")
        allowed = consent and age_ok and country_ok
        cid = r["customer_id"]
        if not allowed:
            assert cid not in got, r
            assert cid in supp and supp[cid]["reason"], r
        else:
            assert cid in got and cid not in supp, r
    for a in plan.audiences:
        assert a.consent_checked and a.min_age == 18


def test_contact_cap_suppresses(world: dict[str, Path], tmp_path: Path) -> None:
    plan = run_agent(world, tmp_path, brand=FakeBrand(max_contacts_per_week=1))
    reasons = {r["reasons"] for r in pq.read_table(plan.suppression_path).to_pylist()}
    assert any("contact cap" in r for r in reasons)


def test_exclusion_on_missing_column_is_an_error(world: dict[str, Path], tmp_path: Path) -> None:
    brand = FakeBrand(exclusions=[exclusion("x", "nope", "is_true", None, "r")])
    with pytest.raises(DataError) as err:
        run_agent(world, tmp_path, brand=brand)
    assert err.value.code == "personalization.exclusion-column-missing"
    plan = run_agent(world, tmp_path, brand=brand, missing_exclusion_column="warn")
    assert any("was NOT applied" in w for w in plan.warnings)


# --------------------------------------------------------------------------- sensitive


def test_sensitive_attributes_never_reach_the_model(tmp_path: Path) -> None:
    paths = make_world(tmp_path, religion_predicts=True, seed=11)
    brand = FakeBrand(sensitive_attributes=["Religion"])
    plan = run_agent(paths, tmp_path / "a", brand=brand)
    assert not any("religion" in f for f in plan.policy.features)
    assert "religion" not in plan.policy.attributes_used
    assert any(d.startswith("religion (sensitive") for d in plan.policy.dropped_attributes)
    for aud in plan.audiences:
        assert "religion" not in aud.attributes_used

    # Scrambling the sensitive column changes nothing: the model never saw it.
    rows = list(csv.DictReader(paths["customers"].open()))
    values = [r["religion"] for r in rows]
    rng = np.random.default_rng(0)
    for r, v in zip(rows, rng.permutation(values), strict=True):
        r["religion"] = "zz" + v
    scrambled = dict(paths, customers=_write_csv(tmp_path / "scrambled.csv", rows))
    plan2 = run_agent(scrambled, tmp_path / "b", brand=brand)
    assert pq.read_table(plan.assignments_path).equals(pq.read_table(plan2.assignments_path))

    # Without the brand rule the same column would be used (so the test can fail).
    plan3 = run_agent(paths, tmp_path / "c", brand=FakeBrand())
    assert "religion" in plan3.policy.attributes_used

    with pytest.raises(SpecError) as err:
        run_agent(paths, tmp_path / "d", brand=brand, features=["tenure_months", "religion"])
    assert err.value.code == "personalization.sensitive-feature"


# --------------------------------------------------------------------------- bad input


def _rewrite(path: Path, dest: Path, change: Any) -> Path:
    rows = list(csv.DictReader(path.open()))
    rows = change(rows)
    return _write_csv(dest, rows)


def test_unknown_action_in_log(world: dict[str, Path], tmp_path: Path) -> None:
    def bad(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[0]["action"] = "mystery_offer"
        return rows

    paths = dict(world, exposures=_rewrite(world["exposures"], tmp_path / "e.csv", bad))
    with pytest.raises(DataError) as err:
        run_agent(paths, tmp_path / "o")
    assert err.value.code == "personalization.unknown-action"
    assert "mystery_offer" in str(err.value)
    plan = run_agent(paths, tmp_path / "o2", unknown_actions="drop")
    assert any("outside the catalogue" in w for w in plan.warnings)


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2", ""])
def test_bad_propensity(world: dict[str, Path], tmp_path: Path, value: str) -> None:
    def bad(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[3]["propensity"] = value
        return rows

    paths = dict(world, exposures=_rewrite(world["exposures"], tmp_path / "e.csv", bad))
    with pytest.raises(DataError) as err:
        run_agent(paths, tmp_path / "o")
    assert err.value.code == "personalization.bad-propensity"
    assert "(0, 1]" in str(err.value)


@pytest.mark.parametrize("value", ["nan", "inf", "", "yes"])
def test_bad_reward(world: dict[str, Path], tmp_path: Path, value: str) -> None:
    def bad(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[5]["reward"] = value
        return rows

    paths = dict(world, exposures=_rewrite(world["exposures"], tmp_path / "e.csv", bad))
    with pytest.raises(DataError) as err:
        run_agent(paths, tmp_path / "o")
    assert err.value.code == "personalization.bad-reward" and err.value.column == "reward"


def test_missing_propensity_column_is_estimated(tmp_path: Path) -> None:
    paths = make_world(tmp_path, propensity=False, seed=2)
    plan = run_agent(paths, tmp_path / "o")
    assert plan.evaluation.propensities == "estimated"
    assert any("estimated" in w for w in plan.warnings)


def test_no_consent_column(world: dict[str, Path], tmp_path: Path) -> None:
    def drop(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "consent_marketing"} for r in rows]

    paths = dict(world, customers=_rewrite(world["customers"], tmp_path / "c.csv", drop))
    with pytest.raises(DataError) as err:
        run_agent(paths, tmp_path / "o")
    assert err.value.code == "data.missing-column"
    assert err.value.column == "consent_marketing"
    assert err.value.hint


def test_empty_catalogue(tmp_path: Path) -> None:
    ctx = PlanContext(step="nba", goal=GOAL, params={"actions": []}, spec_type=PersonalizationSpec)
    with pytest.raises(SpecError) as err:
        PersonalizationAgent().plan(ctx)
    assert "catalogue is empty" in str(err.value)
    empty = tmp_path / "actions.csv"
    empty.write_text("id,channel,offer\n")
    spec = PersonalizationSpec(actions_file=str(empty))
    cat = DataCatalog({})
    ctx2 = RunContext(run_id="t", step="nba", agent="personalization", goal=GOAL, out_dir=tmp_path)
    with pytest.raises(SpecError) as err2:
        PersonalizationAgent().run(spec, Inputs(upstream={}, catalog=cat), ctx2)
    assert err2.value.code == "personalization.empty-catalogue"


def test_actions_file(world: dict[str, Path], tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "actions.csv", [dict(a, template="", subject="") for a in ACTIONS])
    plan = run_agent(world, tmp_path / "o", actions=[], actions_file=str(f))
    assert {a.id for a in plan.actions} == {a["id"] for a in ACTIONS}
    with pytest.raises(DataError) as err:
        run_agent(world, tmp_path / "o", actions=[], actions_file=str(tmp_path / "nope.csv"))
    assert err.value.code == "personalization.actions-file-not-found"


def test_duplicate_customer_ids(world: dict[str, Path], tmp_path: Path) -> None:
    def dup(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*rows, rows[0]]

    paths = dict(world, customers=_rewrite(world["customers"], tmp_path / "c.csv", dup))
    with pytest.raises(DataError) as err:
        run_agent(paths, tmp_path / "o")
    assert err.value.code == "data.duplicate-id"


@pytest.mark.parametrize(
    "template",
    ["{{ offer ", "{{ undefined_thing }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}"],
)
def test_bad_or_unsafe_template(world: dict[str, Path], tmp_path: Path, template: str) -> None:
    actions = [dict(ACTIONS[0], template=template), *ACTIONS[1:]]
    with pytest.raises(SpecError) as err:
        run_agent(world, tmp_path, actions=actions)
    assert err.value.code == "personalization.bad-template"


def test_spec_rejects_unknown_fields_and_bad_ids() -> None:
    with pytest.raises(ValueError, match="extra"):
        PersonalizationSpec.model_validate({"actions": ACTIONS, "explore": 0.1})
    with pytest.raises(ValueError, match="action id"):
        PersonalizationSpec.model_validate(
            {"actions": [{"id": "bad id!", "channel": "email", "offer": "x"}]}
        )
    with pytest.raises(ValueError, match="duplicate"):
        PersonalizationSpec.model_validate({"actions": [ACTIONS[0], ACTIONS[0]]})


# --------------------------------------------------------------------------- messages


def test_llm_variants_are_kept_only_when_on_brand(world: dict[str, Path], tmp_path: Path) -> None:
    llm = FakeLLM(
        [
            {"subject": "A little something", "text": "We saved an offer for you."},
            {"subject": "Results guaranteed", "text": "Guaranteed savings for you."},
            {"subject": None, "text": "Something new is here."},
        ]
    )
    brand = FakeBrand()
    plan = run_agent(world, tmp_path, brand=brand, llm=llm, llm_pairs=2, message_variants=3)
    assert len(llm.calls) == 2
    variants = [c for c in plan.messages if re.search(r"/v\d+$", c.id)]
    assert len(variants) == 4  # 2 pairs x 2 passing variants
    assert not any("uaranteed" in c.text for c in variants)
    assert all(c.text.count("Unsubscribe") <= 1 for c in plan.messages)
    assert any("broke brand rules" in w for w in plan.warnings)
    for m in plan.message_index:
        assert m.copy_ids[0] == f"copy/{m.copy_ids[0].split('/')[1]}/{m.copy_ids[0].split('/')[2]}"


def test_llm_failure_falls_back_to_templates(world: dict[str, Path], tmp_path: Path) -> None:
    class Broken:
        def with_structured_output(self, schema: Any) -> Any:
            raise RuntimeError("provider down")

    plan = run_agent(world, tmp_path, brand=FakeBrand(), llm=Broken(), llm_pairs=1)
    assert any("LLM variants" in w for w in plan.warnings)
    assert plan.messages


def test_revise_applies_fixes_and_drops_unfixable_variants(
    world: dict[str, Path], tmp_path: Path
) -> None:
    llm = FakeLLM([{"subject": "Hi", "text": "We saved an offer for you."}])
    plan = run_agent(world, tmp_path, brand=FakeBrand(), llm=llm, llm_pairs=1)
    base = plan.messages[0]
    variant = next(c for c in plan.messages if c.id.endswith("/v1"))
    start = base.text.index("picked") if "picked" in base.text else 0
    feedback = [
        Violation(
            rule="voice.banned-phrase",
            severity=Severity.ERROR,
            action=Action.REVISE,
            artifact_id=base.id,
            artifact_kind="copy",
            start=start,
            end=start + 6,
            message="banned",
            replacement="chosen",
        ),
        Violation(
            rule="channel.disclaimer",
            severity=Severity.ERROR,
            action=Action.REVISE,
            artifact_id=base.id,
            artifact_kind="copy",
            message="needs disclaimer",
            append="Terms apply.",
        ),
        Violation(
            rule="voice.tone",
            severity=Severity.ERROR,
            action=Action.REVISE,
            artifact_id=variant.id,
            artifact_kind="copy",
            message="off tone",
        ),
    ]
    spec = PersonalizationSpec.model_validate({"actions": ACTIONS})
    cat = DataCatalog({k: DataSource(path=v) for k, v in world.items()})
    ctx = RunContext(
        run_id="t",
        step="nba",
        agent="personalization",
        goal=GOAL,
        out_dir=tmp_path,
        brand=FakeBrand(),
        feedback=feedback,
        round=1,
    )
    revised = PersonalizationAgent().revise(spec, plan, Inputs(upstream={}, catalog=cat), ctx)
    cat.close()
    fixed = next(c for c in revised.messages if c.id == base.id)
    # The appended text goes before the brand's footer, which stays last.
    footer = FakeBrand().footer(base.channel)
    assert "Terms apply." in fixed.text
    if footer:
        assert fixed.text.endswith(footer)
        assert fixed.text.index("Terms apply.") < fixed.text.index(footer)
    else:
        assert fixed.text.endswith("Terms apply.")
    if "picked" in base.text:
        assert "chosen" in fixed.text and "picked" not in fixed.text
    assert variant.id not in {c.id for c in revised.messages}
    assert all(variant.id not in m.copy_ids for m in revised.message_index)
    assert revised.policy == plan.policy


def test_hold_back_action_sends_nothing(world: dict[str, Path], tmp_path: Path) -> None:
    def some_nothing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, r in enumerate(rows):
            if i % 4 == 0:
                r["action"] = "no_offer"
                r["reward"] = "1"  # doing nothing "wins" here, so the policy picks it
        return rows

    paths = dict(world, exposures=_rewrite(world["exposures"], tmp_path / "e.csv", some_nothing))
    actions = [*ACTIONS, {"id": "no_offer", "channel": "none", "offer": "nothing sent"}]
    plan = run_agent(paths, tmp_path / "o", actions=actions)
    rows = pq.read_table(plan.assignments_path).to_pylist()
    assert any(r["action"] == "no_offer" for r in rows)
    assert not any(c.id.endswith("/no-offer") for c in plan.messages)
    assert all(m.action != "no_offer" for m in plan.message_index)
    silent = sum(1 for r in rows if r["action"] == "no_offer")
    assert sum(a.size for a in plan.audiences) == plan.policy.treated - silent


def test_band_fairness_group_is_derived_from_the_column(
    world: dict[str, Path], tmp_path: Path
) -> None:
    plan = run_agent(world, tmp_path, fairness_groups=["age_band", "nope"])
    levels = {r.level for r in plan.fairness.rows if r.group == "age_band"}
    assert len(levels) == 4 and all(lv.startswith("[") for lv in levels)
    assert plan.fairness.missing_groups == ["nope"]


def test_revise_after_a_fairness_finding_stops_using_the_group_column(
    world: dict[str, Path], tmp_path: Path
) -> None:
    params: dict[str, Any] = {"fairness_groups": ["age_band"], "fairness_threshold": 0.0}
    plan = run_agent(world, tmp_path, **params)
    assert "age" in plan.policy.attributes_used and plan.fairness.flagged == ["age_band"]
    # An earlier round already fixed a message (added terms); the re-run must keep that.
    first = plan.messages[0]
    fixed_before = first.model_copy(update={"text": first.text + " Terms apply."})
    plan = plan.model_copy(update={"messages": [fixed_before, *plan.messages[1:]]})
    audience = plan.audiences[0]
    feedback = [
        Violation(
            rule="audience.fairness-gap",
            severity=Severity.ERROR,
            action=Action.REVISE,
            artifact_id=audience.id,
            artifact_kind="audience",
            field="fairness_gap",
            message="Protected groups are treated too differently.",
        )
    ]
    spec = PersonalizationSpec.model_validate({"actions": ACTIONS, **params})
    cat = DataCatalog({k: DataSource(path=v) for k, v in world.items()})
    ctx = RunContext(
        run_id="t",
        step="nba",
        agent="personalization",
        goal=GOAL,
        out_dir=tmp_path,
        feedback=feedback,
        round=1,
        seed=7,
    )
    try:
        revised = PersonalizationAgent().revise(spec, plan, Inputs(upstream={}, catalog=cat), ctx)
    finally:
        cat.close()
    assert "age" not in revised.policy.attributes_used
    assert "age (excluded (`exclude_features`))" in revised.policy.dropped_attributes
    assert any(w.startswith("brand review:") and "age_band" in w for w in revised.warnings)
    # Measured still, just not targeted on.
    assert {r.group for r in revised.fairness.rows} == {"age_band"}
    kept = next(c for c in revised.messages if c.id == first.id)
    assert kept.text.endswith("Terms apply.")


def test_exclude_features_keeps_a_column_out_of_the_model(
    world: dict[str, Path], tmp_path: Path
) -> None:
    plan = run_agent(world, tmp_path, exclude_features=["AGE"])
    assert "age" not in plan.policy.attributes_used
    assert not any(f == "age" for f in plan.policy.features)
