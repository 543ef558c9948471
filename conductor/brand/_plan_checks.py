"""The brand engine's checks on plans: budget allocations and audiences.

Plain arithmetic, no regexes. Budget: banned channels, the share any one channel may
take, how fast a channel's money may change against the previous period, the currency,
and the spend above which a person has to sign off. Audience: marketing consent, minimum
age, sensitive targeting attributes (matched through families of words, see
``vocab/sensitive.yaml`` and :func:`sensitive_category`), contact frequency, the
fairness gap between protected groups, and audiences with nobody in them.

These are plain functions, not engine mixins: the engine hands each one an ``emit``
bound to its list of violations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from conductor.brand import _packs as packs
from conductor.specs import Allocation, Audience

if TYPE_CHECKING:
    from conductor.brand._policy import AudienceRules, BudgetRules

Emit = Callable[..., None]
"""Reports one violation: ``emit(rule, artifact, message, field=..., excerpt=..., fix=...)``."""


def check_allocation(rules: BudgetRules, art: Allocation, emit: Emit, signoff: list[str]) -> None:
    """Budget rules: banned channels, shares, pace of change, currency, sign-off amount."""
    cur = art.currency
    if cur.upper() != rules.currency:
        emit(
            "budget.currency-mismatch",
            art,
            f"Amounts are in {cur}; the brand's budget rules are in {rules.currency}.",
            field="currency",
            excerpt=cur,
            fix=f"Convert the allocation to {rules.currency}.",
        )
    amounts = {k.strip().lower(): (k, v) for k, v in art.amounts.items()}
    total = sum(v for _k, v in amounts.values() if v > 0)
    banned = {c.lower() for c in rules.banned_channels}
    shares = {k.lower(): v for k, v in rules.max_share.items()}
    for ch, (key, amount) in sorted(amounts.items()):
        fld = f"amounts.{key}"
        if amount < 0:
            emit(
                "budget.negative-amount",
                art,
                f"{key} has a negative amount ({amount:,.2f}).",
                field=fld,
                excerpt=f"{amount:,.2f}",
                fix="Amounts must be zero or more.",
            )
            continue
        if ch in banned and amount > 0:
            emit(
                "budget.banned-channel",
                art,
                f"{key} gets {cur} {amount:,.0f}, but the brand does not spend on {key}.",
                field=fld,
                excerpt=f"{amount:,.0f}",
                fix=f"Move the money from {key} to allowed channels.",
            )
        cap = shares.get(ch, shares.get("*"))
        if cap is not None and total > 0 and amount / total > cap + 1e-9:
            emit(
                "budget.max-share",
                art,
                f"{key} gets {amount / total:.0%} of the budget; the brand caps it at {cap:.0%}.",
                field=fld,
                excerpt=f"{amount / total:.1%}",
                fix=f"Keep {key} at or below {cap * total:,.0f} {cur}.",
            )
    if rules.max_change is not None and art.previous:
        prev = {k.strip().lower(): (k, v) for k, v in art.previous.items()}
        for ch, (key, before) in sorted(prev.items()):
            if before <= 0:
                continue
            now = amounts.get(ch, (key, 0.0))[1]
            change = (now - before) / before
            # Amounts are stated to the cent, so a plan that sits exactly on the limit can
            # round a fraction of a cent past it: allow one cent of rounding.
            if abs(now - before) > before * rules.max_change + 0.01:
                emit(
                    "budget.max-change",
                    art,
                    f"{key} changes by {change:+.0%} vs the previous period; the brand allows "
                    f"±{rules.max_change:.0%}.",
                    field=f"amounts.{key}",
                    excerpt=f"{before:,.0f} -> {now:,.0f}",
                    fix=f"Keep {key} between {before * (1 - rules.max_change):,.0f} and "
                    f"{before * (1 + rules.max_change):,.0f} {cur}, or ask for sign-off.",
                )
        for ch, (key, now) in sorted(amounts.items()):
            if now > 0 and prev.get(ch, (key, 0.0))[1] <= 0:
                emit(
                    "budget.max-change",
                    art,
                    f"{key} is new this period ({cur} {now:,.0f}, nothing before); the brand "
                    f"allows channels to change by ±{rules.max_change:.0%}.",
                    field=f"amounts.{key}",
                    excerpt=f"0 -> {now:,.0f}",
                    fix=f"Ask for sign-off to open {key}, or keep the money on existing channels.",
                )
    if rules.signoff_above is not None and total > rules.signoff_above:
        signoff.append(
            f"allocation {art.id!r}: spend of {cur} {total:,.0f} is above "
            f"{rules.currency} {rules.signoff_above:,.0f}"
        )


def check_audience(rules: AudienceRules, art: Audience, emit: Emit) -> None:
    """Audience rules: consent, age, sensitive attributes, frequency, fairness."""
    if rules.consent_required and not art.consent_checked:
        emit(
            "audience.consent-missing",
            art,
            "Not everyone in this audience is known to have marketing consent.",
            field="consent_checked",
            excerpt="false",
            fix="Filter the audience to people with marketing consent.",
        )
    if rules.min_age is not None and (art.min_age is None or art.min_age < rules.min_age):
        got = "no minimum age" if art.min_age is None else f"minimum age {art.min_age}"
        emit(
            "audience.min-age",
            art,
            f"The audience uses {got}; the brand targets people aged {rules.min_age}+.",
            field="min_age",
            excerpt=str(art.min_age),
            fix=f"Exclude people under {rules.min_age}.",
        )
    for i, attr in enumerate(art.attributes_used):
        hit = sensitive_category(attr, rules.sensitive_attributes)
        if hit is not None:
            emit(
                "audience.sensitive-attribute",
                art,
                f"Targets on {attr!r}, a {hit} attribute the brand never uses for targeting.",
                field=f"attributes_used[{i}]",
                excerpt=attr,
                fix=f"Rebuild the audience without {attr!r}.",
            )
    cap = rules.max_contacts_per_week
    if cap is not None:
        if art.contacts_per_week is None:
            emit(
                "audience.contact-frequency-unknown",
                art,
                f"Contact frequency not stated; the brand caps it at {cap:g} per week.",
                field="contacts_per_week",
                fix="State the planned messages per person per week.",
            )
        elif art.contacts_per_week > cap + 1e-9:
            emit(
                "audience.contact-frequency",
                art,
                f"Plans {art.contacts_per_week:g} messages per person per week; the brand caps "
                f"it at {cap:g}.",
                field="contacts_per_week",
                excerpt=f"{art.contacts_per_week:g}",
                fix=f"Send at most {cap:g} per week.",
            )
    if rules.fairness_groups:
        if art.fairness_gap is None:
            emit(
                "audience.fairness-unmeasured",
                art,
                "The gap in treatment between protected groups was not measured.",
                field="fairness_gap",
                fix="Measure action rates by " + ", ".join(rules.fairness_groups) + ".",
            )
        elif art.fairness_gap > rules.fairness_threshold + 1e-9:
            emit(
                "audience.fairness-gap",
                art,
                f"Protected groups are treated {art.fairness_gap:.0%} apart; the brand allows "
                f"{rules.fairness_threshold:.0%}.",
                field="fairness_gap",
                excerpt=f"{art.fairness_gap:.3f}",
                fix="Rebalance the selection across " + ", ".join(rules.fairness_groups) + ".",
            )
    if art.size == 0:
        emit(
            "audience.empty",
            art,
            "The audience has nobody in it.",
            field="size",
            excerpt="0",
            fix="Loosen the definition or drop the audience.",
        )


def sensitive_category(attribute: str, sensitive: Sequence[str]) -> str | None:
    """The first of ``sensitive`` (brand categories) that a targeting column falls in.

    Categories are matched through the families of words in vocab/sensitive.yaml, so
    "religion" in the brand file also catches a column called ``religious_affiliation``.
    """
    synonyms = packs.sensitive_synonyms()
    name = "_" + re.sub(r"[^a-z0-9]+", "_", attribute.lower()).strip("_") + "_"
    for category in sensitive:
        key = re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")
        for syn in (key, *synonyms.get(key, ())):
            pattern = f"_{syn}_" if len(syn) <= 3 else f"_{syn}"
            if pattern in name:
                return category
    return None
