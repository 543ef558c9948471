"""The personalization agent: segments, next-best-action, evaluation, messages, audiences."""

# ruff: noqa: N803, N806  (X, W, P: matrix names as in the maths they implement)

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from agents.personalization._bandit import (
    RewardModel,
    decide,
    estimate_propensities,
    fit_reward_model,
    importance_weights,
)
from agents.personalization._features import (
    Encoded,
    Rfm,
    Segmentation,
    encode_features,
    kmeans_segments,
    rfm_features,
    rfm_segments,
    select_feature_columns,
    single_segment,
)
from agents.personalization._messages import Pair, build_messages
from agents.personalization._messages import slug as _slug
from agents.personalization._models import (
    ActionDef,
    ActionSummary,
    PersonalizationPlan,
    PersonalizationSpec,
    PolicyEvaluation,
    PolicySummary,
    SegmentSummary,
)
from agents.personalization._ope import evaluate_policy, lift
from agents.personalization._privacy import (
    Suppression,
    fairness_report,
    load_fairness_groups,
    suppress,
)
from conductor import (
    Agent,
    Audience,
    Copy,
    DataError,
    DataNeed,
    Derived,
    Inputs,
    Insight,
    PlanContext,
    RunContext,
    SpecError,
    Violation,
    apply_fixes,
)
from conductor.data import quote_ident

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


@dataclass
class _Log:
    idx: NDArray[np.int64]
    action: NDArray[np.int64]
    reward: NDArray[np.float64]
    propensity: NDArray[np.float64] | None
    dropped_unknown_customers: int
    dropped_unknown_actions: int


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


# ---------------------------------------------------------------------- helpers


def _channel_allowed(channel: str, spec: PersonalizationSpec) -> bool:
    if channel in {c.lower() for c in spec.excluded_channels}:
        return False
    if channel == "none":
        return True  # sending nothing is always allowed
    return spec.channels is None or channel in {c.lower() for c in spec.channels}


def _catalogue(spec: PersonalizationSpec, step: str) -> list[ActionDef]:
    actions = list(spec.actions)
    if spec.actions_file:
        path = Path(spec.actions_file)
        if not path.is_file():
            raise DataError(
                "the actions catalogue file does not exist",
                file=path,
                code="personalization.actions-file-not-found",
                hint="`actions_file` is a CSV with columns id, channel, offer[, template, subject]",
            )
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"id", "channel", "offer"}
            have = set(reader.fieldnames or [])
            if not need <= have:
                raise DataError(
                    f"the actions catalogue lacks column(s) {sorted(need - have)}",
                    file=path,
                    code="personalization.bad-catalogue",
                    hint="columns: id, channel, offer[, template, subject]",
                )
            for line, row in enumerate(reader, start=2):
                try:
                    actions.append(
                        ActionDef(
                            id=(row["id"] or "").strip(),
                            channel=row["channel"] or "",
                            offer=(row["offer"] or "").strip(),
                            template=row.get("template") or None,
                            subject=row.get("subject") or None,
                        )
                    )
                except ValueError as exc:
                    raise DataError(
                        f"line {line}: {str(exc).splitlines()[-1].strip()}",
                        file=path,
                        code="personalization.bad-catalogue",
                        hint="every row needs an id, a channel and an offer",
                    ) from None
    if not actions:
        raise SpecError(
            "the actions catalogue is empty",
            step=step,
            field="actions",
            code="personalization.empty-catalogue",
            hint="list at least one action (id, channel, offer) in `actions` or `actions_file`",
        )
    ids = [a.id for a in actions]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SpecError(
            f"duplicate action id(s): {', '.join(dup)}",
            step=step,
            field="actions",
            code="personalization.duplicate-action",
            hint="every action id must be unique across `actions` and `actions_file`",
        )
    return actions


