"""Who must never be contacted, and whether the policy treats groups fairly.

Suppression is decided in DuckDB with bound parameters (brand values never become SQL
text). The rule is "when in doubt, do not send": a missing consent value, or a missing
value in a column an exclusion rule reads, suppresses the customer, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray

from agents.personalization._models import FairnessReport, FairnessRow
from conductor import DataError
from conductor.data import finite_number, quote_ident

__all__ = ["Suppression", "fairness_report", "load_fairness_groups", "mark_suppressed", "suppress"]

BoolArray = NDArray[np.bool_]

_TRUE = "('true', 't', 'yes', 'y', '1', '1.0')"
_MIN_LEVEL_SIZE = 30

_OPS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@dataclass
class Suppression:
    """Per customer: may they be contacted, and if not, why.

    Attributes:
        eligible: True when the customer may receive an action.
        reason: First reason per customer ("" when eligible).
        reasons: Every reason, joined with "; " ("" when eligible).
        counts: Reason -> customers it applies to.
        min_age_enforced: The minimum age checked, when the data had an age column.
        attributes: Customer columns read to decide suppression.
    """

    eligible: BoolArray
    reason: NDArray[np.object_]
    reasons: NDArray[np.object_]
    counts: dict[str, int]
    min_age_enforced: int | None
    attributes: list[str]


def _rule_sql(op: str, q: str, value: Any) -> tuple[str, list[Any]]:
    if op in _OPS:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # DuckDB orders NaN above every number ("nan" >= 18 is true): a value that is
            # not a finite number is unknown here, and unknown suppresses.
            return f"{finite_number(q)} {_OPS[op]} ?", [value]
        return f"{q} {_OPS[op]} ?", [value]
    if op in ("in", "not_in"):
        values = list(value) if isinstance(value, list | tuple | set) else [value]
        expr = f"list_contains(?::VARCHAR[], {q}::VARCHAR)"
        expr = f"CASE WHEN {q} IS NULL THEN NULL ELSE {expr} END"
        return (expr if op == "in" else f"NOT ({expr})"), [[str(v) for v in values]]
    if op == "is_true":
        return f"lower(trim({q}::VARCHAR)) IN {_TRUE}", []
    if op == "is_false":
        return f"NOT (lower(trim({q}::VARCHAR)) IN {_TRUE})", []
    raise DataError(
        f"unknown exclusion operator {op!r}",
        code="personalization.bad-exclusion",
        hint="use one of eq, ne, lt, le, gt, ge, in, not_in, is_true, is_false",
    )


def suppress(
    con: Any,
    columns: dict[str, str],
    audience_rules: Any,
    extra: Sequence[tuple[str, BoolArray]] = (),
    *,
    missing_column: str = "error",
    warnings: list[str] | None = None,
    consent: Sequence[tuple[str, BoolArray]] | None = None,
) -> Suppression:
    """Decide who must not be contacted.

    Args:
        con: DuckDB cursor with a ``customers`` view.
        columns: Column -> type of ``customers``.
        audience_rules: The brand's ``audience`` rules (or None): ``min_age`` and
            ``exclusions`` are applied.
        extra: Additional (reason, mask) pairs computed elsewhere (e.g. a contact cap).
        missing_column: ``error`` (default) or ``warn`` when an exclusion's column is absent.
        warnings: Where skipped rules are reported (with ``warn``).
        consent: (reason, customers) pairs from the per-channel consent (customers no
            channel may reach), applied first; without it the ``consent_marketing`` column
            decides, as the single consent for everything.

    Returns:
        The suppression decision for every customer, in ``customer_id`` order.

    Raises:
        DataError: when the consent column is missing or a brand exclusion names a
            column the customers table lacks.
    """
    rules = _suppression_rules(
        columns, audience_rules, missing_column, warnings, general_consent=consent is None
    )
    sql = ", ".join(f"({s}) AS r{i}" for i, s in enumerate(rules.selects)) or "TRUE AS r0"
    try:
        data = con.execute(
            f"SELECT {sql} FROM customers ORDER BY customer_id::VARCHAR", rules.params
        ).fetchnumpy()
    except duckdb.Error as exc:
        raise DataError(
            f"a brand audience rule cannot be applied to the data: {str(exc).splitlines()[0]}",
            source="customers",
            code="personalization.bad-exclusion",
            hint="check the value types in the brand's audience exclusions match the columns",
        ) from None
    n = len(data["r0"])
    out = Suppression(
        eligible=np.ones(n, dtype=bool),
        reason=np.full(n, "", dtype=object),
        reasons=np.full(n, "", dtype=object),
        counts={},
        min_age_enforced=rules.min_age_enforced,
        attributes=rules.attributes,
    )
    for text, mask in consent or ():
        _mark(out, mask, text)
    for i in range(len(rules.selects)):
        col = data[f"r{i}"]
        null = np.ma.getmaskarray(col)
        passed: BoolArray = np.ma.filled(np.ma.asarray(col, dtype=bool), False)
        _mark(out, null, rules.unknown[i])
        _mark(out, ~null & ~passed, rules.labels[i])
    for text, mask in extra:
        _mark(out, mask, text)
    return out


@dataclass
class _Rules:
    """The suppression rules as SQL: each select is true for the customers who pass.

    Attributes:
        selects: One boolean SQL expression per rule (NULL when it cannot be decided).
        params: Bound parameters of the selects, in order.
        labels: Per rule: the reason when it fails.
        unknown: Per rule: the reason when it cannot be decided.
        attributes: Customer columns the rules read.
        min_age_enforced: The minimum age checked, when there is an age column.
    """

    selects: list[str]
    params: list[Any]
    labels: list[str]
    unknown: list[str]
    attributes: list[str]
    min_age_enforced: int | None = None


def _suppression_rules(
    columns: dict[str, str],
    audience_rules: Any,
    missing_column: str,
    warnings: list[str] | None,
    *,
    general_consent: bool = True,
) -> _Rules:
    """Consent first (unless decided per channel elsewhere), then the brand's minimum age
    and exclusions."""
    lower = {c.lower(): c for c in columns}
    rules = _Rules([], [], [], [], [])
    if general_consent:
        rules = _general_consent(lower)
    _age_and_exclusions(rules, lower, audience_rules, missing_column, warnings)
    return rules


def _general_consent(lower: dict[str, str]) -> _Rules:
    """The one ``consent_marketing`` flag as the consent for everything."""
    if "consent_marketing" not in lower:
        raise DataError(
            "the customers table has no consent column: nobody can be contacted without it",
            source="customers",
            column="consent_marketing",
            code="data.missing-column",
            hint="add consent_marketing (true/false); customers without consent are never "
            "given an action",
        )
    consent = quote_ident(lower["consent_marketing"])
    return _Rules(
        selects=[
            f"CASE WHEN {consent} IS NULL THEN NULL ELSE lower(trim({consent}::VARCHAR)) IN {_TRUE} END"
        ],
        params=[],
        labels=["no marketing consent"],
        unknown=["marketing consent unknown"],
        attributes=[lower["consent_marketing"]],
    )


def _age_and_exclusions(
    rules: _Rules,
    lower: dict[str, str],
    audience_rules: Any,
    missing_column: str,
    warnings: list[str] | None,
) -> None:
    """The brand's minimum age and exclusions, added to ``rules``."""
    min_age = getattr(audience_rules, "min_age", None) if audience_rules is not None else None
    if min_age is not None and "age" in lower:
        age = quote_ident(lower["age"])
        rules.selects.append(f"{finite_number(age)} >= ?")
        rules.params.append(float(min_age))
        rules.labels.append(f"under minimum age {min_age}")
        rules.unknown.append(f"age unknown (minimum age {min_age})")
        rules.attributes.append(lower["age"])
        rules.min_age_enforced = int(min_age)
    exclusions = []
    if audience_rules is not None:
        exclusions = list(getattr(audience_rules, "exclusions", None) or [])
    for ex in exclusions:
        col = lower.get(str(ex.column).lower())
        if col is None and missing_column == "warn":
            if warnings is not None:
                warnings.append(
                    f"brand exclusion {ex.name!r} was NOT applied: the customers table has no "
                    f"{ex.column!r} column"
                )
            continue
        if col is None:
            raise DataError(
                f"the brand's audience exclusion {ex.name!r} reads a column the customers "
                "table lacks, so it cannot be enforced",
                source="customers",
                column=ex.column,
                code="personalization.exclusion-column-missing",
                hint=f"add {ex.column!r} to the customers data, fix the brand's exclusion, or "
                "set `missing_exclusion_column: warn` on the step to skip it knowingly",
            )
        expr, p = _rule_sql(ex.op, quote_ident(col), ex.value)
        # The rule says who is excluded; the select says who passes.
        rules.selects.append(f"NOT ({expr})")
        rules.params.extend(p)
        rules.labels.append(f"{ex.name}: {ex.reason}")
        rules.unknown.append(f"{ex.name}: {ex.column} unknown")
        rules.attributes.append(col)


