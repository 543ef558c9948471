"""The personalization agent's working parts: data checks and loading, the design matrix,
segments, off-policy evaluation, the files it writes, and its findings.

:mod:`agents.personalization._agent` strings them together.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from agents.personalization._bandit import (
    RewardModel,
)
from agents.personalization._features import (
    Encoded,
    Rfm,
    Segmentation,
    kmeans_segments,
    rfm_segments,
    single_segment,
)
from agents.personalization._log import _Log
from agents.personalization._messages import Pair
from agents.personalization._messages import slug as _slug
from agents.personalization._models import (
    ActionDef,
    ActionSummary,
    PersonalizationSpec,
    PolicyEvaluation,
    PolicySummary,
    SegmentSummary,
)
from agents.personalization._privacy import (
    Suppression,
)
from conductor import (
    DataError,
    Insight,
    SpecError,
)
from conductor.data import quote_ident
from conductor.numbers import change_words


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
    blocked: NDArray[np.object_],
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
            "blocked_channels": pa.array(blocked, pa.string()),
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
        # A rate's gain in percentage points; a loss said as one ("adds -0.0025" misreads).
        rate = ev.bounds is not None and ev.bounds[1] is not None
        verb, size = change_words(policy.uplift, rate=rate)
        against = "over" if policy.uplift > 0 else "against"
        out.append(
            Insight(
                id="insight/uplift",
                statement=(
                    f"Choosing per customer {verb} {size} of expected {spec.reward_label} "
                    f"per treated customer {against} sending everyone "
                    f"'{policy.best_single_action}'"
                    + (
                        "."
                        if policy.uplift > 0
                        else ": the model expects that one offer to do better."
                    )
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
