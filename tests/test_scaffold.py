"""``conductor new``: the scaffolds are real code, lint-clean and passing their own tests.

An agent package is generated into a temporary folder and then treated as a plugin
author would treat it: ruff (its own settings, the project's and ruff's defaults), mypy
--strict, ``check_agent`` on the imported class, its generated test file run by pytest,
and the agent used in a generated pipeline that ``conductor validate`` accepts.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import Cli, make_env
from pydantic import Field

from conductor import Agent, AgentOutput, Inputs, RunContext, ScaffoldError, TaskSpec
from conductor import agents as registry
from conductor.pipeline import load_pipeline, validate_pipeline
from conductor.scaffold import MAX_NAME, agent_names_for, new_agent, new_pipeline
from conductor.testing import check_agent

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pipelines" / "data"
BIN = Path(sys.executable).parent
LONGEST = "x" * MAX_NAME  # the longest class names: no underscore to drop


def _env() -> dict[str, str]:
    """This checkout first on the path, no plugin module, no pytest options inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CONDUCTOR_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed next to this Python")
    return str(path)


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env={**_env(), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    new_agent("churn_risk", tmp_path)
    return tmp_path / "churn_risk"


@pytest.fixture
def imported(package: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The generated agent module, imported from its folder (as `pip install -e` would)."""
    monkeypatch.syspath_prepend(str(package))
    module = importlib.import_module("conductor_churn_risk.agent")
    yield module
    for name in [m for m in sys.modules if m.startswith("conductor_churn_risk")]:
        del sys.modules[name]


# ------------------------------------------------------------------------------ agent


def test_the_agent_package_has_its_files_and_entry_point(package: Path) -> None:
    written = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert written == {
        "pyproject.toml",
        "README.md",
        "conductor_churn_risk/__init__.py",
        "conductor_churn_risk/agent.py",
        "tests/test_churn_risk.py",
        "tests/data/spend.csv",
    }
    meta = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))
    project = meta["project"]
    assert project["name"] == "conductor-churn-risk"
    # The distribution this repository builds, so `pip install -e .` pulls Conductor in.
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert ours["project"]["name"] in project["dependencies"]
    assert project["entry-points"]["conductor.agents"] == {
        "churn_risk": "conductor_churn_risk.agent:ChurnRiskAgent"
    }
    readme = (package / "README.md").read_text(encoding="utf-8")
    for step in ("pip install -e", "pytest", "conductor new pipeline --agents churn_risk"):
        assert step in readme


def test_new_agent_returns_the_files_it_wrote(tmp_path: Path) -> None:
    files = new_agent("weekday_mix", tmp_path)
    assert all(f.is_file() for f in files)
    assert sorted(files) == sorted(p for p in (tmp_path / "weekday_mix").rglob("*") if p.is_file())


def test_names_follow_the_agent_name() -> None:
    n = agent_names_for("churn_risk")
    assert (n.package, n.dist, n.cls, n.spec, n.output) == (
        "conductor_churn_risk",
        "conductor-churn-risk",
        "ChurnRiskAgent",
        "ChurnRiskSpec",
        "ChurnRiskOutput",
    )


@pytest.mark.parametrize("name", ["churn_risk", "lifetime_value_by_cohort_region", LONGEST])
def test_the_generated_code_is_lint_clean(tmp_path: Path, name: str) -> None:
    # Long names make the class line and run() signature too long for one line: they
    # come out the way the formatter leaves them, at ruff's 88 columns and the project's
    # 100 alike.
    ruff = _tool("ruff")
    new_agent(name, tmp_path)
    pkg = tmp_path / name
    checks = [
        [ruff, "check", "."],  # the package's own settings (its pyproject.toml)
        [ruff, "format", "--check", "."],
        [ruff, "check", "--config", str(ROOT / "pyproject.toml"), "."],  # this project's
        [ruff, "format", "--check", "--config", str(ROOT / "pyproject.toml"), "."],
        [ruff, "check", "--isolated", "."],  # ruff's defaults
        [ruff, "format", "--check", "--isolated", "."],
    ]
    for args in checks:
        proc = _run([*args, "--no-cache"], pkg)
        assert proc.returncode == 0, f"{' '.join(args[1:])}:\n{proc.stdout}{proc.stderr}"


def test_the_generated_code_type_checks_strictly(package: Path) -> None:
    mypy = _tool("mypy")
    # Conductor on MYPYPATH is read as an installed package is: its own modules are not
    # reported (--follow-imports=silent), only the scaffold's.
    proc = _run(
        [
            mypy,
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(package.parent / ".mc"),
            "conductor_churn_risk",
            "tests",
        ],
        package,
        MYPYPATH=str(ROOT),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues found in 3 source files" in proc.stdout


def test_the_generated_agent_keeps_the_contract(imported: Any, package: Path) -> None:
    cls = imported.ChurnRiskAgent
    assert cls.name == "churn_risk"
    out = check_agent(cls, data={"spend": package / "tests" / "data" / "spend.csv"})
    assert isinstance(out, imported.ChurnRiskOutput)
    assert out.leader == "paid_search"
    assert [a.id for a in out.artifacts()] == ["churn_risk/leader"]


def test_the_generated_agent_reads_real_data(imported: Any) -> None:
    # The repository's sample spend (long format: date, channel, spend) works as it is.
    out = check_agent(imported.ChurnRiskAgent, data={"spend": DATA / "spend.csv"})
    assert isinstance(out, imported.ChurnRiskOutput)
    assert set(out.spend) == {"paid_search", "social", "email"}
    assert out.total == pytest.approx(sum(out.spend.values()))


def test_the_generated_tests_pass_as_generated(package: Path) -> None:
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], package)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout


def test_the_generated_tests_can_fail(package: Path) -> None:
    # They check the numbers, not only the shape: a wrong sum is caught.
    agent = package / "conductor_churn_risk" / "agent.py"
    text = agent.read_text(encoding="utf-8")
    agent.write_text(text.replace("float(amount)", "float(amount) + 1"), encoding="utf-8")
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], package)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failed" in proc.stdout


def test_an_existing_folder_is_never_overwritten(package: Path) -> None:
    agent = package / "conductor_churn_risk" / "agent.py"
    agent.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ScaffoldError) as caught:
        new_agent("churn_risk", package.parent)
    assert caught.value.code == "new.exists"
    assert "nothing was written" in str(caught.value)
    assert caught.value.hint
    assert agent.read_text(encoding="utf-8") == "# mine\n"


def test_an_empty_folder_is_filled(tmp_path: Path) -> None:
    (tmp_path / "churn_risk").mkdir()
    assert len(new_agent("churn_risk", tmp_path)) == 6


@pytest.mark.parametrize(
    "name",
    [
        "ChurnRisk",
        "churn-risk",
        "1churn",
        "churn__risk",
        "_churn",
        "churn_",
        "",
        "a" * (MAX_NAME + 1),
        "é",
    ],
)
def test_a_bad_name_is_refused_with_a_hint(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScaffoldError) as caught:
        new_agent(name, tmp_path)
    assert caught.value.code == "new.bad-name"
    assert "snake_case" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_a_bad_name_suggests_a_good_one(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError) as caught:
        new_agent("Churn-Risk", tmp_path)
    assert "'churn_risk'" in caught.value.hint


def test_an_installed_agents_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError) as caught:
        new_agent("journey_analytics", tmp_path)
    assert caught.value.code == "new.name-taken"
    assert new_agent("journey_analytics", tmp_path, allow_installed=True)


# --------------------------------------------------------------------------- pipeline


def test_a_pipeline_for_the_built_in_agents_validates_on_the_sample_data(tmp_path: Path) -> None:
    path = new_pipeline(
        tmp_path / "growth-plan.yaml",
        ["journey_analytics", "budget_allocation"],
        data_dir=DATA,
    )
    report = validate_pipeline(path)
    assert report.ok, [str(e) for e in report.errors]
    pipeline = load_pipeline(path)
    assert pipeline.name == "growth-plan"
    assert list(pipeline.steps) == ["journey_analytics", "budget_allocation"]
    assert set(pipeline.data) == {"events", "spend", "outcomes"}
    assert all(pipeline.resolve(s.path).is_file() for s in pipeline.data.values())
    text = path.read_text(encoding="utf-8")
    assert "TODO" not in text
    # Every spec field is offered as a commented parameter, the derived ones with the goal.
    assert (
        '#   budget: 250000.0   # Money to allocate over the horizon. From goal.budget "$250k".'
        in (text)
    )
    assert "#   attribution: null" in text


def test_a_step_that_cannot_plan_from_the_goal_is_flagged(tmp_path: Path) -> None:
    # personalization needs an actions catalogue no goal gives: the file says so, and
    # that is the one problem validate reports on the sample data. The built-in agents
    # are named: other tests in this process may have registered test agents.
    built_in = ["journey_analytics", "budget_allocation", "personalization"]
    path = new_pipeline(tmp_path / "p.yaml", built_in, data_dir=DATA)
    text = path.read_text(encoding="utf-8")
    header = text.split("\npipeline:")[0]
    assert "Step personalization cannot plan from the goal alone" in header
    assert "actions" in header
    errors = validate_pipeline(path).errors
    assert [e.code for e in errors] == ["spec.invalid"], [str(e) for e in errors]
    assert "actions" in str(errors[0])


def test_placeholder_data_paths_are_marked_and_reported_missing(tmp_path: Path) -> None:
    path = new_pipeline(tmp_path / "p.yaml", ["journey_analytics"])
    text = path.read_text(encoding="utf-8")
    assert "events: " + '"data/events.csv"  # TODO: your file' in text
    assert "`conductor validate` reports them as missing" in text
    errors = validate_pipeline(path).errors
    assert len(errors) == 1
    assert "data/events.csv" in str(errors[0])
    # Once the file is there, the same pipeline validates.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "events.csv").write_text(
        "customer_id,timestamp,channel,event_type\n"
        "c1,2027-01-04 10:00:00,email,touch\n"
        "c1,2027-01-05 11:00:00,,conversion\n",
        encoding="utf-8",
    )
    assert validate_pipeline(path).ok, [str(e) for e in validate_pipeline(path).errors]


class _Counts(AgentOutput):
    """Rows per thing."""

    counts: dict[str, int] = Field(default_factory=dict, description="Thing -> rows.")


class _CountSpec(TaskSpec):
    """Nothing to set."""


class _Producer(Agent[_CountSpec, _Counts]):
    name = "sc_producer"
    description = "Counts things."
    spec_type = _CountSpec
    output_type = _Counts

    def run(self, spec: _CountSpec, inputs: Inputs, ctx: RunContext) -> _Counts:
        return _Counts()


class _Consumer(Agent[_CountSpec, _Counts]):
    name = "sc_consumer"
    description = "Reads the counts."
    spec_type = _CountSpec
    output_type = _Counts
    needs: ClassVar[dict[str, type[AgentOutput]]] = {"counts": _Counts}

    def run(self, spec: _CountSpec, inputs: Inputs, ctx: RunContext) -> _Counts:
        return _Counts()


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two agents above, registered in-process for one test."""
    for cls in (_Producer, _Consumer):
        monkeypatch.setitem(registry._LOCAL, cls.name, cls)


@pytest.mark.usefixtures("registered")
def test_steps_are_wired_by_the_types_they_consume(tmp_path: Path) -> None:
    path = new_pipeline(tmp_path / "p.yaml", ["sc_consumer", "sc_producer"])
    pipeline = load_pipeline(path)
    assert list(pipeline.steps) == ["sc_producer", "sc_consumer"]  # producers first
    assert pipeline.steps["sc_consumer"].needs == ["sc_producer"]
    assert "data:" not in path.read_text(encoding="utf-8").replace("# data:", "")
    assert validate_pipeline(path).ok


@pytest.mark.usefixtures("registered")
def test_an_input_no_step_produces_is_flagged(tmp_path: Path) -> None:
    path = new_pipeline(tmp_path / "p.yaml", ["sc_consumer"])
    text = path.read_text(encoding="utf-8")
    assert "Step sc_consumer consumes counts (_Counts), which no step here" in text
    assert not validate_pipeline(path).ok


def test_the_scaffolded_agent_goes_into_a_pipeline(
    imported: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed (here: registered in-process), the new agent is one `new pipeline` away
    # from a valid pipeline on the sample spend.
    monkeypatch.setitem(registry._LOCAL, "churn_risk", imported.ChurnRiskAgent)
    path = new_pipeline(tmp_path / "mine.yaml", ["churn_risk"], data_dir=DATA)
    assert validate_pipeline(path).ok
    assert "#   channels: " in path.read_text(encoding="utf-8")


def test_a_given_date_is_pinned_in_the_pipeline(tmp_path: Path) -> None:
    path = new_pipeline(
        tmp_path / "p.yaml",
        ["budget_allocation"],
        data_dir=DATA,
        today=dt.date(2026, 12, 1),
    )
    pipeline = load_pipeline(path)
    assert pipeline.today == dt.date(2026, 12, 1)
    # "next quarter" from that day, as the commented parameters show it.
    assert '#   period: "Q1 2027"' in path.read_text(encoding="utf-8")
    assert validate_pipeline(path).ok


def test_a_missing_data_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError) as caught:
        new_pipeline(tmp_path / "p.yaml", ["journey_analytics"], data_dir=tmp_path / "nope")
    assert caught.value.code == "new.no-data-folder"
    assert not (tmp_path / "p.yaml").exists()


def test_the_templates_ship_in_the_wheel() -> None:
    # Every template file matches the package-data globs in pyproject.toml (as globs:
    # `*` stays within one folder, as setuptools reads them).
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package = ROOT / "conductor"
    shipped = {
        f for g in meta["tool"]["setuptools"]["package-data"]["conductor"] for f in package.glob(g)
    }
    templates = [f for f in (package / "scaffold" / "templates").rglob("*") if f.is_file()]
    assert len(templates) >= 6
    assert [f for f in templates if f not in shipped] == []


def test_an_existing_pipeline_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("pipeline: mine\n", encoding="utf-8")
    with pytest.raises(ScaffoldError) as caught:
        new_pipeline(path, ["journey_analytics"])
    assert caught.value.code == "new.exists"
    assert path.read_text(encoding="utf-8") == "pipeline: mine\n"


def test_no_agent_means_no_pipeline(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError) as caught:
        new_pipeline(tmp_path / "p.yaml", [])
    assert caught.value.code == "new.no-agents"
    assert not (tmp_path / "p.yaml").exists()


# -------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The real command, running this checkout's code from a temporary folder."""
    env = make_env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env["PYTHONPATH"]])
    return Cli(cwd=tmp_path, env=env)


