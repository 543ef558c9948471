"""Runs that use a language model, end to end: the real CLI in a subprocess, the real
``openai`` client over real HTTP, a scripted OpenAI-compatible server on 127.0.0.1.

Every fault ends in a result or in one clear error; a stopped run resumes without
re-running finished steps, and ``conductor status`` shows the tokens and the cost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli, counts, make_env
from openai_server import (
    ScriptedOpenAI,
    answer,
    hang,
    malformed_body,
    rate_limited,
    server_error,
)

PIPELINE = """\
pipeline: taglines
goal: "Grow online revenue 12% in Q3 2027 with a $250k budget across search and social"
today: 2027-05-01
steps:
  notes: {agent: test_note, with: {label: N}}
  tagline: {agent: test_tagline, needs: [notes], with: {product: trail shoes, tone: warm}}
review: {model_review: false}
LIMITS
"""

TAGLINE = {"text": "Trail shoes that go further."}


@pytest.fixture
def server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as srv:
        yield srv


@pytest.fixture
def llm_cli(tmp_path: Path, server: ScriptedOpenAI) -> Cli:
    env = make_env(tmp_path)
    env |= {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": server.base_url,
        "CONDUCTOR_MODEL": "gpt-4o-mini",
        "CONDUCTOR_LLM_TIMEOUT": "2",
    }
    return Cli(cwd=tmp_path, env=env)


def _pipeline(tmp_path: Path, limits: str = "") -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE.replace("LIMITS", limits))


def _result(tmp_path: Path, run_id: str) -> dict:
    return json.loads((tmp_path / ".conductor" / "runs" / run_id / "result.json").read_text())


def _clean(r) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in r.stdout + r.stderr


def test_transient_errors_are_retried_and_usage_is_billed(
    llm_cli: Cli, tmp_path: Path, server: ScriptedOpenAI, run_id: str
) -> None:
    _pipeline(tmp_path)
    server.script(
        server_error(500),
        rate_limited(),
        answer(TAGLINE, prompt_tokens=12_000, completion_tokens=3_000),
    )
    r = llm_cli("run", "p.yaml", "--run-id", run_id)
    _clean(r)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(server.requests) == 3
    result = _result(tmp_path, run_id)
    assert result["steps"]["tagline"]["output"]["copies"][0]["text"] == TAGLINE["text"]
    llm = result["llm"]
    assert (llm["calls"], llm["failed_calls"]) == (3, 2)
    assert (llm["input_tokens"], llm["output_tokens"]) == (12_000, 3_000)
    # gpt-4o-mini: $0.15 / M input, $0.60 / M output.
    assert llm["cost_usd"] == pytest.approx(12_000 * 0.15e-6 + 3_000 * 0.60e-6)
    assert llm["by_step"]["tagline"]["calls"] == 3

    st = llm_cli("status", run_id)
    assert st.returncode == 0, st.stderr
    assert "3 call(s), 2 failed" in st.stdout
    assert "12000 input + 3000 output tokens" in st.stdout
    assert "$0.0036" in st.stdout
    audit = json.loads(llm_cli("audit", "--run", run_id, "--json").stdout)
    assert audit[0]["llm"]["models"] == ["gpt-4o-mini"]
    assert audit[0]["llm"]["calls"] == 3


@pytest.mark.parametrize(
    ("fault", "code_words"),
    [
        (hang(3), "did not answer in time"),
        (malformed_body(), "JSON"),
        (answer({"text": ""}), "no usable Tagline"),
    ],
    ids=["hang-past-timeout", "malformed-json", "schema-breaking"],
)
def test_persistent_fault_stops_cleanly_and_resume_finishes(
    llm_cli: Cli,
    tmp_path: Path,
    server: ScriptedOpenAI,
    run_id: str,
    fault: object,
    code_words: str,
) -> None:
    _pipeline(tmp_path)
    server.script(fault, fault, fault)  # type: ignore[arg-type]
    r = llm_cli("run", "p.yaml", "--run-id", run_id)
    _clean(r)
    assert r.returncode == 1, r.stdout + r.stderr
    assert code_words.lower() in r.stderr.lower(), r.stderr
    assert "conductor resume" in r.stderr
    assert len(server.requests) == 3
    assert counts(tmp_path) == {"notes": 1, "tagline": 1}
    status = json.loads(llm_cli("status", run_id, "--json").stdout)
    assert status["run"]["status"] == "stopped"
    assert status["result"]["steps"]["notes"]["status"] == "done"

    server.script(answer(TAGLINE))
    again = llm_cli("resume", run_id)
    _clean(again)
    assert again.returncode == 0, again.stdout + again.stderr
    result = _result(tmp_path, run_id)
    assert result["status"] == "done"
    assert result["steps"]["tagline"]["output"]["copies"][0]["text"] == TAGLINE["text"]
    assert counts(tmp_path) == {"notes": 1, "tagline": 2}  # the finished step did not re-run
    assert result["llm"]["calls"] == 4  # the failed attempts stay on the bill


def test_invalid_answer_is_corrected_with_feedback(
    llm_cli: Cli, tmp_path: Path, server: ScriptedOpenAI, run_id: str
) -> None:
    _pipeline(tmp_path)
    server.script(answer({"text": "x"}), answer(TAGLINE))
    r = llm_cli("run", "p.yaml", "--run-id", run_id)
    assert r.returncode == 0, r.stdout + r.stderr
    second = json.dumps(server.requests[1])
    assert "could not be used" in second and "text" in second
    llm = _result(tmp_path, run_id)["llm"]
    assert (llm["calls"], llm["failed_calls"]) == (2, 1)


def test_call_cap_stops_the_run_and_raising_it_lets_it_resume(
    llm_cli: Cli, tmp_path: Path, server: ScriptedOpenAI, run_id: str
) -> None:
    _pipeline(tmp_path, "limits: {max_llm_calls: 1}")
    server.script(server_error(503), answer(TAGLINE))
    r = llm_cli("run", "p.yaml", "--run-id", run_id)
    _clean(r)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "max_llm_calls" in r.stderr
    assert len(server.requests) == 1  # the second request was never sent
    assert json.loads(llm_cli("status", run_id, "--json").stdout)["run"]["status"] == "stopped"

    _pipeline(tmp_path, "limits: {max_llm_calls: 5}")
    again = llm_cli("resume", run_id)
    assert again.returncode == 0, again.stdout + again.stderr
    result = _result(tmp_path, run_id)
    assert result["status"] == "done"
    assert result["llm"]["calls"] == 2
    assert counts(tmp_path)["notes"] == 1


ASSISTED = """\
pipeline: assisted
goal: {objective: grow_revenue, kpi: revenue, source_text: "Grow revenue with a fun, playful summer campaign"}
steps:
  tagline: {agent: test_tagline, with: WITH}
