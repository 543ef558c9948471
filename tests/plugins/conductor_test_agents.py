"""Agents used by the end-to-end tests (loaded with CONDUCTOR_PLUGINS=conductor_test_agents).

They do tiny, observable work: count their executions in a file, sleep so a test can
kill the process mid-step, write copy that breaks (or can be fixed to meet) brand rules.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from conductor import (
    Agent,
    AgentOutput,
    Allocation,
    Copy,
    DataError,
    Inputs,
    Insight,
    PlanContext,
    RunContext,
    TaskSpec,
    apply_fixes,
    model_assisted,
    register,
)


def _count(step: str) -> None:
    folder = os.environ.get("CONDUCTOR_TEST_COUNTS")
    if folder:
        with (Path(folder) / f"{step}.count").open("a") as fh:
            fh.write("x\n")


def _hold(path: str) -> None:
    end = time.monotonic() + 120
    while path and not Path(path).exists() and time.monotonic() < end:
        time.sleep(0.05)


class NoteSpec(TaskSpec):
    """Spec of the test agents."""

    label: str = Field(default="note", description="A label copied into the output.")
    sleep: float = Field(default=0.0, ge=0, description="Seconds to sleep while running.")
    fail: bool = Field(default=False, description="Raise an exception (an agent bug).")
    require_file: str = Field(
        default="", description="A file that must exist (a DataError otherwise): bad input."
    )
    hold_until: str = Field(
        default="",
        description="Wait (up to 120 s) until this file exists: a run a test holds open.",
    )


class Note(AgentOutput):
    """Output of the note agent."""

    label: str = Field(description="The label.")
    upstream: list[str] = Field(default_factory=list, description="Upstream labels seen.")

    def artifacts(self) -> Iterable[Insight]:
        return [Insight(id=f"note/{self.label}", statement=f"Note {self.label}")]

    def summary(self) -> str:
        return f"note {self.label} (after {', '.join(self.upstream) or 'nothing'})"


@register
class NoteAgent(Agent[NoteSpec, Note]):
    """Writes a note; counts executions; can sleep or crash on demand."""

    name = "test_note"
    description = "Test agent: writes a note."
    spec_type = NoteSpec
    output_type = Note

    def run(self, spec: NoteSpec, inputs: Inputs, ctx: RunContext) -> Note:
        _count(ctx.step)
        if spec.sleep:
            time.sleep(spec.sleep)
        if spec.fail:
            raise RuntimeError("the test agent was told to fail")
        return Note(label=spec.label)


@register
class FollowAgent(Agent[NoteSpec, Note]):
    """Needs a Note from upstream."""

    name = "test_follow"
    description = "Test agent: reads an upstream note."
    spec_type = NoteSpec
    output_type = Note
    needs = {"note": Note}

    def run(self, spec: NoteSpec, inputs: Inputs, ctx: RunContext) -> Note:
        _count(ctx.step)
        if spec.sleep:
            time.sleep(spec.sleep)
        _hold(spec.hold_until)
        if spec.require_file and not Path(spec.require_file).exists():
            raise DataError("the file is missing", source="input", file=spec.require_file)
        up = inputs.upstream["note"]
        assert isinstance(up, Note)
        return Note(label=spec.label, upstream=[up.label, *up.upstream])


class CopySpec(TaskSpec):
    """Spec of the copy agent."""

    text: str = Field(description="The copy to emit.")
    channel: str = Field(default="social", description="Channel.")
    fixable: bool = Field(default=True, description="Apply mechanical fixes when revising.")


class CopyOut(AgentOutput):
    """Output of the copy agent."""

    copies: list[Copy] = Field(description="The copy.")

    def artifacts(self) -> Iterable[Copy]:
        return list(self.copies)


@register
class CopyAgent(Agent[CopySpec, CopyOut]):
    """Emits one piece of copy; on revise applies the brand's mechanical fixes."""

    name = "test_copy"
    description = "Test agent: emits copy."
    spec_type = CopySpec
    output_type = CopyOut

    def run(self, spec: CopySpec, inputs: Inputs, ctx: RunContext) -> CopyOut:
        _count(ctx.step)
        return CopyOut(copies=[Copy(id="c1", channel=spec.channel, text=spec.text)])

    def revise(self, spec: CopySpec, output: CopyOut, inputs: Inputs, ctx: RunContext) -> CopyOut:
        _count(ctx.step)
        if not spec.fixable:
            return output
        fixed = [
            c.model_copy(
                update={
                    "text": apply_fixes(c.text, [v for v in ctx.feedback if v.artifact_id == c.id])
                }
            )
            for c in output.copies
        ]
        return CopyOut(copies=fixed)


class BudgetSpec(TaskSpec):
    """Spec of the spend agent."""

    amounts: dict[str, float] = Field(description="Channel -> amount.")


class SpendOut(AgentOutput):
    """Output of the spend agent."""

    allocation: Allocation = Field(description="The allocation.")

    def artifacts(self) -> Iterable[Allocation]:
        return [self.allocation]


@register
class SpendAgent(Agent[BudgetSpec, SpendOut]):
    """Emits a fixed allocation."""

    name = "test_spend"
    description = "Test agent: emits an allocation."
    spec_type = BudgetSpec
    output_type = SpendOut

    def plan(self, ctx: PlanContext) -> BudgetSpec:
        spec: BudgetSpec = ctx.build({})
        return spec

    def run(self, spec: BudgetSpec, inputs: Inputs, ctx: RunContext) -> SpendOut:
        _count(ctx.step)
        return SpendOut(allocation=Allocation(id="budget", amounts=dict(spec.amounts)))


class TaglineSpec(TaskSpec):
    """Spec of the tagline agent."""

    product: str = Field(default="running shoes", description="What the tagline sells.")
    channel: str = Field(default="social", description="Channel.")
    tone: Literal["warm", "playful", "formal"] = model_assisted(
        "warm", description="Tone of voice the goal calls for."
    )


class Tagline(BaseModel):
    """What the model is asked for."""

    text: str = Field(min_length=3, max_length=120, description="The tagline.")


@register
class TaglineAgent(Agent[TaglineSpec, CopyOut]):
    """Asks the configured model for a tagline (structured output); counts executions."""

    name = "test_tagline"
    description = "Test agent: drafts a tagline with the language model."
    spec_type = TaglineSpec
    output_type = CopyOut

    def run(self, spec: TaglineSpec, inputs: Inputs, ctx: RunContext) -> CopyOut:
        from conductor.llm import RetryPolicy, structured_call

        _count(ctx.step)
        if ctx.llm is None:
            text = f"Meet our {spec.product}."
        else:
            fast = RetryPolicy(initial_delay=0.05, max_delay=0.2, max_retries=2)
            text = structured_call(
                ctx.llm,
                Tagline,
                f"A {spec.tone} tagline for {spec.product}",
                purpose="copy",
                retry=fast,
            ).text
        return CopyOut(copies=[Copy(id="tagline", channel=spec.channel, text=text)])
