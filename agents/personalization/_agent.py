"""The personalization agent: segments, next-best-action, evaluation, messages, audiences."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from agents.personalization._models import (
    PersonalizationPlan,
    PersonalizationSpec,
)
from agents.personalization._run_steps import (
    allowed_actions,
    assign,
    audiences,
    drop_unservable,
    evaluate_and_fit,
    fairness,
    features,
    learning,
    messages_for,
    policy_summary,
    privacy,
    segment_table,
    write_tables,
)
from agents.personalization._steps import (
    _action_table,
    _catalogue,
    _check_customers,
    _insights,
    _segment,
    _target_mask,
)
from conductor import (
    Agent,
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
            # Consent may be per channel only (a CRM's 'Email Opt-In', 'SMS Opt-In'): the
            # agent checks there is consent for every channel it sends on.
            columns={"customer_id": "string"},
            optional_columns={"consent_marketing": "bool"},
            description="one row per customer: consent per channel (or a general flag) "
            "plus any feature columns",
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
        return _resolve_actions_file(spec, ctx)

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
        allowed = allowed_actions(catalogue, spec, ctx.step)
        sends = np.array([a.sends for a in catalogue])
        cat = inputs.catalog
        con = inputs.db()
        cust_cols = cat.columns("customers")
        n = _check_customers(con, cust_cols)
        ctx.progress("privacy", 1, 7)
        priv = privacy(con, cat, cust_cols, spec, ctx.brand, catalogue, allowed, n, warnings)
        supp = priv.supp

        ctx.progress("features", 2, 7)
        feats = features(con, cat, cust_cols, spec, priv, n, ctx.step, warnings)
        ctx.progress("segments", 3, 7)
        seg = _segment(spec, feats.enc, feats.rfm, n, rng)
        target = _target_mask(spec, seg, ctx.step, warnings)

        ctx.progress("learning", 4, 7)
        lrn = learning(con, priv.exp_cols, feats.X, catalogue, allowed, spec, ctx.step, warnings)
        drop_unservable(priv, lrn, allowed, warnings)
        ctx.progress("evaluating", 5, 7)
        evaluation, model = evaluate_and_fit(
            spec, feats.X, supp.eligible & target, lrn, allowed, priv.can_get, sends, rng
        )

        ctx.progress("assigning", 6, 7)
        asg = assign(
            model, feats.X, supp.eligible & target, allowed, priv.can_get, spec, n, rng, ctx,
            warnings,
        )  # fmt: skip
        ctx.progress("messages", 7, 7)
        write_tables(ctx.out_dir, con, seg, priv, target, asg, feats.rfm, catalogue, n)
        fair = fairness(con, cust_cols, spec, supp, asg, action_ids, warnings)

        segments = segment_table(seg, supp, asg, catalogue)
        messages, index = messages_for(spec, ctx, seg, asg, catalogue, warnings)
        policy = policy_summary(spec, feats, lrn, supp, target, asg, action_ids, n)
        return PersonalizationPlan(
            segments=segments,
            actions=_action_table(catalogue, lrn.log, lrn.counts, asg.action_full, allowed, model),
            policy=policy,
            evaluation=evaluation,
            fairness=fair,
            messages=messages,
            message_index=index,
            audiences=audiences(spec, segments, seg, feats, supp, fair),
            consent=priv.consent.summary,
            insights=_insights(spec, policy, evaluation, supp, fair, n),
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
        # Columns an earlier round left out stay out (the runner hands every round the
        # planned spec, which does not have them).
        earlier = _excluded_before(output)
        if earlier:
            spec = spec.model_copy(
                update={"exclude_features": sorted({*spec.exclude_features, *earlier})}
            )
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


def _resolve_actions_file(spec: PersonalizationSpec, ctx: PlanContext) -> PersonalizationSpec:
    """``actions_file`` made absolute against the pipeline file's folder, and checked.

    The folder is ``ctx.base_dir`` (a pipeline's relative paths resolve from the pipeline
    file, as ``data:`` paths do); outside a pipeline, the working directory. A missing file is reported when the pipeline is validated or planned,
    naming the parameter, rather than when the step runs.
    """
    if not spec.actions_file:
        return spec
    path = Path(spec.actions_file).expanduser()
    if not path.is_absolute():
        path = (ctx.base_dir if ctx.base_dir is not None else Path.cwd()) / path
    path = path.resolve()
    if not path.is_file():
        raise SpecError(
            f"the actions catalogue file {spec.actions_file!r} does not exist (looked for {path})",
            step=ctx.step,
            field="actions_file",
            code="personalization.actions-file-not-found",
            hint="a relative `actions_file` is read from the pipeline file's folder; it is a "
            "CSV with columns id, channel, offer[, template, subject]",
        )
    return spec.model_copy(update={"actions_file": str(path)})


_EXCLUDED = " (excluded (`exclude_features`))"


def _excluded_before(output: PersonalizationPlan) -> list[str]:
    """The columns the plan left out because of ``exclude_features``."""
    return [d[: -len(_EXCLUDED)] for d in output.policy.dropped_attributes if d.endswith(_EXCLUDED)]


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
