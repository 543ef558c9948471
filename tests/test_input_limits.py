"""Input limits: each file that crashed or hung `conductor validate` (issue 16) is now one
located error with a stable code, found quickly.

Cases that hung (a FIFO, an alias bomb) run in a child process with a timeout and a
memory cap, so a regression fails the test instead of hanging or swapping the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import conductor_test_agents  # noqa: F401  (registers the test agents)
import pytest

from conductor.brand import load_brand
from conductor.errors import BrandError, PipelineError
from conductor.pipeline import read_yaml, validate_pipeline

ROOT = Path(__file__).resolve().parent.parent

BASE = (
    "pipeline: limits\n"
    "goal: {objective: grow_revenue, kpi: revenue}\n"
    "steps:\n"
    "  a: {agent: test_note, with: {label: A}}\n"
)


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _codes(path: Path) -> list[tuple[str, int | None, int | None]]:
    """(code, line, column) of every problem validate reports, timed."""
    start = time.monotonic()
    report = validate_pipeline(path, check_data=True)
    assert time.monotonic() - start < 15, "validate took too long"
    return [(e.code, getattr(e, "line", None), getattr(e, "column", None)) for e in report.errors]


_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    cap = 1_500_000_000
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import conductor_test_agents
    from conductor.pipeline import validate_pipeline
    report = validate_pipeline(sys.argv[1], check_data=True)
    print(json.dumps([[e.code, getattr(e, "line", None)] for e in report.errors]))
    """
)