def mark_suppressed(s: Suppression, mask: BoolArray, text: str) -> None:
    """Suppress ``mask`` for ``text`` after the rules (e.g. nothing they may be given)."""
    _mark(s, mask, text)


def _mark(s: Suppression, mask: BoolArray, text: str) -> None:
    """Suppress ``mask`` for ``text`` (the first reason a customer gets is kept apart)."""
    if not mask.any():
        return
    s.counts[text] = int(mask.sum())
    first = mask & s.eligible
    s.reason[first] = text
    sep = np.where(s.reasons[mask] == "", "", "; ").astype(object)
    s.reasons[mask] = s.reasons[mask] + sep + text
    s.eligible[mask] = False


def load_fairness_groups(
    con: Any, columns: dict[str, str], groups: Sequence[str]
) -> tuple[dict[str, NDArray[np.object_]], list[str]]:
    """Read the fairness-group columns as level labels (numbers binned into quartiles).

    A group named ``<column>_band`` that the table lacks is read from ``<column>`` when
    that exists (``age_band`` from ``age``), binned the same way.
    """
    lower = {c.lower(): c for c in columns}
    found: dict[str, NDArray[np.object_]] = {}
    missing: list[str] = []
    for g in groups:
        col = lower.get(g.lower())
        if col is None and g.lower().endswith("_band"):
            col = lower.get(g.lower()[: -len("_band")])
        if col is None:
            missing.append(g)
            continue
        q = quote_ident(col)
        raw = con.execute(
            f"SELECT {q} AS v FROM customers ORDER BY customer_id::VARCHAR"
        ).fetchnumpy()["v"]
        null = np.ma.getmaskarray(raw)
        values = np.ma.getdata(raw)
        labels = np.full(values.shape[0], "(missing)", dtype=object)
        if values.dtype.kind in "iuf" and np.unique(values[~null]).size > 8:
            x = values.astype(np.float64)
            edges = np.unique(np.quantile(x[~null], [0.25, 0.5, 0.75]))
            bins = np.searchsorted(edges, x, side="right")
            bounds = [-np.inf, *edges.tolist(), np.inf]
            names = np.array(
                [f"[{bounds[i]:.4g}, {bounds[i + 1]:.4g})" for i in range(len(bounds) - 1)],
                dtype=object,
            )
            labels[~null] = names[bins[~null]]
        else:
            labels[~null] = values[~null].astype(str).astype(object)
        found[g if g.lower() not in lower else col] = labels
    return found, missing


