"""Journey analytics: funnels, paths and exact multi-touch attribution.

Registered as ``journey_analytics`` (entry point ``agents.journey:JourneyAnalyticsAgent``).
See ``docs/agent-journey.md`` for what it computes and ``docs/data.md`` for the
``events`` data contract.
"""

from agents.journey._agent import JourneyAnalyticsAgent
from agents.journey._markov import ChainSolution, markov_from_paths, solve_chain, transitions_sql
from agents.journey._models import (
    ChannelStats,
    ConversionTiming,
    DropOff,
    Funnel,
    FunnelSplit,
    FunnelStage,
    JourneyReport,
    JourneySpec,
    MarkovDetail,
    ModelCredits,
    PathStat,
)

__all__ = [
    "ChainSolution",
    "ChannelStats",
    "ConversionTiming",
    "DropOff",
    "Funnel",
    "FunnelSplit",
    "FunnelStage",
    "JourneyAnalyticsAgent",
    "JourneyReport",
    "JourneySpec",
    "MarkovDetail",
    "ModelCredits",
    "PathStat",
    "markov_from_paths",
    "solve_chain",
    "transitions_sql",
]
