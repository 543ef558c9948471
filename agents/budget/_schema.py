"""Typed spec and output of the budget allocation agent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from conductor import AgentOutput, Allocation, Insight, TaskSpec


class BudgetSpec(TaskSpec):
    """What to optimise: the budget, the horizon, the channels and every constraint.

    Money amounts are totals over the horizon in `currency`; shares are of the budget.
    """

    budget: float = Field(gt=0, description="Money to allocate over the horizon.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    horizon_weeks: float = Field(default=13.0, gt=0, le=520, description="Horizon length in weeks.")
    horizon_start: dt.date | None = Field(
        default=None, description="First day of the horizon (default: the week after the data)."
    )
    period: str | None = Field(default=None, description="Label of the period, e.g. 'Q3 2027'.")
    kpi: str = Field(
        default="revenue", min_length=1, description="KPI column (in `outcomes`) to model."
    )
    channels: list[str] | None = Field(
        default=None, description="Channels to plan; None means every channel in the data."
    )
    excluded_channels: list[str] = Field(
        default_factory=list, description="Channels that must get nothing."
    )
    banned_channels: list[str] = Field(
        default_factory=list, description="Channels the brand bans (get nothing)."
    )
    min_spend: dict[str, float] = Field(
        default_factory=dict, description="Channel -> minimum spend over the horizon."
    )
    max_spend: dict[str, float] = Field(
        default_factory=dict, description="Channel -> maximum spend over the horizon."
    )
    min_share: dict[str, float] = Field(
        default_factory=dict, description="Channel -> minimum share of the budget (0..1)."
    )
    max_share: dict[str, float] = Field(
        default_factory=dict,
        description="Channel -> maximum share of the budget (0..1); key '*' = every channel.",
    )
    brand_max_share: dict[str, float] = Field(
        default_factory=dict,
        description="The brand's channel -> maximum share (0..1); key '*' = every channel.",
    )
    max_change: float | None = Field(
        default=None,
        ge=0,
        description="Largest relative change of a channel's spend vs the current mix (0.3 = 30%).",
    )
    max_total_spend: float | None = Field(
        default=None, gt=0, description="Cap on total spend (the plan spends min(budget, cap))."
    )
    max_cpa: float | None = Field(
        default=None, gt=0, description="Largest spend per incremental KPI unit (count KPIs)."
    )
    min_roas: float | None = Field(
        default=None, gt=0, description="Smallest incremental KPI per unit spend (money KPIs)."
    )
    target: float | None = Field(
        default=None, description="KPI total to reach over the horizon (baseline + media)."
    )
    target_growth: float | None = Field(
        default=None,
        description="KPI growth to reach vs carrying on with the current weekly spend (0.12 = +12%).",
    )
    mode: Literal["budget", "target"] = Field(
        default="budget",
        description="budget: spend it all for the most KPI; target: least spend reaching the target.",
    )
    saturation: Literal["hill", "logistic"] = Field(
        default="hill", description="Saturation curve of the response model."
    )
    seasonality: int = Field(
        default=2, ge=0, le=6, description="Yearly Fourier harmonics in the baseline (0 = none)."
    )
    holdout_weeks: int | None = Field(
        default=None, ge=0, description="Final weeks held out for the forecast check (None = auto)."
    )
    current_weeks: int = Field(
        default=13, ge=1, description="Recent weeks that define the current mix."
    )
    history_range: float | None = Field(
        default=0.9,
        gt=0,
        le=1,
        description=(
            "Keep each channel's weekly spend within this central share of the weekly "
            "spends seen in its history (0.9: 5th to 95th percentile), where its curve is "
            "fitted rather than extrapolated; null lets the plan go anywhere."
        ),
    )
    bootstrap: int = Field(
        default=30, ge=0, le=1000, description="Bootstrap refits for the uncertainty intervals."
    )
    decision: Literal["resampled", "point", "guarded"] = Field(
        default="resampled",
        description=(
            "resampled: the split is the average of the best splits on every bootstrap "
            "refit of the curves, which is robust to the curves' estimation error; point: "
            "the best split on the fitted curves alone; guarded: the largest step from the "
            "current mix towards the resampled split whose probability of doing worse than "
            "the current mix, over the refits, is at most `max_loss_probability`. Target "
            "and CPA/ROAS plans are point."
        ),
    )
    max_loss_probability: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description=(
            "With `decision: guarded`, the largest share of the bootstrap refits in which "
            "the plan may do worse than the current mix (0.1: P(uplift < 0) <= 10%)."
        ),
    )
    interval: float = Field(
        default=0.9, gt=0, lt=1, description="Probability mass of the reported intervals."
    )
    cv_folds: int = Field(
        default=3,
        ge=0,
        le=8,
        description=(
            "Rolling-origin cross-validation folds (the last blocks of the history as "
            "successive test windows) that score the media model against a baseline-only "
            "model out of sample; when the media model does not forecast better (CRPS at "
            "least 5% lower and a lower squared error), the plan keeps the current mix. "
            "0 turns the check off."
        ),
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Estimate(_Model):
    """A number with its uncertainty interval (bootstrap percentiles)."""

    value: float = Field(description="Point estimate.")
    low: float = Field(description="Lower end of the interval.")
    high: float = Field(description="Upper end of the interval.")


class CurveParams(_Model):
    """A channel's fitted response curve (weekly): adstock then saturation."""

    kind: Literal["hill", "logistic"] = Field(description="Saturation curve.")
    decay: Estimate = Field(description="Adstock carry-over per week (0..1).")
    half_saturation: Estimate = Field(description="Steady weekly spend giving half the max.")
    shape: Estimate | None = Field(description="Hill exponent (None for logistic).")
    max_weekly_effect: Estimate = Field(description="Weekly KPI at full saturation.")
    saturation_weekly: float = Field(description="Weekly spend reaching 80% of the max effect.")
    inflection_weekly: float = Field(description="Weekly spend of the highest marginal return.")


