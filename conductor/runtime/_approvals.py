"""Sign-off inbox, edits by approvers, and the AI-usage audit digest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from conductor.errors import ApprovalError
from conductor.specs import Allocation, Artifact, Audience, Copy, Insight
from conductor.store import RunRecord, open_store

__all__ = [
    "audit_digest",
    "pending_approvals",
    "prepare_edit",
    "prepare_edit_data",
    "run_approvals",
]


def pending_approvals(store: Any = None) -> list[dict[str, Any]]:
    """Every sign-off request waiting across all runs in the store.

    Each waiting run is read from its ``result.json`` when that file is the one written
    at this pause (:func:`_from_result`): the inbox then needs the run index and a JSON
    file, not the graph, the pipeline or the agents (seconds of imports and planning).
    Any other run is rebuilt from its checkpoint, as before.

    Args:
        store: The store to read (default: the environment's, opened and closed here).
    """
    own = store is None
    store = open_store() if own else store
    try:
        waiting = [rec for rec in store.list_runs(limit=1000) if rec.status == "waiting"]
    finally:
        if own:
            store.close()
    by_run = {rec.run_id: quick for rec in waiting if (quick := _from_result(rec)) is not None}
    slow = [rec for rec in waiting if rec.run_id not in by_run]
    if slow:
        by_run |= {rec.run_id: items for rec, items in _rebuilt(slow, None if own else store)}
    return [item for rec in waiting for item in by_run[rec.run_id]]  # the index's order


def run_approvals(rec: RunRecord, store: Any = None) -> list[dict[str, Any]]:
    """The inbox items of one run (empty unless it is waiting), read as the inbox reads them."""
    if rec.status != "waiting":
        return []
    quick = _from_result(rec)
    return quick if quick is not None else _rebuilt([rec], store)[0][1]


def _from_result(rec: RunRecord) -> list[dict[str, Any]] | None:
    """The run's inbox items from the ``result.json`` written when it paused, or None.

    The runner writes the run files before it records the status (a kill in between
    leaves the run ``running``), so a file that says ``waiting`` on the same steps as the
    index, for this run, is the one written at this pause. Anything else — no file, a
    damaged one, another run's, a pause on other steps, a file from before the people
    were recorded in it — is None: rebuild from the checkpoint.
    """
    try:
        doc = json.loads((Path(rec.out_dir) / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("run_id") != rec.run_id:
        return None
    waiting = doc.get("waiting")
    steps = doc.get("steps")
    if (
        doc.get("status") != "waiting"
        or not isinstance(waiting, list)
        or not isinstance(steps, dict)
        or sorted(str(w.get("step")) for w in waiting if isinstance(w, dict))
        != sorted(rec.waiting_on)
    ):
        return None
    items: list[dict[str, Any]] = []
    for req in waiting:
        step = steps.get(req["step"])
        if not isinstance(step, dict) or "people" not in req:
            return None
        arts = step.get("artifacts")
        items.append(
            {
                "run_id": rec.run_id,
                "pipeline": rec.pipeline,
                "step": req["step"],
                "agent": req.get("agent"),
                "roles": req.get("roles", []),
                "people": req["people"],
                "reasons": req.get("reasons", []),
                "violations": req.get("violations", []),
                "artifacts": arts if isinstance(arts, list) else [],
                "since": rec.updated.isoformat(),
            }
        )
    return items


def _rebuilt(
    records: list[RunRecord], store: Any = None
) -> list[tuple[RunRecord, list[dict[str, Any]]]]:
    """Inbox items of waiting runs rebuilt from their checkpoints (graph and pipeline)."""
    from conductor.runtime._runner import Runner

    runner = Runner(store)
    found: list[tuple[RunRecord, list[dict[str, Any]]]] = []
    try:
        for rec in records:
            items: list[dict[str, Any]] = []
            found.append((rec, items))
            try:
                requests = runner.pending(rec.run_id)
                state = runner.state(rec.run_id)
            except Exception as exc:  # one broken run must not hide the others
                items.append(
                    {
                        "run_id": rec.run_id,
                        "pipeline": rec.pipeline,
                        "step": ", ".join(rec.waiting_on),
                        "agent": "?",
                        "roles": [],
                        "people": [],
                        "reasons": [f"cannot load this run: {exc}"],
                        "artifacts": [],
                    }
                )
                continue
            from conductor.pipeline import load_pipeline

            pipeline = load_pipeline(rec.pipeline_file)
            for req in requests:
                sid = req["step"]
                out = state.get("outputs", {}).get(sid, {})
                arts = _artifacts_of(state, sid, out)
                items.append(
                    {
                        "run_id": rec.run_id,
                        "pipeline": rec.pipeline,
                        "step": sid,
                        "agent": req.get("agent"),
                        "roles": req.get("roles", []),
                        "people": sorted(
                            {n for r in req.get("roles", []) for n in pipeline.approvers.get(r, [])}
                        ),
                        "reasons": req.get("reasons", []),
                        "violations": req.get("violations", []),
                        "artifacts": arts,
                        "since": rec.updated.isoformat(),
                    }
                )
    finally:
        if store is None:
            runner.close()
    return found


def _artifacts_of(state: dict[str, Any], sid: str, out: dict[str, Any]) -> list[dict[str, Any]]:
    from conductor.agents import get_agent

    try:
        cls = get_agent(state["plans"][sid]["agent"])
        output = cls.output_type.model_validate(out)
        return [a.model_dump(mode="json") for a in output.artifacts()]
    except Exception:
        return []


_ARTIFACT: TypeAdapter[Copy | Allocation | Audience | Insight] = TypeAdapter(Artifact)


def _artifact_file_error(
    message: str,
    *,
    file: str | Path | None = None,
    line: int | None = None,
    column: int | None = None,
    code: str | None = None,
    hint: str = "",
) -> ApprovalError:
    """``read_yaml``'s errors about an edited artifact file, with its path and position
    in the message (an :class:`ApprovalError` has no file of its own).

    The code is ``approval.artifact-file`` whatever the reader found (missing, a folder,
    too large, bad YAML): scripts that handle sign-offs match one family, ``approval.*``;
    the reader's own code stays in the hint.
    """
    where = ":".join(str(part) for part in (file, line, column) if part is not None)
    reason = f" ({code})" if code else ""
    return ApprovalError(
        f"cannot use the edited artifact file {where}: {message}" if where else message,
        code="approval.artifact-file",
        hint=(hint + "; " if hint else "")
        + f"give `--artifact` a JSON or YAML file holding one artifact{reason}",
    )


def prepare_edit(
    run_id: str, step: str, artifact_file: Path, *, who: str | None = None
) -> dict[str, Any]:
    """Load an amended artifact from a file, check it with the brand rules, return the
    amended output (:func:`prepare_edit_data` on the file's content).

    Raises:
        ApprovalError: the file is missing or unreadable (``approval.artifact-file``), or
            anything :func:`prepare_edit_data` raises.
    """
    from conductor.pipeline import read_yaml

    if who is not None:
        _check_editor(None, run_id, step, who)
    raw, _ = read_yaml(Path(artifact_file), error=_artifact_file_error)
    return prepare_edit_data(run_id, step, raw, source=str(artifact_file))


def _check_editor(store: Any, run_id: str, step: str, who: str) -> None:
    from conductor.runtime._runner import Runner

    checker = Runner(store)
    try:
        checker.check_decider(run_id, step, who=who, decision="edit")
    finally:
        if store is None:
            checker.close()


def prepare_edit_data(
    run_id: str,
    step: str,
    artifact: Any,
    *,
    who: str | None = None,
    store: Any = None,
    source: str = "the edited artifact",
) -> dict[str, Any]:
    """Check an amended artifact (JSON data) with the brand rules, return the amended output.

    Who may decide is checked before what they decided: with ``who`` given, someone who
    may not sign off the step gets ``approval.not-allowed`` (audited as a refused
    sign-off), never the brand's verdict on their text. The CLI's ``edit`` and the
    service's edit both come here.

    Args:
        run_id: The run.
        step: The step waiting for sign-off.
        artifact: One artifact as JSON data (the same id as the one it replaces).
        who: The person editing (checked first), or None when already checked.
        store: The store (default: the environment's).
        source: What to call the artifact in messages (the file's name for the CLI).

    Raises:
        ApprovalError: ``who`` may not sign off the step, the step is not waiting, the
            data is not an artifact (``approval.bad-edit``), names no artifact of the
            step, or still breaks a brand rule (``approval.edit-violates``, with the
            violations in ``violations``; the run keeps waiting).
    """
    from conductor.agents import get_agent
    from conductor.runtime._runner import Runner

    if who is not None:
        _check_editor(store, run_id, step, who)
    data = json.loads(json.dumps(artifact, default=str))
    try:
        parsed = _ARTIFACT.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApprovalError(
            f"{source}: not a valid artifact: {'.'.join(map(str, first['loc']))}: {first['msg']}",
            run=run_id,
            step=step,
            code="approval.bad-edit",
            hint="start from the artifact shown by `conductor inbox --json` and change its text",
        ) from None
    runner = Runner(store)
    try:
        state = runner.state(run_id)
        rec = runner.store.get_run(run_id)
        from conductor.pipeline import load_pipeline
        from conductor.runtime._runner import load_brand_for

        brand = load_brand_for(load_pipeline(rec.pipeline_file))
    finally:
        if store is None:
            runner.close()
    if step not in state.get("outputs", {}):
        raise ApprovalError(
            "the step has no output to edit", run=run_id, step=step, code="approval.bad-edit"
        )
    cls = get_agent(state["plans"][step]["agent"])
    output = cls.output_type.model_validate(state["outputs"][step])
    try:
        amended = output.replace_artifact(parsed)
    except KeyError:
        ids = ", ".join(a.id for a in output.artifacts())
        raise ApprovalError(
            f"step {step!r} has no {parsed.kind} artifact with id {parsed.id!r}",
            run=run_id,
            step=step,
            code="approval.bad-edit",
            hint=f"artifact ids in this step: {ids}",
        ) from None
    if brand is not None:
        verdict = brand.review([parsed], step=step)
        if not verdict.passed:
            found = "; ".join(f"{v.rule}: {v.message}" for v in verdict.violations)
            raise ApprovalError(
                f"the edited {parsed.kind} still breaks the brand rules: {found}",
                run=run_id,
                step=step,
                code="approval.edit-violates",
                hint="fix the text and try again; the run is still waiting",
                violations=[v.model_dump(mode="json") for v in verdict.violations],
            )
    return amended.model_dump(mode="json")


def _edited(value: Any) -> list[str]:
    """The artifact ids an edit changed (older runs recorded only ``edited: true``)."""
    return [str(i) for i in value] if isinstance(value, list) else []


def audit_digest(
    *,
    since: dt.datetime | None = None,
    pipeline: str | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Answer 'who ran which AI, for which goal, on which data, at what cost, who signed off'."""
    store = open_store()
    try:
        events = store.audit_events(run_id=run_id, since=since, pipeline=pipeline)
        runs: dict[str, dict[str, Any]] = {}
        for ev in events:
            r = runs.setdefault(
                ev.run_id,
                {
                    "run_id": ev.run_id,
                    "pipeline": ev.pipeline,
                    "status": "",
                    "started_by": "conductor",
                    "goal": "",
                    "data": {},
                    "steps": [],
                    "approvals": [],
                    "llm": {"calls": 0, "models": [], "tokens": 0, "cost_usd": 0.0},
                    "events": 0,
                },
            )
            r["events"] += 1
            if ev.kind == "goal":
                r["goal"] = ev.detail.get("source_text") or json.dumps(
                    {k: ev.detail.get(k) for k in ("objective", "kpi", "target")}, default=str
                )
            elif ev.kind == "data":
                r["data"] = ev.detail
            elif ev.kind == "plan":
                again = next((s for s in r["steps"] if s["step"] == ev.step), None)
                if again is not None:  # planned again when a failed run was retried
                    again["replaced_specs"].append(again["spec_hash"])
                    again["spec_hash"] = ev.spec_hash or ""
                    continue
                r["steps"].append(
                    {
                        "step": ev.step,
                        "agent": ev.detail.get("agent"),
                        "spec_hash": ev.spec_hash or "",
                        "replaced_specs": [],
                        "findings": 0,
                        "rounds": 0,
                        "decision": "",
                    }
                )
            elif ev.kind == "verdict":
                for s in r["steps"]:
                    if s["step"] == ev.step:
                        s["findings"] += len(ev.detail.get("violations", []))
                        s["rounds"] += 1
                        s["decision"] = ev.detail.get("decision", "")
            elif ev.kind == "approval":
                r["approvals"].append(
                    {
                        "step": ev.step,
                        "decision": ev.detail.get("decision"),
                        "refused": ev.detail.get("refused", False),
                        "reason": ev.detail.get("reason", ""),
                        "edited": _edited(ev.detail.get("edited")),
                        "actor": ev.actor,
                        "role": ev.role,
                        "ts": ev.ts.isoformat(),
                        "comment": ev.detail.get("comment", ""),
                        "spec_hash": ev.spec_hash,
                    }
                )
            elif ev.kind == "llm":
                r["llm"]["calls"] += 1
                model = ev.detail.get("model")
                if model and model not in r["llm"]["models"]:
                    r["llm"]["models"].append(model)
                r["llm"]["tokens"] += int(ev.detail.get("input_tokens", 0)) + int(
                    ev.detail.get("output_tokens", 0)
                )
                r["llm"]["cost_usd"] += float(ev.detail.get("cost_usd", 0.0))
            elif ev.kind == "run":
                r["status"] = ev.detail.get("event", r["status"])
                if ev.detail.get("event") in ("failed-planning", "parse-goal-failed"):
                    r["error"] = ev.detail.get("error") or {}
        return list(runs.values())
    finally:
        store.close()
