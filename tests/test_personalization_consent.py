"""Consent per channel: nobody is ever sent a message on a channel they did not consent to.

The customers table may carry one consent column per channel (``consent_sms``,
``SMS Opt-In``, ... found by name, or named under the step's ``consent:``); the general
``consent_marketing`` flag alone covers only ``general_consent_covers`` (email by default)
and is also required for every channel; opt-out columns (``Do Not Contact``,
``sms_opt_out``) take consent away.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import run_personalization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.personalization import PersonalizationPlan
from conductor import BusinessGoal, DataError

ACTIONS = [
    {"id": "email_offer", "channel": "email", "offer": "15% off"},
    {"id": "sms_offer", "channel": "sms", "offer": "free delivery"},
    {"id": "push_offer", "channel": "push", "offer": "new arrivals"},
    {"id": "no_offer", "channel": "none", "offer": "nothing sent"},
]
CHANNELS = ("email", "sms", "push")
GOAL = BusinessGoal(objective="retain", kpi="conversions")
_YES = {"true", "t", "yes", "y", "1", "1.0"}


def yes(value: str) -> bool:
    return value.strip().lower() in _YES


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def make_log(
    ids: list[str], rng: np.random.Generator, n: int = 120, best: str = "sms_offer"
) -> list[dict[str, Any]]:
    """Every action logged (uniformly, propensity 1/4); ``best`` converts most often."""
    rows = []
    for j in range(n):
        action = ACTIONS[j % len(ACTIONS)]["id"]
        p = 0.6 if action == best else 0.15
        rows.append(
            {
                "customer_id": ids[int(rng.integers(0, len(ids)))],
                "timestamp": f"2026-10-{1 + j % 28:02d}T10:00:00",
                "action": action,
                "reward": int(rng.random() < p),
                "propensity": 0.25,
            }
        )
    return rows


def run(
    folder: Path, customers: list[dict[str, Any]], seed: int = 3, **params: Any
) -> PersonalizationPlan:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "customers": write_csv(folder / "customers.csv", customers),
        "exposures": write_csv(
            folder / "exposures.csv", make_log([c["customer_id"] for c in customers], rng)
        ),
    }
    params.setdefault("actions", ACTIONS)
    params.setdefault("control_share", 0.1)
    plan: PersonalizationPlan = run_personalization(
        paths, folder / "out", GOAL, seed=seed, **params
    )
    return plan


def sent(plan: PersonalizationPlan) -> dict[str, str]:
    """customer_id -> channel of the message they are sent (control and 'none' excluded)."""
    rows = pq.read_table(plan.assignments_path).to_pylist()
    return {
        r["customer_id"]: r["channel"]
        for r in rows
        if r["action"] is not None and r["channel"] not in (None, "none")
    }


def suppressed(plan: PersonalizationPlan) -> dict[str, str]:
    return {
        r["customer_id"]: r["reasons"] for r in pq.read_table(plan.suppression_path).to_pylist()
    }


# --------------------------------------------------------------------------- the property

VALUES = ["true", "false", "", "yes", "no", "Y", "N", "1", "0", "maybe", "TRUE", " y "]
AUTO_NAMES = {
    "email": ["consent_email", "Email Opt-In", "email_consent"],
    "sms": ["consent_sms", "SMS Opt-In", "sms_optin"],
    "push": ["consent_push", "Push Opt In"],
}
MAPPED_NAMES = {"email": "email_ok", "sms": "texts_ok", "push": "app_ping_ok"}


@st.composite
def consent_worlds(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=15, max_value=40))
    general = draw(st.booleans())
    how = {c: draw(st.sampled_from(["absent", "auto", "mapped"])) for c in CHANNELS}
    if not general and all(h == "absent" for h in how.values()):
        how["sms"] = "auto"
    names = {
        c: (draw(st.sampled_from(AUTO_NAMES[c])) if h == "auto" else MAPPED_NAMES[c])
        for c, h in how.items()
        if h != "absent"
    }
    opt_out = draw(st.sampled_from([None, "Do Not Contact", "sms_opt_out"]))
    covers = draw(st.one_of(st.none(), st.lists(st.sampled_from(CHANNELS), unique=True)))
    value = st.sampled_from(VALUES)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"customer_id": f"u{i:03d}", "spend": draw(st.integers(0, 500))}
        if general:
            row["consent_marketing"] = draw(value)
        for col in names.values():
            row[col] = draw(value)
        if opt_out:
            row[opt_out] = draw(st.sampled_from(["Y", "N", "", "yes", "0"]))
        rows.append(row)
    params: dict[str, Any] = {}
    mapping = {c: MAPPED_NAMES[c] for c, h in how.items() if h == "mapped"}
    if mapping:
        params["consent"] = mapping
    if covers is not None:
        params["general_consent_covers"] = covers
    return {"rows": rows, "names": names, "opt_out": opt_out, "params": params, "general": general}


def may_send(world: dict[str, Any], row: dict[str, Any], channel: str) -> bool:
    """The documented rule, written out independently of the agent."""
    covers = world["params"].get("general_consent_covers", ["email"])
    general_ok = yes(row["consent_marketing"]) if world["general"] else True
    col = world["names"].get(channel)
    # a channel's own column decides; without one, the general flag if it covers it
    own = yes(row[col]) if col is not None else world["general"] and channel in covers
    opt = world["opt_out"]
    opted_out = opt is not None and yes(row[opt]) and (opt == "Do Not Contact" or channel == "sms")
    return general_ok and own and not opted_out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=consent_worlds(), seed=st.integers(min_value=0, max_value=10_000))
def test_no_message_ever_lands_on_a_channel_without_its_consent(
    world: dict[str, Any], seed: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plan = run(Path(tmp), world["rows"], seed=seed, **world["params"])
        got = sent(plan)
        supp = suppressed(plan)
        assigned = {r["customer_id"] for r in pq.read_table(plan.assignments_path).to_pylist()}
    for row in world["rows"]:
        cid = row["customer_id"]
        reachable = [c for c in CHANNELS if may_send(world, row, c)]
        if cid in got:
            assert got[cid] in reachable, (row, got[cid])
        if not reachable:
            assert cid not in assigned, row
            assert supp.get(cid), row  # suppressed, with a reason
        else:
            assert cid in assigned and cid not in supp, (row, reachable)
    for aud in plan.audiences:
        assert aud.consent_checked


# --------------------------------------------------------------------------- the case


def crm(n: int = 600, seed: int = 1) -> list[dict[str, Any]]:
    """A CRM export: one general flag (all yes), a Y/N SMS opt-in, no push consent."""
    rng = np.random.default_rng(seed)
    return [
        {
            "customer_id": f"c{i:04d}",
            "First Name": str(rng.choice(["Mia", "Oscar", "Sam", "Lea"])),
            "consent_marketing": "true",
            "SMS Opt-In": "Y" if rng.random() < 0.45 else "N",
            "tenure": int(rng.integers(1, 2000)),
        }
        for i in range(n)
    ]


def test_sms_opt_in_n_is_never_sent_sms(tmp_path: Path) -> None:
    rows = crm()
    plan = run(tmp_path, rows)
    got = sent(plan)
    opted_in = {r["customer_id"] for r in rows if r["SMS Opt-In"] == "Y"}
    sms = {cid for cid, ch in got.items() if ch == "sms"}
    assert sms, "sms is the best action in the log: customers who opted in get it"
    assert sms <= opted_in
    assert "push" not in set(got.values())  # no push consent column: nobody gets push
    # the assignments file says what each customer could not be sent, and why
    table = pq.read_table(plan.assignments_path).to_pylist()
    by_id = {r["customer_id"]: r["blocked_channels"] for r in table}
    out = next(r["customer_id"] for r in rows if r["SMS Opt-In"] == "N")
    assert "sms: no sms consent" in by_id[out]
    assert "push: no push consent (no consent column)" in by_id[out]
    consent = {c.channel: c for c in plan.consent}
    assert consent["sms"].columns == ["SMS Opt-In"]
    assert consent["sms"].customers == len(opted_in)
    assert consent["email"].covered_by_general and consent["email"].customers == len(rows)
    assert consent["push"].customers == 0
    assert any("nobody may be sent push" in w for w in plan.warnings)
    # consent columns are not targeting features
    assert "SMS Opt-In" not in plan.policy.attributes_used


def test_the_general_flag_covers_email_only_unless_the_pipeline_says_so(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "SMS Opt-In"} for r in crm()]
    plan = run(tmp_path / "a", rows)
    assert set(sent(plan).values()) <= {"email"}
    wider = run(tmp_path / "b", rows, general_consent_covers=["email", "sms"])
    assert "sms" in set(sent(wider).values())
    assert "push" not in set(sent(wider).values())


def test_suppression_reasons_name_the_missing_consent(tmp_path: Path) -> None:
    rows = [
        {"customer_id": f"c{i:03d}", "consent_marketing": m, "consent_sms": s, "x": i % 7}
        for i, (m, s) in enumerate([("false", "Y"), ("", "Y"), ("true", "N")] * 20)
    ]
    plan = run(tmp_path, rows, channels=["sms"])
    supp = suppressed(plan)
    assert supp["c000"] == "no marketing consent"  # a no to marketing stops sms too
    assert supp["c001"] == "marketing consent unknown"
    assert supp["c002"] == "no sms consent"
    assert not sent(plan)


def test_opt_out_columns_take_consent_away(tmp_path: Path) -> None:
    rows = crm(300)
    for i, r in enumerate(rows):
        r["Do Not Contact"] = "Y" if i % 3 == 0 else ""
    plan = run(tmp_path / "a", rows)
    dnc = {r["customer_id"] for r in rows if r["Do Not Contact"] == "Y"}
    assert not dnc & set(sent(plan))
    supp = suppressed(plan)
    assert all("opted out (`Do Not Contact`)" in supp[c] for c in dnc)
    assert "Do Not Contact" not in plan.policy.attributes_used
    off = run(tmp_path / "b", rows, opt_out=[])  # the pipeline says the column means nothing
    assert dnc & set(sent(off))


def test_a_consent_column_named_in_the_step_must_exist(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        run(tmp_path, crm(60), consent={"sms": "Text Opt In"})
    assert err.value.code == "data.missing-column" and err.value.column == "Text Opt In"


def test_a_table_without_any_consent_column_is_an_error(tmp_path: Path) -> None:
    rows = [{"customer_id": f"c{i}", "tenure": i} for i in range(40)]
    with pytest.raises(DataError) as err:
        run(tmp_path, rows)
    assert err.value.code == "data.missing-column"
    assert "consent_sms" in (err.value.hint or "")
