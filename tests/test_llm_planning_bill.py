"""Every paid model request is on the record, even when planning fails (issue 16).

The real CLI in a subprocess, the real ``openai`` client over HTTP, a scripted
OpenAI-compatible server on 127.0.0.1, and the real store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli, make_env
from openai_server import ScriptedOpenAI, answer

# The grammar reads the objective, KPI and horizon but no target or budget: a run with
# a model configured asks it for them.
PARTIAL = "Grow online revenue in Q3 2027 across search and social"
# No objective or KPI for the grammar: parse-goal --model needs the model.
VAGUE = "Get more people to sign up in Q3 2027, spending $80k, mostly to lapsed customers."

PIPELINE = f"""\
pipeline: vague
goal: "{PARTIAL}"
today: 2027-05-01
steps:
  notes: {{agent: test_note, with: {{label: N}}}}
review: {{model_review: false}}
"""

# Breaks the GoalDraft schema (objective is an enum): invalid output, asked again.
BAD = {"objective": "world domination", "kpi": "vibes"}
# Valid, and says nothing new.
EMPTY = {"markets": [], "excluded_channels": [], "constraints": [], "evidence": []}
GOOD = {
    "objective": "acquire",
    "kpi": "conversions",
    "markets": [],
    "excluded_channels": [],
    "constraints": [],
    "evidence": [
        {"field": "objective", "quote": "Get more people to sign up"},
        {"field": "kpi", "quote": "sign up"},
    ],
}


@pytest.fixture
def server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as srv:
        yield srv


def _env(tmp_path: Path, backend: str, server: ScriptedOpenAI) -> dict[str, str]:
    return make_env(tmp_path, backend) | {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": server.base_url,
        "CONDUCTOR_MODEL": "gpt-4o-mini",
        "CONDUCTOR_LLM_TIMEOUT": "2",
    }


def _clean(r) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in r.stdout + r.stderr
    assert "internal error" not in r.stderr


def test_a_planning_that_fails_after_paid_requests_is_billed_and_cannot_be_resumed(
    tmp_path: Path, backend: str, server: ScriptedOpenAI, run_id: str
) -> None:
    cli = Cli(cwd=tmp_path, env=_env(tmp_path, backend, server))
    (tmp_path / "p.yaml").write_text(PIPELINE)
    server.script(
        answer(BAD, prompt_tokens=1_000, completion_tokens=100),
        answer(BAD, prompt_tokens=1_100, completion_tokens=100),
        answer(BAD, prompt_tokens=1_200, completion_tokens=100),
    )
    r = cli("run", "p.yaml", "--run-id", run_id)
    _clean(r)
    assert r.returncode != 0
    assert len(server.requests) == 3
    assert f"conductor audit --run {run_id}" in r.stderr, r.stderr

    digest = json.loads(cli("audit", "--run", run_id, "--json").stdout)
    (entry,) = digest
    assert entry["status"] == "failed-planning"
    assert entry["llm"]["calls"] == 3
    assert entry["llm"]["models"] == ["gpt-4o-mini"]
    assert entry["llm"]["tokens"] == 3_300 + 300
    assert entry["llm"]["cost_usd"] == pytest.approx(3_300 * 0.15e-6 + 300 * 0.60e-6)
    assert entry["error"]["code"] == "llm.invalid-output"
    text = cli("audit", "--run", run_id)
    assert "3 model call(s)" in text.stdout
    assert "planning failed" in text.stdout

    runs = json.loads(cli("runs", "--json").stdout)
    # PostgreSQL's store is shared with other tests: look at this run only.
    assert [x["status"] for x in runs if x["run_id"] == run_id] == ["failed-planning"]
    st = cli("status", run_id)
    assert "failed-planning" in st.stdout
    assert "3 call(s), 3 failed" in st.stdout

    again = cli("resume", run_id)
    _clean(again)
    assert again.returncode == 2
    assert "planning failed" in again.stderr
    assert "conductor run" in again.stderr

    # The same id again is refused before any model request is sent.
    rerun = cli("run", "p.yaml", "--run-id", run_id)
    _clean(rerun)
    assert rerun.returncode == 2
    assert "already exists" in rerun.stderr
    assert len(server.requests) == 3


def test_a_planning_that_succeeds_bills_its_requests_once(
    tmp_path: Path, server: ScriptedOpenAI, run_id: str
) -> None:
    cli = Cli(cwd=tmp_path, env=_env(tmp_path, "sqlite", server))
    (tmp_path / "p.yaml").write_text(PIPELINE)
    server.script(answer(EMPTY))
    r = cli("run", "p.yaml", "--run-id", run_id)
    _clean(r)
    assert r.returncode == 0, r.stdout + r.stderr
    (entry,) = json.loads(cli("audit", "--run", run_id, "--json").stdout)
    assert entry["llm"]["calls"] == 1
    assert entry["status"] != "failed-planning"
    assert "error" not in entry


def test_an_existing_run_id_is_refused_before_the_model_is_asked(
    tmp_path: Path, server: ScriptedOpenAI, run_id: str
) -> None:
    cli = Cli(cwd=tmp_path, env=_env(tmp_path, "sqlite", server))
    (tmp_path / "p.yaml").write_text(PIPELINE)
    server.script(answer(EMPTY))
    assert cli("run", "p.yaml", "--run-id", run_id).returncode == 0
    server.script(answer(EMPTY))
    r = cli("run", "p.yaml", "--run-id", run_id)
    _clean(r)
    assert r.returncode == 2
    assert "already exists" in r.stderr
    assert len(server.requests) == 1
    (entry,) = json.loads(cli("audit", "--run", run_id, "--json").stdout)
    assert entry["llm"]["calls"] == 1


def test_parse_goal_with_model_uses_it_and_bills_it(tmp_path: Path, server: ScriptedOpenAI) -> None:
    cli = Cli(cwd=tmp_path, env=_env(tmp_path, "sqlite", server))
    server.script(answer(GOOD, prompt_tokens=2_000, completion_tokens=200))
    r = cli("parse-goal", VAGUE, "--model", "--today", "2027-05-01", "--json")
    _clean(r)
    assert r.returncode == 0, r.stderr
    goal = json.loads(r.stdout)
    assert (goal["objective"], goal["kpi"]) == ("acquire", "conversions")
    assert goal["budget"]["amount"] == 80_000  # the grammar's, not the model's
    assert len(server.requests) == 1
    assert "model: 1 request(s), 2000 input + 200 output tokens" in r.stderr
    audit_id = r.stderr.split("conductor audit --run ")[1].split("`")[0]
    (entry,) = json.loads(cli("audit", "--run", audit_id, "--json").stdout)
    assert entry["pipeline"] == "parse-goal"
    assert entry["llm"]["calls"] == 1
    assert entry["status"] == "parse-goal"

    # Without --model the grammar alone reads it: no request, no bill.
    plain = cli("parse-goal", VAGUE, "--today", "2027-05-01", "--json")
    assert plain.returncode == 2  # no objective or KPI without the model
    assert len(server.requests) == 1


def test_parse_goal_failing_after_paid_requests_is_billed(
    tmp_path: Path, server: ScriptedOpenAI
) -> None:
    cli = Cli(cwd=tmp_path, env=_env(tmp_path, "sqlite", server))
    server.script(answer(BAD), answer(BAD), answer(BAD))
    r = cli("parse-goal", VAGUE, "--model", "--today", "2027-05-01")
    _clean(r)
    assert r.returncode != 0
    audit_id = r.stderr.split("conductor audit --run ")[1].split("`")[0]
    (entry,) = json.loads(cli("audit", "--run", audit_id, "--json").stdout)
    assert entry["llm"]["calls"] == 3
    assert entry["status"] == "parse-goal-failed"
    assert entry["error"]["code"] == "llm.invalid-output"


def test_parse_goal_with_model_but_none_configured_is_one_clear_error(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    r = cli("parse-goal", VAGUE, "--model", "--today", "2027-05-01")
    _clean(r)
    assert r.returncode == 1
    assert "no model is configured" in r.stderr
    assert "OPENAI_API_KEY" in r.stderr
