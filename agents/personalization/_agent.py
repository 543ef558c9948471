"""The personalization agent: segments, next-best-action, evaluation, messages, audiences."""

# ruff: noqa: N806  (X, W, P: matrix names as in the maths they implement)

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

import numpy as np

from agents.personalization._bandit import (
    decide,
    estimate_propensities,
    fit_reward_model,
    importance_weights,
)
from agents.personalization._features import (
    Rfm,
    encode_features,
    rfm_features,
    select_feature_columns,
)
from agents.personalization._messages import build_messages
from agents.personalization._messages import slug as _slug
from agents.personalization._models import (
    PersonalizationPlan,
    PersonalizationSpec,
    PolicySummary,
)
from agents.personalization._privacy import (
    fairness_report,
    load_fairness_groups,
    suppress,
)
from agents.personalization._steps import (
    _action_table,
    _catalogue,
    _channel_allowed,
    _check_customers,
    _contact_cap,
    _customer_ids,
    _design,
    _evaluate,
    _insights,
    _load_log,
    _pairs,
    _rfm_names,
    _segment,
    _segment_table,
    _target_mask,
    _write_assignments,
    _write_segments,
    _write_suppression,
    seg_attributes,
)
from conductor import (
    Agent,
    Audience,
    Copy,
    DataNeed,
    Derived,
    Inputs,
    PlanContext,
    RunContext,
    SpecError,
    Violation,
    apply_fixes,
)

__all__ = ["PersonalizationAgent"]

_AUDIENCE_WORDS: list[tuple[tuple[str, ...], list[str]]] = [
    (
        ("lapsed", "churn", "win back", "win-back", "winback", "inactive", "dormant", "at risk"),
        ["About to sleep", "At risk", "Can't lose them", "Hibernating"],
    ),
    (("new customer", "first-time", "first time", "recent sign"), ["New customers", "Promising"]),
    (("loyal", "vip", "best customer", "top customer"), ["Champions", "Loyal customers"]),
]

_KPI_REWARD = {
    "revenue": "revenue",
    "aov": "revenue",
    "roas": "revenue",
    "conversions": "conversion",
    "cpa": "conversion",
    "retention_rate": "retention",
    "churn_rate": "retention",
    "reach": "engagement",
}

_RESERVED = ("customer_id", "consent_marketing", "propensity")


