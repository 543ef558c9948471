"""The HTML run report: every section for a real run, graceful for partial ones, escaped.

The realistic result comes from the real agents: demo data with a known truth (small),
the report pipeline in tests/pipelines/report/ run through the Python API with a sign-off,
and the demo's truth check added as ``conductor demo`` does.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conductor.report import llm_usage
from conductor.report._html import SECTIONS, render_html

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "tests" / "pipelines" / "report" / "report.yaml"
BRAND = ROOT / "pipelines" / "brands" / "acme.yaml"
TODAY = dt.date(2026, 11, 23)
HOSTILE = "<script>alert('x')</script>"

_CACHE: dict[str, dict[str, Any]] = {}


def build_full_result(root: Path) -> dict[str, Any]:
    """Run the report pipeline on small demo data; the finished ``result.json`` dict.

    The run folder (with the ``report.html`` the runner wrote) is ``root / "run"``.
    Cached per process: the browser test reuses it.
    """
    if "full" in _CACHE:
        return copy.deepcopy(_CACHE["full"])
    from conductor import Runner
    from conductor.demo import generate_demo_data, truth_check
    from conductor.store import open_store

    shutil.copy(PIPELINE, root / "report.yaml")
    shutil.copy(BRAND, root / "acme.yaml")
    truth = generate_demo_data(root / "data", customers=1500, seed=11, today=TODAY)
    runner = Runner(open_store({"CONDUCTOR_HOME": str(root / ".conductor")}))
    try:
        result = runner.run(root / "report.yaml", out_dir=root / "run", run_id="report-check")
        for _ in range(5):
            if result.status != "waiting":
                break
            step = result.waiting[0]["step"]
            result = runner.decide(
                result.run_id, step, who="tester", decision="approve", comment="looks right"
            )
        assert result.status == "done", result.errors
        state = result.state
        check = truth_check(truth, root / "data", plans=state["plans"], outputs=state["outputs"])
    finally:
        runner.close()
    doc = json.loads((root / "run" / "result.json").read_text(encoding="utf-8"))
    doc["truth_check"] = check
    _CACHE["full"] = doc
    return copy.deepcopy(doc)


@pytest.fixture(scope="session")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_full_result(tmp_path_factory.mktemp("report-run"))


@pytest.fixture(scope="session")
def full_html(full: dict[str, Any]) -> str:
    return render_html(full)


def section(page: str, sid: str) -> str:
    """The HTML of one section."""
    m = re.search(rf'<section class="card" id="{sid}">(.*?)</section>', page, re.S)
    assert m, f"section {sid} missing"
    return m.group(1)


def shown(page: str) -> list[str]:
    """The ids of the sections on the page, in order."""
    return re.findall(r'<section class="card" id="([^"]+)">', page)


def nav(page: str) -> list[str]:
    """The section ids the navigation links to."""
    m = re.search(r'<nav class="toc">(.*?)</nav>', page, re.S)
    assert m, "no navigation"
    return re.findall(r'<a href="#([^"]+)">', m.group(1))


ALWAYS = ["overview", "goal", "steps"]


def charts(html: str) -> list[str]:
    return re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', html)


BROKEN = "could not be drawn"


# ----------------------------------------------------------------------------- full run


def test_full_report_has_every_section_and_chart(full: dict[str, Any], full_html: str) -> None:
    # An offline run calls no language model: the LLM section is the one left out.
    assert shown(full_html) == [sid for sid, _ in SECTIONS if sid != "llm"]
    assert nav(full_html) == shown(full_html)
    for sid, title in SECTIONS:
        if sid == "llm":
            continue
        body = section(full_html, sid)
        assert BROKEN not in body, (sid, body[:400])
        assert f"<h2>{title}</h2>" in body
    ids = charts(full_html)
    kinds = sorted(re.sub(r"^chart-\d+-", "", i) for i in ids)
    assert kinds == sorted(
        [
            "funnel-journeys",
            "attribution-journeys",
            "budget-budget",
            "curves-budget",
            "actions-offers",
            "policy-offers",
            "truth-attribution",
            "truth-budget",
            "truth-policy",
        ]
    )
    assert len(set(ids)) == len(ids)


def test_full_report_shows_the_run(full: dict[str, Any], full_html: str) -> None:
    steps = full["steps"]
    # The goal, highlighted where each field was read.
    goal = section(full_html, "goal")
    assert '<mark title="budget" data-f="budget">$250k</mark>' in goal
    assert "250,000 USD" in goal
    # Every spec field with its provenance.
    specs = section(full_html, "steps")
    for sid, st_ in steps.items():
        for key in st_["spec"]:
            assert f'<td class="mono">{key}</td>' in specs, (sid, key)
    assert '<span class="src s-goal">goal</span>' in specs
    assert '<span class="src s-brand">brand</span>' in specs
    # All six attribution models are plotted.
    journeys = section(full_html, "journeys")
    models = [m["model"] for m in steps["journeys"]["output"]["attribution"]]
    assert len(models) == 6
    for model in models:
        assert f'"name":"{model}"' in journeys
    # Current vs recommended per channel, and a curve per channel.
    budget = section(full_html, "budget")
    for ch in steps["budget"]["output"]["channels"]:
        assert f"<td><b>{ch['channel']}</b></td>" in budget
    assert budget.count('"name":"response curve"') == len(steps["budget"]["output"]["channels"])
    # Segments and every message with its verdict.
    segs = section(full_html, "segments")
    for seg in steps["offers"]["output"]["segments"]:
        assert f"<td><b>{seg['name']}</b></td>".replace("'", "&#39;") in segs
    msgs = section(full_html, "messages")
    assert msgs.count('<div class="msg ') == len(steps["offers"]["output"]["messages"])
    assert "review round(s)" in msgs
    # The sign-off, the audit trail, the truth check.
    approvals = section(full_html, "approvals")
    assert "tester" in approvals and "looks right" in approvals
    audit = section(full_html, "audit")
    assert audit.count('<tr><td class="small mono nw">') == len(full["audit"])
    truth = section(full_html, "truth")
    assert truth.count("ok-mark") + truth.count("bad-mark") == len(full["truth_check"]["checks"])


def test_runner_writes_the_report_into_the_run_folder(
    full: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_dir = Path(full["steps"]["offers"]["output"]["assignments_path"]).parents[2]
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "report-check" in page
    assert len(charts(page)) == 6  # no truth check: that is added by `conductor demo`


def test_lift_tests_behind_the_budget_fit_are_shown(full: dict[str, Any]) -> None:
    doc = copy.deepcopy(full)
    diag = doc["steps"]["budget"]["output"]["diagnostics"]
    assert "Calibrated with" not in section(render_html(doc), "budget")
    diag["lift_tests"] = [
        {"channel": "email", "spend": 1200.0, "delta_spend": -1200.0, "measured": -4900.0,
         "sigma": 300.0, "fitted": -4712.4, "z": 0.63},
    ]  # fmt: skip
    budget = section(render_html(doc), "budget")
    assert "Calibrated with 1 lift test(s): email measured -4,900 per week, fitted -4,712" in budget


def test_the_budget_fit_is_validated_out_of_sample_in_the_report(full: dict[str, Any]) -> None:
    doc = copy.deepcopy(full)
    v = doc["steps"]["budget"]["output"]["validation"]
    assert v is not None and v["folds"] >= 1  # every run validates by default
    budget = section(render_html(doc), "budget")
    assert "Out of sample" in budget and "<td>baseline, no media</td>" in budget
    assert f"{v['folds']} rolling test windows of {v['test_weeks']} weeks" in budget
    v["beats_baseline"] = False
    kept = section(render_html(doc), "budget")
    assert "does not beat the baseline" in kept and "the plan keeps the current mix" in kept
    doc["steps"]["budget"]["output"]["validation"] = None
    assert "Out of sample" not in section(render_html(doc), "budget")


def test_report_is_self_contained(full_html: str) -> None:
    from plotly.offline import get_plotlyjs

    # plotly.js inlined exactly once, in the head ...
    js = get_plotlyjs()
    assert full_html.count(js) == 1
    assert full_html.count("* plotly.js v") == 1
    head, rest = full_html.split(js, 1)
    assert "</head>" not in head
    # ... and outside the library nothing refers to the network (the library's own
    # strings, e.g. its logo link, are never used: the logo is off and the CSP forbids it).
    page = head + rest
    assert re.search(r"<script[^>]*\bsrc\s*=", page, re.I) is None
    assert re.search(r"<link\b", page, re.I) is None
    assert re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I) is None
    assert re.search(r"@import|url\(", page, re.I) is None
    assert "cdn.plot.ly" not in page
    assert "default-src 'none'" in head
    assert '"displaylogo": false' in rest
    # One script for plotly.js, one per chart, one that sizes the charts after load.
    assert full_html.count("<script") == 2 + len(charts(full_html))
    assert len(full_html) < 6_000_000


def test_report_is_deterministic(full: dict[str, Any], full_html: str) -> None:
    assert render_html(full) == full_html


def test_llm_usage_is_shown(full: dict[str, Any]) -> None:
    calls = [
        {
            "model": "gpt-test",
            "step": "offers",
            "purpose": "copy",
            "input_tokens": 1200,
            "output_tokens": 300,
            "cost_usd": 0.0125,
            "ok": True,
        },
        {
            "model": "gpt-test",
            "step": None,
            "purpose": "planning",
            "input_tokens": 200,
            "output_tokens": 50,
            "cost_usd": 0.002,
            "ok": False,
        },
    ]
    full["llm"] = llm_usage(calls)
    page = section(render_html(full), "llm")
    assert "gpt-test" in page and "planning" in page
    assert "$0.0145" in page
    assert "1 failed" in page
    assert "1,400" in page


# ----------------------------------------------------------------------------- partial runs


def _step(agent: str, status: str, output: Any = None, error: Any = None) -> dict[str, Any]:
    return {
        "agent": agent,
        "status": status,
        "spec": {"label": "x"},
        "spec_hash": "sha256:" + "0" * 64,
        "provenance": {"label": {"source": "parameter", "detail": "with.label"}},
        "seconds": 0.1,
        "executions": 1,
        "rounds": [],
        "approval": None,
        "error": error,
        "output": output,
    }


PARTIAL: dict[str, dict[str, Any]] = {
    "empty": {},
    "ids only": {"run_id": "r1", "pipeline": "p", "status": "stopped"},
    "test agent only": {
        "run_id": "r2",
        "pipeline": "notes",
        "status": "done",
        "goal": {"objective": "grow_revenue", "kpi": "revenue", "source_text": None},
        "steps": {
            "a": _step(
                "test_note",
                "done",
                {
                    "warnings": [],
                    "label": "hello",
                    "upstream": [],
                    "insight": {"kind": "insight", "id": "note/hello", "statement": "Note hello"},
                },
            )
        },
        "llm": llm_usage([]),
        "audit": [],
    },
    "failed steps": {
        "run_id": "r3",
        "pipeline": "growth",
        "status": "failed",
        "error": {"code": "run.crashed", "message": "RuntimeError: boom", "hint": "resume it"},
        "steps": {
            "journeys": _step(
                "journey_analytics",
                "failed",
                error={"code": "agent.crashed", "message": "KeyError: 'events'", "hint": "a bug"},
            ),
            "budget": _step("budget_allocation", "skipped"),
            "offers": _step("personalization", "pending"),
        },
    },
    "waiting": {
        "run_id": "r4",
        "status": "waiting",
        "waiting": [{"step": "budget", "roles": ["media_lead"], "reasons": ["approve: set"]}],
        "steps": {
            "budget": _step(
                "test_spend",
                "waiting",
                {
                    "warnings": [],
                    "allocation": {
                        "kind": "allocation",
                        "id": "budget",
                        "amounts": {"search": 10.0, "social": 5.0},
                        "currency": "EUR",
                    },
                },
            )
        },
    },
    "wrong types": {
        "run_id": 5,
        "goal": "not a mapping",
        "steps": {"a": {"output": [1, 2], "rounds": "none", "spec": None, "approval": "yes"}},
        "audit": [None, 3, {"kind": "llm", "detail": None}],
        "llm": {"calls": "many", "by_model": [1]},
        "truth_check": {"attribution": None, "budget": {"channels": {"x": None}}},
        "waiting": [None],
    },
}


# The sections each partial result has something for (overview, goal, steps always).
PARTIAL_SECTIONS = {
    "empty": ALWAYS,
    "ids only": ALWAYS,
    "test agent only": [*ALWAYS, "findings"],
    "failed steps": [*ALWAYS, "journeys", "budget", "segments"],
    "waiting": [*ALWAYS, "budget", "approvals"],
    "wrong types": [*ALWAYS, "approvals", "truth", "llm", "audit"],  # shown: it has data
}


@pytest.mark.parametrize("name", list(PARTIAL))
def test_partial_results_show_only_what_the_run_produced(name: str) -> None:
    page = render_html(PARTIAL[name])
    assert shown(page) == PARTIAL_SECTIONS[name]
    assert nav(page) == shown(page)
    titles = dict(SECTIONS)
    for sid in shown(page):
        title = titles[sid]
        body = section(page, sid)
        assert f"<h2>{title}</h2>" in body
        assert BROKEN not in body, (sid, body[:300])


def test_failed_steps_say_why() -> None:
    page = render_html(PARTIAL["failed steps"])
    assert "The run stopped:" in section(page, "overview")
    journeys = section(page, "journeys")
    assert "did not produce a result" in journeys
    assert "KeyError: &#39;events&#39;" in journeys
    assert "did not produce a result" in section(page, "budget")
    assert "skipped" in section(page, "budget")
    assert "has no result yet" in section(page, "segments")
    assert "truth" not in shown(page)  # no truth for a run that is not the demo's
    assert not charts(page)


def test_other_agents_artifacts_are_shown() -> None:
    page = render_html(PARTIAL["test agent only"])
    assert "Note hello" in section(page, "findings")
    # A plugin-only run: no empty sections for the built-in agents, none for model calls.
    assert not {"journeys", "budget", "segments", "truth", "llm"} & set(shown(page))
    waiting = render_html(PARTIAL["waiting"])
    assert charts(section(waiting, "budget")) == ["chart-1-alloc-budget"]
    assert "waits for sign-off" in section(waiting, "overview")
    assert "conductor approve r4 budget --as NAME" in section(waiting, "overview")


# ----------------------------------------------------------------------------- escaping


def _poison(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["pipeline"] = HOSTILE
    doc["goal"]["source_text"] = HOSTILE + " " + doc["goal"]["source_text"]
    offers = doc["steps"]["offers"]
    offers["output"]["messages"][0]["text"] = HOSTILE
    offers["output"]["messages"][0]["subject"] = '"><img src=x onerror=alert(1)>'
    offers["output"]["segments"][0]["name"] = HOSTILE
    offers["output"]["message_index"][0]["segment"] = HOSTILE
    offers["spec"]["audience"] = HOSTILE
    budget = doc["steps"]["budget"]
    budget["output"]["channels"][0]["channel"] = HOSTILE
    budget["approval"]["comment"] = HOSTILE
    journeys = doc["steps"]["journeys"]["output"]
    journeys["funnel"]["stages"][0]["stage"] = HOSTILE
    journeys["attribution"][0]["conversions"][HOSTILE] = 1.0
    doc["audit"][0]["actor"] = HOSTILE
    doc["truth_check"]["checks"][0]["detail"] = HOSTILE
    doc["steps"][HOSTILE] = _step(HOSTILE, HOSTILE, error={"message": HOSTILE})
    return doc


def test_hostile_text_is_escaped(full: dict[str, Any], full_html: str) -> None:
    page = render_html(_poison(full))
    assert HOSTILE not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    # Labels reach plotly HTML-escaped, and its JSON escapes "<" too: no label can close
    # the script or become markup.
    for m in re.finditer(r"alert\('x'\)", page):
        assert page[m.start() - 4 : m.start()] in ("&gt;", "u003e"), page[m.start() - 40 : m.end()]
    assert page.count("<script") == full_html.count("<script")
    for sid in shown(page):
        assert BROKEN not in section(page, sid), sid


# ----------------------------------------------------------------------------- fuzzing

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "kind",
                    "stages",
                    "funnel",
                    "attribution",
                    "channels",
                    "curve",
                    "segments",
                    "messages",
                    "value",
                    "text",
                    "copy",
                    "allocation",
                    "amounts",
                    "previous",
                    "id",
                    "rounds",
                    "verdict",
                    "violations",
                    "output",
                    "spans",
                    "start",
                    "end",
                    "detail",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.dictionaries(st.text(min_size=1, max_size=5), _json, max_size=3),
    goal=_json,
    truth=_json,
    audit=st.lists(_json, max_size=3),
)
def test_any_result_renders(steps: dict[str, Any], goal: Any, truth: Any, audit: Any) -> None:
    doc = {"steps": steps, "goal": goal, "truth_check": truth, "audit": audit, "llm": goal}
    page = render_html(doc)
    assert nav(page) == shown(page)
    for sid in shown(page):
        assert BROKEN not in section(page, sid), sid


def test_docs_name_every_section() -> None:
    docs = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    for _sid, title in SECTIONS:
        assert f"| **{title}** |" in docs, title
