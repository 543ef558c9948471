"""Fuzz `validate` over mutated real pipelines: every outcome is a report of documented
errors, found in bounded time -- never a traceback, a hang or a runaway memory.

The seeds are the shipped pipelines (pipelines/, tests/pipelines/); the mutations delete,
duplicate and insert characters, swap lines, change the type of values, and splice in
what crashed or hung `validate` in issue 16 (deep nesting, alias bombs, huge numbers, NUL
bytes, long paths, a FIFO). Each of those is also an explicit ``@example``.

CI runs a few hundred examples; ``CONDUCTOR_FUZZ_EXAMPLES=5000`` runs longer locally.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conductor.errors import ConductorError
from conductor.pipeline import ValidationReport, validate_pipeline

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted(
    [*(ROOT / "pipelines").glob("*.yaml"), *(ROOT / "tests" / "pipelines").rglob("*.yaml")]
)
TEXTS = [p.read_text(encoding="utf-8") for p in SEEDS]
EXAMPLES = int(os.environ.get("CONDUCTOR_FUZZ_EXAMPLES", "300"))
#: Seconds one validate may take. The slowest legitimate case (a value that is almost
#: the 1 MB limit, a document of almost 100,000 values) stays far below it.
BOUND = 20.0

_GROWTH = TEXTS[[p.name for p in SEEDS].index("growth.yaml")]


def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"b0: &b0 [{', '.join(['x'] * width)}]"]
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


#: Each failure listed in issue 16, spliced into the demo pipeline.
ISSUE_16 = {
    "deep-1000": _GROWTH + "x: " + "[" * 1000 + "]" * 1000 + "\n",
    "brackets-50000": _GROWTH + "x: " + "[" * 50_000 + "\n",
    "deep-block": _GROWTH + "".join("  " * i + f"k{i}:\n" for i in range(1000)),
    "long-path": _GROWTH.replace("data/spend.csv", "s" * 100_000 + ".csv"),
    "nul-path": _GROWTH.replace("data/spend.csv", '"sp\\0end.csv"'),
    "digits-5000": _GROWTH.replace(
        "approvers:", "review: {max_rounds: " + "9" * 5000 + "}\napprovers:"
    ),
    "alias-bomb": _GROWTH + _bomb(),
    "fifo": _GROWTH.replace("data/spend.csv", "pipe.csv"),
    "fifo-brand": _GROWTH.replace("brands/acme.yaml", "pipe.csv"),
}

#: What this fuzz found after the issue's list was fixed.
FOUND = {
    "complex-key": _GROWTH.replace("steps:\n", "? [a, b]:\n", 1),
    "today-9999": _GROWTH.replace("brand:", "today: 9999-12-31\nbrand:"),
    "data-root": _GROWTH.replace("data/spend.csv", "/"),
    "reused-anchor": "a: &a {k: v}\n&a " + _GROWTH,
}

# ------------------------------------------------------------------------ mutations

Pick = Callable[[int], int]
"""``pick(n)``: a whole number in ``range(n)`` (hypothesis's draw, or a seeded random)."""

_TOKENS = [
    ":",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\t",
    "  ",
    "\n",
    "'",
    '"',
    "&a ",
    "*a",
    "!!x ",
    "!!int ",
    "!!binary ",
    "? ",
    "<<: *a\n",
    "|\n",
    ">-\n",
    "#",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\\",
    "\0",
    "\x85",
    "\ufeff",
    "é",
    "0",
    "null",
    "~",
    ".inf",
    "1e999",
    "-0",
    "0x1F",
    "0o17",
    "2027-13-45",
    "12:30:00",
    "@",
    "`",
]
_VALUES = [
    "[]",
    "{}",
    "1",
    "-1",
    "0",
    "1.5",
    "true",
    "null",
    "~",
    "''",
    '"x"',
    "[1, 2]",
    "{a: 1}",
    "1e999",
    ".nan",
    "2027-01-01",
    "2027-01-01T00:00:00",
    "!!binary aGk=",
    "[[[[]]]]",
    "{? [a]: b}",
    "*a",
    "&a x",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "- x",
    "|\n  text",
    "9" * 5000,
    "-" + "9" * 2000,
    "0x" + "f" * 3000,
    '"' + "\\0" * 3 + '"',
    "/dev/null",
    "/dev/zero",
    "/",
    ".",
    "..",
    "pipe.csv",
    "'pip*.csv'",
    "'*'",
    "'[a-'",
    "p" * 300,
    "x/" * 3000,
    "~/nothing",
    "[" + ", ".join(["1"] * 2000) + "]",
    "{" + ", ".join(f"k{i}: {i}" for i in range(2000)) + "}",
    "'" + "w" * 20_000 + "'",
    '"Grow revenue 1000000000000000000000000000000% in Q3"',
    '"Grow revenue 12% in Q' + "9" * 500 + ' 2027"',
    '"' + "grow revenue " * 400 + '"',
]
_KEYS = [
    "? [a, b]",
    "? {a: 1}",
    "1",
    "null",
    "true",
    "1.5",
    "2027-01-01",
    "''",
    "'\\0'",
    "<<",
    "'" + "k" * 5000 + "'",
    "&a k",
    "*a",
    "goal",
    "steps",
    "data",
    "brand",
    "channels",
]
_BLOCKS = [
    "x: " + "[" * 101 + "\n",
    "x: " + "{a: " * 150 + "}" * 150 + "\n",
    "".join("  " * i + f"k{i}:\n" for i in range(150)),
    "x:\n" + "".join("  " * i + "-\n" for i in range(1, 150)),
    _bomb(),
    _bomb(levels=3, width=3),
    "x: &a [1, *a]\n",
    "a: &a {k: v}\nb: {<<: *a, j: w}\n",
    "steps:\n  s: {agent: " + "a" * 5000 + "}\n",
    "data:\n  d: {path: pipe.csv, format: csv}\n",
    "data:\n  d: {path: " + "q" * 100_000 + "}\n",
    "data: [a, b]\n",
    "steps: []\n",
    "goal: [1, 2, {a: b}]\n",
    "goal: {objective: [grow_revenue], kpi: {a: b}, budget: -1e308, horizon: 1e400}\n",
    "today: 99999-01-01\n",
    "approvers: {lead: [[a, b], {c: d}, 1, null]}\n",
    "channels: {" + ", ".join(f"'s{i}': paid_search" for i in range(3000)) + "}\n",
]


def mutate(text: str, pick: Pick) -> str:
    """``text`` changed by one to four mutations chosen with ``pick``."""
    for _ in range(1 + pick(4)):
        lines = text.splitlines(True) or ["\n"]
        op = pick(9)
        i = pick(max(1, len(text)))
        k = pick(len(lines))
        if op == 0:  # delete a run of characters
            text = text[:i] + text[i + 1 + pick(40) :]
        elif op == 1:  # duplicate a run of characters
            j = i + 1 + pick(40)
            text = text[:j] + text[i:j] + text[j:]
        elif op == 2:  # insert a token
            text = text[:i] + _TOKENS[pick(len(_TOKENS))] + text[i:]
        elif op == 3:  # swap two lines
            m = pick(len(lines))
            lines[k], lines[m] = lines[m], lines[k]
            text = "".join(lines)
        elif op == 4:  # duplicate a line
            lines.insert(k, lines[k])
            text = "".join(lines)
        elif op in (5, 6):  # change the type of a value (twice as likely)
            found = re.match(r"(\s*(?:- )?[^:#\n]+:) ?(.*)", lines[k].rstrip("\n"))
            if found:
                lines[k] = f"{found[1]} {_VALUES[pick(len(_VALUES))]}\n"
                text = "".join(lines)
        elif op == 7:  # a key of another type
            found = re.match(r"(\s*(?:- )?)([^:#\n]+)(:.*)", lines[k])
            if found:
                lines[k] = found[1] + _KEYS[pick(len(_KEYS))] + found[3] + "\n"
                text = "".join(lines)
        else:  # splice in a block that once crashed or hung validate
            lines.insert(k, _BLOCKS[pick(len(_BLOCKS))])
            text = "".join(lines)
    return text


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A shipped pipeline, mutated."""
    text = TEXTS[draw(st.integers(0, len(TEXTS) - 1))]
    return mutate(text, lambda n: draw(st.integers(0, max(0, n - 1))))


# ------------------------------------------------------------------------ harness


class Hung(Exception):
    """validate ran past :data:`BOUND`."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`Hung` in this (main) thread after ``seconds``, even inside a
    blocking ``open`` of a FIFO (the signal interrupts it)."""

    def _raise(signum: int, frame: object) -> None:
        raise Hung(f"validate did not finish within {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the brands the seeds name and a FIFO (``pipe.csv``) to point at."""
    here = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "pipelines" / "brands", here / "brands")
    (here / "data").mkdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(here / "pipe.csv")
    return here