class PersonalizationAgent(Agent[PersonalizationSpec, PersonalizationPlan]):
    """Segments customers, learns the next best action from past exposures, writes messages."""

    name = "personalization"
    description = (
        "Segments (RFM or k-means), next-best-action learned off-policy from past exposures, "
        "offline evaluation, on-brand messages; suppression and fairness built in"
    )
    spec_type = PersonalizationSpec
    output_type = PersonalizationPlan
    needs: ClassVar[dict[str, Any]] = {}
    data: ClassVar[dict[str, DataNeed]] = {
        "customers": DataNeed(
            columns={"customer_id": "string", "consent_marketing": "bool"},
            description="one row per customer: consent flag plus any feature columns",
        ),
        "exposures": DataNeed(
            columns={
                "customer_id": "string",
                "timestamp": "timestamp",
                "action": "string",
                "reward": "number",
            },
            optional_columns={"propensity": "number"},
            description="what was sent before, the reward it earned, and its logging propensity",
        ),
        "events": DataNeed(
            columns={"customer_id": "string", "timestamp": "timestamp"},
            optional_columns={"event_type": "string", "revenue": "number"},
            required=False,
            description="behaviour for recency / frequency / monetary features",
        ),
    }

    # ------------------------------------------------------------------ plan
    def plan(self, ctx: PlanContext) -> PersonalizationSpec:
        """Derive channels, audience, target segments, reward label and fairness groups."""
        derived: dict[str, Derived] = {}
        goal = ctx.goal
        if goal.channels:
            derived["channels"] = ctx.from_goal([str(c) for c in goal.channels], "channels")
        if goal.excluded_channels:
            derived["excluded_channels"] = ctx.from_goal(
                [str(c) for c in goal.excluded_channels], "excluded_channels"
            )
        if goal.audience:
            derived["audience"] = ctx.from_goal(goal.audience, "audience")
            method = ctx.params.get("segment_method", "rfm")
            text = goal.audience.lower()
            targets: list[str] = []
            for words, segments in _AUDIENCE_WORDS:
                if any(w in text for w in words):
                    targets.extend(s for s in segments if s not in targets)
            if targets and method == "rfm":
                derived["target_segments"] = ctx.from_goal(targets, "audience")
        label = _KPI_REWARD.get(str(goal.kpi.value if hasattr(goal.kpi, "value") else goal.kpi))
        if label:
            derived["reward_label"] = ctx.from_goal(label, "kpi")
        rules = getattr(ctx.brand, "audience", None) if ctx.brand is not None else None
        if rules is not None:
            groups = list(getattr(rules, "fairness_groups", None) or [])
            if groups:
                derived["fairness_groups"] = ctx.from_brand(groups, "audience.fairness_groups")
            threshold = getattr(rules, "fairness_threshold", None)
            if threshold is not None:
                derived["fairness_threshold"] = ctx.from_brand(
                    float(threshold), "audience.fairness_threshold"
                )
        spec: PersonalizationSpec = ctx.build(derived)
        return spec

    # ------------------------------------------------------------------- run
    def run(
        self, spec: PersonalizationSpec, inputs: Inputs, ctx: RunContext
    ) -> PersonalizationPlan:
        """Build segments, learn and evaluate the policy, assign actions, write messages."""
        seed = spec.seed if spec.seed is not None else ctx.seed
        rng = np.random.default_rng(seed)
        warnings: list[str] = []
        catalogue = _catalogue(spec, ctx.step)
        action_ids = [a.id for a in catalogue]
        allowed = np.array([_channel_allowed(a.channel, spec) for a in catalogue])
        if not allowed.any():
            raise SpecError(
                "no action in the catalogue is on a channel this step may use",
                step=ctx.step,
                field="channels",
                code="personalization.no-allowed-action",
                hint=f"catalogue channels: {sorted({a.channel for a in catalogue})}; "
                f"allowed: {spec.channels}, excluded: {spec.excluded_channels}",
            )
        cat = inputs.catalog
        con = inputs.db()
        cust_cols = cat.columns("customers")
        n = _check_customers(con, cust_cols)
        ctx.progress("privacy", 1, 7)

        rules = getattr(ctx.brand, "audience", None) if ctx.brand is not None else None
        sensitive = list(getattr(rules, "sensitive_attributes", None) or []) if rules else []
        exp_cols = cat.columns("exposures")
        extra = _contact_cap(con, exp_cols, rules)
        supp = suppress(
            con,
            cust_cols,
            rules,
            extra,
            missing_column=spec.missing_exclusion_column,
            warnings=warnings,
        )
        if rules is not None and getattr(rules, "min_age", None) and supp.min_age_enforced is None:
            warnings.append(
                "the brand sets a minimum age but the customers table has no `age` column: "
                "age could not be checked"
            )

        ctx.progress("features", 2, 7)
        chosen, dropped = select_feature_columns(
            cust_cols,
            requested=spec.features,
            sensitive=sensitive,
            reserved=_RESERVED,
            measured_only=spec.fairness_groups,
            step=ctx.step,
        )
        if spec.exclude_features:
            excluded = {c.lower() for c in spec.exclude_features}
            for col in [c for c in chosen if c.lower() in excluded]:
                chosen.remove(col)
                dropped[col] = "excluded (`exclude_features`)"
        enc = encode_features(con, cust_cols, chosen, n)
        dropped.update(enc.dropped)
        rfm: Rfm | None = None
        if cat.has("events"):
            rfm = rfm_features(con, cat.columns("events"), spec.as_of)
        else:
            warnings.append("no `events` source: segments and features use customer columns only")
        X = _design(enc, rfm)
        feature_names = ["intercept", *enc.names, *(_rfm_names(rfm))]
        attributes = sorted({*enc.sources, *(_rfm_names(rfm))})

        ctx.progress("segments", 3, 7)
        seg = _segment(spec, enc, rfm, n, rng)
        target = _target_mask(spec, seg, ctx.step, warnings)

        ctx.progress("learning", 4, 7)
        log = _load_log(con, exp_cols, action_ids, spec, warnings)
        n_log = log.idx.size
        X_log = X[log.idx]
        if log.propensity is not None:
            prop_source: Literal["logged", "estimated"] = "logged"
            logging_p = log.propensity
        else:
            prop_source = "estimated"
            logging_p = estimate_propensities(X_log, log.action, len(catalogue))
            warnings.append(
                "the exposures log has no propensity column: logging propensities were "
                "estimated (multinomial logit), so the evaluation is less certain"
            )
        weights = importance_weights(log.propensity, n_log, spec.max_weight)
        kind = spec.model
        if kind == "auto":
            kind = "logistic" if np.isin(log.reward, (0.0, 1.0)).all() else "linear"
        elif kind == "logistic" and not np.isin(log.reward, (0.0, 1.0)).all():
            raise SpecError(
                "model 'logistic' needs 0/1 rewards, but the log has other values",
                step=ctx.step,
                field="model",
                code="personalization.bad-reward",
                hint="use model: linear (or auto) for revenue-like rewards",
            )
        counts = np.bincount(log.action, minlength=len(catalogue))
        for a in np.flatnonzero(allowed & (counts == 0)):
            warnings.append(
                f"action {action_ids[a]!r} never appears in the exposures log, so its effect "
                "cannot be learned; it is not assigned (send it to a random test group first)"
            )

        ctx.progress("evaluating", 5, 7)
        evaluation = _evaluate(
            spec, X, supp.eligible & target, X_log, log, logging_p, weights, allowed, kind, rng
        )
        model = fit_reward_model(
            X_log,
            log.action,
            log.reward,
            weights,
            len(catalogue),
            kind=kind,
            prior_precision=spec.prior_precision,
        )

        ctx.progress("assigning", 6, 7)
        rows = np.flatnonzero(supp.eligible & target)
        if rows.size == 0:
            warnings.append(
                "nobody may be contacted: every customer is suppressed or out of audience"
            )
        start = time.perf_counter()
        dec = decide(
            model,
            X[rows].astype(np.float32),
            allowed=allowed,
            exploration=spec.exploration,
            samples=spec.thompson_samples,
            rng=rng,
        )
        elapsed = time.perf_counter() - start
        ctx.log.info(
            "personalization.scored",
            customers=int(rows.size),
            decisions_per_second=round(rows.size / elapsed) if elapsed > 0 else None,
        )
        usable = allowed & model.trained
        mean_pred = dec.expected.mean(axis=0) if rows.size else np.zeros(len(catalogue))
        best = int(np.flatnonzero(usable)[np.argmax(mean_pred[usable])])
        control_rows = rng.random(rows.size) < spec.control_share
        treated_rows = ~control_rows

        action_full = np.full(n, -1, dtype=np.int64)
        policy_full = np.full(n, -1, dtype=np.int64)
        expected_full = np.full(n, np.nan)
        policy_full[rows] = dec.action
        action_full[rows[treated_rows]] = dec.action[treated_rows]
        chosen_exp = dec.expected[np.arange(rows.size), dec.action].astype(np.float64)
        best_exp = dec.expected[:, best].astype(np.float64)
        expected_full[rows] = chosen_exp
        treated = action_full >= 0

        ctx.progress("messages", 7, 7)
        cust_ids = _customer_ids(con)
        group = np.full(n, "suppressed", dtype=object)
        group[supp.eligible & ~target] = "out_of_audience"
        group[rows] = np.where(control_rows, "control", np.where(dec.explored, "explore", "policy"))
        _write_assignments(
            ctx.out_dir / "assignments.parquet",
            cust_ids,
            seg,
            group,
            rows,
            dec,
            control_rows,
            chosen_exp,
            best_exp,
            catalogue,
        )
        _write_suppression(ctx.out_dir / "suppression.parquet", cust_ids, supp)
        _write_segments(ctx.out_dir / "segments.parquet", cust_ids, seg, rfm)

        groups, missing = load_fairness_groups(con, cust_cols, spec.fairness_groups)
        fair = fairness_report(
            groups,
            supp.eligible,
            treated,
            np.maximum(action_full, 0),
            np.nan_to_num(expected_full),
            action_ids,
            spec.fairness_threshold,
            missing,
        )
        for g in missing:
            warnings.append(f"fairness group {g!r} is not a column of the customers table")
        for g in fair.flagged:
            warnings.append(
                f"action rates differ by {fair.gaps[g]:.0%} across {g!r} "
                f"(threshold {fair.threshold:.0%})"
            )

        sends = np.array([a.sends for a in catalogue])
        contacted = treated & sends[np.maximum(action_full, 0)]
        segments = _segment_table(
            seg, supp.eligible, treated, contacted, action_full, expected_full, action_ids
        )
        pairs = _pairs(seg, treated, action_full, catalogue)
        messages, index, msg_warn = build_messages(
            pairs,
            brand=ctx.brand,
            llm=ctx.llm,
            variants=spec.message_variants,
            llm_pairs=spec.llm_pairs,
            step=ctx.step,
        )
        warnings.extend(msg_warn)
        audiences = [
            Audience(
                id=f"audience/{_slug(s.name)}",
                definition=f"{s.name}: {s.definition}"
                + (f" (goal audience: {spec.audience})" if spec.audience else ""),
                size=s.contacted,
                attributes_used=sorted({*attributes, *seg_attributes(seg, rfm, enc)}),
                consent_checked=True,
                min_age=supp.min_age_enforced,
                contacts_per_week=spec.sends_per_week,
                fairness_gap=fair.max_gap,
            )
            for s in segments
            if s.contacted > 0
        ]
        n_treated = int(treated.sum())
        policy = PolicySummary(
            model=kind,
            features=feature_names,
            attributes_used=attributes,
            dropped_attributes=sorted(f"{c} ({r})" for c, r in dropped.items()),
            log_rows=n_log,
            propensities=prop_source,
            exploration=spec.exploration,
            control_share=spec.control_share,
            thompson_samples=spec.thompson_samples,
            customers=n,
            eligible=int(supp.eligible.sum()),
            treated=n_treated,
            control=int(control_rows.sum()),
            out_of_audience=int((supp.eligible & ~target).sum()),
            suppressed=int((~supp.eligible).sum()),
            expected_reward=float(chosen_exp[treated_rows].mean()) if n_treated else 0.0,
            best_single_action=action_ids[best],
            best_single_expected_reward=float(best_exp[treated_rows].mean()) if n_treated else 0.0,
            uplift=float((chosen_exp - best_exp)[treated_rows].mean()) if n_treated else 0.0,
        )
        actions = _action_table(catalogue, log, counts, action_full, allowed, model)
        insights = _insights(spec, policy, evaluation, supp, fair, n)
        return PersonalizationPlan(
            segments=segments,
            actions=actions,
            policy=policy,
            evaluation=evaluation,
            fairness=fair,
            messages=messages,
            message_index=index,
            audiences=audiences,
            insights=insights,
            assignments_path=str(ctx.out_dir / "assignments.parquet"),
            suppression_path=str(ctx.out_dir / "suppression.parquet"),
            segments_path=str(ctx.out_dir / "segments.parquet"),
            warnings=warnings,
        )

    # ---------------------------------------------------------------- revise
    def revise(
        self,
        spec: PersonalizationSpec,
        output: PersonalizationPlan,
        inputs: Inputs,
        ctx: RunContext,
    ) -> PersonalizationPlan:
        """Fix the copy the brand review flagged; drop LLM variants that cannot be fixed.

        Mechanical fixes (replacements, required appends) are applied to the text or
        subject they point at. A template message with no mechanical fix is kept, with a
        warning, for the brand's escalation policy to route; a flagged LLM variant without
        one is dropped (its pair keeps the template message). Feedback on audiences or
        insights cannot be fixed by rewriting, so the plan is computed again; when the
        brand flagged a fairness gap, the columns behind the flagged groups (``age`` for
        ``age_band``) are left out of the features first, and the copy fixes are applied to
        the new plan's messages.
        """
        feedback = list(ctx.feedback)
        copy_ids = {c.id for c in output.messages}
        other = [
            v
            for v in feedback
            if v.artifact_id
            and v.artifact_id not in copy_ids
            and v.artifact_kind not in ("", "copy")
        ]
        if not other:
            return _fix_copy(output, feedback, ctx.brand)
        notes: list[str] = []
        blocked = _fairness_sources(output, other)
        if blocked:
            spec = spec.model_copy(
                update={"exclude_features": sorted({*spec.exclude_features, *blocked})}
            )
            gaps = ", ".join(
                f"{g} ({output.fairness.gaps.get(g, 0.0):.0%})" for g in output.fairness.flagged
            )
            notes.append(
                f"brand review: action rates differed across {gaps}, above the brand's "
                f"{output.fairness.threshold:.0%}; {', '.join(blocked)} no longer used for "
                "targeting, policy learned again"
            )
        fresh = self.run(spec, inputs, ctx)
        # The messages were rendered again from the same templates under the same ids:
        # keep the copy earlier rounds already fixed (a disclaimer added in round 1 must
        # survive a fairness re-run in round 2), and apply this round's fixes on top.
        before = {c.id: c for c in output.messages}
        carried = [before.get(c.id, c) for c in fresh.messages]
        fresh = fresh.model_copy(update={"messages": carried})
        fixed = _fix_copy(fresh, feedback, ctx.brand)
        return fixed.model_copy(update={"warnings": [*notes, *fixed.warnings]})


