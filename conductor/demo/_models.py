"""The known truth behind ``conductor demo``'s data: what the generator's models imply.

Written beside the data as ``truth.json`` by :mod:`conductor.demo._data`: exact Markov
attribution, each channel's response curve with the true optimal budget split, and the
true value of any personalization policy.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import minimize

from conductor.errors import ConductorError

__all__ = ["BudgetTruth", "ChannelCurve", "DemoTruth", "JourneyTruth", "PlanTruth", "PolicyTruth"]

FloatArray = npt.NDArray[np.float64]

# ---------------------------------------------------------------------------------------
# Truth models
# ---------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JourneyTruth(_Model):
    """The journey chain the events were drawn from, and its exact Markov attribution."""

    channels: list[str] = Field(description="Touch channels, in matrix order.")
    states: list[str] = Field(
        description="Chain states: 'start', each channel, 'conversion', 'null' (absorbing)."
    )
    transition_matrix: list[list[float]] = Field(
        description="Row-stochastic matrix over `states` (absorbing rows are identity rows)."
    )
    conversion_probability: float = Field(
        description="Probability a journey ends in a conversion, solved from the chain."
    )
    removal_effects: dict[str, float] = Field(
        description="Channel -> 1 - P(conversion without the channel) / P(conversion)."
    )
    shares: dict[str, float] = Field(
        description="Channel -> removal effect normalised to sum to 1 (the true credit share)."
    )
    credits_conversions: dict[str, float] = Field(
        description="Channel -> true credited conversions (shares x conversions in the events)."
    )
    credits_revenue: dict[str, float] = Field(
        description="Channel -> true credited revenue (shares x revenue in the events)."
    )
    journeys: int = Field(description="Journeys simulated (each ends in conversion or null).")
    touches: int = Field(description="Touch events written.")
    conversions: int = Field(description="Conversion events written.")
    revenue: float = Field(description="Total conversion revenue written.")
    window_days: int = Field(description="Touches fall within this many days before `today`.")


class ChannelCurve(_Model):
    """One channel's true response: geometric adstock then a Hill curve.

    Adstock is normalised, ``a[t] = decay * a[t-1] + (1 - decay) * spend[t]``, so at a
    steady weekly spend ``x`` the weekly revenue it drives is
    ``max_weekly_effect * x**shape / (x**shape + half_saturation**shape)``.
    """

    channel: str = Field(description="Channel name.")
    decay: float = Field(description="Geometric adstock carry-over per week (0..1).")
    half_saturation: float = Field(description="Steady weekly spend giving half the max effect.")
    shape: float = Field(description="Hill exponent; above 1 the curve is S-shaped.")
    max_weekly_effect: float = Field(description="Weekly revenue at full saturation.")
    mean_weekly_spend: float = Field(description="Average weekly spend over the history.")
    current_weekly_spend: float = Field(description="Average weekly spend over the last quarter.")
    contribution: float = Field(description="Revenue the channel drove over the history.")
    roi: float = Field(description="Contribution / spend over the history (revenue per $).")
    marginal_roi_current: float = Field(
        description="Extra weekly revenue per extra $ at the current weekly spend (steady state)."
    )

    def response(self, weekly_spend: FloatArray) -> FloatArray:
        """Steady-state weekly revenue driven by a constant weekly spend."""
        x = np.maximum(np.asarray(weekly_spend, dtype=np.float64), 0.0)
        xs = x**self.shape
        out: FloatArray = self.max_weekly_effect * xs / (xs + self.half_saturation**self.shape)
        return out

    def marginal(self, weekly_spend: float) -> float:
        """Derivative of :meth:`response` at a weekly spend."""
        x, k, s = max(weekly_spend, 0.0), self.half_saturation, self.shape
        if x == 0.0:
            return self.max_weekly_effect / k if s == 1.0 else 0.0
        return float(self.max_weekly_effect * s * k**s * x ** (s - 1) / (x**s + k**s) ** 2)


class PlanTruth(_Model):
    """The true best split of a budget over a horizon, against the current mix."""

    budget: float = Field(description="Total budget over the horizon.")
    weeks: float = Field(description="Horizon length in weeks.")
    allocation: dict[str, float] = Field(description="Channel -> optimal spend over the horizon.")
    revenue: float = Field(description="Media-driven revenue of the optimum over the horizon.")
    current_allocation: dict[str, float] = Field(
        description="Channel -> the current mix's shares applied to the same budget."
    )
    current_revenue: float = Field(description="Media-driven revenue of the current mix.")
    uplift: float = Field(description="revenue - current_revenue: the true optimal uplift.")
    uplift_pct: float = Field(description="uplift / current_revenue.")


class BudgetTruth(_Model):
    """How spend.csv and outcomes.csv were generated, with each channel's true curve."""

    kpi: Literal["revenue"] = Field(default="revenue", description="The modelled KPI.")
    first_week: dt.date = Field(description="Monday of the first week in spend.csv.")
    last_week: dt.date = Field(description="Monday of the last week in spend.csv.")
    weeks: int = Field(description="Weeks of history.")
    curves: dict[str, ChannelCurve] = Field(description="Channel -> true response curve.")
    baseline_weekly: float = Field(description="Weekly revenue without media at the start.")
    trend_per_year: float = Field(description="Relative baseline growth per year.")
    seasonality_amplitude: float = Field(description="Relative yearly swing of the baseline.")
    seasonality_peak_day: int = Field(description="Day of year of the seasonal peak.")
    noise_sd: float = Field(description="Standard deviation of weekly revenue noise.")
    revenue_per_conversion: float = Field(
        description="conversions = revenue / this (times 2% noise), so curves scale to them."
    )
    current_mix: dict[str, float] = Field(description="Channel -> share of last quarter's spend.")
    reference_plan: PlanTruth = Field(
        description="The true optimum for one quarter at the current weekly run-rate."
    )

    def weekly_revenue(self, weekly_spend: Mapping[str, float]) -> float:
        """Steady-state weekly media revenue of a weekly spend per channel."""
        return float(
            sum(
                float(c.response(np.array([weekly_spend.get(name, 0.0)]))[0])
                for name, c in self.curves.items()
            )
        )

    def optimal_plan(
        self,
        budget: float,
        weeks: float,
        *,
        max_share: Mapping[str, float] | None = None,
        excluded: Sequence[str] = (),
        max_change: float | None = None,
    ) -> PlanTruth:
        """The true optimal split of ``budget`` over ``weeks`` (multi-start SLSQP).

        Args:
            budget: Total money for the horizon.
            weeks: Horizon length in weeks (spend is spread evenly over it).
            max_share: Channel -> maximum share of the budget; key ``"*"`` applies to all.
            excluded: Channels that get nothing.
            max_change: Largest relative change of a channel's spend against the current
                mix at the same budget (0.3: each channel within +-30%), as a brand rule
                may impose.

        Returns:
            The optimum and the current mix at the same budget.

        Raises:
            ConductorError: The budget or horizon is not positive, or the caps cannot hold it.
        """
        if budget <= 0 or weeks <= 0:
            raise ConductorError(
                f"budget ({budget}) and weeks ({weeks}) must both be positive",
                code="demo.bad-budget",
                hint="pass the plan's total budget and the horizon length in weeks",
            )
        names = list(self.curves)
        weekly = budget / weeks
        caps = _share_caps(names, max_share or {}, excluded)
        floors = np.zeros(len(names))
        if max_change is not None:
            cur = _current_vector(self, names)
            caps = np.minimum(caps, cur * (1 + max_change))
            floors = np.minimum(cur * max(0.0, 1 - max_change), caps)
        if caps.sum() < 1.0 - 1e-9 or floors.sum() > 1.0 + 1e-9:
            raise ConductorError(
                "the channel caps leave part of the budget unspendable",
                code="demo.infeasible-budget",
                hint="raise max_share or allow more channels",
            )
        shares = _best_shares(
            [self.curves[n] for n in names], weekly, caps, _current_vector(self, names), floors
        )
        current = {n: self.current_mix.get(n, 0.0) * budget for n in names}
        best_rev = self.weekly_revenue({n: s * weekly for n, s in zip(names, shares, strict=True)})
        cur_rev = self.weekly_revenue({n: v / weeks for n, v in current.items()})
        return PlanTruth(
            budget=budget,
            weeks=weeks,
            allocation={n: float(s * budget) for n, s in zip(names, shares, strict=True)},
            revenue=best_rev * weeks,
            current_allocation=current,
            current_revenue=cur_rev * weeks,
            uplift=(best_rev - cur_rev) * weeks,
            uplift_pct=(best_rev - cur_rev) / cur_rev if cur_rev > 0 else 0.0,
        )