def _check_customers(con: Any, cols: dict[str, str]) -> int:
    if "customer_id" not in {c.lower() for c in cols}:
        raise DataError(
            "required column is missing",
            source="customers",
            column="customer_id",
            code="data.missing-column",
            hint=f"the table has: {', '.join(cols)}",
        )
    total, distinct, nulls = con.execute(
        "SELECT count(*), count(DISTINCT customer_id::VARCHAR), count(*) - count(customer_id) "
        "FROM customers"
    ).fetchone()
    if total == 0:
        raise DataError(
            "the customers table is empty",
            source="customers",
            code="data.empty",
            hint="export at least one customer",
        )
    if nulls:
        raise DataError(
            f"{nulls} customer row(s) have no customer_id",
            source="customers",
            column="customer_id",
            code="data.null-id",
            hint="every customer needs an id",
        )
    if distinct != total:
        raise DataError(
            f"{total - distinct} duplicate customer_id value(s)",
            source="customers",
            column="customer_id",
            code="data.duplicate-id",
            hint="keep one row per customer (deduplicate the export)",
        )
    return int(total)


def _customer_ids(con: Any) -> NDArray[np.object_]:
    raw = con.execute("SELECT customer_id::VARCHAR AS id FROM customers ORDER BY 1").fetchnumpy()[
        "id"
    ]
    return np.asarray(np.ma.getdata(raw), dtype=object)


def _contact_cap(con: Any, exp_cols: dict[str, str], rules: Any) -> list[tuple[str, Any]]:
    cap = getattr(rules, "max_contacts_per_week", None) if rules is not None else None
    if cap is None:
        return []
    ts = quote_ident(next((c for c in exp_cols if c.lower() == "timestamp"), "timestamp"))
    data = con.execute(
        f"""
        WITH recent AS (
            SELECT customer_id::VARCHAR AS customer_id, count(*) AS k
            FROM exposures
            WHERE coalesce(TRY_CAST({ts} AS TIMESTAMP), NULL) >
                  (SELECT max(coalesce(TRY_CAST({ts} AS TIMESTAMP), NULL)) FROM exposures) - INTERVAL 7 DAY
            GROUP BY 1
        )
        SELECT coalesce(r.k, 0) >= ? AS capped
        FROM (SELECT customer_id::VARCHAR AS customer_id FROM customers) c
        LEFT JOIN recent r USING (customer_id)
        ORDER BY c.customer_id
        """,
        [float(cap)],
    ).fetchnumpy()
    mask: NDArray[np.bool_] = np.ma.filled(np.ma.asarray(data["capped"], dtype=bool), False)
    return [(f"contact cap: {cap:g} message(s) in the last 7 days reached", mask)]


def _rfm_names(rfm: Rfm | None) -> list[str]:
    if rfm is None:
        return []
    return ["recency_days", "frequency", *(["monetary"] if rfm.has_monetary else [])]


def _design(enc: Encoded, rfm: Rfm | None) -> NDArray[np.float64]:
    parts = [np.ones((enc.X.shape[0], 1)), enc.X]
    if rfm is not None:
        cols = [rfm.recency_days, rfm.frequency] + ([rfm.monetary] if rfm.has_monetary else [])
        for c in cols:
            v = np.log1p(np.maximum(c, 0.0))  # heavy-tailed counts and money
            sd = v.std()
            parts.append(((v - v.mean()) / sd if sd > 1e-12 else v * 0.0)[:, None])
    return np.ascontiguousarray(np.hstack(parts))


def _segment(
    spec: PersonalizationSpec, enc: Encoded, rfm: Rfm | None, n: int, rng: np.random.Generator
) -> Segmentation:
    if spec.segment_method == "rfm" and rfm is not None:
        return rfm_segments(rfm, spec.rfm_bins)
    feats: dict[str, NDArray[np.float64]] = {}
    if rfm is not None:
        feats.update({"recency_days": rfm.recency_days, "frequency": rfm.frequency})
        if rfm.has_monetary:
            feats["monetary"] = rfm.monetary
    feats.update(enc.numeric)
    if not feats:
        return single_segment(n)
    return kmeans_segments(feats, spec.segment_count, rng)


def seg_attributes(seg: Segmentation, rfm: Rfm | None, enc: Encoded) -> list[str]:
    """Attributes the segmentation reads."""
    if seg.method == "rfm":
        return _rfm_names(rfm)
    if seg.method == "kmeans":
        return [*_rfm_names(rfm), *enc.numeric]
    return []


