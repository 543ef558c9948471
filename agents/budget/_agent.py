"""The budget allocation agent: fit response curves, then find the best budget split."""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from agents.budget._bounds import history_range_notes, infeasible, nearest_within, plan_bounds
from agents.budget._data import channel_matcher, load_history, norm_channel
from agents.budget._guards import (
    current_mix_caveat,
    holdout_caveat,
    kpi_from_goal,
    run_rate_caveat,
)
from agents.budget._lift import SOURCE as LIFT_SOURCE
from agents.budget._lift import load_lift_tests
from agents.budget._model import Fit, fit_model
from agents.budget._optimize import FloatArray, InfeasibleBounds, maximise
from agents.budget._plan import Solved, build_plan, planned_curves
from agents.budget._schema import (
    BudgetPlan,
    BudgetSpec,
    LiftCheck,
    Validation,
)
from agents.budget._validate import validate
from conductor import (
    Agent,
    AgentError,
    BusinessGoal,
    DataError,
    DataNeed,
    GoalError,
    Inputs,
    Kpi,
    PlanContext,
    RunContext,
)

_MIN_WEEKS = 16
_YEAR_WEEKS = 52
_FLAT_CV = 0.1


class BudgetAllocationAgent(Agent[BudgetSpec, BudgetPlan]):
    """Learns each channel's response curve from spend history and splits the budget."""

    name = "budget_allocation"
    description = (
        "Marketing-mix model (adstock + saturation) fitted on spend history, then the "
        "budget split that maximises the KPI within every constraint"
    )
    spec_type = BudgetSpec
    output_type = BudgetPlan
    data: ClassVar[Mapping[str, DataNeed]] = {
        "spend": DataNeed(
            columns={"date": "date"},
            optional_columns={"channel": "string", "spend": "number"},
            description="Spend per channel: long (date, channel, spend) or wide (a column each).",
            goal_channels=True,
        ),
        "outcomes": DataNeed(
            columns={"date": "date"},
            required=False,
            description="The KPI per date (e.g. revenue, conversions).",
        ),
    }
    requires_goal = ("budget",)

    def check_goal(self, goal: BusinessGoal, step: str) -> None:
        """The budget may come from the step's `with:` too, so plan() checks it."""
        return

    def plan(self, ctx: PlanContext) -> BudgetSpec:
        """Derive budget, horizon, KPI, channels and constraints from goal and brand."""
        goal = ctx.goal
        d: dict[str, Any] = {}
        if goal.budget is not None:
            d["budget"] = ctx.from_goal(goal.budget.amount, "budget")
            d["currency"] = ctx.from_goal(goal.budget.currency, "budget")
        elif "budget" not in ctx.params:
            raise GoalError(
                f"step {ctx.step!r} ({self.name}) needs the goal to state: budget",
                missing=["budget"],
                code="goal.missing-field",
                hint='say it in the goal, e.g. "... with a $250k budget", '
                "or give `budget:` in the step's `with:`",
            )
        if goal.horizon is not None:
            d["horizon_weeks"] = ctx.from_goal(round(goal.horizon.weeks, 4), "horizon")
            d["horizon_start"] = ctx.from_goal(goal.horizon.start, "horizon")
            d["period"] = ctx.from_goal(
                goal.horizon.label or f"{goal.horizon.start}..{goal.horizon.end}", "horizon"
            )
        if "kpi" not in ctx.params:  # `with: {kpi: ...}` says what to model for any goal
            span = goal.spans.get("kpi")
            kpi = kpi_from_goal(
                goal.kpi, step=ctx.step, agent=self.name, said=span.text if span else ""
            )
            d["kpi"] = ctx.from_goal(kpi, "kpi")
        if goal.channels:
            d["channels"] = ctx.from_goal([norm_channel(c) for c in goal.channels], "channels")
        if goal.excluded_channels:
            d["excluded_channels"] = ctx.from_goal(
                [norm_channel(c) for c in goal.excluded_channels], "excluded_channels"
            )
        shares: dict[str, float] = {}
        mins: dict[str, float] = {}
        maxs: dict[str, float] = {}
        for c in goal.constraints:
            key = norm_channel(c.channel) if c.channel else "*"
            if c.kind == "max_channel_share":
                shares[key] = c.value
            elif c.kind == "min_channel_spend" and c.channel:
                mins[key] = c.value
            elif c.kind == "max_channel_spend" and c.channel:
                maxs[key] = c.value
            elif c.kind == "max_total_spend":
                d["max_total_spend"] = ctx.from_goal(c.value, "constraints")
            elif c.kind == "max_cpa":
                d["max_cpa"] = ctx.from_goal(c.value, "constraints")
            elif c.kind == "min_roas":
                d["min_roas"] = ctx.from_goal(c.value, "constraints")
        for name, val in (("max_share", shares), ("min_spend", mins), ("max_spend", maxs)):
            if val:
                d[name] = ctx.from_goal(val, "constraints")
        t = goal.target
        if t is not None:
            if goal.kpi == Kpi.CPA and t.kind == "ceiling":
                d["max_cpa"] = ctx.from_goal(t.value, "target")
            elif goal.kpi == Kpi.ROAS and t.kind == "floor":
                d["min_roas"] = ctx.from_goal(t.value, "target")
            elif goal.kpi in (Kpi.REVENUE, Kpi.CONVERSIONS):
                if t.kind == "relative":
                    d["target_growth"] = ctx.from_goal(t.value, "target")
                elif t.kind in ("absolute", "floor"):
                    d["target"] = ctx.from_goal(t.value, "target")
        rules = getattr(ctx.brand, "budget", None)
        if rules is not None:
            if getattr(rules, "max_share", None):
                d["brand_max_share"] = ctx.from_brand(
                    {
                        (k if k == "*" else norm_channel(k)): float(v)
                        for k, v in rules.max_share.items()
                    },
                    "budget.max_share",
                )
            if getattr(rules, "banned_channels", None):
                d["banned_channels"] = ctx.from_brand(
                    [norm_channel(c) for c in rules.banned_channels], "budget.banned_channels"
                )
            if getattr(rules, "max_change", None) is not None:
                d["max_change"] = ctx.from_brand(float(rules.max_change), "budget.max_change")
        spec: BudgetSpec = ctx.build(d)
        return spec

    def run(self, spec: BudgetSpec, inputs: Inputs, ctx: RunContext) -> BudgetPlan:
        """Fit the response model on the history and optimise the split."""
        return _Run(self, spec, inputs, ctx).execute()


