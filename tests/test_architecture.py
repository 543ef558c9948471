"""The house's layout: imports run one way, no cycles, agents use only the public API.

`make lint` runs the import-linter contracts in pyproject.toml; these tests check the
same graph from another side (grimp, which import-linter is built on) so that a cycle
through a package's own face, which the sibling contracts cannot see, fails too.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Type-checking imports count: a cycle through a type hint is still one for a reader.
    return grimp.build_graph("conductor", "agents", exclude_type_checking_imports=False)


def test_no_import_cycle_between_any_two_modules(graph: grimp.ImportGraph) -> None:
    cycles = _cycles(graph)
    assert cycles == [], "import cycles (modules that import each other):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_cycle_finder_sees_a_cycle() -> None:
    # The check above must be able to fail: a two-module loop is found.
    g = grimp.ImportGraph()
    for m in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        g.add_module(m)
    g.add_import(importer="pkg.a", imported="pkg.b")
    g.add_import(importer="pkg.b", imported="pkg.a")
    g.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(g) == [["pkg.a", "pkg.b"]]


def test_the_framework_never_imports_the_demo(graph: grimp.ImportGraph) -> None:
    demo = {m for m in graph.modules if m == "conductor.demo" or m.startswith("conductor.demo.")}
    importers = {
        m
        for d in demo
        for m in graph.find_modules_that_directly_import(d)
        if m not in demo and m.startswith("conductor")
    }
    assert importers == set()


_PRIVATE_IMPORT = re.compile(r"^\s*(from|import)\s+conductor(\.\w+)*\._\w+", re.MULTILINE)


@pytest.mark.parametrize("folder", ["agents", "examples"])
def test_agents_and_examples_use_only_the_public_api(folder: str) -> None:
    offenders = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.ImportFrom) and node.module:
                name = node.module
                if name == "conductor" and any(a.name.startswith("_") for a in node.names):
                    name = "conductor._"
            elif isinstance(node, ast.Import):
                name = next((a.name for a in node.names if a.name.startswith("conductor")), None)
            if (
                name
                and name.startswith("conductor")
                and any(part.startswith("_") for part in name.split("."))
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert offenders == []


def test_every_subpackage_has_a_curated_face() -> None:
    for init in sorted((ROOT / "conductor").glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{init.relative_to(ROOT)} says what lives there"
        exported = next(
            (
                ast.literal_eval(n.value)
                for n in tree.body
                if isinstance(n, ast.Assign)
                and any(getattr(t, "id", None) == "__all__" for t in n.targets)
            ),
            None,
        )
        assert exported, f"{init.relative_to(ROOT)} has an __all__"
        # Sorted as ruff sorts it (RUF022): CONSTANTS, then Classes, then functions.
        order = sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        assert exported == order, f"{init.relative_to(ROOT)}: __all__ is sorted"
        assert not [n for n in exported if n.startswith("_")]


def test_lint_imports_fails_on_a_private_import_from_an_agent(tmp_path: Path) -> None:
    """The contract that `make lint` runs catches `from conductor._x import y` in agents/."""
    import shutil

    for name in ("conductor", "agents"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]
    kept = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    bad = tmp_path / "agents" / "journey" / "_agent.py"
    bad.write_text(
        bad.read_text(encoding="utf-8") + "\nfrom conductor._yaml import read_yaml  # noqa\n",
        encoding="utf-8",
    )
    broken = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert broken.returncode != 0
    assert "agents.journey._agent -> conductor._yaml" in broken.stdout


def test_the_public_api_does_not_load_the_llm_or_graph_stack() -> None:
    # Agent authors `import conductor`; the model and graph libraries load only when a
    # run or a model call needs them (a face re-exporting a module that imports them at
    # the top would pull them in for everyone).
    code = (
        "import sys, conductor, conductor.pipeline, conductor.brand, conductor.goals; "
        "print(sorted(m for m in ('langchain_core', 'openai', 'langgraph') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