def _target_mask(
    spec: PersonalizationSpec, seg: Segmentation, step: str, warnings: list[str]
) -> NDArray[np.bool_]:
    if spec.target_segments is None:
        return np.ones(seg.labels.size, dtype=bool)
    wanted = {s.lower() for s in spec.target_segments}
    hit = [i for i, name in enumerate(seg.names) if name.lower() in wanted]
    if not hit:
        raise SpecError(
            "none of the target segments exists in this data",
            step=step,
            field="target_segments",
            code="personalization.unknown-segment",
            hint=f"segments found: {', '.join(seg.names)}",
        )
    unknown = sorted(wanted - {seg.names[i].lower() for i in hit})
    if unknown:
        warnings.append(f"target segment(s) not found in the data: {', '.join(unknown)}")
    return np.isin(seg.labels, hit)


def _load_log(
    con: Any,
    cols: dict[str, str],
    action_ids: list[str],
    spec: PersonalizationSpec,
    warnings: list[str],
) -> _Log:
    lower = {c.lower(): c for c in cols}
    for need in ("customer_id", "action", "reward"):
        if need not in lower:
            raise DataError(
                "required column is missing",
                source="exposures",
                column=need,
                code="data.missing-column",
                hint=f"the log has: {', '.join(cols)}",
            )
    act, rew = quote_ident(lower["action"]), quote_ident(lower["reward"])
    prop = quote_ident(lower["propensity"]) if "propensity" in lower else None
    (total,) = con.execute("SELECT count(*) FROM exposures").fetchone()
    if total == 0:
        raise DataError(
            "the exposures log is empty: there is no history to learn from",
            source="exposures",
            code="personalization.empty-log",
            hint="export past sends with their outcome (customer_id, timestamp, action, reward)",
        )
    unknown = con.execute(
        f"SELECT coalesce({act}::VARCHAR, '(missing)') AS a, count(*) FROM exposures "
        f"WHERE {act} IS NULL OR NOT list_contains(?::VARCHAR[], {act}::VARCHAR) "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
        [action_ids],
    ).fetchall()
    n_unknown = sum(int(c) for _, c in unknown)
    if unknown and spec.unknown_actions == "error":
        shown = ", ".join(f"{a!r} ({c} rows)" for a, c in unknown[:5])
        raise DataError(
            f"the exposures log has actions that are not in the catalogue: {shown}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""),
            source="exposures",
            column="action",
            code="personalization.unknown-action",
            hint="add them to the actions catalogue, or set `unknown_actions: drop` to ignore "
            "those rows",
        )
    if unknown:
        warnings.append(f"{n_unknown} log row(s) with actions outside the catalogue were dropped")
    (bad_reward,) = con.execute(
        f"SELECT count(*) FROM exposures WHERE coalesce(TRY_CAST({rew} AS DOUBLE), NULL) IS NULL"
    ).fetchone()
    if bad_reward:
        raise DataError(
            f"{bad_reward} log row(s) have a missing or non-numeric reward",
            source="exposures",
            column="reward",
            code="personalization.bad-reward",
            hint="reward is 0/1 (converted or not) or a value such as revenue; never empty",
        )
    if prop is not None:
        bad = con.execute(
            f"SELECT count(*), min(coalesce(TRY_CAST({prop} AS DOUBLE), NULL)), max(coalesce(TRY_CAST({prop} AS DOUBLE), NULL)) "
            f"FROM exposures WHERE NOT coalesce(TRY_CAST({prop} AS DOUBLE) > 0 AND "
            f"coalesce(TRY_CAST({prop} AS DOUBLE), NULL) <= 1, false)"
        ).fetchone()
        if bad[0]:
            raise DataError(
                f"{bad[0]} log row(s) have a propensity outside (0, 1] or missing "
                f"(seen from {bad[1]} to {bad[2]})",
                source="exposures",
                column="propensity",
                code="personalization.bad-propensity",
                hint="propensity is the probability the old policy chose that action: > 0 and "
                "<= 1; drop the column if it is not known",
            )
    ts = lower.get("timestamp")
    ts_order = f"coalesce(TRY_CAST(e.{quote_ident(ts)} AS TIMESTAMP), NULL), " if ts else ""
    order = f"e.customer_id::VARCHAR, {ts_order}a, r"
    data = con.execute(
        f"""
        WITH c AS (
            SELECT customer_id::VARCHAR AS customer_id,
                   row_number() OVER (ORDER BY customer_id::VARCHAR) - 1 AS idx
            FROM customers
        )
        SELECT c.idx AS idx,
               list_position(?::VARCHAR[], e.{act}::VARCHAR) - 1 AS a,
               coalesce(TRY_CAST(e.{rew} AS DOUBLE), NULL) AS r
               {f", coalesce(TRY_CAST(e.{prop} AS DOUBLE), NULL) AS p" if prop else ""}
        FROM exposures e LEFT JOIN c ON e.customer_id::VARCHAR = c.customer_id
        WHERE list_contains(?::VARCHAR[], e.{act}::VARCHAR)
        ORDER BY {order}
        """,
        [action_ids, action_ids],
    ).fetchnumpy()
    idx_raw = data["idx"]
    known = ~np.ma.getmaskarray(idx_raw)
    n_unknown_cust = int((~known).sum())
    if n_unknown_cust:
        warnings.append(
            f"{n_unknown_cust} log row(s) are for customers missing from the customers table "
            "and were left out"
        )
    if not known.any():
        raise DataError(
            "no exposure matches a customer of the customers table",
            source="exposures",
            column="customer_id",
            code="personalization.empty-log",
            hint="check both files use the same customer ids",
        )
    idx = np.ma.getdata(idx_raw)[known].astype(np.int64)
    a = np.ma.getdata(data["a"])[known].astype(np.int64)
    r = np.ma.getdata(data["r"])[known].astype(np.float64)
    p = np.ma.getdata(data["p"])[known].astype(np.float64) if prop else None
    if idx.size < 10:
        raise DataError(
            f"only {idx.size} usable exposure row(s): too few to learn from",
            source="exposures",
            code="personalization.too-few-exposures",
            hint="provide at least a few hundred past sends per action",
        )
    return _Log(idx, a, r, p, n_unknown_cust, n_unknown)


