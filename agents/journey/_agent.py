"""The journey analytics agent: funnels, paths and exact multi-touch attribution."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from agents.journey._analyse import attribution, channel_stats, funnel, timing, top_paths
from agents.journey._build import OTHER, JourneyTables, build_journeys
from agents.journey._insights import build_insights
from agents.journey._models import JourneyReport, JourneySpec
from conductor import Agent, DataNeed, Inputs, Kpi, PlanContext, RunContext

__all__ = ["JourneyAnalyticsAgent"]

_REVENUE_KPIS = (Kpi.REVENUE, Kpi.ROAS, Kpi.AOV)
_CONVERSION_KPIS = (Kpi.CONVERSIONS, Kpi.CPA)


class JourneyAnalyticsAgent(Agent[JourneySpec, JourneyReport]):
    """Builds customer journeys from `events` and reports funnels, paths and attribution.

    Everything row-level happens in DuckDB; the Markov chains are solved exactly with
    (sparse) linear algebra. The output holds aggregates only, never per-customer rows.
    """

    name = "journey_analytics"
    description = (
        "Funnels, paths and multi-touch attribution (rule-based and exact Markov, order 1-3) "
        "from touch and conversion events"
    )
    spec_type = JourneySpec
    output_type = JourneyReport
    data: ClassVar[dict[str, DataNeed]] = {
        "events": DataNeed(
            columns={
                "customer_id": "string",
                "timestamp": "timestamp",
                "channel": "string",
                "event_type": "string",
            },
            optional_columns={"revenue": "number"},
            description=(
                "One row per event: touches (event_type 'touch', with a channel), funnel "
                "stages (visit, add_to_cart, ...) and conversions (with revenue)."
            ),
        )
    }

    def plan(self, ctx: PlanContext) -> JourneySpec:
        """Channels and the credit metric come from the goal when it states them."""
        derived: dict[str, Any] = {}
        if ctx.goal.channels:
            derived["channels"] = ctx.from_goal([str(c) for c in ctx.goal.channels], "channels")
        if ctx.goal.kpi in _REVENUE_KPIS:
            derived["credit_metric"] = ctx.from_goal("revenue", "kpi")
        elif ctx.goal.kpi in _CONVERSION_KPIS:
            derived["credit_metric"] = ctx.from_goal("conversions", "kpi")
        spec: JourneySpec = ctx.build(derived)
        return spec

    def run(self, spec: JourneySpec, inputs: Inputs, ctx: RunContext) -> JourneyReport:
        """Build journeys in DuckDB, then the funnel, paths, timing and attribution."""
        con = inputs.db()
        steps = 6
        ctx.progress("building journeys", 0, steps)
        tables = build_journeys(inputs.catalog, con, spec, self.data["events"])
        try:
            return self._analyse(spec, tables, ctx, steps)
        finally:
            tables.drop()

    def _analyse(
        self, spec: JourneySpec, t: JourneyTables, ctx: RunContext, steps: int
    ) -> JourneyReport:
        warnings = list(t.warnings)
        ctx.progress("funnel", 1, steps)
        stages = (
            [s.lower() for s in spec.funnel_stages if s.lower() != "conversion"]
            if spec.funnel_stages is not None
            else _default_stage_order(t)
        )
        fun = funnel(t, stages)

        ctx.progress("paths", 2, steps)
        conv_paths, null_paths = top_paths(t, spec.top_paths)
        times = timing(t)
        stats = channel_stats(t)
        tot = _totals(t, spec)

        ctx.progress("attribution", 3, steps)
        credits, details = attribution(
            t,
            spec.models(),
            half_life_days=spec.half_life_days,
            conversions=tot.attributed,
            revenue=tot.attributed_revenue,
        )

        ctx.progress("tables", 4, steps)
        files: dict[str, str] = {}
        if spec.write_tables and t.channels:
            files["paths"] = _write_paths(t, ctx.out_dir)
        warnings += _coverage_warnings(spec, t, tot)

        ctx.progress("insights", 5, steps)
        insights = build_insights(
            stats=stats,
            funnel=fun,
            credits=credits,
            converting_paths=conv_paths,
            timing=times,
            conversions=tot.attributed,
            revenue=tot.attributed_revenue,
            metric=spec.credit_metric if t.has_revenue else "conversions",
        )
        ctx.progress("done", steps, steps)
        first, last = t.period
        return JourneyReport(
            warnings=warnings,
            period_start=first,
            period_end=last,
            events=t.events,
            customers=t.customers,
            journeys=tot.journeys,
            converting_journeys=tot.converting,
            touches=tot.touches,
            conversions=t.conversions,
            attributed_conversions=tot.attributed,
            unattributed_conversions=t.conversions - tot.attributed,
            revenue=t.revenue if t.has_revenue else None,
            attributed_revenue=tot.attributed_revenue if t.has_revenue else None,
            channels=list(t.channels),
            channel_stats=stats,
            funnel=fun,
            top_converting_paths=conv_paths,
            top_non_converting_paths=null_paths,
            timing=times,
            attribution=credits,
            markov=details,
            insights=insights,
            files=files,
        )


class _Totals(NamedTuple):
    """Counts over all journeys (journeys with nothing but conversions included)."""

    journeys: int
    converting: int
    touches: int
    longest: int  # touches in the longest journey
    long_journeys: int  # journeys longer than ``long_journey_touches``
    attributed: int  # conversions in journeys with at least one touch
    attributed_revenue: float  # their revenue (0 without a revenue column)


def _totals(t: JourneyTables, spec: JourneySpec) -> _Totals:
    journeys, converting, touches, longest, long_n, attributed, attributed_rev = t.con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE converted),
                   coalesce(sum(len(path)), 0), coalesce(max(len(path)), 0),
                   count(*) FILTER (WHERE len(path) > {int(spec.long_journey_touches)}),
                   coalesce(sum(n_conv) FILTER (WHERE len(path) > 0), 0),
                   coalesce(sum(rev) FILTER (WHERE len(path) > 0), 0)
            FROM _journey_j"""
    ).fetchone()
    return _Totals(
        journeys=int(journeys) + t.unmatched_journeys,
        converting=int(converting) + t.unmatched_journeys,
        touches=int(touches),
        longest=int(longest),
        long_journeys=int(long_n),
        attributed=int(attributed),
        attributed_revenue=float(attributed_rev) if t.has_revenue else 0.0,
    )


