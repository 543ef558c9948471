"""An example third-party agent: which weekday converts best, from the events data.

Written only against Conductor's public API, registered by an entry point in this
package's pyproject.toml — no change to Conductor itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from conductor import (
    Agent,
    AgentOutput,
    DataNeed,
    Inputs,
    Insight,
    PlanContext,
    RunContext,
    TaskSpec,
)


class WeekdaySpec(TaskSpec):
    """What to look at."""

    event_type: str = Field(default="conversion", description="Event type to count.")
    min_events: int = Field(default=1, ge=1, description="Weekdays with fewer events are ignored.")


class WeekdayReport(AgentOutput):
    """Events per weekday and the best one."""

    counts: dict[str, int] = Field(description="Weekday name -> number of events.")
    best: str | None = Field(description="Weekday with the most events.")

    def artifacts(self) -> Iterable[Insight]:
        if self.best is None:
            return []
        total = sum(self.counts.values())
        share = self.counts[self.best] / total if total else 0.0
        return [
            Insight(
                id="weekday/best",
                statement=f"{self.best} brings {share:.0%} of conversions.",
                evidence={
                    "weekday": self.best,
                    "events": self.counts[self.best],
                    "share": round(share, 4),
                },
            )
        ]

    def summary(self) -> str:
        return f"best weekday: {self.best}"


class WeekdayInsightAgent(Agent[WeekdaySpec, WeekdayReport]):
    """Counts events per weekday with one DuckDB query."""

    name = "weekday_insight"
    description = "Which weekday brings the most conversions (example plugin)."
    spec_type = WeekdaySpec
    output_type = WeekdayReport
    data = {"events": DataNeed(columns={"timestamp": "timestamp", "event_type": "string"})}

    def plan(self, ctx: PlanContext) -> WeekdaySpec:
        spec: WeekdaySpec = ctx.build({})
        return spec

    def run(self, spec: WeekdaySpec, inputs: Inputs, ctx: RunContext) -> WeekdayReport:
        rows = (
            inputs.db()
            .execute(
                "SELECT dayname(CAST(timestamp AS TIMESTAMP)) AS d, count(*) AS n FROM events "
                "WHERE event_type = ? GROUP BY d HAVING count(*) >= ? ORDER BY n DESC, d",
                [spec.event_type, spec.min_events],
            )
            .fetchall()
        )
        counts = {str(d): int(n) for d, n in rows}
        return WeekdayReport(counts=counts, best=rows[0][0] if rows else None)
