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

import copy
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
from conductor.data import DataCatalog, resource_error
from conductor.errors import BudgetExceeded, ConductorError, LLMError
from conductor.goals import BusinessGoal
from conductor.pipeline import Pipeline, StepPlan
from conductor.specs import AgentOutput
from conductor.verdict import Action, Verdict, Violation

__all__ = ["PLAN_NODE", "RunObserver", "RunState", "Services", "build_graph"]

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
    outbox: Annotated[list[dict[str, Any]], operator.add]
    finished: bool


def audit_entry(kind: str, step: str | None, **fields: Any) -> dict[str, Any]:
    """An audit event a node's state change describes, for the state's ``outbox``.

    A node never writes its events to the audit log itself: a kill after that write and
    before the checkpoint would leave the log describing a change that never happened
    (an approval recorded but not applied, a step "ran" twice). The event rides in the
    node's update, so it is saved in the same checkpoint as the change; the runner copies
    it to the log once that checkpoint is saved (``Runner._flush``), exactly once: its
    time stamp, kind and step identify it.
    """
    ts = dt.datetime.now(dt.UTC).isoformat()
    return {"ts": ts, "kind": kind, "step": step, **fields}


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


def plan_record(pl: StepPlan) -> dict[str, Any]:
    """A step's plan as the run state records it (JSON)."""
    return {
        "agent": pl.agent,
        "spec": pl.spec.model_dump(mode="json"),
        "spec_hash": pl.spec_hash,
        "provenance": pl.provenance,
        "slots": pl.slots,
        "needs": pl.needs,
        "approve": pl.approve,
    }


def initial_state(run_id: str, plans: Mapping[str, StepPlan], goal: BusinessGoal) -> dict[str, Any]:
    """The run's input: goal and every step's spec, checkpointed before any step runs."""
    return {
        "run_id": run_id,
        "goal": goal.model_dump(mode="json"),
        "plans": {sid: plan_record(pl) for sid, pl in plans.items()},
        "status": dict.fromkeys(plans, "pending"),
    }


PLAN_NODE = "conductor.plan"
"""The node :func:`build_graph` puts first when it is given the planned input (step ids
hold no dot, so no step or gate node can be called so)."""


def build_graph(
    plans: Mapping[str, StepPlan],
    goal: BusinessGoal,
    svc: Services,
    *,
    planned_input: Mapping[str, Any] | None = None,
) -> StateGraph:  # type: ignore[type-arg]
    """The run as an uncompiled ``StateGraph`` (compile it with a checkpointer).

    One node per step (agent run + brand review) and one approval-gate node per step.
    A step is triggered whenever one of its ``needs`` finishes and starts work only
    once all of them have, so joins need no barrier nodes and a plain chain costs the
    same number of supersteps as a hand-written LangGraph graph.

    Args:
        plans: The planned steps.
        goal: The run's goal.
        svc: What the nodes need that is not state.
        planned_input: The run's input (:func:`initial_state`) for a host that starts
            runs with an empty state, as LangGraph Studio does: a first node,
            :data:`PLAN_NODE`, writes it when the state holds no plans and passes a run
            given its input through. The runner always gives the input: None, no node.
    """
    g: StateGraph = StateGraph(RunState)  # type: ignore[type-arg]
    entry = START
    if planned_input is not None:
        g.add_node(PLAN_NODE, _PlannedInput(planned_input))
        g.add_edge(START, PLAN_NODE)
        entry = PLAN_NODE
    agents: dict[str, Agent[Any, Any]] = {sid: get_agent(pl.agent)() for sid, pl in plans.items()}
    downstream: dict[str, list[str]] = {sid: [] for sid in plans}
    for sid, pl in plans.items():
        for up in pl.needs:
            downstream[up].append(sid)
    for sid, pl in plans.items():
        _Step(sid, pl, agents[sid], goal, svc, downstream[sid]).add_to(g)
        if not pl.needs:
            g.add_edge(entry, sid)
    return g


