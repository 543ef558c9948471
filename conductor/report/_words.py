"""How the run's files word a sign-off, shared by ``summary.md``, the HTML report and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DECIDED = {"approve": "approved", "reject": "rejected", "edit": "edited and approved"}


def decision_words(approval: Mapping[str, Any]) -> str:
    """A sign-off decision as people read it: an edit by an approver is their approval.

    ``edit`` reads "edited and approved" (naming the artifacts changed when recorded).
    """
    decision = str(approval.get("decision") or "?")
    words = _DECIDED.get(decision, decision)
    ids = approval.get("edited")
    edited = [str(i) for i in ids] if isinstance(ids, list) else []
    return f"{words} ({', '.join(edited)} edited)" if decision == "edit" and edited else words