review: {model_review: false}
"""


def test_model_assisted_field_is_filled_from_the_goal_unless_given(
    llm_cli: Cli, tmp_path: Path, server: ScriptedOpenAI
) -> None:
    (tmp_path / "p.yaml").write_text(ASSISTED.replace("WITH", "{product: sandals}"))
    server.script(
        answer({"tone": "playful", "rationale": "the goal says 'fun, playful'"}),
        answer(TAGLINE),
    )
    plan = json.loads(llm_cli("plan", "p.yaml", "--json").stdout)
    assert plan["steps"]["tagline"]["spec"]["tone"] == "warm"  # plan never calls a model
    assert len(server.requests) == 0

    r = llm_cli("run", "p.yaml", "--run-id", "assisted")
    assert r.returncode == 0, r.stdout + r.stderr
    step = _result(tmp_path, "assisted")["steps"]["tagline"]
    assert step["spec"]["tone"] == "playful"
    assert step["provenance"]["tone"]["source"] == "model"
    assert step["provenance"]["product"]["source"] == "parameter"
    assert "playful tagline" in json.dumps(server.requests[1])
    assert _result(tmp_path, "assisted")["llm"]["by_purpose"]["spec-assist"]["calls"] == 1

    # An explicit value wins: the model is not asked.
    (tmp_path / "p.yaml").write_text(ASSISTED.replace("WITH", "{tone: formal}"))
    server.script(answer(TAGLINE))
    r = llm_cli("run", "p.yaml", "--run-id", "explicit")
    assert r.returncode == 0, r.stdout + r.stderr
    step = _result(tmp_path, "explicit")["steps"]["tagline"]
    assert step["spec"]["tone"] == "formal"
    assert step["provenance"]["tone"]["source"] == "parameter"
    assert len(server.requests) == 3