def fairness_report(
    groups: dict[str, NDArray[np.object_]],
    eligible: BoolArray,
    treated: BoolArray,
    action: NDArray[np.int64],
    expected: NDArray[np.floating],
    action_ids: Sequence[str],
    threshold: float,
    missing: Sequence[str] = (),
    probs: NDArray[np.floating] | None = None,
) -> FairnessReport:
    """Compare action rates, action mix and expected value across group levels.

    The action rate is measured among customers who may be contacted, so consent and
    legal exclusions do not count against the policy. A group's gap is the largest
    difference, between its levels with at least 30 eligible customers, in the action
    rate or in the share of any single action among the treated. With ``probs`` (each
    customer's exact probability of every action under the policy, customers x actions)
    the shares are the policy's expected shares: how the policy treats the group, not
    which way one draw of its Thompson samples and exploration happened to fall.
    """
    rows: list[FairnessRow] = []
    gaps: dict[str, float] = {}
    n_act = len(action_ids)
    for g, labels in groups.items():
        levels = np.unique(labels[eligible]) if eligible.any() else np.array([], dtype=object)
        rates, shares = [], []
        for lev in levels:
            at = (labels == lev) & eligible
            size = int(at.sum())
            tr = at & treated
            nt = int(tr.sum())
            if probs is not None:
                share = probs[tr].mean(axis=0) if nt else np.zeros(n_act)
            else:
                counts = np.bincount(action[tr], minlength=n_act) if nt else np.zeros(n_act)
                share = counts / nt if nt else np.zeros(n_act)
            rate = nt / size if size else 0.0
            rows.append(
                FairnessRow(
                    group=g,
                    level=str(lev),
                    customers=size,
                    action_rate=rate,
                    expected_reward=float(expected[tr].mean()) if nt else None,
                    action_shares={
                        action_ids[a]: float(share[a]) for a in range(n_act) if share[a]
                    },
                )
            )
            if size >= _MIN_LEVEL_SIZE:
                rates.append(rate)
                shares.append(share)
        if len(rates) >= 2:
            s = np.array(shares)
            gaps[g] = float(max(max(rates) - min(rates), float((s.max(0) - s.min(0)).max())))
        else:
            gaps[g] = 0.0
    max_gap = max(gaps.values()) if gaps else None
    flagged = sorted(g for g, v in gaps.items() if v > threshold)
    return FairnessReport(
        threshold=threshold,
        rows=rows,
        gaps=gaps,
        max_gap=max_gap,
        flagged=flagged,
        missing_groups=list(missing),
    )
