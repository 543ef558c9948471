"""``conductor new agent``: a plugin package for one new agent, ready to install and test."""

from __future__ import annotations

from pathlib import Path

from conductor.agents import agent_names
from conductor.errors import ScaffoldError
from conductor.scaffold._files import fit, refuse_existing, render, template, write_all
from conductor.scaffold._names import AgentNames, agent_names_for


def _code_values(n: AgentNames) -> dict[str, str]:
    """The template values, with the lines whose length depends on the names laid out."""
    imports = ", ".join((n.cls, n.output, n.spec))
    quoted = ", ".join(f'"{c}"' for c in (n.cls, n.output, n.spec))
    return {
        "name": n.name,
        "package": n.package,
        "dist": n.dist,
        "cls": n.cls,
        "spec": n.spec,
        "output": n.output,
        "import_line": fit(
            f"from {n.package}.agent import {imports}",
            f"from {n.package}.agent import (\n    {n.cls},\n    {n.output},\n    {n.spec},\n)",
        ),
        "test_import_line": fit(
            f"from {n.package}.agent import {n.cls}, {n.output}",
            f"from {n.package}.agent import (\n    {n.cls},\n    {n.output},\n)",
        ),
        "all_line": fit(
            f"__all__ = [{quoted}]",
            "__all__ = [\n" + "".join(f"    {q},\n" for q in quoted.split(", ")) + "]",
        ),
        "agent_class_line": fit(
            f"class {n.cls}(Agent[{n.spec}, {n.output}]):",
            f"class {n.cls}(\n    Agent[{n.spec}, {n.output}],\n):",
        ),
        "run_signature": fit(
            f"    def run(self, spec: {n.spec}, inputs: Inputs, ctx: RunContext) -> {n.output}:",
            f"    def run(\n        self,\n        spec: {n.spec},\n        inputs: Inputs,\n"
            f"        ctx: RunContext,\n    ) -> {n.output}:",
        ),
    }


def new_agent(name: str, dest: str | Path = ".", *, allow_installed: bool = False) -> list[Path]:
    """Write a plugin package for a new agent into ``dest/name/``.

    The package holds ``pyproject.toml`` (the ``conductor.agents`` entry point),
    ``conductor_NAME/agent.py`` (a typed spec and output, ``plan()`` and ``run()`` that
    read the ``spend`` data source), ``tests/test_NAME.py`` (``check_agent`` and the
    numbers on ``tests/data/spend.csv``) and a README. As written, its tests pass and
    ``ruff check``, ``ruff format --check`` and ``mypy --strict`` find nothing.

    Args:
        name: The agent's name, snake_case (``churn_risk``): the package is
            ``conductor_churn_risk``, the class ``ChurnRiskAgent``.
        dest: The folder to create the package's folder in.
        allow_installed: Write it even when an installed agent has the same name (the
            two would then compete for it once this one is installed).

    Returns:
        The files written, in the order written.

    Raises:
        ScaffoldError: ``new.bad-name``, ``new.name-taken``, ``new.exists`` (nothing is
            ever overwritten; an empty folder may be filled), ``new.unwritable``.
    """
    n = agent_names_for(name)
    if not allow_installed and name in agent_names():
        raise ScaffoldError(
            f"an agent named {name!r} is already installed",
            code="new.name-taken",
            hint="choose another name (`conductor agents` lists the installed ones)",
        )
    root = Path(dest) / name
    refuse_existing(root, "the folder", empty_folder_ok=True)
    values = _code_values(n)
    files = {
        root / "pyproject.toml": render("agent/pyproject.toml.tmpl", values),
        root / "README.md": render("agent/README.md.tmpl", values),
        root / n.package / "__init__.py": render("agent/__init__.py.tmpl", values),
        root / n.package / "agent.py": render("agent/agent.py.tmpl", values),
        root / "tests" / f"test_{name}.py": render("agent/test_agent.py.tmpl", values),
        root / "tests" / "data" / "spend.csv": template("agent/spend.csv"),
    }
    return write_all(files)
