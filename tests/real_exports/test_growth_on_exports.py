"""The growth pipeline on a retailer's own exports, through the CLI, with only `data:` and
`channels:` configuration: no pandas preparation, no file rewritten by hand.

One simulated world is written twice: in the contracts' shape (the demo generator) and as
the exports the tools people use would write (``retail_exports.py``). The journeys and the
budget plan read from the exports must equal those read from the clean files, number for
number; the offers, where the exports carry more (per-channel opt-ins, a do-not-contact
flag, names and contact details), must respect every one of them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import Cli, make_env
from retail_exports import SOURCE_MEDIUM, SPEND_NAMES, write_exports

from conductor.demo import generate_demo_data

ROOT = Path(__file__).resolve().parents[2]
GROWTH = ROOT / "pipelines" / "growth.yaml"
TODAY = dt.date(2026, 11, 30)
APPROVER = "demo-approver"


def _growth_steps() -> dict[str, Any]:
    """The shipped growth pipeline, as plain data (its goal, steps and approvers)."""
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load(GROWTH.read_text(encoding="utf-8"))
    doc["brand"] = str((GROWTH.parent / doc["brand"]).resolve())
    doc["today"] = TODAY.isoformat()
    return dict(doc)


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return path


def _exports_pipeline(folder: Path) -> dict[str, Any]:
    doc = _growth_steps()
    doc["pipeline"] = "growth-exports"
    channels: dict[str, str] = {}
    for channel, (source, medium) in SOURCE_MEDIUM.items():
        channels[f"{source} / {medium}"] = channel
        channels[SPEND_NAMES[channel]] = channel
    doc["channels"] = channels
    doc["data"] = {
        "events": {
            "path": str(folder / "ga4_events.csv"),
            "columns": {
                "customer_id": "user_pseudo_id",
                "timestamp": "event_timestamp",
                "event_type": "event_name",
                "revenue": "purchase_revenue",
            },
            "timestamps": {"timestamp": {"unit": "us"}},
            "values": {
                "event_type": {
                    "session_start": "touch",
                    "page_view": "visit",
                    "begin_checkout": "checkout",
                    "purchase": "conversion",
                }
            },
            "channel_from": "source || ' / ' || medium",
        },
        "spend": {
            "path": str(folder / "media_spend.csv"),
            "columns": {"date": "Week", "channel": "Channel", "spend": "Spend (USD)"},
            "timestamps": {"date": {"format": "%m/%d/%Y"}},
            "number": {"thousands": ",", "columns": ["spend"]},
        },
        "outcomes": {
            "path": str(folder / "weekly_sales.csv"),
            "columns": {"date": "Week Starting", "revenue": "Total Sales", "conversions": "Orders"},
            "timestamps": {"date": {"format": "%m/%d/%Y"}},
            "number": {"thousands": ",", "columns": ["revenue"]},
        },
        # The brand excludes the column `suppressed`: this CRM calls it Do Not Contact.
        "customers": {
            "path": str(folder / "crm_contacts.csv"),
            "columns": {"customer_id": "Customer ID", "suppressed": "Do Not Contact"},
        },
        "exposures": {
            "path": str(folder / "send_log.csv"),
            "columns": {
                "customer_id": "Customer ID",
                "timestamp": "Sent At",
                "action": "Campaign",
                "reward": "Converted",
                "propensity": "Send Probability",
            },
            "values": {"reward": {"Y": "1", "N": "0"}},
            "number": {"columns": ["reward"]},
        },
    }
    return doc


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The clean files, the exports and the two pipelines."""
    base = tmp_path_factory.mktemp("world")
    clean = base / "clean"
    generate_demo_data(clean, customers=3_000, seed=23, today=TODAY)
    exports = write_exports(clean, base / "exports")
    ref = _growth_steps()
    ref["data"] = {
        name: str(clean / f"{name}.{'csv' if name in ('spend', 'outcomes') else 'parquet'}")
        for name in ("events", "spend", "outcomes", "customers", "exposures")
    }
    return {
        "base": base,
        "clean": clean,
        "exports": exports["events"].parent,
        "reference": _write(base / "reference.yaml", ref),
        "pipeline": _write(base / "exports.yaml", _exports_pipeline(exports["events"].parent)),
    }