class ChannelPlan(_Model):
    """One channel of the plan."""

    channel: str = Field(description="Channel name.")
    amount: float = Field(description="Recommended spend over the horizon.")
    weekly: float = Field(description="Recommended weekly spend.")
    share: float = Field(description="Share of the total recommended spend.")
    previous: float = Field(description="Current mix's share applied to the same budget.")
    change: float = Field(description="amount - previous.")
    change_pct: float | None = Field(description="change / previous (None when previous is 0).")
    min_amount: float = Field(description="Lower bound the optimiser respected.")
    max_amount: float = Field(description="Upper bound the optimiser respected.")
    bound_reasons: list[str] = Field(description="Which constraints set the bounds.")
    marginal_roi: float = Field(description="Extra KPI per extra unit of spend at the plan.")
    roi: float = Field(description="KPI per unit of spend at the plan (average).")
    expected_kpi: Estimate = Field(description="KPI the channel drives over the horizon.")
    curve: CurveParams = Field(description="The fitted response curve.")
    history_spend: float = Field(description="Spend over the history.")
    history_contribution: Estimate = Field(description="KPI the channel drove over the history.")
    history_roi: Estimate = Field(description="Contribution / spend over the history.")
    history_weekly_min: float | None = Field(
        default=None, description="Lowest weekly spend in the history (None: not recorded)."
    )
    history_weekly_max: float | None = Field(
        default=None, description="Highest weekly spend in the history (None: not recorded)."
    )


class LiftCheck(_Model):
    """A lift test that calibrated the fit, and how well the fitted curve meets it."""

    channel: str = Field(description="The tested channel.")
    spend: float = Field(description="Weekly spend before the test.")
    delta_spend: float = Field(description="Change in weekly spend during the test.")
    measured: float = Field(description="Measured change in the weekly KPI.")
    sigma: float = Field(description="Standard error of the measurement.")
    weeks: float | None = Field(
        default=None, description="How long the test ran (None: read at steady state)."
    )
    fitted: float = Field(description="The fitted curve's change in the weekly KPI.")
    z: float = Field(description="(fitted - measured) / sigma.")