def test_cli_new_agent_prints_the_files_and_next_steps(cli: Cli, tmp_path: Path) -> None:
    proc = cli("new", "agent", "churn_risk", "--dir", "plugins")
    assert proc.returncode == 0, proc.stderr
    assert "plugins/churn_risk/conductor_churn_risk/agent.py" in proc.stdout
    assert 'pip install -e ".[dev]"' in proc.stdout
    assert "conductor new pipeline --agents churn_risk" in proc.stdout
    assert (tmp_path / "plugins" / "churn_risk" / "tests" / "test_churn_risk.py").is_file()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["new", "agent", "Churn-Risk"], "new.bad-name"),
        (["new", "agent", "journey_analytics"], "new.name-taken"),
        (["new", "pipeline", "--agents", "no_such_agent"], "agent.unknown"),
    ],
)
def test_cli_new_refuses_bad_input_readably(cli: Cli, args: list[str], code: str) -> None:
    proc = cli(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"({code})" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_cli_new_agent_refuses_to_overwrite(cli: Cli, tmp_path: Path) -> None:
    assert cli("new", "agent", "churn_risk").returncode == 0
    proc = cli("new", "agent", "churn_risk")
    assert proc.returncode == 2
    assert "(new.exists)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_new_pipeline_says_what_validate_finds(cli: Cli, tmp_path: Path) -> None:
    ok = cli(
        "new", "pipeline", "--agents", "journey_analytics", "--data", str(DATA), "--out", "a.yaml"
    )
    assert ok.returncode == 0, ok.stderr
    assert "Wrote a.yaml" in ok.stdout
    assert "finds no problem" in ok.stdout
    todo = cli("new", "pipeline", "--agents", "journey_analytics", "--out", "b.yaml")
    assert todo.returncode == 0, todo.stderr
    assert "finds 1 problem(s) to fix" in todo.stdout
    assert "data/events.csv" in todo.stdout
    assert cli("validate", "a.yaml").returncode == 0
    again = cli("new", "pipeline", "--agents", "journey_analytics", "--out", "a.yaml")
    assert again.returncode == 2
    assert "(new.exists)" in again.stderr


def test_the_scaffold_installed_by_pip_runs_in_a_new_pipeline(cli: Cli, tmp_path: Path) -> None:
    # What the README tells a plugin author, end to end: generate, install, list, write a
    # pipeline for it, validate, run. pip installs into a folder of its own (no network,
    # the shared environment untouched).
    assert cli("new", "agent", "churn_risk").returncode == 0
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    installed = _run(
        [*pip, "--no-build-isolation", "--no-index", "--target", str(site), "./churn_risk"],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    cli.env["PYTHONPATH"] = os.pathsep.join([str(site), cli.env["PYTHONPATH"]])
    cli.env.pop("CONDUCTOR_PLUGINS")  # found by its entry point alone
    shutil.rmtree(tmp_path / "churn_risk")  # the installed copy is the one that runs

    listed = cli("agents", "churn_risk")
    assert listed.returncode == 0, listed.stderr
    assert "ChurnRiskSpec" in listed.stdout
    made = cli("new", "pipeline", "--agents", "churn_risk", "--data", str(DATA), "--out", "p.yaml")
    assert made.returncode == 0, made.stderr
    assert "finds no problem" in made.stdout
    ran = cli("run", "p.yaml", "--run-id", "scaffold-run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads((tmp_path / ".conductor/runs/scaffold-run/result.json").read_text())
    out = result["steps"]["churn_risk"]["output"]
    assert list(out["spend"]) == ["paid_search", "social", "email"]  # the goal's, largest first
    assert out["leader"] == "paid_search"
