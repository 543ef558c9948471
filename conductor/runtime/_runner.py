"""Running, resuming and signing off runs: the engine behind the CLI and the Python API."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from langgraph.types import Command

from conductor.agents import get_agent
from conductor.errors import (
    ApprovalError,
    BudgetExceeded,
    ConductorError,
    RunError,
)
from conductor.goals import BusinessGoal
from conductor.logging import configure_logging_once, redact_text, run_log_file
from conductor.pipeline import (
    Pipeline,
    SavedPlan,
    StepPlan,
    apply_saved_plan,
    check_pipeline,
    plan_pipeline,
    read_plan,
    resolve_goal,
)
from conductor.report import llm_usage
from conductor.runtime._compile import (
    TERMINAL as STEP_TERMINAL,
)
from conductor.runtime._compile import (
    RunObserver,
    RunState,
    Services,
    _NullObserver,
    audit_entry,
    build_graph,
    initial_state,
    plan_record,
)
from conductor.store import (
    AuditEvent,
    PostgresStore,
    RunRecord,
    SQLiteStore,
    open_store,
    resource_error,
)

__all__ = ["RunResult", "Runner", "load_brand_for", "new_run_id"]

log = structlog.get_logger("conductor.run")

TERMINAL = ("done", "failed", "blocked", "rejected", "cancelled")


@dataclass
class RunResult:
    """What a run (or resume, or decision) ended in."""

    run_id: str
    status: str
    out_dir: Path
    waiting: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 done, 3 waiting for approval, 1 anything else."""
        return {"done": 0, "waiting": 3}.get(self.status, 1)

    def outputs(self) -> dict[str, Any]:
        """Step -> typed output (re-validated from the checkpointed JSON)."""
        out: dict[str, Any] = {}
        for sid, data in self.state.get("outputs", {}).items():
            agent = get_agent(self.state["plans"][sid]["agent"])
            out[sid] = agent.output_type.model_validate(data)
        return out


def load_brand_for(pipeline: Pipeline) -> Any:
    """The pipeline's brand strategy (None when it names none)."""
    if pipeline.brand is None:
        return None
    from conductor.brand import load_brand

    return load_brand(pipeline.resolve(pipeline.brand))