def _check(path: Path) -> ValidationReport:
    start = time.monotonic()
    with _deadline(BOUND):
        report = validate_pipeline(path)
        texts = [str(e) for e in [*report.errors, *report.warnings]]
    assert time.monotonic() - start < BOUND
    for e in [*report.errors, *report.warnings]:
        assert isinstance(e, ConductorError), repr(e)
        assert re.fullmatch(r"[a-z]+\.[a-z0-9-]+", e.code), e.code
        e.to_dict()
    assert all(texts)
    return report


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@example(text=ISSUE_16["deep-1000"])
@example(text=ISSUE_16["brackets-50000"])
@example(text=ISSUE_16["deep-block"])
@example(text=ISSUE_16["long-path"])
@example(text=ISSUE_16["nul-path"])
@example(text=ISSUE_16["digits-5000"])
@example(text=ISSUE_16["alias-bomb"])
@example(text=ISSUE_16["fifo"])
@example(text=ISSUE_16["fifo-brand"])
@example(text=FOUND["complex-key"])
@example(text=FOUND["today-9999"])
@example(text=FOUND["data-root"])
@example(text=FOUND["reused-anchor"])
@given(text=mutated())
def test_validate_survives_mutated_pipelines(folder: Path, text: str) -> None:
    path = folder / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    _check(path)


