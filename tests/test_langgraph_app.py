"""The LangGraph server's way in: ``langgraph.json`` and its graph factory.

The server (``langgraph dev``) calls the factory and copies the compiled graph with its
own checkpointer; these tests do the same with an in-memory one, offline, on the sample
data the shipped pipeline reads.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from conductor.errors import PipelineError, RunError
from conductor.runtime import PLAN_NODE, Runner, plan_offline
from conductor.service import langgraph_app
from conductor.service.langgraph_app import DEFAULT_PIPELINE, make_graph, pipeline_file
from conductor.store import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
GROWTH = ROOT / "pipelines" / "growth.yaml"


@pytest.fixture(autouse=True)
def _fresh_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test plans anew (the factory keeps plans per process) and opens the default."""
    monkeypatch.setattr(langgraph_app, "_plans", {})
    monkeypatch.delenv("CONDUCTOR_PIPELINE", raising=False)


def _served(thread: str) -> tuple[Any, dict[str, Any]]:
    """The graph as the server runs it: the factory's, copied with a checkpointer."""
    config: dict[str, Any] = {"configurable": {"thread_id": thread}}
    graph = make_graph(config)  # type: ignore[arg-type]
    return graph.copy(update={"checkpointer": InMemorySaver()}), config


def _close(left: Any, right: Any) -> bool:
    """Equal JSON, floats within a relative 1e-9."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_close(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_close, left, right))
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return bool(left == right)


# --------------------------------------------------------------------------- langgraph.json


def test_langgraph_json_names_the_factory_and_installable_dependencies() -> None:
    conf = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    assert set(conf) <= {"python_version", "dependencies", "graphs", "env"}
    assert re.fullmatch(r"3\.1[1-3]", conf["python_version"])
    # Each dependency is a folder pip can install (the repository: its pyproject.toml).
    for dep in conf["dependencies"]:
        assert (ROOT / dep / "pyproject.toml").is_file(), dep
    assert set(conf["graphs"]) == {"conductor"}
    file, _, func = conf["graphs"]["conductor"].partition(":")
    assert (ROOT / file).is_file()
    # Loaded by file, as the server loads it (not through the package's import).
    spec = importlib.util.spec_from_file_location("lg_conductor_app", ROOT / file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert getattr(module, func) is not None and callable(getattr(module, func))
    assert all(isinstance(v, str) for v in conf["env"].values())


def test_the_server_would_call_the_factory_with_its_config() -> None:
    """The server passes the config to a one-argument factory by its parameter name."""
    import inspect

    params = list(inspect.signature(make_graph).parameters)
    assert params == ["config"]


# --------------------------------------------------------------------------- the factory


def test_factory_compiles_the_shipped_pipeline_without_a_checkpointer() -> None:
    graph = make_graph()
    assert isinstance(graph, CompiledStateGraph)
    assert graph.checkpointer is None  # the server brings its own
    assert graph.name == "growth"
    steps = list(plan_offline(GROWTH).plans)
    assert steps == ["journeys", "budget", "offers"]
    nodes = set(graph.get_graph().nodes) - {"__start__", "__end__"}
    assert nodes == {PLAN_NODE, *steps, *(f"{s}.gate" for s in steps)}


def test_factory_opens_the_pipeline_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pipelines = tmp_path / "pipelines"
    shutil.copytree(ROOT / "pipelines", pipelines)
    text = (pipelines / "growth.yaml").read_text(encoding="utf-8")
    (pipelines / "short.yaml").write_text(
        text.replace("pipeline: growth", "pipeline: short"), encoding="utf-8"
    )
    monkeypatch.setenv("CONDUCTOR_PIPELINE", str(pipelines / "short.yaml"))
    assert pipeline_file() == (pipelines / "short.yaml").resolve()
    assert make_graph().name == "short"
    monkeypatch.delenv("CONDUCTOR_PIPELINE")
    assert pipeline_file() == DEFAULT_PIPELINE == GROWTH


def test_factory_refuses_a_missing_or_broken_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONDUCTOR_PIPELINE", str(tmp_path / "nope.yaml"))
    with pytest.raises(RunError) as missing:
        make_graph()
    assert missing.value.code == "run.no-pipeline"
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: bad\nsteps:\n  a: {agent: no_such_agent}\n", encoding="utf-8")
    monkeypatch.setenv("CONDUCTOR_PIPELINE", str(bad))
    with pytest.raises(PipelineError):
        make_graph()


def test_factory_plans_again_only_when_the_pipeline_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pipelines = tmp_path / "pipelines"
    shutil.copytree(ROOT / "pipelines", pipelines)
    monkeypatch.setenv("CONDUCTOR_PIPELINE", str(pipelines / "growth.yaml"))
    calls: list[Path] = []
    real = langgraph_app.plan_offline

    def counting(path: Path) -> Any:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(langgraph_app, "plan_offline", counting)
    make_graph()
    make_graph({"configurable": {"thread_id": "another"}})
    assert len(calls) == 1
    text = (pipelines / "growth.yaml").read_text(encoding="utf-8")
    (pipelines / "growth.yaml").write_text(text + "\n# changed\n", encoding="utf-8")
    make_graph()
    assert len(calls) == 2


# --------------------------------------------------------------------------- runs


def test_an_empty_input_runs_the_plan_to_the_first_sign_off_then_resumes(tmp_path: Path) -> None:
    graph, config = _served("thread-1")
    graph.invoke({}, config)  # Studio's "Submit" with nothing typed
    snap = graph.get_state(config)
    assert snap.values["status"] == {"journeys": "done", "budget": "waiting", "offers": "done"}
    assert snap.values["run_id"] == "thread-1"
    assert [i.value["step"] for i in snap.interrupts] == ["budget"]
    assert snap.interrupts[0].value["roles"] == ["media_lead"]
    # The steps wrote their files under CONDUCTOR_HOME/langgraph/<thread id>/.
    assert (tmp_path / ".conductor" / "langgraph" / "thread-1" / "steps" / "journeys").is_dir()

    decision = {"decision": "approve", "by": "demo-approver", "role": "media_lead"}
    graph.invoke(Command(resume=decision), config)
    snap = graph.get_state(config)
    assert set(snap.values["status"].values()) == {"done"}
    assert snap.values["approvals"]["budget"]["by"] == "demo-approver"
    assert snap.interrupts == () and snap.next == ()
    # The audit events stay in the state: no store, no audit log under the server.
    kinds = {e["kind"] for e in snap.values["outbox"]}
    assert {"step", "verdict", "approval"} <= kinds


def test_the_factory_plans_as_the_runner_does(tmp_path: Path) -> None:
    """Same goal, specs and outputs as ``conductor run`` checkpoints for the same run."""
    # The same folder too: the outputs name the files the steps wrote.
    out = tmp_path / ".conductor" / "langgraph" / "same"
    runner = Runner(SQLiteStore(tmp_path / "store.db"))
    try:
        result = runner.run(GROWTH, run_id="same", out_dir=out)
    finally:
        runner.close()
    assert result.status == "waiting"
    graph, config = _served("same")
    graph.invoke({}, config)
    served = graph.get_state(config).values
    assert served["goal"] == result.state["goal"]
    assert served["plans"] == result.state["plans"]
    assert served["status"] == result.state["status"]
    # Equal but for the last bits of floating-point sums (their order is not fixed).
    assert _close(served["outputs"], result.state["outputs"])


def test_a_run_given_its_input_keeps_it() -> None:
    graph, config = _served("edited")
    planned = plan_offline(GROWTH).initial_state("edited")
    assert planned["plans"]["journeys"]["spec"]["attribution"] == ["markov_1"]
    planned["plans"]["journeys"]["spec"]["attribution"] = ["last_touch"]
    graph.invoke(planned, config)
    values = graph.get_state(config).values
    assert values["plans"]["journeys"]["spec"]["attribution"] == ["last_touch"]
    assert values["status"]["journeys"] == "done"
    # The step ran the spec it was given, not the planned one.
    made = json.dumps(values["outputs"]["journeys"])
    assert "last_touch" in made
    assert "markov_1" not in made


def test_thread_ids_cannot_leave_the_langgraph_folder(tmp_path: Path) -> None:
    graph, config = _served("../../escape")
    graph.invoke({}, config)
    made = sorted(p.name for p in (tmp_path / ".conductor" / "langgraph").iterdir())
    assert made == ["______escape"]
    assert not (tmp_path / "escape").exists()