class FitDiagnostics(_Model):
    """How well the response model fits and forecasts."""

    weeks: int = Field(description="Weeks of history used.")
    first_week: dt.date = Field(description="First week (Monday).")
    last_week: dt.date = Field(description="Last week (Monday).")
    r2: float = Field(description="R² of the fit.")
    mape: float = Field(description="Mean absolute percentage error of the fit.")
    holdout_weeks: int = Field(description="Final weeks held out for the forecast check.")
    holdout_mape: float | None = Field(description="MAPE on the held-out weeks.")
    holdout_r2: float | None = Field(description="R² on the held-out weeks.")
    noise_sd: float = Field(description="Residual standard deviation (KPI units per week).")
    bootstrap: int = Field(description="Bootstrap refits behind the intervals.")
    seasonality: int = Field(description="Fourier harmonics used.")
    lift_tests: list[LiftCheck] = Field(
        default_factory=list, description="Lift tests that calibrated the curves."
    )


class ForecastScores(_Model):
    """One model's out-of-sample forecast scores, pooled over the test windows."""

    r2: float = Field(description="1 - SSE / the test weeks' sum of squares around their mean.")
    mape: float = Field(description="Mean absolute percentage error.")
    nrmse: float = Field(description="Root mean squared error / the test weeks' mean KPI.")
    crps: float = Field(
        description=(
            "Mean continuous ranked probability score of a Gaussian predictive (the "
            "forecast with the fold fit's residual sd), in KPI units; lower is better."
        )
    )
    sse: float = Field(description="Sum of squared forecast errors.")


class Validation(_Model):
    """Out-of-sample check: the media model against a baseline-only model."""

    folds: int = Field(description="Rolling-origin test windows (the last blocks of the history).")
    test_weeks: int = Field(description="Weeks in each test window.")
    first_test_week: dt.date = Field(description="First week (Monday) of the first window.")
    media: ForecastScores = Field(description="The response model (baseline + media).")
    baseline: ForecastScores = Field(
        description="Intercept, trend and seasonality alone, no media."
    )
    crps_gain: float = Field(description="1 - media CRPS / baseline CRPS (0.1 = 10% better).")
    beats_baseline: bool = Field(
        description="CRPS at least 5% lower and a lower squared error: the plan may move money."
    )


