"""What a store holds: the run index (:class:`RunRecord`), the audit log (:class:`AuditEvent`),
and the :class:`Store` protocol every backend implements.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conductor.errors import RunError
from conductor.logging import redact_data

__all__ = ["AuditEvent", "RunPage", "RunRecord", "Store", "Submission"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RunRecord(BaseModel):
    """One row of the run index (``conductor runs``)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description="Run id (the LangGraph thread id).")
    pipeline: str = Field(description="Pipeline name.")
    pipeline_file: str = Field(description="Absolute path of the pipeline file.")
    status: str = Field(
        description=(
            "running, waiting, done, failed, blocked, rejected, stopped, cancelled, or "
            "failed-planning "
            "(model requests were paid for, then planning failed: nothing ran)"
        ),
    )
    started: dt.datetime = Field(description="When the run started (UTC).")
    updated: dt.datetime = Field(description="Last change (UTC).")
    waiting_on: list[str] = Field(default_factory=list, description="Steps awaiting sign-off.")
    out_dir: str = Field(description="Run folder (result.json, summary.md, logs).")
    info: dict[str, Any] = Field(default_factory=dict, description="Cost, tokens, error line.")

    @field_validator("info")
    @classmethod
    def _no_personal_data(cls, v: dict[str, Any]) -> dict[str, Any]:
        # The index is read by `conductor runs` and shared tools: no email or phone in it.
        return dict(redact_data(v))


class AuditEvent(BaseModel):
    """One append-only audit record."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, description="Sequence number (set by the store).")
    ts: dt.datetime = Field(default_factory=_now, description="When (UTC).")
    run_id: str = Field(description="Run.")
    pipeline: str = Field(default="", description="Pipeline name.")
    step: str | None = Field(default=None, description="Step, when the event is about one.")
    kind: str = Field(
        description="goal, plan, data, step, verdict, revision, approval, llm, run ..."
    )
    actor: str = Field(default="conductor", description="Who: a person's name or 'conductor'.")
    role: str | None = Field(default=None, description="The role they acted under.")
    spec_hash: str | None = Field(default=None, description="Hash of the step's spec.")
    detail: dict[str, Any] = Field(default_factory=dict, description="What happened.")

    @field_validator("detail")
    @classmethod
    def _no_personal_data(cls, v: dict[str, Any]) -> dict[str, Any]:
        # Comments, reasons and goal text end up here: redacted like the run log.
        return dict(redact_data(v))


class Submission(BaseModel):
    """A run asked for over the service, recorded before it starts (``Idempotency-Key``).

    The row exists from the moment the request is accepted, before the run's own record
    (which is written once planning is done): a retried request finds it and gets the
    same run, and a server that restarts starts the submissions whose run never began.
    """

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="The Idempotency-Key (or a generated one).")
    run_id: str = Field(description="The run this request starts.")
    pipeline_file: str = Field(description="Absolute path of the pipeline file.")
    request_hash: str = Field(description="Hash of the request: a reused key must match it.")
    owner: str = Field(description="The service that accepted it.")
    by: str = Field(description="The person who asked.")
    created: dt.datetime = Field(default_factory=_now, description="When (UTC).")
    params: dict[str, Any] = Field(default_factory=dict, description="today, out_dir, ...")


class RunPage(BaseModel):
    """One page of the run index, newest first, and the cursor of the next."""

    runs: list[RunRecord]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for more.")


class Store(Protocol):
    """What the runtime needs from a backend."""

    kind: str

    def checkpointer(self) -> Any: ...
    def create_run(self, rec: RunRecord) -> None: ...
    def update_run(self, run_id: str, **fields: Any) -> None: ...
    def get_run(self, run_id: str) -> RunRecord: ...
    def list_runs(self, limit: int = 100) -> list[RunRecord]: ...
    def page_runs(
        self,
        limit: int = 50,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        cursor: str | None = None,
    ) -> RunPage: ...
    def add_submission(self, sub: Submission) -> Submission: ...
    def submissions(self, owner: str | None = None) -> list[Submission]: ...
    def run_ids(self, prefix: str) -> list[str]: ...
    def append_audit(self, event: AuditEvent) -> None: ...
    def audit_events(
        self,
        run_id: str | None = None,
        since: dt.datetime | None = None,
        pipeline: str | None = None,
    ) -> list[AuditEvent]: ...
    def lock(self, run_id: str) -> Any: ...
    def close(self) -> None: ...


_RUN_COLS: tuple[str, ...] = ("run_id", "pipeline", "pipeline_file", "status", "started", "updated")
_RUN_COLS += ("waiting_on", "out_dir", "info")


def _row_to_run(row: Mapping[str, Any]) -> RunRecord:
    data = dict(row)
    for k in ("waiting_on", "info"):
        if isinstance(data[k], str):
            data[k] = json.loads(data[k])
    for k in ("started", "updated"):
        if isinstance(data[k], str):
            data[k] = dt.datetime.fromisoformat(data[k])
    return RunRecord.model_validate(data)


def _row_to_event(row: Mapping[str, Any]) -> AuditEvent:
    data = dict(row)
    if isinstance(data["detail"], str):
        data["detail"] = json.loads(data["detail"])
    if isinstance(data["ts"], str):
        data["ts"] = dt.datetime.fromisoformat(data["ts"])
    return AuditEvent.model_validate(data)


def _unknown_run(run_id: str) -> RunError:
    return RunError(
        "no such run", run=run_id, code="run.unknown", hint="`conductor runs` lists the runs"
    )


def resolve_run_id(store: Store, ref: str) -> str:
    """The full id of the run that ``ref`` names: the id itself or a unique prefix, like git.

    Every command taking a run id goes through here, so ``conductor status repeat-pur``
    works as soon as one run starts with it.

    Raises:
        RunError: ``run.unknown`` when nothing matches, ``run.ambiguous`` (listing the
            matches) when the prefix names several runs.
    """
    ids = store.run_ids(ref)
    if ref in ids:
        return ref
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise _unknown_run(ref)
    shown = ", ".join(sorted(ids)[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    raise RunError(
        f"the run id prefix {ref!r} matches {len(ids)} runs: {shown}",
        run=ref,
        code="run.ambiguous",
        hint="type more of the id; `conductor runs` lists them in full",
    )


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching ids that start with ``prefix`` (``\\`` escapes ``%`` and ``_``)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def encode_cursor(rec: RunRecord) -> str:
    """The cursor after ``rec`` in the index's order (started, then run id, descending)."""
    import base64

    raw = json.dumps([rec.started.isoformat(), rec.run_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """(started, run id) from :func:`encode_cursor`; a damaged cursor is a RunError."""
    import base64

    try:
        started, run_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(started), str(run_id)
    except (ValueError, TypeError) as exc:
        raise RunError(
            f"the cursor {cursor[:40]!r} is not one this server gave out ({exc})",
            code="run.bad-cursor",
            hint="start again without a cursor and follow `next_cursor`",
        ) from None


def _row_to_submission(row: Mapping[str, Any]) -> Submission:
    data = dict(row)
    if isinstance(data["params"], str):
        data["params"] = json.loads(data["params"])
    if isinstance(data["created"], str):
        data["created"] = dt.datetime.fromisoformat(data["created"])
    return Submission.model_validate(data)
