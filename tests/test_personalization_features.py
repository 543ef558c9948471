"""Features allow-list: contact details, consent and opt-out columns and ids never target.

They are recognised by name under any spelling (``First Name``, ``first name``,
``FirstName``) and, for text columns, by their values (emails, phone numbers, ...). The
step's ``features: {include: [...]}`` / ``{exclude: [...]}`` has the last word on the
rest. The plan lists what is used and what is left out, with the reason, and the HTML
report shows both lists (and still renders results written before these fields).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Cli, make_env, run_personalization

from agents.personalization import PersonalizationAgent, PersonalizationPlan, PersonalizationSpec
from conductor import (
    BusinessGoal,
    PlanContext,
    SpecError,
)
from conductor.report._html import render_html

ACTIONS = [
    {"id": "email_a", "channel": "email", "offer": "15% off"},
    {"id": "sms_a", "channel": "sms", "offer": "free delivery"},
    {"id": "no_offer", "channel": "none", "offer": "nothing sent"},
]
GOAL = BusinessGoal(objective="retain", kpi="conversions")
FIRSTS = ["Mia", "Oscar", "Sam", "Lea", "Noah", "Emma", "Liam", "Sofia"]

# column -> what the plan must say about it
NEVER = {
    "First Name": "contact detail (name",
    "FirstName": "contact detail (name",
    "last name": "contact detail (name",
    "E-Mail": "contact detail (email",
    "Mobile Number": "contact detail (phone",
    "Street Address": "contact detail (address",
    "Post Code": "contact detail (postcode",
    "contact_info": "contact detail (email",  # by its values
    "ref": "contact detail (phone",  # by its values
    "nick": "contact detail (name",  # first names, by their values
    "SMS Opt-In": "consent column",
    "consent_marketing": "consent column",
    "do_not_contact": "opt-out",
    "Do Not Contact": "opt-out",
    "suppressed": "opt-out",
    "unsubscribed": "opt-out",
    "opt_out": "opt-out",
    "customer_id": "identifier",
    "Member ID": "identifier",
    "account_number": "identifier",
    "legacy_key": "identifier",  # unique integers, by their values
}
USABLE = ["tenure", "plan", "spend"]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def crm(n: int = 400, seed: int = 0) -> list[dict[str, Any]]:
    """A CRM export with every kind of column that must not target, each predictive.

    The reward in :func:`log` depends on the flags and on the columns hiding contact
    details too, so a model that could see them would use them.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        flag = bool(rng.random() < 0.5)
        first = str(rng.choice(FIRSTS))
        rows.append(
            {
                "customer_id": f"c{i:04d}",
                "Member ID": f"M{i:05d}",
                "account_number": f"{10_000 + i}",
                "legacy_key": 900_000 + 7 * i,
                "First Name": first,
                "FirstName": first,
                "last name": str(rng.choice(["Smith", "Jones", "Müller"])),
                "E-Mail": f"user{i}@example.com",
                "Mobile Number": f"+44 7700 9{i:05d}",
                "Street Address": f"{i + 1} High Street",
                "Post Code": str(rng.choice(["SW1A 1AA", "EC1A 1BB", "M1 1AE"])),
                "contact_info": f"c{i}@mail.example.org",
                "ref": f"(555) 01{i % 10}-{1000 + i}",
                "nick": first,
                "consent_marketing": "true",
                "SMS Opt-In": "Y" if flag else "N",
                "do_not_contact": "N",
                "Do Not Contact": "",
                "suppressed": "false",
                "unsubscribed": "no",
                "opt_out": "0",
                "tenure": int(rng.integers(1, 3000)),
                "plan": str(rng.choice(["basic", "plus", "pro"])),
                "spend": round(float(rng.gamma(2.0, 40.0)), 2),
            }
        )
    return rows


def log(rows: list[dict[str, Any]], seed: int = 1, n: int = 3000) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for j in range(n):
        r = rows[int(rng.integers(0, len(rows)))]
        a = j % 3
        logit = -1.5 + (0.8 if (r["SMS Opt-In"] == "Y") == (a == 0) else -0.8)
        logit += 0.6 * (r["First Name"] in ("Mia", "Sam")) * (a == 1)
        logit += 0.3 * (r["plan"] == "pro") * (a == 0)
        out.append(
            {
                "customer_id": r["customer_id"],
                "timestamp": f"2026-10-{1 + j % 28:02d}T10:00:00",
                "action": ACTIONS[a]["id"],
                "reward": int(rng.random() < 1 / (1 + np.exp(-logit))),
                "propensity": 1 / 3,
            }
        )
    return out


def run(
    folder: Path, rows: list[dict[str, Any]] | None = None, **params: Any
) -> PersonalizationPlan:
    rows = rows or crm()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "customers": write_csv(folder / "customers.csv", rows),
        "exposures": write_csv(folder / "exposures.csv", log(rows)),
    }
    params.setdefault("actions", ACTIONS)
    plan: PersonalizationPlan = run_personalization(paths, folder, GOAL, seed=5, **params)
    return plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> PersonalizationPlan:
    return run(tmp_path_factory.mktemp("features"))


