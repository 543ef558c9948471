"""`check_agent`'s default goal is explicit (revenue), and your own goal is the one used."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import Field

from conductor import Agent, AgentOutput, Inputs, Insight, Kpi, PlanContext, RunContext, TaskSpec
from conductor.testing import check_agent, sample_goal


class KpiSpec(TaskSpec):
    """Spec of the KPI reader."""

    kpi: str = Field(description="The KPI the goal names.")


class KpiOut(AgentOutput):
    """Which KPI was planned for."""

    kpi: str = Field(description="The KPI.")

    def artifacts(self) -> Iterable[Insight]:
        return [Insight(id="kpi", statement=f"planned for {self.kpi}")]


class KpiAgent(Agent[KpiSpec, KpiOut]):
    """Plans from the goal's KPI."""

    name = "kpi_reader"
    description = "Reads the goal's KPI."
    spec_type = KpiSpec
    output_type = KpiOut

    def plan(self, ctx: PlanContext) -> KpiSpec:
        return KpiSpec(kpi=str(ctx.goal.kpi.value if ctx.goal.kpi else "none"))

    def run(self, spec: KpiSpec, inputs: Inputs, ctx: RunContext) -> KpiOut:
        return KpiOut(kpi=spec.kpi)


def test_default_goal_is_the_documented_sample_goal_with_revenue(tmp_path: Path) -> None:
    out = check_agent(KpiAgent, out_dir=tmp_path)
    assert isinstance(out, KpiOut) and out.kpi == "revenue"
    goal = sample_goal()
    assert goal.kpi == Kpi.REVENUE and goal.budget is not None
    assert goal.budget.amount == 250_000
    assert "revenue" in (check_agent.__doc__ or "") and "sample_goal" in (check_agent.__doc__ or "")


def test_your_own_goal_is_used_and_sample_goal_takes_overrides(tmp_path: Path) -> None:
    out = check_agent(KpiAgent, goal=sample_goal(kpi=Kpi.CONVERSIONS), out_dir=tmp_path)
    assert isinstance(out, KpiOut) and out.kpi == "conversions"
    assert sample_goal(budget=None).budget is None
