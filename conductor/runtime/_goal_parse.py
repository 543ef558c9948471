"""``conductor parse-goal --model``: a goal read with the model's help, its requests billed.

A request to a model costs money whether or not the goal could be read, so the requests
are written to the audit log (the bill of record) under a ``parse-goal-…`` id of their
own, with a ``run`` event saying how the parse ended. No run record is created: nothing
can be resumed, and ``conductor runs`` lists runs only.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from typing import Any

from conductor.errors import ConductorError, LLMError
from conductor.goals import BusinessGoal
from conductor.store import AuditEvent, PostgresStore, SQLiteStore, open_store

__all__ = ["parse_goal_billed"]

AUDIT_PIPELINE = "parse-goal"


def parse_goal_billed(
    text: str,
    *,
    today: dt.date,
    model: Any = None,
    store: SQLiteStore | PostgresStore | None = None,
) -> tuple[BusinessGoal, dict[str, Any]]:
    """Parse ``text`` with the grammar first and the model for what it missed.

    Args:
        text: The goal.
        today: Date relative periods resolve against.
        model: A chat model; default the one configured in the environment.
        store: Where the audit events go (default: :func:`conductor.store.open_store`).

    Returns:
        The goal, and the usage of the requests made (``calls``, tokens, ``cost_usd``,
        ``audit_id`` naming the audit entries; no ``audit_id`` when no request was sent).

    Raises:
        LLMError: ``llm.not-configured`` when no model is configured, or the model failed.
        GoalError: Neither the grammar nor the model found an objective and a KPI.
    """
    from conductor.goals import parse_goal_with_llm
    from conductor.llm import PriceTable, UsageLedger, chat_model_from_env, metered
    from conductor.report import llm_usage

    model = model if model is not None else chat_model_from_env()
    if model is None:
        raise LLMError(
            "--model asks the language model for help, but no model is configured",
            code="llm.not-configured",
            hint="set OPENAI_API_KEY (and OPENAI_BASE_URL for a non-OpenAI server); "
            "without --model the goal is read by the grammar alone, offline and free",
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    audit_id = f"parse-goal-{stamp}-{secrets.token_hex(2)}"
    ledger = UsageLedger(run_id=audit_id, prices=PriceTable.from_env(os.environ))
    paid = metered(model, ledger, purpose="planning")
    try:
        goal = parse_goal_with_llm(text, today=today, model=paid, ledger=ledger)
    except Exception as exc:
        _bill(store, audit_id, ledger, exc)
        if isinstance(exc, ConductorError) and ledger.calls:
            note = f"the model requests made are on the record: `conductor audit --run {audit_id}`"
            exc.hint = f"{exc.hint}; {note}" if exc.hint else note
        raise
    _bill(store, audit_id, ledger, None)
    usage = llm_usage([r.model_dump(mode="json") for r in ledger.calls])
    total = {k: usage[k] for k in ("calls", "failed_calls", "input_tokens", "output_tokens")}
    total["cost_usd"] = usage["cost_usd"]
    if ledger.calls:
        total["audit_id"] = audit_id
    return goal, total


def _bill(
    store: SQLiteStore | PostgresStore | None,
    audit_id: str,
    ledger: Any,
    exc: BaseException | None,
) -> None:
    """Write one ``llm`` audit event per request, then how the parse ended."""
    if not ledger.calls:
        return
    own = store is None
    db = store or open_store()
    try:
        for rec in ledger.calls:
            db.append_audit(
                AuditEvent(
                    run_id=audit_id,
                    pipeline=AUDIT_PIPELINE,
                    kind="llm",
                    detail=rec.model_dump(mode="json"),
                )
            )
        if exc is None:
            detail: dict[str, Any] = {"event": "parse-goal"}
        else:
            error = (
                exc.to_dict()
                if isinstance(exc, ConductorError)
                else {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}
            )
            detail = {"event": "parse-goal-failed", "error": error}
        db.append_audit(
            AuditEvent(run_id=audit_id, pipeline=AUDIT_PIPELINE, kind="run", detail=detail)
        )
    finally:
        if own:
            db.close()