def _evaluate(
    spec: PersonalizationSpec,
    X: NDArray[np.float64],
    population: NDArray[np.bool_],
    X_log: NDArray[np.float64],
    log: _Log,
    logging_p: NDArray[np.float64],
    weights: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    kind: Literal["logistic", "linear"],
    rng: np.random.Generator,
) -> PolicyEvaluation:
    n_log = log.idx.size
    hold = rng.random(n_log) < spec.holdout_share
    if hold.sum() < 2 or (~hold).sum() < 2:
        hold = np.arange(n_log) % 2 == 0
    tr = ~hold
    n_act = allowed.size
    model: RewardModel = fit_reward_model(
        X_log[tr],
        log.action[tr],
        log.reward[tr],
        weights[tr],
        n_act,
        kind=kind,
        prior_precision=spec.prior_precision,
    )
    Xh = X_log[hold]
    q_hat = model.predict(Xh).astype(np.float64)
    dec = decide(
        model,
        Xh,
        allowed=allowed,
        exploration=spec.exploration,
        samples=spec.thompson_samples,
        rng=rng,
        return_probs=True,
    )
    assert dec.probs is not None
    usable = allowed & model.trained
    pop = X[population] if population.any() else X_log[tr]
    if pop.shape[0] > 200_000:
        pop = pop[rng.choice(pop.shape[0], 200_000, replace=False)]
    mean_pred = model.predict(pop).mean(axis=0)
    best = int(np.flatnonzero(usable)[np.argmax(mean_pred[usable])])
    r, a, p = log.reward[hold], log.action[hold], logging_p[hold]
    conf = spec.confidence
    new = evaluate_policy(
        "new", r, a, p, dec.probs, q_hat, max_weight=spec.max_weight, confidence=conf
    )
    onehot = np.zeros_like(q_hat)
    onehot[:, best] = 1.0
    single = evaluate_policy(
        "best_single", r, a, p, onehot, q_hat, max_weight=spec.max_weight, confidence=conf
    )
    logged_probs = np.zeros_like(q_hat)
    logged_probs[np.arange(r.size), a] = p
    logging = evaluate_policy(
        "logging", r, a, p, logged_probs, np.zeros_like(q_hat), confidence=conf
    )
    vs_log = lift("new-logging", new, logging, confidence=conf)
    vs_single = lift("new-best_single", new, single, confidence=conf)
    estimates = [*new.estimates, *logging.estimates, *single.estimates, vs_log, vs_single]
    better = vs_log.ci_low > 0
    new_dr, log_dr = new.estimates[2].value, logging.estimates[2].value
    rel = f" ({(new_dr - log_dr) / log_dr:+.1%})" if log_dr else ""
    if better:
        conclusion = (
            f"The new policy is expected to earn {new_dr:.4g} {spec.reward_label} per customer "
            f"against {log_dr:.4g} for the current one{rel}; the gain is above zero at "
            f"{conf:.0%} confidence."
        )
    elif vs_log.ci_high < 0:
        conclusion = (
            f"The new policy looks worse than the current one ({new_dr:.4g} vs {log_dr:.4g} "
            f"{spec.reward_label} per customer); do not roll it out."
        )
    else:
        conclusion = (
            f"The new policy's estimated value ({new_dr:.4g} vs {log_dr:.4g} "
            f"{spec.reward_label} per customer{rel}) is not distinguishable from the current "
            f"one at {conf:.0%} confidence; roll it out to a test group first."
        )
    return PolicyEvaluation(
        n=int(hold.sum()),
        confidence=conf,
        propensities="logged" if log.propensity is not None else "estimated",
        estimates=estimates,
        effective_sample_size=new.effective_sample_size,
        clipped_share=new.clipped_share,
        better_than_logging=bool(better),
        conclusion=conclusion,
    )