def test_contact_consent_and_id_columns_never_target(plan: PersonalizationPlan) -> None:
    p = plan.policy
    used = set(p.attributes_used)
    for col in NEVER:
        assert col not in used, col
        assert not any(f == col or f.startswith(f"{col}=") for f in p.features), col
    for aud in plan.audiences:
        assert not set(aud.attributes_used) & set(NEVER)
    reasons = {x.column: x.reason for x in p.excluded_features}
    for col, why in NEVER.items():
        assert col in reasons, col
        assert reasons[col].startswith(why), (col, reasons[col])
    assert set(USABLE) <= used


def test_plain_lists_include_and_exclude(tmp_path: Path) -> None:
    only = run(tmp_path / "a", features=["plan"])
    assert only.policy.attributes_used == ["plan"]
    assert run(tmp_path / "b", features={"include": ["plan"]}).policy.attributes_used == ["plan"]
    out = run(tmp_path / "c", features={"exclude": ["tenure", "nope"]})
    assert "tenure" not in out.policy.attributes_used
    reasons = {x.column: x.reason for x in out.policy.excluded_features}
    assert reasons["tenure"] == "excluded (`features.exclude`)"
    assert any("nope" in w for w in out.warnings)  # a typo is not silently ignored
    with pytest.raises(SpecError) as err:
        run(tmp_path / "d", features={"include": ["plan", "First Name"]})
    assert err.value.code == "personalization.reserved-feature"
    assert "contact detail (name)" in str(err.value)
    # recognised only by its values: an explicit list has the last word
    assert "nick" in run(tmp_path / "e", features=["nick", "plan"]).policy.attributes_used


def test_the_plan_shows_features_in_the_spec() -> None:
    ctx = PlanContext(
        step="nba",
        goal=GOAL,
        params={"actions": ACTIONS, "features": {"exclude": ["tenure"]}},
        spec_type=PersonalizationSpec,
    )
    spec = PersonalizationAgent().plan(ctx)
    assert spec.features.exclude == ["tenure"] and spec.features.include is None


def _result(output: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": "r",
        "pipeline": "p",
        "status": "done",
        "steps": {"offers": {"agent": "personalization", "status": "done", "output": output}},
    }


def _segments(page: str) -> str:
    m = re.search(r'<section class="card" id="segments">(.*?)</section>', page, re.S)
    assert m
    return m.group(1)


def test_the_report_lists_features_used_and_left_out(plan: PersonalizationPlan) -> None:
    html = _segments(render_html(_result(plan.model_dump(mode="json"))))
    assert "Used (" in html and "Left out (" in html
    assert "contact detail (name)" in html and "First Name" in html
    assert "consent column (sms)" in html
    assert "Consent per channel" in html
    # a result.json written before these fields still renders, with the old line
    old = plan.model_dump(mode="json")
    old["policy"].pop("excluded_features")
    old.pop("consent")
    old["evaluation"].pop("notes")
    old_html = _segments(render_html(_result(old)))
    assert "Left out of the model:" in old_html
    assert "could not be drawn" not in old_html


# --------------------------------------------------------------------------- actions_file


def test_actions_file_is_read_from_the_pipeline_folder(tmp_path: Path) -> None:
    """`conductor run` from another folder finds a relative `actions_file` beside the pipeline."""
    project = tmp_path / "project"
    project.mkdir()
    rows = crm(200)
    write_csv(project / "customers.csv", rows)
    write_csv(project / "exposures.csv", log(rows, n=600))
    write_csv(project / "actions.csv", ACTIONS)
    (project / "offers.yaml").write_text(
        "pipeline: offers\n"
        'goal: "Grow conversions 5% next quarter with email offers"\n'
        "today: 2026-11-23\n"
        "data:\n"
        "  customers: customers.csv\n"
        "  exposures: exposures.csv\n"
        "steps:\n"
        "  offers:\n"
        "    agent: personalization\n"
        "    with:\n"
        "      actions_file: actions.csv\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = Cli(cwd=elsewhere, env=make_env(tmp_path))
    pipeline = str(project / "offers.yaml")
    v = cli("validate", pipeline)
    assert v.returncode == 0, v.stdout + v.stderr
    r = cli("run", pipeline, "--run-id", "af-1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads((tmp_path / ".conductor" / "runs" / "af-1" / "result.json").read_text())
    out = result["steps"]["offers"]["output"]
    assert {a["id"] for a in out["actions"]} == {a["id"] for a in ACTIONS}
    # a missing file is reported by validate, naming the parameter, not by the run
    (project / "actions.csv").unlink()
    bad = cli("validate", pipeline)
    assert bad.returncode != 0
    assert "actions_file" in bad.stdout + bad.stderr


@pytest.mark.parametrize("column", ["Health Interest", "HealthInterest", "health-interest"])
def test_a_sensitive_attribute_is_caught_under_any_spelling(column: str) -> None:
    # Found by the real-exports suite: a CRM's 'Health Interest' became a model feature
    # (the brand review then blocked the run) because only '_' and '-' split name parts.
    from agents.personalization._features import is_sensitive

    assert is_sensitive(column, ["health"])
    assert not is_sensitive("Wealth Band", ["health"])
