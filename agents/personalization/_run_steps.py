"""The steps of one personalization run, in the order
:meth:`agents.personalization._agent.PersonalizationAgent.run` takes them.

Each step reads what the steps before it produced (carried in the small records below)
and adds its warnings to the run's list, so the warnings keep the order of the steps.
The random generator is shared and drawn from in step order (segments, evaluation,
decisions, control group): the same seed gives the same plan.
"""

# ruff: noqa: N803, N806  (X: the design matrix, as in the maths it feeds)

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from agents.personalization._bandit import (
    Decisions,
    RewardModel,
    decide,
    estimate_propensities,
    fit_reward_model,
    importance_weights,
)
from agents.personalization._columns import ColumnRole, classify_columns
from agents.personalization._consent import (
    ConsentState,
    action_mask,
    consent_warnings,
    plan_consent,
    read_consent,
)
from agents.personalization._evaluation import LogRows, evaluate
from agents.personalization._features import (
    Encoded,
    Rfm,
    Segmentation,
    encode_features,
    rfm_features,
    select_feature_columns,
)
from agents.personalization._log import _load_log, _Log
from agents.personalization._messages import build_messages
from agents.personalization._messages import slug as _slug
from agents.personalization._models import (
    ActionDef,
    ExcludedFeature,
    FairnessReport,
    MessageAssignment,
    PersonalizationSpec,
    PolicyEvaluation,
    PolicySummary,
    SegmentSummary,
)
from agents.personalization._privacy import (
    Suppression,
    fairness_report,
    load_fairness_groups,
    mark_suppressed,
    suppress,
)
from agents.personalization._steps import (
    _channel_allowed,
    _contact_cap,
    _customer_ids,
    _design,
    _pairs,
    _rfm_names,
    _segment_table,
    _write_assignments,
    _write_segments,
    _write_suppression,
    seg_attributes,
)
from conductor import Audience, Copy, DataCatalog, RunContext, SpecError

_RESERVED = ("customer_id", "consent_marketing", "propensity")


def allowed_actions(
    catalogue: list[ActionDef], spec: PersonalizationSpec, step: str
) -> NDArray[np.bool_]:
    """Per action: is it on a channel this step may use (at least one must be)."""
    allowed = np.array([_channel_allowed(a.channel, spec) for a in catalogue])
    if not allowed.any():
        raise SpecError(
            "no action in the catalogue is on a channel this step may use",
            step=step,
            field="channels",
            code="personalization.no-allowed-action",
            hint=f"catalogue channels: {sorted({a.channel for a in catalogue})}; "
            f"allowed: {spec.channels}, excluded: {spec.excluded_channels}",
        )
    return allowed


@dataclass(frozen=True)
class Privacy:
    """Who may be contacted, and what the brand forbids targeting on.

    Attributes:
        supp: The suppression decision per customer.
        sensitive: Attributes the brand marks sensitive (never features).
        exp_cols: Column -> type of the exposures log.
        consent: Per customer and channel: consent given or not, and why.
        can_get: Customers x actions: may this customer be given this action.
        consent_roles: Consent and opt-out columns -> why they are not features.
    """

    supp: Suppression
    sensitive: list[str]
    exp_cols: dict[str, str]
    consent: ConsentState
    can_get: NDArray[np.bool_]
    consent_roles: dict[str, str]


