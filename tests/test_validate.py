"""`conductor validate`: a corpus of broken pipelines, each with its file:line:col and code."""

from __future__ import annotations

from pathlib import Path

import conductor_test_agents  # noqa: F401  (registers the test agents)
import pytest
from conftest import Cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conductor.cli import main
from conductor.errors import PipelineError
from conductor.pipeline import validate_pipeline

HERE = Path(__file__).parent
CORPUS = HERE / "broken_pipelines"


def _expected() -> list[tuple[str, list[tuple[int, int, str]]]]:
    cases = []
    for line in (HERE / "broken_pipelines.expected").read_text().splitlines():
        name, _, rest = line.partition(" | ")
        exp = []
        for item in rest.split(" ; "):
            pos, code = item.split()
            ln, col = pos.split(":")
            exp.append((int(ln), int(col), code))
        cases.append((name, exp))
    return cases


CASES = _expected()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert {p.stem for p in CORPUS.glob("*.yaml")} == {name for name, _ in CASES}


@pytest.mark.parametrize(("name", "expected"), CASES, ids=[c[0] for c in CASES])
def test_broken_pipeline_is_reported_at_its_line(
    name: str, expected: list[tuple[int, int, str]]
) -> None:
    report = validate_pipeline(CORPUS / f"{name}.yaml", check_data=True)
    assert not report.ok
    found = {(e.line, e.column, e.code) for e in report.errors if isinstance(e, PipelineError)}
    for item in expected:
        assert item in found, f"{name}: expected {item}, got {sorted(found, key=str)}"
    for e in report.errors:
        text = str(e)
        assert text.startswith(str(CORPUS / f"{name}.yaml")), text


def test_validate_reports_every_problem_at_once() -> None:
    report = validate_pipeline(CORPUS / "many_problems.yaml")
    codes = sorted(e.code for e in report.errors)
    assert codes == [
        "agent.unknown",
        "pipeline.type-mismatch",
        "pipeline.unknown-key",
        "pipeline.unknown-step",
    ]


def test_unknown_key_suggests_the_right_one() -> None:
    report = validate_pipeline(CORPUS / "misspelled_steps_key.yaml")
    assert "did you mean 'needs'?" in str(report.errors[0])


def test_unknown_parameter_suggests_the_right_one() -> None:
    report = validate_pipeline(CORPUS / "unknown_param.yaml")
    assert "parameter 'lable': unknown parameter" in str(report.errors[0])
    assert "did you mean 'label'?" in str(report.errors[0])


def test_cli_exit_codes(sqlite_cli: Cli, tmp_path: Path) -> None:
    r = sqlite_cli("validate", str(CORPUS / "unknown_agent.yaml"), str(CORPUS / "cycle.yaml"))
    assert r.returncode == 2
    assert f"{CORPUS / 'unknown_agent.yaml'}:4:7: no agent named 'test_nte'" in r.stdout
    assert "did you mean 'test_note'?" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    (tmp_path / "ok.yaml").write_text(
        "pipeline: ok\ngoal: {objective: grow_revenue, kpi: revenue}\nsteps:\n  a: {agent: test_note}\n"
    )
    ok = sqlite_cli("validate", "ok.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr


VALID = (
    "pipeline: fuzz\n"
    "goal: {objective: grow_revenue, kpi: revenue}\n"
    "steps:\n"
    "  a: {agent: test_note, with: {label: A}}\n"
    "  b: {agent: test_follow, needs: [a], approve: [lead]}\n"
    "approvers: {lead: [dana]}\n"
    "review: {max_rounds: 2}\n"
)


@st.composite
def mangled(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "dup"]))
        i = draw(st.integers(0, max(0, len(text) - 1)))
        if op == "delete":
            j = draw(st.integers(i, min(len(text), i + 12)))
            text = text[:i] + text[j:]
        elif op == "insert":
            text = (
                text[:i]
                + draw(
                    st.sampled_from(
                        [":", "-", "[", "{", "\t", "  ", "\n", "'", "&a", "*a", "!!x ", "0", "null"]
                    )
                )
                + text[i:]
            )
        elif op == "swap":
            lines = text.splitlines(True)
            if len(lines) > 1:
                k = draw(st.integers(0, len(lines) - 2))
                lines[k], lines[k + 1] = lines[k + 1], lines[k]
            text = "".join(lines)
        else:
            lines = text.splitlines(True)
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(k, lines[k])
            text = "".join(lines)
    return text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=mangled())
def test_mangled_yaml_never_gives_a_traceback(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    code = main(["validate", str(path)])
    captured = capsys.readouterr()
    assert code in (0, 2), captured
    assert "Traceback" not in captured.out + captured.err
    assert "internal error" not in captured.err
    if code == 2:
        assert f"{path}:" in captured.out