class BudgetPlan(AgentOutput):
    """The recommended budget split with its expected effect and the model behind it."""

    kpi: str = Field(description="The modelled KPI.")
    currency: str = Field(description="ISO 4217 code.")
    budget: float = Field(description="Budget available over the horizon.")
    spend: float = Field(description="Total recommended spend (the budget unless a bound binds).")
    horizon_weeks: float = Field(description="Horizon length in weeks.")
    period: str = Field(description="Label of the horizon.")
    mode: Literal["budget", "target"] = Field(description="What was optimised.")
    channels: list[ChannelPlan] = Field(description="Per-channel plan.")
    expected_kpi: Estimate = Field(description="KPI over the horizon: baseline + all media.")
    media_kpi: Estimate = Field(description="KPI driven by the planned channels.")
    current_media_kpi: Estimate = Field(
        description="KPI the current mix would drive with the same spend."
    )
    uplift: Estimate = Field(description="media_kpi - current_media_kpi.")
    marginal_price: float = Field(
        description=(
            "Marginal KPI per unit spend shared by unconstrained funded channels at the "
            "fitted curves' optimum."
        )
    )
    certified: bool = Field(
        description="True when the fitted curves' optimum is proven global (no duality gap)."
    )
    decision: str = Field(
        default="point",
        description=(
            "How the split was chosen: 'point' (the fitted curves' optimum), 'resampled' "
            "(the average of the optima over the bootstrap refits), 'guarded' (a step from "
            "the current mix towards that average, as far as the loss bound allows) or "
            "'current_mix' (the "
            "media model did not forecast better than a baseline without media out of "
            "sample, so the plan keeps the current mix within the constraints)."
        ),
    )
    uplift_probability: float | None = Field(
        default=None,
        description=(
            "Share of the bootstrap refits in which the plan beats the current mix "
            "(None without refits, or when the plan is the current mix)."
        ),
    )
    validation: Validation | None = Field(
        default=None,
        description="Out-of-sample scores of the media and baseline-only models (None: off).",
    )
    target: float | None = Field(description="KPI total to reach, if any.")
    target_met: bool | None = Field(description="Whether the plan's expected KPI reaches it.")
    diagnostics: FitDiagnostics = Field(description="Fit and forecast quality.")
    allocation: Allocation = Field(description="The allocation artifact (brand-checked).")
    insights: list[Insight] = Field(description="Findings, e.g. saturation points.")
    files: dict[str, str] = Field(default_factory=dict, description="Name -> file written.")
    caveats: list[str] = Field(
        default_factory=list,
        description=(
            "Warnings that put the plan itself in doubt (a budget far from the recent "
            "spend pace, curves that forecast held-out weeks no better than their "
            "average); they also open `warnings` and lead the summary."
        ),
    )

    def artifacts(self) -> Iterable[Allocation | Insight]:
        """The allocation and the insights."""
        return [self.allocation, *self.insights]

    def summary(self) -> str:
        """Budget, horizon, expected KPI and uplift vs the current mix, after a line for
        each caveat (so nobody reads the plan's gain without them), then the
        out-of-sample scores of the media and baseline-only models."""
        lead = "".join(f"⚠ {c}\n" for c in self.caveats)
        return lead + self._headline() + self._validation_table()

    def _headline(self) -> str:
        pct = (
            f" ({self.uplift.value / self.current_media_kpi.value:+.1%} media {self.kpi})"
            if self.current_media_kpi.value > 0
            else ""
        )
        funded = sum(1 for c in self.channels if c.amount > 0)
        if self.decision == "current_mix":
            return (
                f"{self.spend:,.0f} {self.currency} over {self.horizon_weeks:.3g} weeks across "
                f"{funded} channel(s), kept in the current mix: expected {self.kpi} "
                f"{self.expected_kpi.value:,.0f} [{self.expected_kpi.low:,.0f}-"
                f"{self.expected_kpi.high:,.0f}], +0 [0, 0] vs the current mix"
            )
        u, p = self.uplift, self.uplift_probability
        odds = f", P(gain) {p:.0%}" if p is not None else ""
        # An uplift whose interval reaches zero is not called a gain.
        unsure = "; not a demonstrated gain" if u.low <= 0 < u.value else ""
        return (
            f"{self.spend:,.0f} {self.currency} over {self.horizon_weeks:.3g} weeks across "
            f"{funded} channel(s): expected {self.kpi} {self.expected_kpi.value:,.0f} "
            f"[{self.expected_kpi.low:,.0f}-{self.expected_kpi.high:,.0f}], "
            f"{u.value:+,.0f} [{u.low:+,.0f}, {u.high:+,.0f}] vs the current mix{pct}{odds}"
            f"{unsure}"
        )

    def _validation_table(self) -> str:
        v = self.validation
        if v is None:
            return ""
        head = f"out of sample, {v.folds} x {v.test_weeks} weeks"
        rows = [f"\n{head:<30s}{'CRPS':>10s}  {'R²':>6s}  {'MAPE':>6s}  {'NRMSE':>6s}"]
        for label, s in (("media model", v.media), ("baseline, no media", v.baseline)):
            rows.append(
                f"  {label:<28s}{s.crps:>10,.0f}  {s.r2:>6.2f}  {s.mape:>6.1%}  {s.nrmse:>6.1%}"
            )
        verdict = "beats" if v.beats_baseline else "does not beat"
        way = "lower" if v.crps_gain >= 0 else "higher"
        rows.append(
            f"  the media model {verdict} the baseline (CRPS {abs(v.crps_gain):.1%} {way}; "
            "it needs 5% lower and a lower squared error)"
        )
        return "\n".join(rows)