class PolicyTruth(_Model):
    """The reward model and logging policy behind exposures.parquet, and policy values."""

    actions: list[str] = Field(description="Action ids, as in actions.csv.")
    features: dict[str, str] = Field(description="Feature name -> how it is computed.")
    base_intercept: float = Field(description="Intercept of the reward logit.")
    base_weights: dict[str, float] = Field(description="Feature -> weight shared by all actions.")
    action_intercepts: dict[str, float] = Field(description="Action -> extra intercept.")
    action_weights: dict[str, dict[str, float]] = Field(
        description="Action -> feature -> extra weight (the action x customer interaction)."
    )
    logging_temperature: float = Field(description="Softmax temperature of the logging policy.")
    logging_intercepts: dict[str, float] = Field(description="Action -> logging score intercept.")
    logging_weights: dict[str, dict[str, float]] = Field(
        description="Action -> feature -> logging score weight."
    )
    population: str = Field(description="Who policy values average over.")
    eligible_customers: int = Field(description="Customers in the population.")
    exposures: int = Field(description="Rows in exposures.parquet.")
    action_values: dict[str, float] = Field(
        description="Action -> expected reward if every eligible customer got it."
    )
    best_single_action: str = Field(description="The action with the highest value.")
    best_single_value: float = Field(description="Its expected reward per customer.")
    logging_value: float = Field(description="Expected reward per customer of the logging policy.")
    oracle_value: float = Field(
        description="Expected reward per customer of the oracle (best action for each customer)."
    )
    reward_table: str = Field(
        description="File (beside truth.json) with each customer's true reward probabilities."
    )