def new_run_id(pipeline: str) -> str:
    """``<pipeline>-<UTC timestamp>-<random>``: sortable and unique."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{pipeline}-{stamp}-{secrets.token_hex(2)}"


class Runner:
    """Runs pipelines against a store. One per process; inject the store and the LLM.

    Args:
        store: The run store (default: from the environment, see :func:`open_store`).
        observer: Receives progress events (the CLI renders them).
        llm: A LangChain chat model, or None (deterministic everywhere).
        stop_requested: Asked with the run id after each saved checkpoint; True stops the
            run there as ``cancelled`` (the service's cancel). Default: never.
        owner: Recorded as ``info.owner`` on the runs this runner starts (the service
            marks its own, so it resumes them after a restart); kept through the run.
    """

    def __init__(
        self,
        store: SQLiteStore | PostgresStore | None = None,
        *,
        observer: RunObserver | None = None,
        llm: Any = None,
        stop_requested: Callable[[str], bool] | None = None,
        owner: str | None = None,
    ) -> None:
        configure_logging_once()
        self.store = store or open_store()
        self.observer = observer or _NullObserver()
        self.llm = llm
        self.stop_requested = stop_requested or (lambda _run_id: False)
        self.owner = owner

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # ------------------------------------------------------------------ set-up

    def _services(
        self,
        pipeline: Pipeline,
        run_id: str,
        out_dir: Path,
        today: dt.date,
        brand: Any,
    ) -> Services:
        def audit(**kw: Any) -> None:
            self.store.append_audit(AuditEvent(run_id=run_id, pipeline=pipeline.name, **kw))

        svc = Services(
            pipeline=pipeline,
            run_id=run_id,
            out_dir=out_dir,
            catalog=pipeline.catalog(),
            brand=brand,
            llm=self.llm,
            today=today,
            observer=self.observer,
            audit=audit,
        )
        if self.llm is not None:
            self._meter_services(svc, audit)
        return svc

    def _ledger(self, pipeline: Pipeline, run_id: str) -> Any:
        """The run's LLM usage ledger, holding every request the audit log has seen.

        The audit log is the bill of record: it also has requests of a step that a limit or
        a crash cut short, which never reached a checkpoint, so limits keep counting them.
        """
        from conductor.llm import PriceTable, UsageLedger, UsageRecord

        try:
            prior = [
                UsageRecord.model_validate(ev.detail)
                for ev in self.store.audit_events(run_id=run_id)
                if ev.kind == "llm"
            ]
        except RunError:
            prior = []
        return UsageLedger(
            run_id=run_id,
            prices=PriceTable.from_env(os.environ),
            limits=pipeline.limits,
            calls=prior,
        )

    def _meter_services(self, svc: Services, audit: Any) -> None:
        from conductor.llm import metered

        ledger = self._ledger(svc.pipeline, svc.run_id)
        ledger.subscribe(lambda rec: audit(kind="llm", step=rec.get("step"), detail=rec))
        limits = svc.pipeline.limits
        svc.llm_meter = lambda llm, sid, on_record: metered(
            llm, ledger, limits, step=sid, on_record=on_record
        )
        if svc.brand is not None and svc.pipeline.review.model_review:
            from conductor.brand import model_review

            svc.model_reviewer = lambda brand, arts, llm: model_review(
                brand, [a for a in arts if getattr(a, "kind", None) == "copy"], llm
            )

    def _plan_with_model(
        self, pipeline: Pipeline, day: dt.date, run_id: str, brand: Any
    ) -> tuple[BusinessGoal, dict[str, StepPlan], list[dict[str, Any]]]:
        """Goal and plans; with a model configured, it helps read free text and fills the
        spec fields agents mark as model-assisted.

        Returns the goal, the plans and the usage records of the model requests made.
        """
        if self.llm is None:
            goal = resolve_goal(pipeline, day)
            return goal, plan_pipeline(pipeline, goal, brand=brand, today=day), []
        from conductor.goals import parse_goal_with_llm
        from conductor.llm import metered
        from conductor.pipeline import assist_plans

        ledger = self._ledger(pipeline, run_id)
        model = metered(self.llm, ledger, pipeline.limits, purpose="planning")
        try:
            if isinstance(pipeline.goal, str):
                goal = parse_goal_with_llm(pipeline.goal, today=day, model=model, ledger=ledger)
            else:
                goal = resolve_goal(pipeline, day)
            plans = plan_pipeline(pipeline, goal, brand=brand, today=day)
            plans, notes = assist_plans(plans, goal, model)
        except Exception as exc:
            calls = [r.model_dump(mode="json") for r in ledger.calls]
            if calls:
                self._record_failed_planning(pipeline, day, run_id, calls, exc)
            raise
        for note in notes:
            log.warning("model-assisted spec value not used", note=note)
        return goal, plans, [r.model_dump(mode="json") for r in ledger.calls]

    def _record_failed_planning(
        self,
        pipeline: Pipeline,
        day: dt.date,
        run_id: str,
        calls: list[dict[str, Any]],
        exc: BaseException,
    ) -> None:
        """Put the paid model requests of a planning that failed on the record.

        The audit log is the bill of record, so a planning that spent money and then
        failed (the goal still unreadable, invalid answers, a limit) leaves a run in state
        ``failed-planning`` holding one ``llm`` audit event per request and a
        ``failed-planning`` run event with the error. It cannot be resumed: there is no
        plan to continue; ``conductor run`` starts again. The error the user sees gains a
        hint pointing at the record.
        """
        error = (
            exc.to_dict()
            if isinstance(exc, ConductorError)
            else {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}
        )
        now = dt.datetime.now(dt.UTC)
        self.store.create_run(
            RunRecord(
                run_id=run_id,
                pipeline=pipeline.name,
                pipeline_file=str(pipeline.source.resolve()),
                status="failed-planning",
                started=now,
                updated=now,
                out_dir=str(self._default_out(run_id).resolve()),
                info={"today": day.isoformat(), "error": error, "llm": llm_usage(calls)},
            )
        )
        for rec in calls:
            self.store.append_audit(
                AuditEvent(run_id=run_id, pipeline=pipeline.name, kind="llm", detail=rec)
            )
        self.store.append_audit(
            AuditEvent(
                run_id=run_id,
                pipeline=pipeline.name,
                kind="run",
                detail={"event": "failed-planning", "error": error, "llm_calls": len(calls)},
            )
        )
        if isinstance(exc, ConductorError):
            note = (
                f"the {len(calls)} model request(s) made while planning are on the record: "
                f"`conductor audit --run {run_id}`"
            )
            exc.hint = f"{exc.hint}; {note}" if exc.hint else note

    def _graph(self, plans: Mapping[str, StepPlan], goal: BusinessGoal, svc: Services) -> Any:
        return build_graph(plans, goal, svc).compile(checkpointer=self.store.checkpointer())

    @staticmethod
    def _config(run_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": run_id}, "recursion_limit": 500}

    # ------------------------------------------------------------------ public API

    def run(
        self,
        path: str | Path | None = None,
        *,
        run_id: str | None = None,
        out_dir: str | Path | None = None,
        today: dt.date | None = None,
        plan: str | Path | SavedPlan | None = None,
    ) -> RunResult:
        """Validate, plan and run a pipeline until it finishes or waits for a person.

        Args:
            path: The pipeline file; with ``plan``, optional (the plan names its file).
            run_id: Run id (default: generated).
            out_dir: Run folder (default: under the store's home).
            today: Planning date (default: the pipeline's ``today``, else today).
            plan: A saved plan (``conductor plan --out``): its specs run exactly as saved,
                nothing is re-derived, and it is refused (:class:`PlanError`,
                ``plan.changed``, listing what changed) when the pipeline file, a file it
                reads or an agent's version changed since.
        """
        saved: SavedPlan | None = None
        plan_file: Path | None = None
        if plan is not None:
            if isinstance(plan, SavedPlan):
                saved = plan
            else:
                plan_file = Path(plan)
                saved = read_plan(plan_file)
            path = path if path is not None else saved.pipeline_path(plan_file)
        if path is None:
            raise RunError("no pipeline file given", code="run.no-pipeline")
        pipeline = check_pipeline(path, today=saved.today if saved else today)
        day = saved.today if saved else today or pipeline.today or dt.date.today()
        run_id = run_id or new_run_id(pipeline.name)
        # Before planning: a model call made for a run that cannot start is money wasted.
        self._refuse_existing(run_id)
        brand = load_brand_for(pipeline)
        goal_calls: list[dict[str, Any]] = []
        if saved is not None:
            goal, plans = apply_saved_plan(
                saved, pipeline, brand=brand, today=today, plan_file=plan_file
            )
        else:
            goal, plans, goal_calls = self._plan_with_model(pipeline, day, run_id, brand)
        out = Path(out_dir) if out_dir else self._default_out(run_id)
        out = out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        self.store.create_run(
            RunRecord(
                run_id=run_id,
                pipeline=pipeline.name,
                pipeline_file=str(pipeline.source.resolve()),
                status="running",
                started=now,
                updated=now,
                out_dir=str(out),
                info={"today": day.isoformat()}
                | ({"owner": self.owner} if self.owner else {})
                | (
                    {"plan": str(plan_file.resolve()) if plan_file else "(in memory)"}
                    if saved
                    else {}
                ),
            )
        )
        for rec in goal_calls:
            self.store.append_audit(
                AuditEvent(run_id=run_id, pipeline=pipeline.name, kind="llm", detail=rec)
            )
        svc = self._services(pipeline, run_id, out, day, brand)
        with self._locked(run_id, out):
            start = initial_state(run_id, plans, goal) | {
                "llm_calls": goal_calls,
                "outbox": self._opening(svc, plans, goal),
            }
            return self._drive(svc, plans, goal, start)

    def _refuse_existing(self, run_id: str) -> None:
        try:
            existing = self.store.get_run(run_id)
        except RunError:
            return
        hint = (
            "pick another --run-id (a run whose planning failed cannot be resumed)"
            if existing.status == "failed-planning"
            else f"resume it with `conductor resume {run_id}`, or pick another --run-id"
        )
        raise RunError(
            "a run with this id already exists", run=run_id, code="run.exists", hint=hint
        )

    def resume(self, run_id: str) -> RunResult:
        """Continue a run after a crash or a stop (finished steps are not run again).

        A failed run is retried: its failed steps, and the steps skipped because of
        them, run again on the data as it is now and with their specs planned again from
        the pipeline file as it is now (a fixed ``with:`` takes effect; a changed spec is
        recorded in the audit); the steps that finished keep their specs, outputs and
        sign-offs.
        """
        rec = self.store.get_run(run_id)
        if rec.status == "failed-planning":
            error = rec.info.get("error") or {}
            raise RunError(
                "the run never started: planning failed "
                f"({error.get('code', 'unknown')}: {error.get('message', 'no message')})",
                run=run_id,
                code="run.failed-planning",
                hint="fix what the error names and start a new run with `conductor run "
                f"{rec.pipeline_file}`; the model requests it paid for are in "
                f"`conductor audit --run {run_id}`",
            )
        if rec.status == "failed":
            return self._retry(rec)
        if rec.status == "waiting":
            waiting = ", ".join(rec.waiting_on)
            raise RunError(
                f"the run is waiting for sign-off on {waiting}",
                run=run_id,
                code="run.waiting",
                hint=f"approve it: `conductor approve {run_id} {rec.waiting_on[0] if rec.waiting_on else 'STEP'} --as NAME`",
            )
        if rec.status in TERMINAL:
            rewritten = self._repair_files(rec)
            if rewritten is not None:
                return rewritten
            raise RunError(
                f"the run has already finished ({rec.status})",
                run=run_id,
                code="run.finished",
                hint="start a new run with `conductor run`; its files are current "
                f"(`conductor report {run_id}` opens the report)",
            )
        svc, plans, goal = self._rebuild(rec)
        with self._locked(run_id, Path(rec.out_dir)):
            svc.audit(kind="run", detail={"event": "resumed"})
            graph = self._graph(plans, goal, svc)
            snap = graph.get_state(self._config(run_id))
            # Killed before the input was checkpointed: start it now, with its events.
            start: Any = (
                None
                if snap.values
                else initial_state(run_id, plans, goal)
                | {"outbox": self._opening(svc, plans, goal)}
            )
            return self._drive(svc, plans, goal, start, graph=graph)

    def _repair_files(self, rec: RunRecord) -> RunResult | None:
        """Rewrite a finished run's files when they are missing or older than its state.

        A kill while the files were written leaves them so (the status changes only after
        them, but an older run or a lost disk can still leave them behind). Returns None
        when ``result.json`` names the run's last checkpoint and status: nothing to do.
        """
        tup = self.store.checkpointer().get_tuple(self._config(rec.run_id))
        current = tup.config["configurable"].get("checkpoint_id") if tup else None
        try:
            shown = json.loads((Path(rec.out_dir) / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            shown = {}
        files = [Path(rec.out_dir) / f for f in ("summary.md", "report.html", "result.json")]
        if (
            isinstance(shown, dict)
            and shown.get("checkpoint") == current
            and shown.get("status") == rec.status
            and all(f.exists() for f in files)
        ):
            return None
        svc, plans, goal = self._rebuild(rec)
        with self._locked(rec.run_id, Path(rec.out_dir)):
            snap = self._graph(plans, goal, svc).get_state(self._config(rec.run_id))
            values: RunState = dict(snap.values)  # type: ignore[assignment]
            self._flush(svc, values, self._audited(rec.run_id))
            waiting = [dict(i.value) for i in snap.interrupts if isinstance(i.value, dict)]
            error = rec.info.get("error")
            self._write_outputs(
                svc,
                values,
                status=rec.status,
                waiting=waiting,
                error=error,
                checkpoint=_checkpoint_id(snap),
            )
            svc.audit(kind="run", detail={"event": "files-rewritten", "status": rec.status})
        errors = dict(values.get("errors", {}))
        if error:
            errors["_run"] = error
        return RunResult(
            run_id=rec.run_id,
            status=rec.status,
            out_dir=svc.out_dir,
            waiting=waiting,
            errors=errors,
            state=dict(values),
        )

    def _retry(self, rec: RunRecord) -> RunResult:
        svc, plans, goal = self._rebuild(rec)
        with self._locked(rec.run_id, Path(rec.out_dir)):
            graph = self._graph(plans, goal, svc)
            values = graph.get_state(self._config(rec.run_id)).values
            again = [s for s, v in values.get("status", {}).items() if v in ("failed", "skipped")]
            if not again:  # failed before any step ran (a limit, the model): continue
                return self._drive(svc, plans, goal, None, graph=graph)
            first = [s for s in again if not set(plans[s].needs) & set(again)]
            changed = self._replan(svc, plans, goal, again)
            svc.audit(kind="run", detail={"event": "retried", "steps": again, "replanned": changed})
            # The steps go back to pending and lose their errors (None deletes a key),
            # take their new specs, then the first of them are triggered; the rest follow
            # through the graph.
            update: dict[str, Any] = {
                "status": dict.fromkeys(again, "pending"),
                "errors": dict.fromkeys(again),
            }
            if changed:
                recorded = dict(values.get("plans") or {})
                update["plans"] = recorded | {s: plan_record(plans[s]) for s in changed}
                graph = self._graph(plans, goal, svc)
            return self._drive(svc, plans, goal, Command(update=update, goto=first), graph=graph)

    def _replan(
        self,
        svc: Services,
        plans: dict[str, StepPlan],
        goal: BusinessGoal,
        steps: list[str],
    ) -> list[str]:
        """Plan ``steps`` again from the pipeline file as it is now; return those changed.

        ``plans`` is updated in place and each changed spec is audited (a ``plan`` event
        naming the spec it replaces). The steps that finished keep their recorded specs:
        their outputs were made from them.
        """
        fresh = plan_pipeline(svc.pipeline, goal, brand=svc.brand, today=svc.today)
        changed = {
            s: fresh[s] for s in steps if s in fresh and fresh[s].spec_hash != plans[s].spec_hash
        }
        if changed and self.llm is not None:
            # The recorded specs had their open fields filled by the model; so do these.
            from conductor.llm import metered
            from conductor.pipeline import assist_plans

            ledger = self._ledger(svc.pipeline, svc.run_id)
            ledger.subscribe(lambda rec: svc.audit(kind="llm", detail=rec))
            model = metered(self.llm, ledger, svc.pipeline.limits, purpose="planning")
            assisted, notes = assist_plans(changed, goal, model)
            for note in notes:
                log.warning("model-assisted spec value not used", note=note)
            changed = {s: pl for s, pl in assisted.items() if pl.spec_hash != plans[s].spec_hash}
        for sid, pl in changed.items():
            svc.audit(
                kind="plan",
                step=sid,
                spec_hash=pl.spec_hash,
                detail={
                    "agent": pl.agent,
                    "spec": pl.spec.model_dump(mode="json"),
                    "replaces": plans[sid].spec_hash,
                },
            )
            plans[sid] = pl
        return sorted(changed, key=steps.index)

    def decide(
        self,
        run_id: str,
        step: str,
        *,
        who: str,
        decision: str,
        comment: str = "",
        output: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Approve, reject or edit a step waiting for sign-off, then continue the run.

        The decision is audited with the checkpoint that applies it (the gate node puts
        it in the state's outbox), never before: a kill in between leaves the run waiting
        and the log without a sign-off that did not happen.
        """
        # A comment is free text kept in the checkpoint, the files and the audit: no
        # email, phone or card number in it (as in the run log).
        comment = redact_text(comment)
        rec = self.store.get_run(run_id)
        _refuse_cancelled(rec, step, who)
        svc, plans, goal = self._rebuild(rec)
        with self._locked(run_id, Path(rec.out_dir)):
            graph = self._graph(plans, goal, svc)
            snap = graph.get_state(self._config(run_id))
            interrupt_id, role = self._decider(svc, snap, step, who=who, decision=decision)
            payload: dict[str, Any] = {
                "decision": decision,
                "by": who,
                "role": role,
                "comment": comment,
                "at": dt.datetime.now(dt.UTC).isoformat(),
            }
            if decision == "edit":
                if output is None:
                    raise ApprovalError(
                        "an edit needs the amended output", code="approval.bad-edit"
                    )
                payload["output"] = dict(output)
                # An edit by someone who may sign off is their sign-off of the amended
                # output: the record names the artifacts they changed.
                payload["edited"] = _changed_artifacts(
                    plans[step].agent, snap.values.get("outputs", {}).get(step), output
                )
            return self._drive(
                svc, plans, goal, Command(resume={interrupt_id: payload}), graph=graph
            )

    def cancel(self, run_id: str, *, who: str, reason: str = "") -> RunResult:
        """Stop a run that is not executing for good: it ends ``cancelled``, not resumable.

        For a run waiting for sign-off, stopped or interrupted. A run another process is
        executing raises :class:`RunLocked`; the process executing it stops it at its next
        checkpoint through ``stop_requested`` instead (the service's cancel does).

        Raises:
            RunError: ``run.finished`` when the run already ended; ``run.locked`` (above).
        """
        rec = self.store.get_run(run_id)
        if rec.status in TERMINAL or rec.status == "failed-planning":
            raise RunError(
                f"the run has already finished ({rec.status})",
                run=run_id,
                code="run.finished",
                hint="only a running, waiting or stopped run can be cancelled",
            )
        svc, plans, goal = self._rebuild(rec)
        with self._locked(run_id, Path(rec.out_dir)):
            snap = self._graph(plans, goal, svc).get_state(self._config(run_id))
            values: RunState = dict(snap.values)  # type: ignore[assignment]
            self._flush(svc, values, self._audited(run_id))
            svc.audit(
                kind="run", actor=who, detail={"event": "cancelled", "reason": redact_text(reason)}
            )
            self._write_outputs(
                svc, values, status="cancelled", waiting=[], checkpoint=_checkpoint_id(snap)
            )
            self.store.update_run(
                run_id, status="cancelled", waiting_on=[], info=rec.info | {"cancelled_by": who}
            )
        return RunResult(run_id=run_id, status="cancelled", out_dir=svc.out_dir, state=dict(values))

    def check_decider(self, run_id: str, step: str, *, who: str, decision: str) -> None:
        """Raise the error :meth:`decide` would for ``who`` deciding on ``step`` now.

        Who may decide is checked before what they decided (an edit's text is checked by
        the brand rules only for someone who may sign off). A refusal is audited.

        Raises:
            ApprovalError: ``approval.not-waiting`` or ``approval.not-allowed``.
        """
        rec = self.store.get_run(run_id)
        _refuse_cancelled(rec, step, who)
        svc, plans, goal = self._rebuild(rec)
        snap = self._graph(plans, goal, svc).get_state(self._config(run_id))
        self._decider(svc, snap, step, who=who, decision=decision)

    def _decider(
        self, svc: Services, snap: Any, step: str, *, who: str, decision: str
    ) -> tuple[str, str]:
        """The interrupt ``step`` waits on and the role ``who`` signs it off under."""
        pending = {i.value.get("step"): i for i in snap.interrupts if isinstance(i.value, dict)}
        if step not in pending:
            waiting = ", ".join(str(k) for k in pending) or "nothing"
            raise ApprovalError(
                f"step {step!r} is not waiting for sign-off (waiting: {waiting})",
                run=svc.run_id,
                step=step,
                who=who,
                code="approval.not-waiting",
                hint="`conductor status RUN` shows what is waiting",
            )
        request = pending[step].value
        role = self._role_of(svc.pipeline, request["roles"], who)
        if role is None:
            allowed = sorted(
                {n for r in request["roles"] for n in svc.pipeline.approvers.get(r, [])}
            )
            needed = ", ".join(request["roles"]) or "none (the pipeline has no approvers)"
            # A refusal changes no state: it is audited at once.
            svc.audit(
                kind="approval",
                step=step,
                actor=who,
                spec_hash=request.get("spec_hash"),
                detail={
                    "decision": decision,
                    "refused": True,
                    "reason": f"{who} holds none of the roles {needed}",
                },
            )
            raise ApprovalError(
                f"{who!r} may not sign off step {step!r}: it needs one of the roles {needed}",
                run=svc.run_id,
                step=step,
                who=who,
                code="approval.not-allowed",
                hint=f"people who may: {', '.join(allowed) or 'nobody (fix `approvers`)'}",
            )
        return str(pending[step].id), role

    def pending(self, run_id: str) -> list[dict[str, Any]]:
        """The sign-off requests a run is waiting on."""
        rec = self.store.get_run(run_id)
        if rec.status != "waiting":
            return []
        svc, plans, goal = self._rebuild(rec)
        graph = self._graph(plans, goal, svc)
        snap = graph.get_state(self._config(run_id))
        return [dict(i.value) for i in snap.interrupts if isinstance(i.value, dict)]

    def state(self, run_id: str) -> dict[str, Any]:
        """The run's checkpointed state (JSON)."""
        rec = self.store.get_run(run_id)
        svc, plans, goal = self._rebuild(rec)
        graph = self._graph(plans, goal, svc)
        return dict(graph.get_state(self._config(run_id)).values)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _opening(
        svc: Services, plans: Mapping[str, StepPlan], goal: BusinessGoal
    ) -> list[dict[str, Any]]:
        """The run's first audit events: started, the goal, each step's spec, the data.

        They ride in the input checkpoint's outbox (see ``audit_entry``): a kill before
        it is saved leaves no half-recorded run, and ``resume`` records them then.
        """
        p = svc.pipeline
        return [
            audit_entry("run", None, detail={"event": "started", "pipeline_file": str(p.source)}),
            audit_entry("goal", None, detail=goal.model_dump(mode="json")),
            *(
                audit_entry(
                    "plan",
                    sid,
                    spec_hash=pl.spec_hash,
                    detail={"agent": pl.agent, "spec": pl.spec.model_dump(mode="json")},
                )
                for sid, pl in plans.items()
            ),
            # What each source read: its file, or the query itself (not the pipeline file).
            audit_entry(
                "data",
                None,
                detail={
                    n: str(p.resolve(s.path)) if s.path is not None else f"query: {s.query}"
                    for n, s in p.data.items()
                },
            ),
        ]

    def _audited(self, run_id: str) -> set[tuple[str, str | None, dt.datetime]]:
        """What identifies each audit event of the run already in the log (see _flush)."""
        return {(ev.kind, ev.step, ev.ts) for ev in self.store.audit_events(run_id=run_id)}

    def _flush(
        self,
        svc: Services,
        values: Mapping[str, Any],
        seen: set[tuple[str, str | None, dt.datetime]],
    ) -> None:
        """Copy the audit events of a saved checkpoint's ``outbox`` to the log, once each.

        Called only with the values of a checkpoint already saved, so the log never
        describes a change the checkpoint does not hold (a kill between the two leaves
        the event in the outbox, and the next ``_drive`` copies it).
        """
        for entry in values.get("outbox") or []:
            ts = dt.datetime.fromisoformat(entry["ts"])
            key = (entry["kind"], entry.get("step"), ts)
            if key in seen:
                continue
            self.store.append_audit(
                AuditEvent(
                    run_id=svc.run_id,
                    pipeline=svc.pipeline.name,
                    ts=ts,
                    kind=entry["kind"],
                    step=entry.get("step"),
                    actor=entry.get("actor") or "conductor",
                    role=entry.get("role"),
                    spec_hash=entry.get("spec_hash"),
                    detail=entry.get("detail") or {},
                )
            )
            seen.add(key)

    @staticmethod
    def _role_of(pipeline: Pipeline, roles: list[str], who: str) -> str | None:
        for role in roles:
            if who in pipeline.approvers.get(role, []):
                return role
        return None

    def _default_out(self, run_id: str) -> Path:
        from conductor.store import conductor_home

        return conductor_home() / "runs" / run_id

    @contextmanager
    def _locked(self, run_id: str, out: Path) -> Iterator[None]:
        with self.store.lock(run_id):
            run_log_file(out / "run.log.jsonl")
            try:
                yield
            finally:
                run_log_file(None)

    def _rebuild(self, rec: RunRecord) -> tuple[Services, dict[str, StepPlan], BusinessGoal]:
        pipeline = check_pipeline(rec.pipeline_file)
        day = dt.date.fromisoformat(rec.info.get("today") or dt.date.today().isoformat())
        brand = load_brand_for(pipeline)
        out = Path(rec.out_dir)
        svc = self._services(pipeline, rec.run_id, out, day, brand)
        # Prefer the specs recorded at plan time: a resumed run does the work it promised.
        saver = self.store.checkpointer()
        tup = saver.get_tuple(self._config(rec.run_id))
        values = tup.checkpoint["channel_values"] if tup else {}
        goal_json = values.get("goal")
        goal = BusinessGoal.model_validate(goal_json) if goal_json else resolve_goal(pipeline, day)
        fresh = plan_pipeline(pipeline, goal, brand=brand, today=day)
        recorded = values.get("plans") or {}
        plans: dict[str, StepPlan] = {}
        for sid, pl in fresh.items():
            if sid in recorded:
                spec_type = get_agent(recorded[sid]["agent"]).spec_type
                pl = pl.model_copy(
                    update={
                        "spec": spec_type.model_validate(recorded[sid]["spec"]),
                        "spec_hash": recorded[sid]["spec_hash"],
                    }
                )
            plans[sid] = pl
        return svc, plans, goal

    def _drive(
        self,
        svc: Services,
        plans: Mapping[str, StepPlan],
        goal: BusinessGoal,
        start: Any,
        graph: Any = None,
    ) -> RunResult:
        graph = graph or self._graph(plans, goal, svc)
        config = self._config(svc.run_id)
        # Events of a checkpoint saved just before a kill reach the log now, once.
        seen = self._audited(svc.run_id)
        self._flush(svc, graph.get_state(config).values, seen)
        self.store.update_run(svc.run_id, status="running", waiting_on=[])
        error: dict[str, Any] | None = None
        cancelled = False
        try:
            # "checkpoints" events arrive once each checkpoint is saved (durability
            # "sync"): the nodes' audit events are copied to the log then, not before.
            for saved in graph.stream(start, config, durability="sync", stream_mode="checkpoints"):
                self._flush(svc, saved["values"], seen)
                if self.stop_requested(svc.run_id):
                    cancelled = True  # at a saved checkpoint: nothing half-done
                    break
        except BudgetExceeded as exc:
            error = exc.to_dict()
            status_override = "stopped"
        except ConductorError as exc:
            error = exc.to_dict()
            status_override = "stopped"
            log.error("run stopped", error=str(exc))
        except Exception as exc:
            resource = resource_error(exc)  # a full disk or a lost database: no crash
            error = (
                resource.to_dict()
                if resource is not None
                else {
                    "code": "run.crashed",
                    "message": f"{type(exc).__name__}: {exc}",
                    "hint": f"details in {svc.out_dir / 'run.log.jsonl'}; fix and "
                    "`conductor resume`",
                }
            )
            log.error("run crashed", error=error["message"], traceback=traceback.format_exc())
            status_override = "stopped"
        else:
            status_override = ""
        snap = graph.get_state(config)
        values: RunState = dict(snap.values)  # type: ignore[assignment]
        self._flush(svc, values, seen)
        waiting = [dict(i.value) for i in snap.interrupts if isinstance(i.value, dict)]
        statuses = values.get("status", {})
        if status_override:
            status = status_override
        elif cancelled:
            status = "cancelled"
            waiting = []
        elif waiting:
            status = "waiting"
        elif statuses and all(v in STEP_TERMINAL for v in statuses.values()):
            sts = set(statuses.values())
            status = next((s for s in ("blocked", "rejected", "failed") if s in sts), "done")
            if "skipped" in sts and status == "done":
                status = "failed"
        else:
            status = "stopped"
        errors = dict(values.get("errors", {}))
        if error:
            errors["_run"] = error
        logged = [
            ev.detail for ev in self.store.audit_events(run_id=svc.run_id) if ev.kind == "llm"
        ]
        usage = llm_usage(logged or values.get("llm_calls", []))
        usage.pop("detail")
        info: dict[str, Any] = {"today": svc.today.isoformat(), "llm": usage}
        before = self.store.get_run(svc.run_id).info
        for key in ("plan", "owner"):  # a saved plan's file, the service that owns it
            if before.get(key):
                info[key] = before[key]
        if error:
            info["error"] = error
        # The order makes a kill anywhere here harmless: files first (result.json last), the
        # audit event, and the status last -- until it changes the run reads `running`,
        # so `resume` finishes the job (nothing runs again; the files are rewritten).
        self._write_outputs(
            svc,
            values,
            status=status,
            waiting=waiting,
            error=error,
            checkpoint=_checkpoint_id(snap),
        )
        svc.audit(kind="run", detail={"event": status, "waiting_on": [w["step"] for w in waiting]})
        self.store.update_run(
            svc.run_id, status=status, waiting_on=[w["step"] for w in waiting], info=info
        )
        return RunResult(
            run_id=svc.run_id,
            status=status,
            out_dir=svc.out_dir,
            waiting=waiting,
            errors=errors,
            state=dict(values),
        )

    def _write_outputs(
        self,
        svc: Services,
        state: RunState,
        *,
        status: str | None = None,
        waiting: list[dict[str, Any]] | None = None,
        error: dict[str, Any] | None = None,
        checkpoint: str | None = None,
    ) -> None:
        from conductor.report import write_run_files

        try:
            write_run_files(
                svc.out_dir,
                pipeline=svc.pipeline,
                state=dict(state),
                status=status or _status_of(state),
                waiting=waiting or [],
                error=error,
                audit=self.store.audit_events(run_id=svc.run_id),
                checkpoint=checkpoint,
            )
        except OSError as exc:
            log.error("could not write run files", error=str(exc))


def _refuse_cancelled(rec: RunRecord, step: str, who: str) -> None:
    """A cancelled run's checkpoint still holds its pause: no sign-off may reopen it."""
    if rec.status == "cancelled":
        raise ApprovalError(
            f"step {step!r} is not waiting for sign-off: the run was cancelled",
            run=rec.run_id,
            step=step,
            who=who,
            code="approval.not-waiting",
            hint="start a new run with `conductor run`",
        )


def _checkpoint_id(snap: Any) -> str | None:
    """The id of the checkpoint a state snapshot was read from (None before the first)."""
    found = (snap.config or {}).get("configurable", {}).get("checkpoint_id")
    return str(found) if found else None


def _changed_artifacts(agent: str, before: Any, after: Mapping[str, Any]) -> list[str]:
    """Ids of the artifacts an edit changed (added or amended), in the output's order."""
    out_type = get_agent(agent).output_type
    old = {a.id: a for a in out_type.model_validate(before).artifacts()} if before else {}
    return [a.id for a in out_type.model_validate(after).artifacts() if old.get(a.id) != a]


def _status_of(state: Mapping[str, Any]) -> str:
    sts = set(state.get("status", {}).values())
    return next((s for s in ("blocked", "rejected", "failed", "skipped") if s in sts), "done")
