"""Saved plans through the real CLI: `conductor plan FILE --out plan.json`, then
`conductor run --plan plan.json` runs exactly those specs, and is refused with what
changed when the pipeline, a data file or an agent's version changed since."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import Cli, make_env

#: A plugin written into the test's folder, so a test can bump an agent's version.
PLUGIN = '''\
from pydantic import Field

from conductor import Agent, AgentOutput, DataNeed, Inputs, Insight, PlanContext, RunContext
from conductor import TaskSpec, register


class RowsSpec(TaskSpec):
    """Spec of the row counter."""

    label: str = Field(default="rows", description="A label copied into the output.")
    source: str = Field(default="events", description="Data source to count.")


class Rows(AgentOutput):
    """How many rows a source has."""

    label: str = Field(description="The label.")
    rows: int = Field(description="Rows counted.")

    def artifacts(self):
        return [Insight(id=f"rows/{self.label}", statement=f"{self.rows} rows")]


@register
class RowsAgent(Agent[RowsSpec, Rows]):
    """Counts a data source's rows."""

    name = "tp_rows"
    description = "Test agent: counts the rows of a data source."
    spec_type = RowsSpec
    output_type = Rows
    data = {"events": DataNeed(columns={"n": "number"})}
    version = "VERSION"

    def run(self, spec: RowsSpec, inputs: Inputs, ctx: RunContext) -> Rows:
        (count,) = inputs.db().execute(f"SELECT count(*) FROM {spec.source}").fetchone()
        return Rows(label=spec.label, rows=int(count))