def privacy(
    con: Any,
    cat: DataCatalog,
    cust_cols: dict[str, str],
    spec: PersonalizationSpec,
    brand: Any,
    catalogue: list[ActionDef],
    allowed: NDArray[np.bool_],
    n: int,
    warnings: list[str],
) -> Privacy:
    """Apply consent per channel, the brand's audience rules, its contact cap and opt-outs.

    A customer no allowed channel may reach is suppressed, with every reason; the others
    may only be given actions on the channels they consented to (``can_get``).
    """
    rules = getattr(brand, "audience", None) if brand is not None else None
    sensitive = list(getattr(rules, "sensitive_attributes", None) or []) if rules else []
    exp_cols = cat.columns("exposures")
    channels = list(
        dict.fromkeys(a.channel for a, ok in zip(catalogue, allowed, strict=True) if ok and a.sends)
    )
    plan = plan_consent(
        cust_cols,
        channels,
        mapping=spec.consent,
        covers=spec.general_consent_covers,
        opt_out=spec.opt_out,
    )
    warnings.extend(consent_warnings(plan, spec.general_consent_covers, spec.consent))
    state = read_consent(con, plan, n)
    extra = [*_contact_cap(con, exp_cols, rules), *state.opted_out]
    supp = suppress(
        con,
        cust_cols,
        rules,
        extra,
        missing_column=spec.missing_exclusion_column,
        warnings=warnings,
        consent=state.blocked_everywhere(),
    )
    supp.attributes[:0] = list(plan.roles)
    if rules is not None and getattr(rules, "min_age", None) and supp.min_age_enforced is None:
        warnings.append(
            "the brand sets a minimum age but the customers table has no `age` column: "
            "age could not be checked"
        )
    can_get = action_mask(state, [a.channel for a in catalogue], allowed)
    return Privacy(supp, sensitive, exp_cols, state, can_get, plan.roles)


@dataclass(frozen=True)
class Features:
    """The customers' features.

    Attributes:
        enc: Encoded customer columns.
        rfm: Recency / frequency / monetary from ``events`` (None without it).
        X: Design matrix, one row per customer in ``customer_id`` order.
        names: Column names of ``X``.
        attributes: Source attributes behind ``X``.
        dropped: Column -> why it is not a feature.
    """

    enc: Encoded
    rfm: Rfm | None
    X: NDArray[np.float64]
    names: list[str]
    attributes: list[str]
    dropped: dict[str, str]


def features(
    con: Any,
    cat: DataCatalog,
    cust_cols: dict[str, str],
    spec: PersonalizationSpec,
    priv: Privacy,
    n: int,
    step: str,
    warnings: list[str],
) -> Features:
    """Choose and encode the feature columns, add RFM when there are events.

    Contact details, consent and opt-out columns and ids are never features (recognised
    by name, and text columns also by their values); the step's ``features`` can name an
    explicit list and more columns to leave out.
    """
    roles = {c: ColumnRole("consent", r) for c, r in priv.consent_roles.items()}
    skip = {c.lower() for c in roles} | {c.lower() for c in cust_cols if is_reserved(c)}
    roles.update(classify_columns(con, cust_cols, n, skip=skip))
    chosen, dropped = select_feature_columns(
        cust_cols,
        requested=spec.features.include,
        sensitive=priv.sensitive,
        reserved=_RESERVED,
        measured_only=spec.fairness_groups,
        step=step,
        roles=roles,
    )
    _exclude(chosen, dropped, spec.features.exclude, "`features.exclude`", cust_cols, warnings)
    _exclude(chosen, dropped, spec.exclude_features, "`exclude_features`", cust_cols, None)
    enc = encode_features(con, cust_cols, chosen, n)
    dropped.update(enc.dropped)
    rfm: Rfm | None = None
    if cat.has("events"):
        rfm = rfm_features(con, cat.columns("events"), spec.as_of)
    else:
        warnings.append("no `events` source: segments and features use customer columns only")
    return Features(
        enc=enc,
        rfm=rfm,
        X=_design(enc, rfm),
        names=["intercept", *enc.names, *(_rfm_names(rfm))],
        attributes=sorted({*enc.sources, *(_rfm_names(rfm))}),
        dropped=dropped,
    )


def is_reserved(column: str) -> bool:
    """customer_id, consent_marketing and propensity: never features, never sampled."""
    return column.lower() in _RESERVED


def _exclude(
    chosen: list[str],
    dropped: dict[str, str],
    names: list[str],
    where: str,
    columns: dict[str, str],
    warnings: list[str] | None,
) -> None:
    """Leave ``names`` out of the features (a name the table lacks is warned about)."""
    if not names:
        return
    excluded = {c.lower() for c in names}
    for col in [c for c in chosen if c.lower() in excluded]:
        chosen.remove(col)
        dropped[col] = f"excluded ({where})"
    unknown = sorted(excluded - {c.lower() for c in columns})
    if unknown and warnings is not None:
        warnings.append(f"{where} names column(s) the customers table lacks: {', '.join(unknown)}")