class _Run:
    """One run of the agent (keeps the many intermediate values in one place)."""

    def __init__(
        self, agent: BudgetAllocationAgent, spec: BudgetSpec, inputs: Inputs, ctx: RunContext
    ) -> None:
        self.agent, self.spec, self.inputs, self.ctx = agent, spec, inputs, ctx
        self.warnings: list[str] = []
        self.caveats: list[str] = []  # warnings that put the plan in doubt: they lead
        self.lift_checks: list[LiftCheck] = []
        self.validation: Validation | None = None

    def fail(self, message: str, code: str, hint: str) -> AgentError:
        return AgentError(message, step=self.ctx.step, agent=self.agent.name, code=code, hint=hint)

    def execute(self) -> BudgetPlan:
        spec, ctx = self.spec, self.ctx
        con = self.inputs.db()
        has_outcomes = self.inputs.catalog.has("outcomes")
        history, notes = load_history(con, spec.kpi, has_outcomes, self.inputs.catalog.channels)
        self.warnings += notes
        n_weeks = len(history.weeks)
        if n_weeks < _MIN_WEEKS:
            raise DataError(
                f"only {n_weeks} week(s) of history; the response model needs at least "
                f"{_MIN_WEEKS} (a year or more for a good fit)",
                source="spend", code="data.too-short",
                hint="provide at least a year of weekly spend and outcomes",
            )  # fmt: skip
        order = spec.seasonality
        if n_weeks < _YEAR_WEEKS:
            self.warnings.append(
                f"only {n_weeks} weeks of history (less than a year): seasonality is left "
                "out and the response curves are uncertain; a year or more is recommended"
            )
            order = 0

        self._align(history.channels)
        scope, excluded = self._scope(history.channels)
        # Channels with no spend carry no information: they can only be excluded.
        totals = history.spend.sum(axis=0)
        keep = [i for i, c in enumerate(history.channels) if totals[i] > 0]
        dead = [c for i, c in enumerate(history.channels) if totals[i] <= 0]
        dead_planned = [c for c in dead if c in scope and c not in excluded]
        if dead_planned:
            raise DataError(
                "no spend at all in the history for channel(s): " + ", ".join(dead_planned),
                source="spend", column="spend", code="data.channel-no-spend",
                hint="the model cannot learn a curve without spend; add them to "
                "`excluded_channels` or leave them out of `channels`",
            )  # fmt: skip
        if dead:
            self.warnings.append(f"no spend in the history, left out: {', '.join(dead)}")
        history = type(history)(
            weeks=history.weeks,
            channels=[history.channels[i] for i in keep],
            spend=history.spend[:, keep],
            kpi=history.kpi,
        )
        for i, c in enumerate(history.channels):
            x = history.spend[:, i]
            cv = float(x.std() / x.mean()) if x.mean() > 0 else 0.0
            if cv < _FLAT_CV and c in scope:
                self.warnings.append(
                    f"{c}: weekly spend barely varies (coefficient of variation {cv:.2f}); its "
                    "response curve cannot be identified from this history and leans on the "
                    "model's priors; test spend changes (e.g. a geo or flighting test) to learn it"
                )
        holdout = spec.holdout_weeks
        if holdout is None:
            holdout = max(4, min(13, n_weeks // 10))
        if holdout >= n_weeks - _MIN_WEEKS // 2:
            holdout = 0
        lifts = (
            load_lift_tests(con, history.channels) if self.inputs.catalog.has(LIFT_SOURCE) else []
        )
        ctx.progress("fitting response curves", 0, None)
        fit = fit_model(
            history,
            lifts=lifts,
            logistic=spec.saturation == "logistic",
            order=order,
            holdout_weeks=holdout,
            bootstrap=spec.bootstrap,
            seed=ctx.seed,
            progress=ctx.on_progress,
        )
        self.lift_checks = [
            LiftCheck(
                channel=history.channels[t.channel],
                spend=t.spend,
                delta_spend=t.delta_spend,
                measured=t.delta_kpi,
                sigma=t.sigma,
                weeks=t.weeks or None,
                fitted=f,
                z=(f - t.delta_kpi) / t.sigma,
            )
            for t, f in zip(lifts, fit.lift_fits, strict=True)
        ]
        for i, chk in enumerate(self.lift_checks, start=1):
            if abs(chk.z) > 3:
                self.warnings.append(
                    f"lift test {i} ({chk.channel}) measured {chk.measured:,.0f} per week but "
                    f"the fit, which also has to explain the history, gives {chk.fitted:,.0f} "
                    f"({chk.z:+.1f} standard errors): check the test's numbers and units"
                )
        if (caveat := holdout_caveat(fit.holdout_r2, fit.holdout_weeks)) is not None:
            self.caveats.append(caveat)
        if fit.r2 < 0.5:
            self.warnings.append(
                f"the model explains little of the KPI's variation (R² {fit.r2:.2f}); "
                "treat the curves and the plan with caution"
            )
        if spec.cv_folds > 0:
            ctx.progress("validating out of sample", 0, None)
            self.validation = validate(
                history,
                folds=spec.cv_folds,
                logistic=spec.saturation == "logistic",
                order=order,
                lifts=lifts,
            )
            if self.validation is None:
                self.warnings.append(
                    f"{n_weeks} weeks are too few for the out-of-sample check (each test "
                    "window needs at least half the history before it): the plan is not "
                    "checked against a baseline without media"
                )
        return self._optimise(fit, scope, excluded)

    def _align(self, data_channels: Sequence[str]) -> None:
        """Put the spec's channel names in the data's words.

        The goal parser writes canonical names (``paid_search``) while a spend file may use
        a synonym (``search``, ``Google Ads``): a name the data lacks is matched through
        its canonical channel when exactly one data channel shares it.
        """
        match = channel_matcher(data_channels)

        def name(c: str) -> str:
            return c if c == "*" else (match(c) or norm_channel(c))

        s = self.spec
        self.spec = s.model_copy(
            update={
                "channels": [name(c) for c in s.channels] if s.channels else s.channels,
                "excluded_channels": [name(c) for c in s.excluded_channels],
                "banned_channels": [name(c) for c in s.banned_channels],
                "min_spend": {name(k): v for k, v in s.min_spend.items()},
                "max_spend": {name(k): v for k, v in s.max_spend.items()},
                "min_share": {name(k): v for k, v in s.min_share.items()},
                "max_share": {name(k): v for k, v in s.max_share.items()},
                "brand_max_share": {name(k): v for k, v in s.brand_max_share.items()},
            }
        )

    def _scope(self, data_channels: Sequence[str]) -> tuple[list[str], set[str]]:
        spec = self.spec
        known = set(data_channels)
        wanted = [norm_channel(c) for c in spec.channels] if spec.channels else list(data_channels)
        named = {
            "channels": wanted if spec.channels else [],
            "excluded_channels": [norm_channel(c) for c in spec.excluded_channels],
            "min_spend": [norm_channel(c) for c in spec.min_spend],
            "max_spend": [norm_channel(c) for c in spec.max_spend],
            "min_share": [norm_channel(c) for c in spec.min_share],
            "max_share": [norm_channel(c) for c in spec.max_share if c != "*"],
        }
        for field, names in named.items():
            unknown = [c for c in names if c not in known]
            if unknown:
                sugg = [
                    f"{u!r} -> {m[0]!r}"
                    for u in unknown
                    if (m := difflib.get_close_matches(u, list(known), n=1))
                ]
                raise self.fail(
                    f"unknown channel(s) in `{field}`: {', '.join(unknown)} "
                    f"(the spend data has: {', '.join(data_channels)})",
                    "budget.unknown-channel",
                    ("did you mean " + ", ".join(sugg) + "? ") * bool(sugg)
                    + "use the channel names of the spend data",
                )
        excluded = set(named["excluded_channels"]) | {
            norm_channel(c) for c in self.spec.banned_channels
        }
        scope = list(dict.fromkeys(wanted + [c for c in data_channels if c in excluded]))
        return scope, excluded

    def _optimise(self, fit: Fit, scope: list[str], excluded: set[str]) -> BudgetPlan:
        spec, ctx = self.spec, self.ctx
        hist = fit.history
        w = spec.horizon_weeks
        idx_all = {c: i for i, c in enumerate(hist.channels)}
        names = [c for c in scope if c in idx_all or c in excluded]
        model_idx = np.array([idx_all.get(c, -1) for c in names], dtype=np.intp)
        curves = planned_curves(fit, model_idx, fit.params)
        recent = hist.spend[-min(spec.current_weeks, len(hist.weeks)) :]
        cur_weekly = np.array([recent[:, i].mean() if i >= 0 else 0.0 for i in model_idx])
        cur_total = float(cur_weekly.sum())
        total = self._spendable()
        recent_weeks = min(spec.current_weeks, len(hist.weeks))
        if caveat := run_rate_caveat(total, cur_total, recent_weeks, w, spec.currency):
            self.caveats.insert(0, caveat)  # about the user's own input: first
        mix = (
            cur_weekly / cur_total if cur_total > 0 else np.full(len(names), 1 / max(len(names), 1))
        )
        previous = mix * total
        seen = self._history_range(fit, model_idx)
        # The history's floor holds only when the whole budget is spent (not when the
        # plan may spend less: a target, a CPA/ROAS bound).
        floor = spec.mode == "budget" and self._return_bound() is None
        bounds = plan_bounds(spec, names, total, previous, excluded, seen, floor, self.warnings)
        lo, hi, lo_why = bounds.lo, bounds.hi, bounds.lo_why

        def solve(amount: float) -> tuple[FloatArray, float, bool]:
            sol = maximise(curves, amount / w, lo / w, np.minimum(hi, amount) / w)
            return sol.x * w, sol.price, sol.certified

        def media(x: FloatArray) -> float:
            return float(curves.value(x / w).sum()) * w

        ctx.progress("optimising the budget split", 0, None)
        try:
            x, price, certified = solve(total)
        except InfeasibleBounds as exc:
            raise self.fail(*infeasible(exc, names, total, bounds, spec.currency)) from None

        horizon = self._horizon_weeks(hist.weeks[-1])
        frac = w / len(horizon)
        other_media = self._other_media(fit, names)
        baseline = float(fit.base_at(horizon).sum()) * frac
        bau_media = media(cur_weekly * w) if cur_total > 0 else 0.0
        target = spec.target
        if spec.target_growth is not None and target is None:
            target = (baseline + other_media + bau_media) * (1 + spec.target_growth)

        if spec.mode == "target":
            if target is None:
                raise self.fail(
                    "mode 'target' needs a KPI target",
                    "budget.no-target",
                    "set `target:` or `target_growth:` in `with:`, or state one in the goal",
                )
            need = target - baseline - other_media
            if media(x) >= need:
                x, price, certified = self._least_spend(solve, media, need, float(lo.sum()), total)
            else:
                self.warnings.append(
                    f"the target {target:,.0f} {spec.kpi} is out of reach with the budget; the "
                    "plan spends it all for the most it can get"
                )
        bound = self._return_bound()
        if bound is not None:
            r, label = bound
            if media(x) < r * float(x.sum()) - 1e-9:
                x, price, certified = self._within_return(solve, media, r, label, float(lo.sum()), float(x.sum()), names, lo, lo_why)  # fmt: skip

        decision = "point"
        reference = cur_weekly
        v = self.validation
        if v is not None and not v.beats_baseline:
            # The curves forecast no better than no media at all: moving money on them
            # would be a guess. The current mix, moved only as far as the constraints
            # demand, is both the plan and what its (zero) uplift is measured against.
            x = nearest_within(mix * float(x.sum()), lo, np.minimum(hi, total))
            decision, reference = "current_mix", x / w
            self.caveats.insert(0, current_mix_caveat(v, spec.kpi))
        elif spec.decision != "point" and spec.mode == "budget" and bound is None and fit.draws:
            x = self._resampled(fit, model_idx, total, lo, hi)
            decision = "resampled"
            if spec.decision == "guarded":
                start = nearest_within(mix * total, lo, np.minimum(hi, total))
                x = self._guarded(fit, model_idx, start, x, mix * total)
                decision = "guarded"
        self.warnings += history_range_notes(spec, names, x, bounds)
        solved = Solved(
            names=names, model_idx=model_idx, curves=curves, x=x, previous=previous,
            cur_weekly=reference, bounds=bounds, price=price, certified=certified, total=total,
            baseline=baseline, other_media=other_media, horizon=horizon, frac=frac, target=target,
            decision=decision,
        )  # fmt: skip
        return build_plan(
            spec, fit, solved, self.warnings, self.lift_checks, ctx.out_dir, self.caveats,
            validation=v,
        )  # fmt: skip

    def _spendable(self) -> float:
        """The budget, capped by ``max_total_spend`` (with a note when the cap binds)."""
        spec = self.spec
        total = (
            spec.budget if spec.max_total_spend is None else min(spec.budget, spec.max_total_spend)
        )
        if spec.max_total_spend is not None and spec.max_total_spend < spec.budget:
            self.warnings.append(
                f"max_total_spend {spec.max_total_spend:,.0f} caps the budget of {spec.budget:,.0f}"
            )
        return total

    def _history_range(self, fit: Fit, model_idx: npt.NDArray[np.intp]) -> FloatArray | None:
        """Each planned channel's central spend range in the history, over the horizon
        (rows: low, high; NaN for a channel without history), when ``history_range`` is set."""
        spec = self.spec
        if spec.history_range is None:
            return None
        tail = 50.0 * (1.0 - spec.history_range)
        q = np.percentile(fit.history.spend, [tail, 100.0 - tail], axis=0) * spec.horizon_weeks
        return np.array([q[:, i] if i >= 0 else [np.nan, np.nan] for i in model_idx]).T

    def _other_media(self, fit: Fit, names: list[str]) -> float:
        """The horizon's KPI from the channels outside the plan, at their current weekly spend."""
        hist, spec = fit.history, self.spec
        all_curves = fit.curves()
        others = [i for i, c in enumerate(hist.channels) if c not in names]
        return (
            sum(
                float(
                    all_curves.subset(np.array([i])).value(
                        np.array([hist.spend[-spec.current_weeks :, i].mean()])
                    )[0]
                )
                for i in others
            )
            * spec.horizon_weeks
        )

    def _resampled(
        self,
        fit: Fit,
        model_idx: npt.NDArray[np.intp],
        total: float,
        lo: FloatArray,
        hi: FloatArray,
    ) -> FloatArray:
        """The average of the best splits on every bootstrap refit of the curves.

        One fit's optimum chases its estimation error: a channel whose return came out
        high gets too much. Averaging the optima over the refits (as resampled portfolio
        optimisation does) keeps what they agree on and shrinks what they do not. Each
        refit's split meets the same bounds and sums to the budget, and so does their
        average (the constraints are a box and a sum). Benchmarked in benchmarks/budget.py.
        """
        w = self.spec.horizon_weeks
        splits = []
        for i, p in enumerate(fit.draws):
            c = planned_curves(fit, model_idx, p)
            splits.append(maximise(c, total / w, lo / w, np.minimum(hi, total) / w).x)
            self.ctx.progress("optimising the budget split", i + 1, len(fit.draws))
        return np.asarray(np.mean(splits, axis=0) * w, dtype=np.float64)

    def _guarded(
        self,
        fit: Fit,
        model_idx: npt.NDArray[np.intp],
        start: FloatArray,
        goal: FloatArray,
        current: FloatArray,
    ) -> FloatArray:
        """The largest step from ``start`` (the current mix within the bounds) towards
        ``goal`` (the resampled split) whose share of refits doing worse than ``current``
        (the current mix) is at most ``max_loss_probability``.

        Each point of the segment meets the bounds and sums to the budget (both ends do,
        and the constraints are a box and a sum). The share is a step function of the
        step length, so the steps are searched on a grid, longest first.
        """
        w, bound = self.spec.horizon_weeks, self.spec.max_loss_probability
        per_draw = [planned_curves(fit, model_idx, p) for p in fit.draws]
        base = np.array([float(c.value(current / w).sum()) for c in per_draw])
        for step in np.linspace(1.0, 0.0, 21):
            x = start + step * (goal - start)
            gains = np.array([float(c.value(x / w).sum()) for c in per_draw]) - base
            if float(np.mean(gains < 0)) <= bound:
                if step < 1.0:
                    self.warnings.append(
                        f"decision guarded: the plan moves {step:.0%} of the way from the "
                        f"current mix to the resampled split, the furthest at which at most "
                        f"{bound:.0%} of the refits do worse than the current mix"
                    )
                return np.asarray(x, dtype=np.float64)
        self.warnings.append(
            "decision guarded: even the current mix within the constraints does worse than "
            f"the current mix in more than {bound:.0%} of the refits; the plan keeps it"
        )
        return start

    def _horizon_weeks(self, last: dt.date) -> list[dt.date]:
        start = self.spec.horizon_start
        first = (
            (start - dt.timedelta(days=start.weekday())) if start else last + dt.timedelta(weeks=1)
        )
        n = max(1, math.ceil(self.spec.horizon_weeks - 1e-9))
        return [first + dt.timedelta(weeks=i) for i in range(n)]

    def _return_bound(self) -> tuple[float, str] | None:
        spec = self.spec
        money_kpi = spec.kpi.lower() in ("revenue", "sales", "profit")
        if spec.max_cpa is not None:
            if money_kpi:
                self.warnings.append(
                    f"max_cpa ignored: the modelled KPI {spec.kpi!r} is money, not a count "
                    "(model `conversions` to bound CPA)"
                )
            else:
                return 1.0 / spec.max_cpa, f"max_cpa {spec.max_cpa:,.2f}"
        if spec.min_roas is not None:
            if not money_kpi:
                self.warnings.append(
                    f"min_roas ignored: the modelled KPI {spec.kpi!r} is not money "
                    "(model `revenue` to bound ROAS)"
                )
            else:
                return spec.min_roas, f"min_roas {spec.min_roas:g}"
        return None

    def _least_spend(
        self, solve: Any, media: Any, need: float, low: float, high: float
    ) -> tuple[FloatArray, float, bool]:
        """Least total spend whose best split reaches ``need`` (the best value rises with it)."""
        if low > 0 and media(solve(low)[0]) >= need:
            return solve(low)  # type: ignore[no-any-return]
        a, b = low, high
        for _ in range(50):
            mid = 0.5 * (a + b)
            if media(solve(mid)[0]) >= need:
                b = mid
            else:
                a = mid
            if b - a <= 1e-6 * max(1.0, high):
                break
        return solve(b)  # type: ignore[no-any-return]

    def _within_return(
        self,
        solve: Any,
        media: Any,
        r: float,
        label: str,
        low: float,
        high: float,
        names: list[str],
        lo: FloatArray,
        lo_why: list[list[str]],
    ) -> tuple[FloatArray, float, bool]:
        """Largest spend whose best split keeps media KPI / spend >= r."""
        grid = np.linspace(high, max(low, high * 1e-3), 25)
        ok = None
        prev = high
        for g in grid:
            if media(solve(float(g))[0]) >= r * g:
                ok = float(g)
                break
            prev = float(g)
        if ok is None:
            mins = ", ".join(f"{names[i]} {lo[i]:,.0f} ({'; '.join(lo_why[i])})" for i in range(len(names)) if lo[i] > 0)  # fmt: skip
            raise self.fail(
                f"infeasible budget constraints: no spend level meets {label} "
                + (f"together with the minimums {mins}" if mins else "on the fitted curves"),
                "budget.infeasible",
                f"loosen {label.split(maxsplit=1)[0]} or the minimum spends",
            )
        a, b = ok, prev
        for _ in range(40):
            mid = 0.5 * (a + b)
            if media(solve(mid)[0]) >= r * mid:
                a = mid
            else:
                b = mid
            if b - a <= 1e-6 * max(1.0, high):
                break
        self.warnings.append(
            f"{label} binds: the plan spends {a:,.0f} of the {high:,.0f} available"
        )
        return solve(a)  # type: ignore[no-any-return]