'''

PIPELINE = """\
pipeline: saved
goal: "Grow online revenue 12% in Q3 2027 with a $250k budget across search, social and email"
today: 2027-01-10
data:
  events: data/events.csv
steps:
  count: {agent: tp_rows, with: {label: first}}
  note: {agent: test_note, needs: [count], with: {label: N}}
"""


def _plugin(folder: Path, version: str = "1") -> None:
    (folder / "tp_plan_agents.py").write_text(PLUGIN.replace("VERSION", version))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    env = make_env(tmp_path)
    env["CONDUCTOR_PLUGINS"] += ",tp_plan_agents"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    _plugin(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "events.csv").write_text("n\n1\n2\n3\n")
    (tmp_path / "p.yaml").write_text(PIPELINE)
    return Cli(cwd=tmp_path, env=env)


def _outputs(tmp_path: Path, run_dir: str) -> dict[str, object]:
    result = json.loads((tmp_path / run_dir / "result.json").read_text())
    return {sid: step.get("output") for sid, step in result["steps"].items()}


def _spec_hashes(cli: Cli, run_id: str) -> dict[str, str]:
    r = cli("audit", "--run", run_id, "--json")
    assert r.returncode == 0, r.stderr
    (digest,) = json.loads(r.stdout)
    return {s["step"]: s["spec_hash"] for s in digest["steps"]}


def test_plan_out_then_run_plan_gives_the_same_results_as_run(cli: Cli, tmp_path: Path) -> None:
    r = cli("plan", "p.yaml", "--out", "plan.json")
    assert r.returncode == 0, r.stderr
    assert "plan saved to plan.json" in r.stdout and "conductor run --plan plan.json" in r.stdout
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["format"] == "conductor-plan/1"
    assert saved["steps"]["count"]["spec"] == {"label": "first", "source": "events"}
    assert saved["steps"]["count"]["agent_version"] == "1"
    assert saved["steps"]["count"]["spec_hash"].startswith("sha256:")
    events = saved["files"]["data.events"]
    assert events["path"] == "data/events.csv" and events["size"] == len("n\n1\n2\n3\n")
    assert saved["goal"]["budget"]["amount"] == 250000.0
    assert saved["today"] == "2027-01-10"

    plain = cli("run", "p.yaml", "--run-id", "plain", "--out", "plain", "-q")
    assert plain.returncode == 0, plain.stderr
    # The pipeline file is found from the plan.
    exact = cli("run", "--plan", "plan.json", "--run-id", "exact", "--out", "exact", "-q")
    assert exact.returncode == 0, exact.stderr
    assert _outputs(tmp_path, "exact") == _outputs(tmp_path, "plain")
    assert _outputs(tmp_path, "exact")["count"]["rows"] == 3  # type: ignore[index]
    hashes = {sid: s["spec_hash"] for sid, s in saved["steps"].items()}
    assert _spec_hashes(cli, "exact") == hashes == _spec_hashes(cli, "plain")
    status = json.loads(cli("status", "exact", "--json").stdout)["run"]
    assert status["info"]["plan"] == str((tmp_path / "plan.json").resolve())
    # Naming the pipeline file as well works the same.
    again = cli("run", "p.yaml", "--plan", "plan.json", "--run-id", "again", "-q")
    assert again.returncode == 0, again.stderr


def test_edited_pipeline_is_refused_with_a_diff_and_the_spec_fields(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("plan", "p.yaml", "--out", "plan.json").returncode == 0
    (tmp_path / "p.yaml").write_text(PIPELINE.replace("label: first", "label: second"))
    r = cli("run", "--plan", "plan.json", "--run-id", "stale", "-q")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "plan.changed" in r.stderr and "nothing was run" in r.stderr
    assert "pipeline file changed" in r.stderr
    assert "-  count: {agent: tp_rows, with: {label: first}}" in r.stderr
    assert "+  count: {agent: tp_rows, with: {label: second}}" in r.stderr
    assert 'step count spec.label: "first" -> "second"' in r.stderr
    assert "conductor plan" in r.stderr  # the hint: plan again
    assert cli("status", "stale").returncode == 2  # no run was made
    assert not (tmp_path / "counts" / "note.count").exists()


def test_changed_data_file_is_refused_naming_the_file(cli: Cli, tmp_path: Path) -> None:
    assert cli("plan", "p.yaml", "--out", "plan.json").returncode == 0
    (tmp_path / "data" / "events.csv").write_text("n\n1\n2\n3\n4\n")
    r = cli("run", "--plan", "plan.json", "-q")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "plan.changed" in r.stderr
    assert "data source events (data/events.csv) changed: 8 B, sha256" in r.stderr
    assert "-> 10 B, sha256" in r.stderr
    assert "pipeline file changed" not in r.stderr
    # Removed, it is named too.
    (tmp_path / "data" / "events.csv").unlink()
    r = cli("run", "--plan", "plan.json", "-q")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_new_agent_version_is_refused(cli: Cli, tmp_path: Path) -> None:
    assert cli("plan", "p.yaml", "--out", "plan.json").returncode == 0
    _plugin(tmp_path, version="2")
    r = cli("run", "--plan", "plan.json", "-q")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "plan.changed" in r.stderr
    assert "agent tp_rows: version 1 -> 2" in r.stderr
    # The same plan runs again once the agent it was made with is back.
    _plugin(tmp_path, version="1")
    assert cli("run", "--plan", "plan.json", "-q").returncode == 0


def test_another_planning_date_is_refused(cli: Cli) -> None:
    assert cli("plan", "p.yaml", "--out", "plan.json").returncode == 0
    r = cli("run", "--plan", "plan.json", "--today", "2027-03-01", "-q")
    assert r.returncode == 2 and "today: planned for 2027-01-10" in r.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "plan.unreadable"),
        ('{"format": "terraform-plan/4", "steps": {}}', "not a Conductor plan"),
        ("[1, 2]", "not a Conductor plan"),
        ('{"format": "conductor-plan/1", "steps": 3}', "plan.invalid"),
    ],
    ids=["not-json", "foreign", "not-an-object", "bad-field"],
)
def test_malformed_or_foreign_plan_is_one_readable_error(
    cli: Cli, tmp_path: Path, content: str, says: str
) -> None:
    (tmp_path / "plan.json").write_text(content)
    r = cli("run", "--plan", "plan.json", "-q")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert says in r.stderr and "plan.json" in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2, r.stderr


def test_missing_plan_file_and_no_arguments(cli: Cli) -> None:
    r = cli("run", "--plan", "nope.json", "-q")
    assert r.returncode == 2 and "plan.unreadable" in r.stderr and "no such plan" in r.stderr
    r = cli("run")
    assert r.returncode == 2 and "--plan" in r.stderr and "Traceback" not in r.stderr


def test_hand_edited_spec_is_refused(cli: Cli, tmp_path: Path) -> None:
    """A saved plan runs what was reviewed: a spec edited in the file does not match its hash."""
    assert cli("plan", "p.yaml", "--out", "plan.json").returncode == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    plan["steps"]["count"]["spec"]["label"] = "sneaky"
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    r = cli("run", "--plan", "plan.json", "-q")
    assert r.returncode == 2 and "plan.invalid" in r.stderr
    assert "does not match its recorded hash" in r.stderr


def test_python_api_runs_a_saved_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from conductor import PlanError, Runner, load_pipeline, plan_pipeline, resolve_goal
    from conductor.pipeline import read_plan, save_plan, write_plan

    monkeypatch.syspath_prepend(str(tmp_path))
    _plugin(tmp_path)
    sys.modules.pop("tp_plan_agents", None)
    __import__("tp_plan_agents")
    __import__("conductor_test_agents")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "events.csv").write_text("n\n1\n2\n")
    (tmp_path / "p.yaml").write_text(PIPELINE)
    pipeline = load_pipeline(tmp_path / "p.yaml")
    goal = resolve_goal(pipeline)
    plans = plan_pipeline(pipeline, goal)
    assert pipeline.today is not None
    write_plan(save_plan(pipeline, goal, plans, pipeline.today), tmp_path / "plan.json")
    saved = read_plan(tmp_path / "plan.json")
    runner = Runner()
    try:
        result = runner.run(plan=saved, out_dir=tmp_path / "run")
        assert result.status == "done"
        assert result.outputs()["count"].rows == 2
        (tmp_path / "data" / "events.csv").write_text("n\n1\n")
        with pytest.raises(PlanError) as info:
            runner.run(plan=tmp_path / "plan.json")
        assert info.value.code == "plan.changed"
        assert any("data source events" in c for c in info.value.changes)
    finally:
        runner.close()
