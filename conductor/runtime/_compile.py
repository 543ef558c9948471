"""Pipeline -> LangGraph ``StateGraph``.

For every step ``s`` the graph has two nodes::

    START -> s ---(done/failed/blocked)---> steps that need s ... -> END
             ^  \
             |   +--(escalate / sign-off)--> s.gate --> steps that need s
             +------(revise)

``s`` runs the agent and then the brand review in one node; ``s.gate`` is a separate,
cheap node because LangGraph re-runs an interrupted node from its start on resume: the
agent must never be in that node. The goal and every step's spec are the graph's input,
so they are checkpointed before any step runs. State holds only JSON (specs, outputs,
verdicts), so any process can resume a run.
"""

from __future__ import annotations

import datetime as dt
import operator
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol, TypedDict

import structlog
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, RetryPolicy, interrupt

from conductor.agents import Agent, Inputs, RunContext, get_agent
from conductor.data import DataCatalog
from conductor.errors import BudgetExceeded, ConductorError, LLMError
from conductor.goals import BusinessGoal
from conductor.pipeline import Pipeline, StepPlan
from conductor.specs import AgentOutput
from conductor.verdict import Action, Verdict, Violation

__all__ = ["RunObserver", "RunState", "Services", "build_graph"]

log = structlog.get_logger("conductor.run")