def _coverage_warnings(spec: JourneySpec, t: JourneyTables, tot: _Totals) -> list[str]:
    """What the credits leave out: conversions without touches, too few channels, odd paths."""
    warnings: list[str] = []
    unattributed = t.conversions - tot.attributed
    # No conversions or no touches at all never get here: build_journeys refuses them.
    if unattributed:
        warnings.append(
            f"{unattributed:,} of {t.conversions:,} conversions have no touch in their "
            "journey"
            + (" (or none inside the lookback window)" if spec.lookback_days else "")
            + " and are credited to no channel"
        )
    if len(t.channels) == 1:
        warnings.append(f"only one channel ({t.channels[0]}): every model gives it all the credit")
    if OTHER in t.channels and spec.channels is not None and OTHER not in spec.channels:
        warnings.append(f"{OTHER!r} stands for every channel not in `channels`")
    if tot.long_journeys:
        warnings.append(
            f"{tot.long_journeys:,} journey(s) have more than {spec.long_journey_touches:,} "
            f"touches (longest: {tot.longest:,}); they are kept whole, but check for bots or "
            "tracking loops"
        )
    return warnings


def _default_stage_order(t: JourneyTables) -> list[str]:
    """Stage types from most to least journeys (the order a funnel narrows in)."""
    if not t.stage_flags:
        return []
    cols = ", ".join(f"count(*) FILTER (WHERE {c})" for c in t.stage_flags.values())
    counts = t.con.execute(f"SELECT {cols} FROM _journey_j").fetchone()
    by_count = dict(zip(t.stage_flags, (int(c) for c in counts), strict=True))
    return sorted((s for s, n in by_count.items() if n > 0), key=lambda s: (-by_count[s], s))


def _write_paths(t: JourneyTables, out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "paths.parquet"
    names = "['" + "', '".join(ch.replace("'", "''") for ch in t.channels) + "']"
    path = str(target).replace("'", "''")
    t.con.execute(
        f"""COPY (
            SELECT list_transform(path, lambda x: {names}[x]) AS path, journeys, converting,
                   conversions, nulls, revenue
            FROM _journey_paths ORDER BY journeys DESC, conversions DESC
        ) TO '{path}' (FORMAT parquet)"""
    )
    return str(target)