class _PlannedInput:
    """The :data:`PLAN_NODE`: the planned input, written only into an empty start."""

    def __init__(self, planned: Mapping[str, Any]) -> None:
        self.planned = dict(planned)

    def __call__(self, state: RunState) -> dict[str, Any]:
        # A run given its input (the runner's, a Studio user's) keeps it: only an empty
        # start is filled, so the node never replaces a spec someone chose.
        return {} if state.get("plans") else copy.deepcopy(self.planned)


class _Step:
    """One step compiled into its two nodes, ``sid`` (agent, then brand review) and
    ``sid.gate`` (sign-off); the methods follow the step's life in that order."""

    def __init__(
        self,
        sid: str,
        pl: StepPlan,
        agent: Agent[Any, Any],
        goal: BusinessGoal,
        svc: Services,
        after: list[str],
    ) -> None:
        self.sid = sid
        self.pl = pl
        self.agent = agent
        self.goal = goal
        self.svc = svc
        self.after = after
        self.spec_type = type(agent).spec_type
        self.out_type = type(agent).output_type
        self.review_cfg = svc.pipeline.review
        # Fixed for the node's life: built once, not on every execution (the per-step
        # overhead against a bare LangGraph node is measured in benchmarks/overhead.py).
        self.step_dir = svc.out_dir / "steps" / sid
        self.step_log = log.bind(run_id=svc.run_id, step=sid, agent=pl.agent)
        self.dir_made = False

    def add_to(self, g: StateGraph) -> None:  # type: ignore[type-arg]
        retry = RetryPolicy(max_attempts=3, initial_interval=0.5, retry_on=_is_transient)
        targets = (self.sid, f"{self.sid}.gate", *self.after, END)
        g.add_node(self.sid, self.step_node, retry_policy=retry, destinations=targets)
        g.add_node(f"{self.sid}.gate", self.gate_step, destinations=targets)

    # Nodes say where the run goes next (a Command) instead of conditional edges: a branch
    # would re-read the whole run state after every step just to look at one status.
    def step_node(self, state: RunState) -> Command[str]:
        update = self.run_node(state)
        return Command(update=update, goto=self.route(state, update))

    def gate_step(self, state: RunState) -> Command[str]:
        update = self.gate_node(state)
        return Command(update=update, goto=self.route(state, update))

    def route(self, state: RunState, update: Mapping[str, Any]) -> list[str]:
        sid = self.sid
        st = update.get("status", {}).get(sid, state["status"].get(sid))
        if st == "revising":
            return [sid]
        if st == "waiting":
            return [f"{sid}.gate"]
        if st in TERMINAL:
            self.svc.observer.event("done", sid, status=st)
            return list(self.after) or [END]
        return []  # waiting for another upstream step

    # --- the step node: run (or revise) the agent, then review what it made ---

    def run_node(self, state: RunState) -> dict[str, Any]:
        """Run the agent (or its revision) once all ``needs`` are finished, then review."""
        sid, pl, svc = self.sid, self.pl, self.svc
        not_ready = self.not_ready(state)
        if not_ready is not None:
            return not_ready
        feedback_json = state.get("feedback", {}).get(sid) or []
        feedback = [Violation.model_validate(v) for v in feedback_json]
        spec = self.spec_type.model_validate(state["plans"][sid]["spec"])
        inputs = Inputs(upstream=self.upstream(state), catalog=svc.catalog)
        usage: list[dict[str, Any]] = []
        ctx = self.context(state, feedback, usage)
        revising = bool(feedback) and sid in state.get("outputs", {})
        svc.observer.event("start", sid, agent=pl.agent, revising=revising, round=ctx.round)
        t0 = time.perf_counter()
        structlog.contextvars.bind_contextvars(run_id=svc.run_id, step=sid, agent=pl.agent)
        try:
            output = self.execute(state, spec, inputs, ctx, revising)
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
            # Still inside the handler, so the failure is logged with the step bound.
            return self.failed(state, exc, time.perf_counter() - t0, usage)
        finally:
            structlog.contextvars.unbind_contextvars("run_id", "step", "agent")
        seconds = time.perf_counter() - t0
        update = self.ran(state, output, out_json, ctx.round, seconds)
        # Only channels that change are written: each write costs the checkpoint a copy.
        if feedback_json:
            update["feedback"] = {sid: []}
        if usage:
            update["llm_calls"] = usage
        review = self.review(state, output, ctx.llm)
        update["outbox"] = update["outbox"] + review.pop("outbox")
        update.update(review)
        return update

    def not_ready(self, state: RunState) -> dict[str, Any] | None:
        """The update when the step must not run now, or None when it should."""
        status = state.get("status", {})
        if status.get(self.sid) not in ("pending", "revising"):
            return {}  # already finished: a late trigger from another upstream step
        if any(status.get(u) not in TERMINAL for u in self.pl.needs):
            return {}  # not all upstream steps are finished yet; a later one triggers us
        blocked_by = [u for u in self.pl.needs if status.get(u) != "done"]
        if blocked_by:
            self.svc.observer.event("skipped", self.sid, because=blocked_by)
            return {"status": {self.sid: "skipped"}}
        return None

    def upstream(self, state: RunState) -> dict[str, AgentOutput]:
        ups: dict[str, AgentOutput] = {}
        for slot, up in self.pl.slots.items():
            up_cls = get_agent(state["plans"][up]["agent"])
            ups[slot] = up_cls.output_type.model_validate(state["outputs"][up])
        return ups

    def context(
        self, state: RunState, feedback: list[Violation], usage: list[dict[str, Any]]
    ) -> RunContext:
        """What the agent sees of the run; ``usage`` collects this execution's LLM calls."""
        sid, svc = self.sid, self.svc
        if not self.dir_made:
            self.step_dir.mkdir(parents=True, exist_ok=True)
            self.dir_made = True
        llm = svc.llm
        if llm is not None and svc.llm_meter is not None:
            # Every request the agent makes is limit-checked, priced and collected here,
            # so the node can put this step's bill into the checkpoint with its output.
            llm = svc.llm_meter(llm, sid, usage.append)
        return RunContext(
            run_id=svc.run_id,
            step=sid,
            agent=self.pl.agent,
            goal=self.goal,
            out_dir=self.step_dir,
            brand=svc.brand,
            llm=llm,
            feedback=feedback,
            round=len(state.get("rounds", {}).get(sid, [])),
            today=svc.today,
            seed=svc.seed,
            log=self.step_log,
            on_progress=lambda d, c, t: svc.observer.event(
                "progress", sid, desc=d, done=c, total=t
            ),
        )

    def execute(
        self, state: RunState, spec: Any, inputs: Inputs, ctx: RunContext, revising: bool
    ) -> AgentOutput:
        if revising:
            prev = self.out_type.model_validate(state["outputs"][self.sid])
            output = self.agent.revise(spec, prev, inputs, ctx)
        else:
            output = self.agent.run(spec, inputs, ctx)
        if not isinstance(output, self.out_type):
            raise TypeError(
                f"run() returned {type(output).__name__}, expected {self.out_type.__name__}"
            )
        return output

    def failed(
        self, state: RunState, exc: Exception, seconds: float, usage: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The agent's error as the step's failure: logged, audited, the run goes on."""
        sid = self.sid
        exc = resource_error(exc) or exc  # the machine's limits, not a bug in the agent
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
        self.svc.observer.event("failed", sid, error=err, seconds=seconds)
        event = audit_entry(
            "step", sid, spec_hash=self.pl.spec_hash, detail={"status": "failed", "error": err}
        )
        return {
            "outbox": [event],
            "status": {sid: "failed"},
            "errors": {sid: err},
            "timings": {sid: seconds},
            "executions": {sid: state.get("executions", {}).get(sid, 0) + 1},
            **({"llm_calls": usage} if usage else {}),
        }

    def ran(
        self,
        state: RunState,
        output: AgentOutput,
        out_json: dict[str, Any],
        round_: int,
        seconds: float,
    ) -> dict[str, Any]:
        """The agent's output recorded (event, audit, state); the review comes after."""
        sid = self.sid
        self.svc.observer.event("ran", sid, seconds=seconds, summary=output.summary())
        event = audit_entry(
            "step",
            sid,
            spec_hash=self.pl.spec_hash,
            detail={
                "status": "ran",
                "agent": self.pl.agent,
                "agent_version": type(self.agent).version,
                "round": round_,
                "seconds": round(seconds, 3),
                "summary": output.summary(),
            },
        )
        return {
            "outbox": [event],
            "outputs": {sid: out_json},
            "timings": {sid: state.get("timings", {}).get(sid, 0.0) + seconds},
            "executions": {sid: state.get("executions", {}).get(sid, 0) + 1},
        }

    def review(self, state: RunState, output: AgentOutput, llm: Any) -> dict[str, Any]:
        """Brand (and model) review of the output, recorded as this step's next round."""
        sid, svc = self.sid, self.svc
        verdict = _verdict_of(svc.brand, output, sid)
        if svc.model_reviewer is not None and svc.brand is not None and llm is not None:
            verdict = Verdict.merge(
                [verdict, svc.model_reviewer(svc.brand, list(output.artifacts()), llm)]
            )
        rounds = list(state.get("rounds", {}).get(sid, []))
        action = verdict.action
        revisions_done = sum(1 for r in rounds if r["action"] == Action.REVISE.value)
        decision = action.value
        if action == Action.REVISE and revisions_done >= self.review_cfg.max_rounds:
            decision = self.review_cfg.on_exhausted
        rounds.append(
            {
                "round": len(rounds),
                "action": action.value,
                "decision": decision,
                "verdict": verdict.model_dump(mode="json"),
            }
        )
        svc.observer.event("review", sid, round=len(rounds) - 1, decision=decision, verdict=verdict)
        event = audit_entry(
            "verdict",
            sid,
            spec_hash=self.pl.spec_hash,
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
        update: dict[str, Any] = {"rounds": {sid: rounds}, "outbox": [event]}
        update.update(self.review_outcome(decision, verdict))
        return update

    def review_outcome(self, decision: str, verdict: Verdict) -> dict[str, Any]:
        """What the review's decision does to the step: revise, block, wait or finish."""
        sid = self.sid
        if decision == Action.REVISE.value:
            return {
                "feedback": {
                    sid: [
                        v.model_dump(mode="json")
                        for v in verdict.violations
                        if v.action != Action.WARN
                    ]
                },
                "status": {sid: "revising"},
            }
        if decision == Action.BLOCK.value:
            return {
                "status": {sid: "blocked"},
                "errors": {
                    sid: {
                        "code": "brand.blocked",
                        "message": "; ".join(
                            v.message for v in verdict.violations if v.action == Action.BLOCK
                        )
                        or "violations remain after the allowed revision rounds",
                    }
                },
            }
        if decision == Action.ESCALATE.value or self.pl.approve:
            return {"status": {sid: "waiting"}}
        return {"status": {sid: "done"}}

    # --- the gate node: ask for sign-off, apply the answer ---

    def gate_node(self, state: RunState) -> dict[str, Any]:
        decision = interrupt(self.approval_request(state))
        update = self.approval_outcome(decision)
        # Audited with the checkpoint that applies it (see audit_entry): a kill inside
        # `conductor approve` before that leaves the run waiting and the log without it.
        update["outbox"] = [
            audit_entry(
                "approval",
                self.sid,
                actor=decision.get("by", "?"),
                role=decision.get("role"),
                spec_hash=self.pl.spec_hash,
                detail={k: v for k, v in decision.items() if k != "output"},
            )
        ]
        self.svc.observer.event("decided", self.sid, decision=decision)
        return update

    def approval_request(self, state: RunState) -> dict[str, Any]:
        """The interrupt's payload: who may sign off, and why they are asked."""
        sid, pl, p = self.sid, self.pl, self.svc.pipeline
        rounds = state.get("rounds", {}).get(sid, [])
        last = rounds[-1]["verdict"] if rounds else {}
        roles = list(pl.approve)
        if rounds and rounds[-1]["decision"] == Action.ESCALATE.value:
            # Brand escalations go to the roles the brand names, where the pipeline staffs them.
            policy = getattr(self.svc.brand, "review_policy", None)
            brand_roles = list(getattr(policy, "approvers", []) or [])
            roles += [r for r in brand_roles if r in p.approvers and r not in roles]
        roles = roles or list(p.approvers)
        return {
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

    def approval_outcome(self, decision: dict[str, Any]) -> dict[str, Any]:
        """What the approver's answer does to the step: done (as is or edited) or rejected."""
        sid = self.sid
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
        return update