def _merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Merge per-step entries; a ``None`` value removes the step's entry (a retry clears
    a failed step's error this way)."""
    out = dict(left or {})
    for key, value in (right or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


class RunState(TypedDict, total=False):
    """The checkpointed state of a run (JSON only)."""

    run_id: str
    goal: dict[str, Any]
    plans: dict[str, dict[str, Any]]
    outputs: Annotated[dict[str, dict[str, Any]], _merge]
    status: Annotated[dict[str, str], _merge]
    rounds: Annotated[dict[str, list[dict[str, Any]]], _merge]
    feedback: Annotated[dict[str, list[dict[str, Any]]], _merge]
    timings: Annotated[dict[str, float], _merge]
    errors: Annotated[dict[str, dict[str, Any]], _merge]
    approvals: Annotated[dict[str, dict[str, Any]], _merge]
    executions: Annotated[dict[str, int], _merge]
    llm_calls: Annotated[list[dict[str, Any]], operator.add]
    finished: bool


class RunObserver(Protocol):
    """Receives progress for display (the CLI renders it with rich)."""

    def event(self, kind: str, step: str | None, **detail: Any) -> None: ...


class _NullObserver:
    def event(self, kind: str, step: str | None, **detail: Any) -> None:
        return None


@dataclass
class Services:
    """Everything nodes need that is not state: injected, rebuilt in every process."""

    pipeline: Pipeline
    run_id: str
    out_dir: Path
    catalog: DataCatalog
    brand: Any = None
    llm: Any = None
    today: dt.date = field(default_factory=dt.date.today)
    seed: int = 0
    observer: RunObserver = field(default_factory=_NullObserver)
    audit: Callable[..., None] = lambda **_: None
    model_reviewer: Callable[[Any, list[Any], Any], Verdict] | None = None
    llm_meter: Callable[[Any, str, Callable[[dict[str, Any]], None]], Any] | None = None


def _is_transient(exc: BaseException) -> bool:
    # Model calls are retried with backoff inside `structured_call`; when that gives up the
    # run stops (resumable) rather than retrying the whole step and multiplying the waits.
    return isinstance(exc, ConnectionError | TimeoutError) and not isinstance(exc, LLMError)


def _as_llm_error(exc: BaseException) -> LLMError | None:
    """A provider error an agent let through (it called ``ctx.llm`` directly), as LLMError."""
    if isinstance(exc, LLMError):
        return exc
    if not type(exc).__module__.startswith(("openai", "httpx", "httpcore")):
        return None
    from conductor.llm import error_code

    return LLMError(
        f"the language model failed: {type(exc).__name__}: {exc}",
        code=error_code(exc),
        hint="check the model settings (OPENAI_BASE_URL, CONDUCTOR_MODEL), then `conductor resume`",
    )


def _verdict_of(brand: Any, output: AgentOutput, step: str) -> Verdict:
    arts = list(output.artifacts())
    if brand is None:
        return Verdict(checked=len(arts))
    verdict = brand.review(arts, step=step)
    if not isinstance(verdict, Verdict):
        verdict = Verdict.model_validate(verdict)
    return verdict


TERMINAL = frozenset({"done", "failed", "blocked", "rejected", "skipped"})


def initial_state(run_id: str, plans: Mapping[str, StepPlan], goal: BusinessGoal) -> dict[str, Any]:
    """The run's input: goal and every step's spec, checkpointed before any step runs."""
    return {
        "run_id": run_id,
        "goal": goal.model_dump(mode="json"),
        "plans": {
            sid: {
                "agent": pl.agent,
                "spec": pl.spec.model_dump(mode="json"),
                "spec_hash": pl.spec_hash,
                "provenance": pl.provenance,
                "slots": pl.slots,
                "needs": pl.needs,
                "approve": pl.approve,
            }
            for sid, pl in plans.items()
        },
        "status": dict.fromkeys(plans, "pending"),
    }


def build_graph(plans: Mapping[str, StepPlan], goal: BusinessGoal, svc: Services) -> StateGraph:  # type: ignore[type-arg]
    """The run as an uncompiled ``StateGraph`` (compile it with a checkpointer).

    One node per step (agent run + brand review) and one approval-gate node per step.
    A step is triggered whenever one of its ``needs`` finishes and starts work only
    once all of them have, so joins need no barrier nodes and a plain chain costs the
    same number of supersteps as a hand-written LangGraph graph.
    """
    g: StateGraph = StateGraph(RunState)  # type: ignore[type-arg]
    agents: dict[str, Agent[Any, Any]] = {sid: get_agent(pl.agent)() for sid, pl in plans.items()}
    downstream: dict[str, list[str]] = {sid: [] for sid in plans}
    for sid, pl in plans.items():
        for up in pl.needs:
            downstream[up].append(sid)
    for sid, pl in plans.items():
        _add_step(g, sid, pl, agents[sid], goal, svc, downstream[sid])
        if not pl.needs:
            g.add_edge(START, sid)
    return g


def _add_step(
    g: StateGraph,  # type: ignore[type-arg]
    sid: str,
    pl: StepPlan,
    agent: Agent[Any, Any],
    goal: BusinessGoal,
    svc: Services,
    after: list[str],
) -> None:
    p = svc.pipeline
    spec_type = type(agent).spec_type
    out_type = type(agent).output_type
    review_cfg = p.review

    def upstream(state: RunState) -> dict[str, AgentOutput]:
        ups: dict[str, AgentOutput] = {}
        for slot, up in pl.slots.items():
            up_cls = get_agent(state["plans"][up]["agent"])
            ups[slot] = up_cls.output_type.model_validate(state["outputs"][up])
        return ups

    # Fixed for the node's life: built once, not on every execution (the per-step
    # overhead against a bare LangGraph node is measured in benchmarks/overhead.py).
    step_dir = svc.out_dir / "steps" / sid
    step_log = log.bind(run_id=svc.run_id, step=sid, agent=pl.agent)
    made: list[bool] = []

    def make_ctx(
        state: RunState, feedback: list[Violation], usage: list[dict[str, Any]]
    ) -> RunContext:
        if not made:
            step_dir.mkdir(parents=True, exist_ok=True)
            made.append(True)
        llm = svc.llm
        if llm is not None and svc.llm_meter is not None:
            # Every request the agent makes is limit-checked, priced and collected here,
            # so the node can put this step's bill into the checkpoint with its output.
            llm = svc.llm_meter(llm, sid, usage.append)
        return RunContext(
            run_id=svc.run_id,
            step=sid,
            agent=pl.agent,
            goal=goal,
            out_dir=step_dir,
            brand=svc.brand,
            llm=llm,
            feedback=feedback,
            round=len(state.get("rounds", {}).get(sid, [])),
            today=svc.today,
            seed=svc.seed,
            log=step_log,
            on_progress=lambda d, c, t: svc.observer.event(
                "progress", sid, desc=d, done=c, total=t
            ),
        )

    def run_node(state: RunState) -> dict[str, Any]:
        status = state.get("status", {})
        if status.get(sid) not in ("pending", "revising"):
            return {}  # already finished: a late trigger from another upstream step
        if any(status.get(u) not in TERMINAL for u in pl.needs):
            return {}  # not all upstream steps are finished yet; a later one triggers us
        blocked_by = [u for u in pl.needs if status.get(u) != "done"]
        if blocked_by:
            svc.observer.event("skipped", sid, because=blocked_by)
            return {"status": {sid: "skipped"}}
        feedback_json = state.get("feedback", {}).get(sid) or []
        feedback = [Violation.model_validate(v) for v in feedback_json]
        spec = spec_type.model_validate(state["plans"][sid]["spec"])
        inputs = Inputs(upstream=upstream(state), catalog=svc.catalog)
        usage: list[dict[str, Any]] = []
        ctx = make_ctx(state, feedback, usage)
        revising = bool(feedback) and sid in state.get("outputs", {})
        svc.observer.event("start", sid, agent=pl.agent, revising=revising, round=ctx.round)
        t0 = time.perf_counter()
        structlog.contextvars.bind_contextvars(run_id=svc.run_id, step=sid, agent=pl.agent)
        try:
            if revising:
                prev = out_type.model_validate(state["outputs"][sid])
                output = agent.revise(spec, prev, inputs, ctx)
            else:
                output = agent.run(spec, inputs, ctx)
            if not isinstance(output, out_type):
                raise TypeError(
                    f"run() returned {type(output).__name__}, expected {out_type.__name__}"
                )
            out_json = output.model_dump(mode="json")
        except BudgetExceeded:
            raise
        except Exception as exc:
            if _is_transient(exc):
                raise
            llm_error = _as_llm_error(exc)
            if llm_error is not None:
                # Not the agent's fault: stop the run so it can be resumed once the model
                # is reachable again (a failed step would end the run for good).
                raise llm_error from exc
            seconds = time.perf_counter() - t0
            if isinstance(exc, ConductorError):
                err = exc.to_dict()
                log.error("step failed", error=str(exc))
            else:
                err = {
                    "code": "agent.crashed",
                    "message": f"{type(exc).__name__}: {exc}",
                    "hint": "this is a bug in the agent; the traceback is in the run log",
                }
                log.error("agent crashed", error=err["message"], traceback=traceback.format_exc())
            svc.observer.event("failed", sid, error=err, seconds=seconds)
            svc.audit(
                kind="step",
                step=sid,
                spec_hash=pl.spec_hash,
                detail={"status": "failed", "error": err},
            )
            return {
                "status": {sid: "failed"},
                "errors": {sid: err},
                "timings": {sid: seconds},
                "executions": {sid: state.get("executions", {}).get(sid, 0) + 1},
                **({"llm_calls": usage} if usage else {}),
            }
        finally:
            structlog.contextvars.unbind_contextvars("run_id", "step", "agent")
        seconds = time.perf_counter() - t0
        svc.observer.event("ran", sid, seconds=seconds, summary=output.summary())
        svc.audit(
            kind="step",
            step=sid,
            spec_hash=pl.spec_hash,
            detail={
                "status": "ran",
                "agent": pl.agent,
                "agent_version": type(agent).version,
                "round": ctx.round,
                "seconds": round(seconds, 3),
                "summary": output.summary(),
            },
        )
        update: dict[str, Any] = {
            "outputs": {sid: out_json},
            "timings": {sid: state.get("timings", {}).get(sid, 0.0) + seconds},
            "executions": {sid: state.get("executions", {}).get(sid, 0) + 1},
        }
        # Only channels that change are written: each write costs the checkpoint a copy.
        if feedback_json:
            update["feedback"] = {sid: []}
        if usage:
            update["llm_calls"] = usage
        update.update(review(state, output, ctx.llm))
        return update

    def review(state: RunState, output: AgentOutput, llm: Any) -> dict[str, Any]:
        verdict = _verdict_of(svc.brand, output, sid)
        if svc.model_reviewer is not None and svc.brand is not None and llm is not None:
            verdict = Verdict.merge(
                [verdict, svc.model_reviewer(svc.brand, list(output.artifacts()), llm)]
            )
        rounds = list(state.get("rounds", {}).get(sid, []))
        action = verdict.action
        revisions_done = sum(1 for r in rounds if r["action"] == Action.REVISE.value)
        decision = action.value
        if action == Action.REVISE and revisions_done >= review_cfg.max_rounds:
            decision = review_cfg.on_exhausted
        rounds.append(
            {
                "round": len(rounds),
                "action": action.value,
                "decision": decision,
                "verdict": verdict.model_dump(mode="json"),
            }
        )
        svc.observer.event("review", sid, round=len(rounds) - 1, decision=decision, verdict=verdict)
        svc.audit(
            kind="verdict",
            step=sid,
            spec_hash=pl.spec_hash,
            detail={
                "round": len(rounds) - 1,
                "decision": decision,
                "violations": [
                    {"rule": v.rule, "severity": v.severity.value, "excerpt": v.excerpt}
                    for v in verdict.violations
                ],
                "signoff": verdict.signoff,
            },
        )
        update: dict[str, Any] = {"rounds": {sid: rounds}}
        if decision == Action.REVISE.value:
            update["feedback"] = {
                sid: [
                    v.model_dump(mode="json") for v in verdict.violations if v.action != Action.WARN
                ]
            }
            update["status"] = {sid: "revising"}
        elif decision == Action.BLOCK.value:
            update["status"] = {sid: "blocked"}
            update["errors"] = {
                sid: {
                    "code": "brand.blocked",
                    "message": "; ".join(
                        v.message for v in verdict.violations if v.action == Action.BLOCK
                    )
                    or "violations remain after the allowed revision rounds",
                }
            }
        elif decision == Action.ESCALATE.value or pl.approve:
            update["status"] = {sid: "waiting"}
        else:
            update["status"] = {sid: "done"}
        return update

    def route(state: RunState, update: Mapping[str, Any]) -> list[str]:
        st = update.get("status", {}).get(sid, state["status"].get(sid))
        if st == "revising":
            return [sid]
        if st == "waiting":
            return [f"{sid}.gate"]
        if st in TERMINAL:
            svc.observer.event("done", sid, status=st)
            return list(after) or [END]
        return []  # waiting for another upstream step

    # Nodes say where the run goes next (a Command) instead of conditional edges: a branch
    # would re-read the whole run state after every step just to look at one status.
    def step_node(state: RunState) -> Command[str]:
        update = run_node(state)
        return Command(update=update, goto=route(state, update))

    def gate_step(state: RunState) -> Command[str]:
        update = gate_node(state)
        return Command(update=update, goto=route(state, update))

    def gate_node(state: RunState) -> dict[str, Any]:
        rounds = state.get("rounds", {}).get(sid, [])
        last = rounds[-1]["verdict"] if rounds else {}
        roles = list(pl.approve)
        if rounds and rounds[-1]["decision"] == Action.ESCALATE.value:
            # Brand escalations go to the roles the brand names, where the pipeline staffs them.
            policy = getattr(svc.brand, "review_policy", None)
            brand_roles = list(getattr(policy, "approvers", []) or [])
            roles += [r for r in brand_roles if r in p.approvers and r not in roles]
        roles = roles or list(p.approvers)
        request = {
            "step": sid,
            "agent": pl.agent,
            "roles": roles,
            "reasons": (
                [f"step requires sign-off by {', '.join(pl.approve)}"] if pl.approve else []
            )
            + list(last.get("signoff", []))
            + [
                f"{v['rule']}: {v['message']}"
                for v in last.get("violations", [])
                if v["action"] in ("escalate", "revise", "block")
            ],
            "violations": last.get("violations", []),
            "spec_hash": pl.spec_hash,
        }
        decision = interrupt(request)
        kind = decision.get("decision")
        update: dict[str, Any] = {"approvals": {sid: decision}}
        if kind == "approve":
            update["status"] = {sid: "done"}
        elif kind == "edit":
            update["outputs"] = {sid: decision["output"]}
            update["status"] = {sid: "done"}
        else:
            update["status"] = {sid: "rejected"}
            update["errors"] = {
                sid: {
                    "code": "approval.rejected",
                    "message": f"rejected by {decision.get('by')}"
                    + (f": {decision['comment']}" if decision.get("comment") else ""),
                }
            }
        svc.observer.event("decided", sid, decision=decision)
        return update

    retry = RetryPolicy(max_attempts=3, initial_interval=0.5, retry_on=_is_transient)
    targets = (sid, f"{sid}.gate", *after, END)
    g.add_node(sid, step_node, retry_policy=retry, destinations=targets)
    g.add_node(f"{sid}.gate", gate_step, destinations=targets)