class DemoTruth(_Model):
    """Everything the demo generator knows, written to ``truth.json`` beside the data."""

    seed: int = Field(description="Random seed used.")
    customers: int = Field(description="Customers generated.")
    today: dt.date = Field(description="The day the data ends (exclusive).")
    files: dict[str, str] = Field(description="Data source name -> file name in the folder.")
    journey: JourneyTruth = Field(description="Journey chain and its exact attribution.")
    budget: BudgetTruth = Field(description="Response curves, ROI and the true optimum.")
    policy: PolicyTruth = Field(description="Reward model, logging policy and policy values.")


def _share_caps(
    names: Sequence[str], max_share: Mapping[str, float], excluded: Sequence[str]
) -> FloatArray:
    default = max_share.get("*", 1.0)
    caps = np.array([min(1.0, max(0.0, max_share.get(n, default))) for n in names])
    caps[[i for i, n in enumerate(names) if n in set(excluded)]] = 0.0
    return caps


def _current_vector(truth: BudgetTruth, names: Sequence[str]) -> FloatArray:
    return np.array([truth.current_mix.get(n, 0.0) for n in names])


def _best_shares(
    curves: Sequence[ChannelCurve],
    weekly: float,
    caps: FloatArray,
    current: FloatArray,
    floors: FloatArray | None = None,
) -> FloatArray:
    """Maximise total weekly response over budget shares (sum 1, floor <= share <= cap).

    Hill curves with shape > 1 are not concave, so a single local solve can stop at a
    poor corner. Starting from the current mix, from an even split over every subset of
    channels and from random splits, and keeping the best, finds the global optimum of
    this small problem.
    """
    n = len(curves)
    k = np.array([c.half_saturation for c in curves])
    s = np.array([c.shape for c in curves])
    beta = np.array([c.max_weekly_effect for c in curves])
    norm = float(beta.sum())

    def neg(v: FloatArray) -> float:
        x = np.maximum(v, 0.0) * weekly
        return float(-(beta * x**s / (x**s + k**s)).sum() / norm)

    def grad(v: FloatArray) -> FloatArray:
        x = np.maximum(v, 1e-12) * weekly
        d = beta * s * k**s * x ** (s - 1) / (x**s + k**s) ** 2
        out: FloatArray = -d * weekly / norm
        return out

    lo = np.zeros(n) if floors is None else np.asarray(floors, dtype=np.float64)

    def project(v: FloatArray) -> FloatArray:
        v = np.minimum(np.maximum(v, lo), caps)
        excess = v.sum() - 1.0
        slack = v - lo
        if excess > 1e-12 and slack.sum() > 0:  # floors pushed it over: trim the slack
            v = np.maximum(v - excess * slack / slack.sum(), lo)
        for _ in range(n):  # spill what exceeds a cap onto channels with room
            room = caps - v
            short = 1.0 - v.sum()
            if short <= 1e-12 or room.sum() <= 0:
                break
            v = np.minimum(v + short * room / room.sum(), caps)
        return v

    starts = [project(current), project(caps.copy())]
    allowed = [i for i in range(n) if caps[i] > 0]
    for r in range(1, len(allowed) + 1):
        for subset in itertools.combinations(allowed, r):
            v = np.zeros(n)
            v[list(subset)] = 1.0 / r
            starts.append(project(v))
    rng = np.random.default_rng(0)
    starts += [project(rng.dirichlet(np.ones(n)) * (caps > 0)) for _ in range(20)]
    best_v, best_f = starts[0], neg(starts[0])
    cons = [{"type": "eq", "fun": lambda v: v.sum() - 1.0, "jac": np.ones_like}]
    for v0 in starts:
        res = minimize(
            neg,
            v0,
            jac=grad,
            method="SLSQP",
            bounds=list(zip(lo, caps, strict=True)),
            constraints=cons,
            options={"ftol": 1e-12, "maxiter": 300},
        )
        v = project(np.asarray(res.x, dtype=np.float64))
        f = neg(v)
        if f < best_f:
            best_v, best_f = v, f
    return best_v