def test_the_issue_16_seeds_are_each_one_clear_error(folder: Path) -> None:
    expected = {
        "deep-1000": "yaml.too-deep",
        "brackets-50000": "yaml.too-deep",
        "deep-block": "yaml.too-deep",
        "long-path": "path.too-long",
        "nul-path": "path.nul-byte",
        "digits-5000": "yaml.number-too-long",
        "alias-bomb": "yaml.alias-bomb",
        "fifo": "path.special-file",
        "fifo-brand": "path.special-file",
    }
    for name, code in expected.items():
        path = folder / f"{name}.yaml"
        path.write_text(ISSUE_16[name], encoding="utf-8")
        assert code in [e.code for e in _check(path).errors], name


def test_the_cli_survives_mutated_pipelines(folder: Path) -> None:
    """The real `conductor validate`, once, over the issue's seeds and a few mutants."""
    files = []
    for name, text in ISSUE_16.items():
        files.append(folder / f"cli-{name}.yaml")
        files[-1].write_text(text, encoding="utf-8")
    for seed in range(8):
        rng = random.Random(seed)
        text = mutate(TEXTS[seed % len(TEXTS)], rng.randrange)
        files.append(folder / f"cli-seed{seed}.yaml")
        files[-1].write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "conductor", "validate", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=folder,
    )
    assert done.returncode in (0, 2), done.stderr[-3000:]
    assert "internal error" not in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for name in ISSUE_16:
        assert f"cli-{name}.yaml:" in done.stdout, name