def _codes_in_child(path: Path, timeout: float = 60) -> list[list[object]]:
    """validate in a child process with a memory cap; fails (not hangs) on a hang."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "plugins")]),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"validate did not finish within {timeout} s")
    assert done.returncode == 0, done.stderr[-2000:]
    found: list[list[object]] = json.loads(done.stdout.splitlines()[-1])
    return found


# ------------------------------------------------------------------ nesting depth


@pytest.mark.parametrize(
    "nested",
    [
        pytest.param("x: " + "[" * 1000 + "]" * 1000 + "\n", id="1000-flow-lists"),
        pytest.param("x: " + "{a: " * 1000 + "}" * 1000 + "\n", id="1000-flow-maps"),
        pytest.param("x: " + "[" * 50_000 + "\n", id="50000-open-brackets"),
        pytest.param("".join("  " * i + f"k{i}:\n" for i in range(1000)), id="1000-block-maps"),
        pytest.param(
            "x:\n" + "".join("  " * i + "-\n" for i in range(1, 1000)), id="1000-block-lists"
        ),
    ],
)
def test_deep_nesting_is_a_located_error(tmp_path: Path, nested: str) -> None:
    codes = _codes(_write(tmp_path, BASE + nested))
    assert [c for c, *_ in codes] == ["yaml.too-deep"]
    assert codes[0][1] is not None and codes[0][1] >= 5  # the nested value's line


def test_nesting_in_quotes_or_comments_is_not_counted(tmp_path: Path) -> None:
    text = BASE + 'description: "' + "[" * 500 + '"\n' + "# " + "{" * 500 + "\n"
    text += "notes: see [1 and [2 " * 60 + "\n"
    assert "yaml.too-deep" not in [c for c, *_ in _codes(_write(tmp_path, text))]


def test_depth_limit_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, BASE + "x: " + "[" * 120 + "]" * 120 + "\n")
    assert [c for c, *_ in _codes(path)] == ["yaml.too-deep"]
    monkeypatch.setenv("CONDUCTOR_MAX_YAML_DEPTH", "200")
    assert "yaml.too-deep" not in [c for c, *_ in _codes(path)]


# ------------------------------------------------------------------ paths


def test_a_100k_character_data_path_is_a_located_error(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + "data:\n  events: " + "a" * 100_000 + ".csv\n"))
    assert codes == [("path.too-long", 6, 3)]


def test_a_300_character_file_name_is_too_long(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + "data:\n  events: d/" + "a" * 300 + ".csv\n"))
    assert codes == [("path.too-long", 6, 3)]


def test_a_nul_byte_in_a_data_path_is_a_located_error(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + 'data:\n  events: "ev\\0ents.csv"\n'))
    assert codes == [("path.nul-byte", 6, 3)]


def test_a_nul_byte_in_the_brand_path_is_a_located_error(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + 'brand: "acme\\0.yaml"\n'))
    assert codes == [("path.nul-byte", 5, 1)]


def test_a_bad_channels_file_path_is_a_located_error(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + "channels: " + "c" * 5000 + ".yaml\n"))
    assert ("path.too-long", 5, 1) in codes


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize(
    ("line", "code_line"),
    [
        pytest.param("data:\n  events: pipe.csv\n", 6, id="data"),
        pytest.param("data:\n  events: 'pip*.csv'\n", 6, id="data-glob"),
        pytest.param("brand: pipe.csv\n", 5, id="brand"),
        pytest.param("channels: pipe.csv\n", 5, id="channels"),
    ],
)
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path, line: str, code_line: int) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    found = _codes_in_child(_write(tmp_path, BASE + line), timeout=30)
    assert ["path.special-file", code_line] in found


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT * FROM read_csv('pipe.csv')", id="relative"),
        pytest.param("SELECT * FROM read_csv('{dir}/pip*.csv')", id="absolute-glob"),
    ],
)
def test_a_query_reading_a_fifo_is_refused(tmp_path: Path, sql: str) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    query = sql.format(dir=tmp_path)
    journeys = BASE.replace("{agent: test_note, with: {label: A}}", "{agent: journey_analytics}")
    path = _write(tmp_path, journeys + f'data:\n  events:\n    query: "{query}"\n')
    (step,) = [c for c in _codes_in_child(path, timeout=30) if c[0] == "path.special-file"]
    assert step[1] == 6


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_pipeline_file_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p.yaml")
    assert _codes_in_child(tmp_path / "p.yaml", timeout=30) == [["path.special-file", None]]


def test_a_device_as_the_pipeline_file_is_refused() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    # In a child with a memory cap: read as text, /dev/zero never ends.
    assert _codes_in_child(Path("/dev/zero"), timeout=30) == [["path.special-file", None]]


def test_path_problem_looks_only_at_the_text() -> None:
    from conductor._limits import path_problem

    assert path_problem("data/events.csv") is None
    assert path_problem("a\0b") == ("path.nul-byte", "the path contains a NUL byte (\\0)")
    assert path_problem("x" * 5000) is not None


# ------------------------------------------------------------------ numbers and sizes


def test_a_5000_digit_number_is_a_located_error(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + "review: {max_rounds: " + "9" * 5000 + "}\n"))
    assert codes == [("yaml.number-too-long", 5, 22)]


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("-" + "1" * 5000, id="negative"),
        pytest.param("0x" + "f" * 5000, id="hex"),
        pytest.param("1" * 3000 + "." + "1" * 3000, id="float"),
        pytest.param('!!int "' + "7" * 5000 + '"', id="tagged-string"),
    ],
)
def test_long_numbers_of_every_spelling_are_refused(tmp_path: Path, number: str) -> None:
    codes = _codes(_write(tmp_path, BASE + f"today: {number}\n"))
    assert [c for c, *_ in codes] == ["yaml.number-too-long"]


def test_a_long_quoted_string_of_digits_is_not_a_number(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + 'description: "' + "9" * 5000 + '"\n'))
    assert "yaml.number-too-long" not in [c for c, *_ in codes]


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    # 9 levels of 9 aliases each: 9**9 (387 million) values once expanded.
    lines = ["a0: &a0 [" + ", ".join(["x"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = _write(tmp_path, BASE + "\n".join(lines) + "\n")
    start = time.monotonic()
    found = _codes_in_child(path, timeout=60)
    assert [c for c, _ in found] == ["yaml.alias-bomb"]
    assert time.monotonic() - start < 30


def test_a_bomb_inside_a_known_key_is_refused(tmp_path: Path) -> None:
    lines = ["  k0: &a0 [" + ", ".join(["x"] * 9) + "]"]
    lines += [f"  k{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 8)]
    path = _write(
        tmp_path, BASE.replace("steps:\n", "channels:\n" + "\n".join(lines) + "\nsteps:\n")
    )
    assert [c for c, _ in _codes_in_child(path, timeout=60)] == ["yaml.alias-bomb"]


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + "x: &a [1, *a]\n"))
    assert [c for c, *_ in codes] == ["yaml.alias-bomb"]


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    text = BASE.replace(
        "{agent: test_note, with: {label: A}}", "&step {agent: test_note, with: {label: A}}"
    )
    text += "  b: *step\n"
    assert _codes(_write(tmp_path, text)) == []


def test_too_many_values_without_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_MAX_YAML_NODES", "50")
    codes = _codes(_write(tmp_path, BASE + "x: [" + ", ".join(["1"] * 60) + "]\n"))
    assert [c for c, *_ in codes] == ["yaml.too-many-nodes"]


def test_a_too_long_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_MAX_YAML_SCALAR", "1000")
    codes = _codes(_write(tmp_path, BASE + "description: " + "w" * 1001 + "\n"))
    assert codes == [("yaml.too-long", 5, 14)]


def test_the_default_value_limit_is_a_megabyte(tmp_path: Path) -> None:
    codes = _codes(_write(tmp_path, BASE + 'description: "' + "w" * 1_000_001 + '"\n'))
    assert [c for c, *_ in codes] == ["yaml.too-long"]


def test_a_too_large_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, BASE + "# padding\n" * 200)
    monkeypatch.setenv("CONDUCTOR_MAX_FILE_BYTES", "1000")
    codes = _codes(path)
    assert [c for c, *_ in codes] == ["file.too-large"]
    monkeypatch.setenv("CONDUCTOR_MAX_FILE_BYTES", "not a number")
    from conductor._limits import input_limits

    assert input_limits().file_bytes == 5_000_000


def test_a_folder_as_the_pipeline_file(tmp_path: Path) -> None:
    assert [e.code for e in validate_pipeline(tmp_path).errors] == ["file.unreadable"]


# ------------------------------------------------------------------ every YAML file


def test_brand_files_have_the_same_limits(tmp_path: Path) -> None:
    brand = _write(tmp_path, "name: Acme\nvoice: " + "[" * 2000 + "\n", "brand.yaml")
    with pytest.raises(BrandError) as info:
        load_brand(brand)
    assert info.value.code == "yaml.too-deep"
    assert str(info.value).startswith(f"{brand}:2:")
    codes = _codes(_write(tmp_path, BASE + "brand: brand.yaml\n"))
    assert [c for c, *_ in codes] == ["yaml.too-deep"]


def test_a_missing_brand_file_keeps_its_code(tmp_path: Path) -> None:
    with pytest.raises(BrandError) as info:
        load_brand(tmp_path / "none.yaml")
    assert info.value.code == "brand.not-found"


def test_a_channels_file_has_the_same_limits(tmp_path: Path) -> None:
    _write(tmp_path, "google / cpc: " + "9" * 2000 + "\n", "channels.yaml")
    codes = _codes(_write(tmp_path, BASE + "channels: channels.yaml\n"))
    assert codes == [("yaml.number-too-long", 1, 15)]


def test_read_yaml_reports_the_limit_in_the_callers_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: " + "{" * 200 + "\n", "x.yaml")
    with pytest.raises(PipelineError) as info:
        read_yaml(path)
    assert (info.value.code, info.value.line, info.value.column) == ("yaml.too-deep", 1, 104)


# ------------------------------------------------------------------ found by the fuzz


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("? [a, b]\n: x\n", id="list"),
        pytest.param("? {a: 1}\n: x\n", id="mapping"),
        pytest.param("? [a, b]\n: {c: 1}\n", id="list-to-mapping"),
        pytest.param("k: &k [a]\n*k : x\n", id="alias-of-a-list"),
    ],
)
def test_a_key_that_is_a_list_or_mapping_is_a_located_error(tmp_path: Path, key: str) -> None:
    # ruamel's duplicate-key check hashed such keys: TypeError: unhashable type.
    codes = _codes(_write(tmp_path, BASE + key + "z: 1\n"))
    assert [c for c, *_ in codes] == ["yaml.complex-key"]
    assert codes[0][1] in (5, 6)


def test_a_planning_date_in_the_last_quarter_of_9999_is_a_goal_error(tmp_path: Path) -> None:
    # "next quarter" from it was dt.date(10000, ...): ValueError: year 10000 is out of range.
    codes = _codes(_write(tmp_path, BASE + "today: 9999-12-31\n"))
    assert [c for c, *_ in codes] == ["goal.invalid-horizon"]


def test_a_data_path_that_is_the_root_is_a_located_error(tmp_path: Path) -> None:
    # Path('/').name is '', and Path.glob('') raised ValueError: Unacceptable pattern.
    codes = _codes(_write(tmp_path, BASE + "data:\n  events: /\n"))
    assert codes == [("path.no-file-name", 6, 3)]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("copy: " + "[" * 500 + "\n", "yaml.too-deep", id="deep"),
        pytest.param(None, "file.not-found", id="missing"),
    ],
)
def test_an_edited_artifact_file_has_the_same_limits(
    tmp_path: Path, text: str | None, code: str
) -> None:
    # ApprovalError takes no file=: read_yaml's error raised TypeError instead.
    from conductor.errors import ApprovalError
    from conductor.runtime._approvals import prepare_edit

    path = tmp_path / "edit.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ApprovalError) as info:
        prepare_edit("run-1", "copy", path)
    # One family for scripts that handle sign-offs; the reader's own code is in the hint.
    assert info.value.code == "approval.artifact-file"
    assert code in info.value.hint
    assert str(path) in str(info.value)


def test_a_reused_anchor_is_a_located_error(tmp_path: Path) -> None:
    # ruamel warns (ReusedAnchorWarning), an error under warnings-as-errors.
    codes = _codes(_write(tmp_path, BASE + "x: &a {k: v}\n&a y: 1\n"))
    assert codes == [("yaml.syntax", 6, 1)]


@pytest.mark.parametrize("value", ["!!int winback_email", "!!float twelve", "!!bool maybe"])
def test_a_value_that_does_not_fit_its_explicit_tag_is_a_located_error(
    tmp_path: Path, value: str
) -> None:
    # Found by a 3,000-example fuzz run: ruamel raised a bare ValueError (internal error).
    text = PIPELINE_WITH_TAG.replace("TAGGED", value)
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PipelineError) as info:
        read_yaml(path)
    assert info.value.code == "yaml.syntax"
    assert info.value.line == 4
    assert "tag" in str(info.value)


PIPELINE_WITH_TAG = "pipeline: p\ngoal: Grow revenue 10% in Q3 2027\nsteps:\n  a: {agent: TAGGED}\n"