def _write_assignments(
    path: Path,
    cust_ids: NDArray[np.object_],
    seg: Segmentation,
    group: NDArray[np.object_],
    rows: NDArray[np.int64],
    dec: Any,
    control_rows: NDArray[np.bool_],
    chosen_exp: NDArray[np.float64],
    best_exp: NDArray[np.float64],
    catalogue: list[ActionDef],
) -> None:
    ids = np.array([a.id for a in catalogue], dtype=object)
    chans = np.array([a.channel for a in catalogue], dtype=object)
    names = np.array(seg.names, dtype=object)
    treated = ~control_rows
    action = np.where(treated, ids[dec.action], None)
    table = pa.table(
        {
            "customer_id": pa.array(cust_ids[rows], pa.string()),
            "segment": pa.array(names[seg.labels[rows]], pa.string()),
            "group": pa.array(group[rows], pa.string()),
            "action": pa.array(action, pa.string()),
            "channel": pa.array(np.where(treated, chans[dec.action], None), pa.string()),
            "propensity": pa.array(
                np.where(treated, dec.propensity, np.nan), pa.float64(), from_pandas=True
            ),
            "expected_reward": pa.array(chosen_exp, pa.float64()),
            "best_single_reward": pa.array(best_exp, pa.float64()),
            "uplift": pa.array(chosen_exp - best_exp, pa.float64()),
            "policy_action": pa.array(ids[dec.action], pa.string()),
        }
    )
    pq.write_table(table, path)


def _write_suppression(path: Path, cust_ids: NDArray[np.object_], supp: Suppression) -> None:
    rows = ~supp.eligible
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array(cust_ids[rows], pa.string()),
                "reason": pa.array(supp.reason[rows], pa.string()),
                "reasons": pa.array(supp.reasons[rows], pa.string()),
            }
        ),
        path,
    )


def _write_segments(
    path: Path, cust_ids: NDArray[np.object_], seg: Segmentation, rfm: Rfm | None
) -> None:
    cols: dict[str, Any] = {
        "customer_id": pa.array(cust_ids, pa.string()),
        "segment": pa.array(np.array(seg.names, dtype=object)[seg.labels], pa.string()),
    }
    if rfm is not None:
        cols["recency_days"] = pa.array(rfm.recency_days)
        cols["frequency"] = pa.array(rfm.frequency)
        cols["monetary"] = pa.array(rfm.monetary)
    pq.write_table(pa.table(cols), path)


def _segment_table(
    seg: Segmentation,
    eligible: NDArray[np.bool_],
    treated: NDArray[np.bool_],
    contacted: NDArray[np.bool_],
    action: NDArray[np.int64],
    expected: NDArray[np.float64],
    action_ids: list[str],
) -> list[SegmentSummary]:
    k = len(seg.names)
    size = np.bincount(seg.labels, minlength=k)
    elig = np.bincount(seg.labels[eligible], minlength=k)
    tr = np.bincount(seg.labels[treated], minlength=k)
    ct = np.bincount(seg.labels[contacted], minlength=k)
    n_act = len(action_ids)
    pair = np.bincount(seg.labels[treated] * n_act + action[treated], minlength=k * n_act)
    pair = pair.reshape(k, n_act)
    exp_sum = np.bincount(seg.labels[treated], weights=expected[treated], minlength=k)
    out = []
    for i in range(k):
        out.append(
            SegmentSummary(
                name=seg.names[i],
                method=seg.method,
                definition=seg.definitions[i],
                size=int(size[i]),
                eligible=int(elig[i]),
                treated=int(tr[i]),
                contacted=int(ct[i]),
                traits={t: round(v, 4) for t, v in seg.traits[i].items()},
                top_action=action_ids[int(pair[i].argmax())] if tr[i] else None,
                expected_reward=float(exp_sum[i] / tr[i]) if tr[i] else None,
            )
        )
    return out


