"""An agent's name, and the names of the package and classes made from it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from conductor.errors import ScaffoldError

_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_NAME = 32
"""Longest agent name a scaffold accepts: the class names grow from it, and the code
written with them must keep within ruff's 88 columns."""


@dataclass(frozen=True)
class AgentNames:
    """Every name a scaffolded agent package uses, derived from the agent's name.

    Attributes:
        name: The agent's registry name (``churn_risk``).
        package: The import package (``conductor_churn_risk``): prefixed, so an agent
            called ``email`` or ``json`` cannot shadow a module of the standard library.
        dist: The distribution name for ``pip`` (``conductor-churn-risk``).
        cls: The agent class (``ChurnRiskAgent``).
        spec: The spec class (``ChurnRiskSpec``).
        output: The output class (``ChurnRiskOutput``).
    """

    name: str
    package: str
    dist: str
    cls: str
    spec: str
    output: str


def agent_names_for(name: str) -> AgentNames:
    """The names of the package and classes for the agent ``name``.

    Raises:
        ScaffoldError: ``new.bad-name`` when ``name`` is not a snake_case identifier.
    """
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        suggestion = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
        suggestion = re.sub(r"^[0-9_]+", "", suggestion)[:MAX_NAME].rstrip("_")
        example = (
            suggestion
            if suggestion and suggestion != name and _NAME.fullmatch(suggestion)
            else "churn_risk"
        )
        raise ScaffoldError(
            f"{name!r} cannot be an agent's name",
            code="new.bad-name",
            hint=f"use snake_case: a lower-case letter, then letters, digits and single "
            f"underscores, at most {MAX_NAME} characters (e.g. {example!r})",
        )
    camel = "".join(part.capitalize() for part in name.split("_"))
    return AgentNames(
        name=name,
        package=f"conductor_{name}",
        dist=f"conductor-{name.replace('_', '-')}",
        cls=f"{camel}Agent",
        spec=f"{camel}Spec",
        output=f"{camel}Output",
    )