def _run(cli: Cli, pipeline: Path, run_id: str, out: Path) -> dict[str, Any]:
    started = cli("run", str(pipeline), "--run-id", run_id, "--out", str(out), "--quiet")
    assert started.returncode == 3, started.stdout + started.stderr  # the budget sign-off
    assert "Traceback" not in started.stderr
    signed = cli("approve", run_id, "budget", "--as", APPROVER, "--comment", "ok")
    assert signed.returncode == 0, signed.stdout + signed.stderr
    return dict(json.loads((out / "result.json").read_text()))


@pytest.fixture(scope="module")
def results(world: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("cli")
    cli = Cli(cwd=home, env=make_env(home))
    valid = cli("validate", str(world["pipeline"]))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    return {
        "validate": valid.stdout,
        "reference": _run(cli, world["reference"], "ref", world["base"] / "ref-run"),
        "exports": _run(cli, world["pipeline"], "exp", world["base"] / "exp-run"),
    }


def test_validate_maps_every_channel_and_previews_the_staged_rows(
    world: dict[str, Path], results: dict[str, Any]
) -> None:
    # Every source / medium pair and spend name is in the taxonomy: nothing unmapped.
    assert "unmapped" not in results["validate"] and "warning" not in results["validate"]


def test_the_journeys_equal_those_on_the_clean_files(results: dict[str, Any]) -> None:
    ref = results["reference"]["steps"]["journeys"]["output"]
    got = results["exports"]["steps"]["journeys"]["output"]
    for key in ("events", "journeys", "conversions", "touches", "revenue", "channels"):
        assert got[key] == pytest.approx(ref[key]), key
    # Same credits (revenue sums may differ in the last bits: CSV text vs Parquet doubles).
    assert [m["model"] for m in got["attribution"]] == [m["model"] for m in ref["attribution"]]
    for mine, theirs in zip(got["attribution"], ref["attribution"], strict=True):
        assert mine["conversions"] == pytest.approx(theirs["conversions"], rel=1e-9)
        assert mine["revenue"] == pytest.approx(theirs["revenue"], rel=1e-9)
    assert got["period_start"] == ref["period_start"]


def test_the_budget_plan_equals_the_one_on_the_clean_files(results: dict[str, Any]) -> None:
    ref = results["reference"]["steps"]["budget"]["output"]
    got = results["exports"]["steps"]["budget"]["output"]
    assert got["allocation"]["amounts"] == pytest.approx(ref["allocation"]["amounts"])
    assert got["allocation"]["previous"] == pytest.approx(ref["allocation"]["previous"])
    assert got["uplift"] == pytest.approx(ref["uplift"])


def test_offers_respect_every_opt_in_and_the_do_not_contact_flag(
    world: dict[str, Path], results: dict[str, Any]
) -> None:
    offers = results["exports"]["steps"]["offers"]["output"]
    con = duckdb.connect()
    crm = world["exports"] / "crm_contacts.csv"
    bad = con.execute(
        f"""SELECT a.channel, count(*) FROM '{offers["assignments_path"]}' a
            JOIN read_csv('{crm}', all_varchar=true) c ON c."Customer ID" = a.customer_id
            WHERE (a.channel = 'sms' AND c."SMS Opt-In" <> 'Y')
               OR (a.channel = 'push' AND c."Push Opt-In" <> 'Y')
               OR (a.channel = 'email' AND c."Email Opt-In" <> 'Y')
               OR (a.channel NOT IN ('none', '') AND c."Do Not Contact" = 'Y')
            GROUP BY 1"""
    ).fetchall()
    assert bad == []
    sent = dict(
        con.execute(
            f"SELECT channel, count(*) FROM '{offers['assignments_path']}' GROUP BY 1"
        ).fetchall()
    )
    assert sent.get("sms", 0) > 0  # per-channel opt-ins make SMS possible, not impossible


def test_names_contact_details_and_flags_are_never_features(results: dict[str, Any]) -> None:
    policy = results["exports"]["steps"]["offers"]["output"]["policy"]
    used = {f.lower() for f in policy["features"]}
    for column in ("First Name", "Last Name", "Email", "Phone", "SMS Opt-In", "Push Opt-In"):
        assert not any(column.lower() in f for f in used), column
    assert not any("do not contact" in f or "health" in f for f in used)
    assert any("tenure" in f for f in used)