@dataclass(frozen=True)
class Learning:
    """The exposures log, ready to learn and evaluate from.

    Attributes:
        log: The usable log rows.
        X_log: Their customers' features.
        logging_p: The old policy's propensity per row (logged or estimated).
        propensities: Where ``logging_p`` came from.
        weights: Importance weights of the rows.
        kind: Reward model.
        counts: Log rows per action.
    """

    log: _Log
    X_log: NDArray[np.float64]
    logging_p: NDArray[np.float64]
    propensities: Literal["logged", "estimated"]
    weights: NDArray[np.float64]
    kind: Literal["logistic", "linear"]
    counts: NDArray[np.int64]


def learning(
    con: Any,
    exp_cols: dict[str, str],
    X: NDArray[np.float64],
    catalogue: list[ActionDef],
    allowed: NDArray[np.bool_],
    spec: PersonalizationSpec,
    step: str,
    warnings: list[str],
) -> Learning:
    """Load the log, settle its propensities and the reward model to fit."""
    action_ids = [a.id for a in catalogue]
    log = _load_log(con, exp_cols, action_ids, spec, warnings)
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
    weights = importance_weights(log.propensity, log.idx.size, spec.max_weight)
    kind = spec.model
    if kind == "auto":
        kind = "logistic" if np.isin(log.reward, (0.0, 1.0)).all() else "linear"
    elif kind == "logistic" and not np.isin(log.reward, (0.0, 1.0)).all():
        raise SpecError(
            "model 'logistic' needs 0/1 rewards, but the log has other values",
            step=step,
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
    return Learning(log, X_log, logging_p, prop_source, weights, kind, counts)


def drop_unservable(
    priv: Privacy, lrn: Learning, allowed: NDArray[np.bool_], warnings: list[str]
) -> None:
    """Suppress the customers whose every permitted action is missing from the log.

    Such a customer consented only to channels whose actions cannot be learned (never
    sent before), and there is no learnable action they may be given.
    """
    learnable = allowed & (lrn.counts > 0)
    stuck = priv.supp.eligible & ~(priv.can_get & learnable).any(axis=1)
    if stuck.any():
        text = "no action on a channel they consented to can be learned from the log"
        mark_suppressed(priv.supp, stuck, text)
        warnings.append(f"{int(stuck.sum()):,} customer(s) get nothing: {text}")


def evaluate_and_fit(
    spec: PersonalizationSpec,
    X: NDArray[np.float64],
    population: NDArray[np.bool_],
    lrn: Learning,
    allowed: NDArray[np.bool_],
    can_get: NDArray[np.bool_],
    sends: NDArray[np.bool_],
    rng: np.random.Generator,
) -> tuple[PolicyEvaluation, RewardModel]:
    """Evaluate the policy offline on a hold-out of the log, then fit it on all of it.

    Each held-out row is decided with the actions its customer may now be given; a row
    whose customer may be sent nothing (no consent on any channel, now) is decided over
    what anyone in the audience may get, as if they could be reached.
    """
    learnable = allowed & (lrn.counts > 0)
    reach = learnable & can_get[population].any(axis=0)
    fallback = reach if reach.any() else allowed
    rows = can_get[lrn.log.idx] & learnable
    rows[~(rows & sends).any(axis=1)] = fallback
    log = LogRows(
        lrn.X_log, lrn.log.action, lrn.log.reward, lrn.logging_p, lrn.weights, rows,
        lrn.propensities == "logged",
    )  # fmt: skip
    evaluation = evaluate(spec, X, population, log, fallback, lrn.kind, rng)
    model = fit_reward_model(
        lrn.X_log,
        lrn.log.action,
        lrn.log.reward,
        lrn.weights,
        allowed.size,
        kind=lrn.kind,
        prior_precision=spec.prior_precision,
    )
    return evaluation, model


@dataclass(frozen=True)
class Assignment:
    """Who gets which action.

    Attributes:
        rows: Customers who may be contacted and are in the audience.
        dec: The policy's decisions for ``rows``.
        best: The best single action.
        control_rows: Per row of ``rows``: held out as control.
        action_full: Per customer: the action given (-1: none).
        expected_full: Per customer: the expected reward of the policy's choice (NaN: none).
        chosen_exp: Per row: the expected reward of the policy's choice.
        best_exp: Per row: the expected reward of the best single action.
    """

    rows: NDArray[np.int64]
    dec: Decisions
    best: int
    control_rows: NDArray[np.bool_]
    action_full: NDArray[np.int64]
    expected_full: NDArray[np.float64]
    chosen_exp: NDArray[np.float64]
    best_exp: NDArray[np.float64]

    @property
    def treated_rows(self) -> NDArray[np.bool_]:
        """Per row of ``rows``: given the policy's action (not control)."""
        return ~self.control_rows

    @property
    def treated(self) -> NDArray[np.bool_]:
        """Per customer: given an action."""
        return self.action_full >= 0


def assign(
    model: RewardModel,
    X: NDArray[np.float64],
    population: NDArray[np.bool_],
    allowed: NDArray[np.bool_],
    can_get: NDArray[np.bool_],
    spec: PersonalizationSpec,
    n: int,
    rng: np.random.Generator,
    ctx: RunContext,
    warnings: list[str],
) -> Assignment:
    """Decide for everyone in ``population``, each among the actions they may be given
    (their channels' consent), then draw the control group."""
    rows = np.flatnonzero(population)
    if rows.size == 0:
        warnings.append("nobody may be contacted: every customer is suppressed or out of audience")
    start = time.perf_counter()
    per_row = can_get[rows] & allowed
    dec = decide(
        model,
        X[rows].astype(np.float32),
        allowed=per_row,
        exploration=spec.exploration,
        samples=spec.thompson_samples,
        rng=rng,
        return_probs=True,
    )
    elapsed = time.perf_counter() - start
    ctx.log.info(
        "personalization.scored",
        customers=int(rows.size),
        decisions_per_second=round(rows.size / elapsed) if elapsed > 0 else None,
    )
    usable = allowed & model.trained
    if (usable & per_row.any(axis=0)).any():
        usable &= per_row.any(axis=0)  # the best single action someone may be given
    mean_pred = dec.expected.mean(axis=0) if rows.size else np.zeros(allowed.size)
    best = int(np.flatnonzero(usable)[np.argmax(mean_pred[usable])])
    control_rows = rng.random(rows.size) < spec.control_share
    treated_rows = ~control_rows

    action_full = np.full(n, -1, dtype=np.int64)
    expected_full = np.full(n, np.nan)
    action_full[rows[treated_rows]] = dec.action[treated_rows]
    chosen_exp = dec.expected[np.arange(rows.size), dec.action].astype(np.float64)
    best_exp = dec.expected[:, best].astype(np.float64)
    expected_full[rows] = chosen_exp
    return Assignment(
        rows, dec, best, control_rows, action_full, expected_full, chosen_exp, best_exp
    )


def write_tables(
    out_dir: Path,
    con: Any,
    seg: Segmentation,
    priv: Privacy,
    target: NDArray[np.bool_],
    a: Assignment,
    rfm: Rfm | None,
    catalogue: list[ActionDef],
    n: int,
) -> None:
    """The assignments, suppression and segments files, one row per customer."""
    supp = priv.supp
    cust_ids = _customer_ids(con)
    group = np.full(n, "suppressed", dtype=object)
    group[supp.eligible & ~target] = "out_of_audience"
    group[a.rows] = np.where(
        a.control_rows, "control", np.where(a.dec.explored, "explore", "policy")
    )
    _write_assignments(
        out_dir / "assignments.parquet",
        cust_ids,
        seg,
        group,
        a.rows,
        a.dec,
        a.control_rows,
        a.chosen_exp,
        a.best_exp,
        catalogue,
        priv.consent.blocked_text(a.rows),
    )
    _write_suppression(out_dir / "suppression.parquet", cust_ids, supp)
    _write_segments(out_dir / "segments.parquet", cust_ids, seg, rfm)


def fairness(
    con: Any,
    cust_cols: dict[str, str],
    spec: PersonalizationSpec,
    supp: Suppression,
    a: Assignment,
    action_ids: list[str],
    warnings: list[str],
) -> FairnessReport:
    """Action rates across the fairness groups, with a warning per gap over the threshold."""
    groups, missing = load_fairness_groups(con, cust_cols, spec.fairness_groups)
    probs = np.zeros((a.action_full.size, len(action_ids)))
    if a.dec.probs is not None:
        probs[a.rows] = a.dec.probs
    fair = fairness_report(
        groups,
        supp.eligible,
        a.treated,
        np.maximum(a.action_full, 0),
        np.nan_to_num(a.expected_full),
        action_ids,
        spec.fairness_threshold,
        missing,
        probs=probs,
    )
    for g in missing:
        warnings.append(f"fairness group {g!r} is not a column of the customers table")
    for g in fair.flagged:
        warnings.append(
            f"action rates differ by {fair.gaps[g]:.0%} across {g!r} "
            f"(threshold {fair.threshold:.0%})"
        )
    return fair


def segment_table(
    seg: Segmentation, supp: Suppression, a: Assignment, catalogue: list[ActionDef]
) -> list[SegmentSummary]:
    """Per segment: its size, who may be contacted, who is, and with what."""
    sends = np.array([x.sends for x in catalogue])
    contacted = a.treated & sends[np.maximum(a.action_full, 0)]
    return _segment_table(
        seg,
        supp.eligible,
        a.treated,
        contacted,
        a.action_full,
        a.expected_full,
        [x.id for x in catalogue],
    )


def messages_for(
    spec: PersonalizationSpec,
    ctx: RunContext,
    seg: Segmentation,
    a: Assignment,
    catalogue: list[ActionDef],
    warnings: list[str],
) -> tuple[list[Copy], list[MessageAssignment]]:
    """The copy for every (segment, action) pair the policy uses, and its index."""
    pairs = _pairs(seg, a.treated, a.action_full, catalogue)
    messages, index, msg_warn = build_messages(
        pairs,
        brand=ctx.brand,
        llm=ctx.llm,
        variants=spec.message_variants,
        llm_pairs=spec.llm_pairs,
        step=ctx.step,
    )
    warnings.extend(msg_warn)
    return messages, index


def audiences(
    spec: PersonalizationSpec,
    segments: list[SegmentSummary],
    seg: Segmentation,
    feats: Features,
    supp: Suppression,
    fair: FairnessReport,
) -> list[Audience]:
    """One audience artifact per segment that is contacted, for the brand's review."""
    return [
        Audience(
            id=f"audience/{_slug(s.name)}",
            definition=f"{s.name}: {s.definition}"
            + (f" (goal audience: {spec.audience})" if spec.audience else ""),
            size=s.contacted,
            attributes_used=sorted({*feats.attributes, *seg_attributes(seg, feats.rfm, feats.enc)}),
            consent_checked=True,
            min_age=supp.min_age_enforced,
            contacts_per_week=spec.sends_per_week,
            fairness_gap=fair.max_gap,
        )
        for s in segments
        if s.contacted > 0
    ]


def policy_summary(
    spec: PersonalizationSpec,
    feats: Features,
    lrn: Learning,
    supp: Suppression,
    target: NDArray[np.bool_],
    a: Assignment,
    action_ids: list[str],
    n: int,
) -> PolicySummary:
    """The policy in numbers: what it reads, whom it treats, what it expects to earn."""
    n_treated = int(a.treated.sum())
    tr = a.treated_rows
    return PolicySummary(
        model=lrn.kind,
        features=feats.names,
        attributes_used=feats.attributes,
        dropped_attributes=sorted(f"{c} ({r})" for c, r in feats.dropped.items()),
        excluded_features=[
            ExcludedFeature(column=c, reason=r) for c, r in sorted(feats.dropped.items())
        ],
        log_rows=lrn.log.idx.size,
        propensities=lrn.propensities,
        exploration=spec.exploration,
        control_share=spec.control_share,
        thompson_samples=spec.thompson_samples,
        customers=n,
        eligible=int(supp.eligible.sum()),
        treated=n_treated,
        control=int(a.control_rows.sum()),
        out_of_audience=int((supp.eligible & ~target).sum()),
        suppressed=int((~supp.eligible).sum()),
        expected_reward=float(a.chosen_exp[tr].mean()) if n_treated else 0.0,
        best_single_action=action_ids[a.best],
        best_single_expected_reward=float(a.best_exp[tr].mean()) if n_treated else 0.0,
        uplift=float((a.chosen_exp - a.best_exp)[tr].mean()) if n_treated else 0.0,
    )