def _fairness_sources(output: PersonalizationPlan, feedback: list[Violation]) -> list[str]:
    """Feature columns behind the fairness groups the brand review flagged.

    A group is read from its own column or, for ``<column>_band``, from ``<column>``; only
    columns the model actually used are returned (a gap that comes through proxies cannot
    be fixed by dropping a column, and is left to the brand's escalation policy).
    """
    if not any(v.rule == "audience.fairness-gap" for v in feedback):
        return []
    used = {a.lower(): a for a in output.policy.attributes_used}
    out: list[str] = []
    for group in output.fairness.flagged:
        low = group.lower()
        for cand in (low, low.removesuffix("_band")):
            if cand in used and used[cand] not in out:
                out.append(used[cand])
    return out


def _append_before_footer(text: str, channel: str, vs: list[Violation], brand: Any) -> str:
    footer = str(brand.footer(channel) or "").strip() if brand is not None else ""
    body = text.rstrip()
    if not footer or not body.endswith(footer) or not any(v.append for v in vs):
        return apply_fixes(text, vs)
    head = body[: -len(footer)]
    sep = head[len(head.rstrip()) :] or " "
    return apply_fixes(head.rstrip(), vs) + sep + footer


def _fix_copy(
    output: PersonalizationPlan, feedback: list[Violation], brand: Any
) -> PersonalizationPlan:
    """Apply the review's mechanical fixes to the flagged messages.

    Text the review asks to append (a disclaimer) goes before the brand's channel footer,
    so the unsubscribe line or opt-out instruction stays last.
    """
    messages: list[Copy] = []
    dropped: set[str] = set()
    warnings = list(output.warnings)
    for c in output.messages:
        vs = [v for v in feedback if v.artifact_id == c.id]
        if not vs:
            messages.append(c)
            continue
        text_vs = [v for v in vs if v.field in ("text", "")]
        subj_vs = [v for v in vs if v.field == "subject"]
        text = _append_before_footer(c.text, c.channel, text_vs, brand)
        subject = apply_fixes(c.subject, subj_vs) if c.subject is not None else None
        mechanical = all(v.replacement is not None or v.append is not None for v in vs)
        is_variant = c.id.rsplit("/", 1)[-1].startswith("v") and c.id.count("/") >= 3
        if not mechanical and is_variant:
            dropped.add(c.id)
            continue
        if not mechanical:
            warnings.append(
                f"{c.id}: {'; '.join(v.message for v in vs if v.replacement is None and v.append is None)}"
                " (no mechanical fix; needs a person or a new template)"
            )
        messages.append(c.model_copy(update={"text": text, "subject": subject}))
    index = [
        m.model_copy(update={"copy_ids": [i for i in m.copy_ids if i not in dropped]})
        for m in output.message_index
    ]
    return output.model_copy(
        update={"messages": messages, "message_index": index, "warnings": warnings}
    )
