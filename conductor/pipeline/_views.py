"""A plan as data and as a picture: what ``conductor plan --json``, ``conductor graph`` and
the service show, written once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["plan_document", "step_mermaid"]


def plan_document(pipeline: Any, goal: Any, plans: Mapping[str, Any]) -> dict[str, Any]:
    """The typed goal and every step's spec, with where each value came from (JSON)."""
    return {
        "pipeline": pipeline.name,
        "goal": goal.model_dump(mode="json"),
        "steps": {
            sid: {
                "agent": pl.agent,
                "needs": pl.needs,
                "spec": pl.spec.model_dump(mode="json"),
                "spec_hash": pl.spec_hash,
                "provenance": pl.provenance,
                "approve": pl.approve,
            }
            for sid, pl in plans.items()
        },
    }


def step_mermaid(plans: Mapping[str, Any]) -> str:
    """The pipeline's steps as a Mermaid flowchart: one node per step (its agent, and who
    signs it off), an edge per ``needs``; no internal gate nodes or retry loops."""

    def node(sid: str) -> str:
        return "s_" + "".join(c if c.isalnum() else "_" for c in sid)

    lines = ["graph TD;"]
    for sid, pl in plans.items():
        label = f"{sid}<br/>{pl.agent}" + (
            f"<br/>sign-off: {', '.join(pl.approve)}" if pl.approve else ""
        )
        lines.append(f'\t{node(sid)}["{label.replace(chr(34), "#quot;")}"]')
    for sid, pl in plans.items():
        lines.extend(f"\t{node(need)} --> {node(sid)};" for need in pl.needs)
    return "\n".join(lines) + "\n"