def _pairs(
    seg: Segmentation,
    treated: NDArray[np.bool_],
    action: NDArray[np.int64],
    catalogue: list[ActionDef],
) -> list[Pair]:
    k, n_act = len(seg.names), len(catalogue)
    counts = np.bincount(seg.labels[treated] * n_act + action[treated], minlength=k * n_act)
    pairs = []
    for flat in np.flatnonzero(counts):
        s, a = divmod(int(flat), n_act)
        if not catalogue[a].sends:
            continue
        pairs.append(Pair(seg.names[s], seg.traits[s], catalogue[a], int(counts[flat])))
    return pairs


def _action_table(
    catalogue: list[ActionDef],
    log: _Log,
    counts: NDArray[np.int64],
    action_full: NDArray[np.int64],
    allowed: NDArray[np.bool_],
    model: RewardModel,
) -> list[ActionSummary]:
    n_act = len(catalogue)
    sums = np.bincount(log.action, weights=log.reward, minlength=n_act)
    assigned = np.bincount(action_full[action_full >= 0], minlength=n_act)
    total = max(int(assigned.sum()), 1)
    return [
        ActionSummary(
            id=a.id,
            channel=a.channel,
            offer=a.offer,
            logged=int(counts[i]),
            logged_mean_reward=float(sums[i] / counts[i]) if counts[i] else None,
            assigned=int(assigned[i]),
            share=float(assigned[i] / total),
            eligible=bool(allowed[i] and model.trained[i]),
        )
        for i, a in enumerate(catalogue)
    ]


def _insights(
    spec: PersonalizationSpec,
    policy: PolicySummary,
    ev: PolicyEvaluation,
    supp: Suppression,
    fair: Any,
    n: int,
) -> list[Insight]:
    new, old = ev.get("new", "dr"), ev.get("logging", "dr")
    gain = ev.get("new-logging", "dr")
    out = [
        Insight(
            id="insight/policy-value",
            statement=ev.conclusion,
            evidence={
                "new_policy_dr": round(new.value, 6),
                "logging_policy_dr": round(old.value, 6),
                "lift_dr": round(gain.value, 6),
                "lift_ci_low": round(gain.ci_low, 6),
                "lift_ci_high": round(gain.ci_high, 6),
                "holdout_rows": ev.n,
            },
        )
    ]
    suppressed = int((~supp.eligible).sum())
    if suppressed:
        top = max(supp.counts.items(), key=lambda kv: kv[1])
        out.append(
            Insight(
                id="insight/suppression",
                statement=(
                    f"{suppressed:,} of {n:,} customers ({suppressed / n:.1%}) must not be "
                    f"contacted; the most common reason is '{top[0]}'."
                ),
                evidence={"suppressed": suppressed, "customers": n, "top_reason_count": top[1]},
            )
        )
    if policy.uplift:
        out.append(
            Insight(
                id="insight/uplift",
                statement=(
                    f"Choosing per customer adds {policy.uplift:.4g} expected "
                    f"{spec.reward_label} per treated customer over sending everyone "
                    f"'{policy.best_single_action}'."
                ),
                evidence={
                    "expected_reward": round(policy.expected_reward, 6),
                    "best_single_expected_reward": round(policy.best_single_expected_reward, 6),
                    "treated": policy.treated,
                },
            )
        )
    for g in fair.flagged:
        out.append(
            Insight(
                id=f"insight/fairness/{_slug(g)}",
                statement=(
                    f"Action rates differ by {fair.gaps[g]:.0%} across {g}, above the brand's "
                    f"{fair.threshold:.0%} threshold."
                ),
                evidence={"gap": round(fair.gaps[g], 4), "threshold": fair.threshold},
            )
        )
    return out
