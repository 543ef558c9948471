"""Consent per channel: who may be sent what, on which channel.

Every channel an action sends on needs the customer's consent for that channel. It comes
from the channel's own consent column: ``consent_sms``, ``sms_consent``, ``SMS Opt-In``
(``sms_opt_in``), ``email_optin``, ... recognised by name, or named in the step's
``consent:`` map. The general marketing flag (``consent_marketing``) alone is consent
only for the channels in ``general_consent_covers`` (default: email), and, when the
table has it, it is also required for every channel: a customer who said no to marketing
is sent nothing, whatever an older channel opt-in says. Opt-out columns (``Do Not
Contact``, ``unsubscribed``, ``suppressed``, ``sms_opt_out``, ...) take consent away:
globally, or for their channel.

Values read like every bool here: ``true/false``, ``yes/no``, ``Y/N``, ``1/0``, case and
spaces ignored. For consent anything else, or empty, is no consent; for an opt-out only a
yes counts (an empty opt-out is not an opt-out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agents.personalization._columns import normalise
from agents.personalization._models import ChannelConsent
from conductor import DataError
from conductor.data import quote_ident

__all__ = ["ConsentPlan", "ConsentState", "plan_consent", "read_consent"]

TRUE_SQL = "('true', 't', 'yes', 'y', '1', '1.0')"
GENERAL_KEYS = ("marketing", "general")
_GENERAL = (
    *("consent_marketing", "marketing_consent", "marketing_opt_in", "marketing_optin"),
    *("opt_in_marketing", "optin_marketing", "marketing_opted_in", "consent"),
)
_GLOBAL_OPT_OUT = {
    *("do_not_contact", "dnc", "donotcontact", "do_not_market", "do_not_marketing", "opt_out"),
    *("optout", "opted_out", "marketing_opt_out", "marketing_optout", "global_opt_out"),
    *("unsubscribed", "unsubscribed_all", "is_unsubscribed", "suppressed", "is_suppressed"),
    *("suppress", "suppression", "suppression_list", "on_suppression_list", "blacklisted"),
    *("blocklisted", "do_not_mail_or_call"),
}
_ALIASES = {"sms": ("sms", "text"), "email": ("email", "e_mail"), "push": ("push",)}


def _own_names(channel: str) -> set[str]:
    out: set[str] = set()
    for c in _ALIASES.get(channel, (channel,)):
        out |= {
            *(f"consent_{c}", f"{c}_consent", f"{c}_opt_in", f"{c}_optin", f"opt_in_{c}"),
            *(f"optin_{c}", f"{c}_opted_in", f"consent_marketing_{c}", f"marketing_consent_{c}"),
            *(f"{c}_marketing_consent", f"{c}_marketing_opt_in", f"allow_{c}"),
            *(f"{c}_permission", f"{c}_allowed"),
        }
    return out


def _opt_out_names(channel: str) -> set[str]:
    out: set[str] = set()
    for c in _ALIASES.get(channel, (channel,)):
        out |= {
            *(f"{c}_opt_out", f"{c}_optout", f"opt_out_{c}", f"optout_{c}", f"{c}_opted_out"),
            *(f"{c}_unsubscribed", f"unsubscribed_{c}", f"do_not_{c}", f"{c}_suppressed"),
            *(f"{c}_blocked",),
        }
    return out


@dataclass(frozen=True)
class ChannelRule:
    """Where one channel's consent comes from.

    Attributes:
        channel: The channel (as in the actions catalogue).
        columns: Its own consent columns (every one must say yes).
        covered: True when it has no column of its own and the general flag covers it.
        opt_outs: Its opt-out columns (a yes in any takes consent away).
    """

    channel: str
    columns: list[str]
    covered: bool
    opt_outs: list[str]


@dataclass(frozen=True)
class ConsentPlan:
    """The consent columns, as read from the customers table's names.

    Attributes:
        general: The general marketing-consent column (None when the table has none).
        channels: One rule per channel that sends.
        opt_outs: Opt-out columns that stop every channel.
        roles: Column -> why it is not a feature (every column read here).
    """

    general: str | None
    channels: list[ChannelRule]
    opt_outs: list[str]
    roles: dict[str, str]


def _mapped(columns: Mapping[str, str], mapping: Mapping[str, str]) -> dict[str, str]:
    lower = {c.lower(): c for c in columns}
    out: dict[str, str] = {}
    for key, col in mapping.items():
        found = lower.get(str(col).lower())
        if found is None:
            raise DataError(
                f"the consent column {col!r} (given for {key!r} under `consent:`) is not in "
                "the customers table",
                source="customers",
                column=str(col),
                code="data.missing-column",
                hint=f"the table has: {', '.join(columns)}",
            )
        out[key.strip().lower()] = found
    return out


def plan_consent(
    columns: Mapping[str, str],
    channels: Sequence[str],
    *,
    mapping: Mapping[str, str],
    covers: Sequence[str],
    opt_out: Sequence[str] | None,
) -> ConsentPlan:
    """Find each channel's consent columns (pure: names only).

    Raises:
        DataError: when a column named under ``consent:`` or ``opt_out:`` is missing, or
            the table has no consent column at all.
    """
    by_norm: dict[str, list[str]] = {}
    for c in columns:
        by_norm.setdefault(normalise(c), []).append(c)
    mapped = _mapped(columns, mapping)
    general = next((mapped[k] for k in GENERAL_KEYS if k in mapped), None)
    if general is None:
        general = next((by_norm[g][0] for g in _GENERAL if g in by_norm), None)
    covered = {c.strip().lower() for c in covers}
    rules = []
    for ch in channels:
        own = [mapped[ch]] if ch in mapped else _find(by_norm, _own_names(ch))
        outs = _find(by_norm, _opt_out_names(ch)) if opt_out is None else []
        rules.append(ChannelRule(ch, own, not own and general is not None and ch in covered, outs))
    if opt_out is None:
        globals_ = _find(by_norm, _GLOBAL_OPT_OUT)
    else:
        globals_ = list(_mapped(columns, {c: c for c in opt_out}).values())
    if general is None and not any(r.columns for r in rules):
        raise DataError(
            "the customers table has no consent column: nobody can be contacted without it",
            source="customers",
            column="consent_marketing",
            code="data.missing-column",
            hint="add consent_marketing (true/false) or one consent column per channel "
            "(consent_email, consent_sms, ...), or name yours under the step's `consent:`; "
            "customers without consent are never given an action",
        )
    roles = {c: f"consent column ({r.channel})" for r in rules for c in r.columns}
    roles.update({c: f"opt-out column ({r.channel})" for r in rules for c in r.opt_outs})
    roles.update(dict.fromkeys(globals_, "opt-out / suppression column"))
    if general is not None:
        roles[general] = "consent column (general)"
    return ConsentPlan(general, rules, globals_, roles)


def _find(by_norm: Mapping[str, list[str]], names: set[str]) -> list[str]:
    return sorted(c for norm, cols in by_norm.items() if norm in names for c in cols)


Parts = list[tuple[str, NDArray[np.bool_]]]


@dataclass(frozen=True)
class ConsentState:
    """Per customer and channel: may they be sent it, and if not, why.

    Attributes:
        channels: The channels, in rule order.
        ok: Customers x channels: consent given and not withdrawn.
        parts: Per channel, every (reason, customers it applies to), in order.
        opted_out: Global opt-outs: (reason, customers), in order.
        summary: One row per channel for the output.
    """

    channels: list[str]
    ok: NDArray[np.bool_]
    parts: list[Parts]
    opted_out: Parts
    summary: list[ChannelConsent]

    def blocked_everywhere(self) -> Parts:
        """(reason, customers) for the customers no channel may reach, reasons in order."""
        none_ok = ~self.ok.any(axis=1)
        out: dict[str, NDArray[np.bool_]] = {}
        for parts in self.parts:
            for text, mask in parts:
                out[text] = out.get(text, np.zeros_like(none_ok)) | (mask & none_ok)
        return [(t, m) for t, m in out.items() if m.any()]

    def blocked_text(self, rows: NDArray[np.int64]) -> NDArray[np.object_]:
        """Per customer of ``rows``: ``sms: no sms consent; push: ...`` ("" when none)."""
        out = np.full(rows.size, "", dtype=object)
        for j, ch in enumerate(self.channels):
            text = np.full(rows.size, "", dtype=object)
            for reason, mask in self.parts[j]:
                hit = mask[rows]
                sep = np.where(text[hit] == "", "", ", ").astype(object)
                text[hit] = text[hit] + sep + reason
            has = text != ""
            sep = np.where(out[has] == "", "", "; ").astype(object)
            out[has] = out[has] + sep + f"{ch}: " + text[has]
        return out


def _truthy(
    con: object, cols: Sequence[str]
) -> dict[str, tuple[NDArray[np.bool_], NDArray[np.bool_]]]:
    """Column -> (says yes, is empty) per customer, in customer_id order."""
    if not cols:
        return {}
    exprs = ", ".join(
        f"CASE WHEN {quote_ident(c)} IS NULL THEN NULL "
        f"ELSE lower(trim({quote_ident(c)}::VARCHAR)) IN {TRUE_SQL} END AS t{i}"
        for i, c in enumerate(cols)
    )
    data = con.execute(  # type: ignore[attr-defined]
        f"SELECT {exprs} FROM customers ORDER BY customer_id::VARCHAR"
    ).fetchnumpy()
    out = {}
    for i, c in enumerate(cols):
        raw = data[f"t{i}"]
        empty = np.ma.getmaskarray(raw)
        out[c] = (np.ma.filled(np.ma.asarray(raw, dtype=bool), False) & ~empty, empty)
    return out


def read_consent(con: object, plan: ConsentPlan, n: int) -> ConsentState:
    """Read the consent and opt-out columns once, and decide every customer x channel."""
    cols = list(
        dict.fromkeys(
            [
                *([plan.general] if plan.general else []),
                *(c for r in plan.channels for c in (*r.columns, *r.opt_outs)),
                *plan.opt_outs,
            ]
        )
    )
    vals = _truthy(con, cols)
    ok = np.ones((n, len(plan.channels)), dtype=bool)
    all_parts: list[Parts] = []
    summary = []
    for j, rule in enumerate(plan.channels):
        parts = _channel_parts(rule, plan.general, vals, n)
        for _, mask in parts:
            ok[:, j] &= ~mask
        all_parts.append(parts)
        summary.append(_summary(rule, plan.general, ok[:, j]))
    opted: Parts = []
    for c in plan.opt_outs:
        yes, _ = vals[c]
        opted.append((f"opted out (`{c}`)", yes))
    return ConsentState([r.channel for r in plan.channels], ok, all_parts, opted, summary)


def _channel_parts(
    rule: ChannelRule,
    general: str | None,
    vals: Mapping[str, tuple[NDArray[np.bool_], NDArray[np.bool_]]],
    n: int,
) -> Parts:
    """Why a customer may not be sent this channel: every reason, each with its customers."""
    parts: Parts = []
    if general is not None:
        yes, empty = vals[general]
        parts.append(("no marketing consent", ~yes & ~empty))
        parts.append(("marketing consent unknown", empty))
    if rule.columns:
        no = np.zeros(n, dtype=bool)
        for c in rule.columns:
            no |= ~vals[c][0]
        parts.append((f"no {rule.channel} consent", no))
    elif not rule.covered:
        parts.append((f"no {rule.channel} consent (no consent column)", np.ones(n, dtype=bool)))
    for c in rule.opt_outs:
        parts.append((f"{rule.channel} opt-out (`{c}`)", vals[c][0]))
    return [(t, m) for t, m in parts if m.any()]


def _summary(rule: ChannelRule, general: str | None, ok: NDArray[np.bool_]) -> ChannelConsent:
    if rule.columns:
        source = " and ".join(f"`{c}`" for c in rule.columns)
        if general:
            source += f" (and `{general}`)"
    elif rule.covered:
        source = f"`{general}` (general flag; `general_consent_covers`)"
    else:
        source = "none: no consent column for this channel"
    return ChannelConsent(
        channel=rule.channel,
        columns=list(rule.columns),
        general=general,
        covered_by_general=rule.covered,
        opt_out_columns=list(rule.opt_outs),
        source=source,
        customers=int(ok.sum()),
        blocked=int((~ok).sum()),
    )


def action_mask(
    state: ConsentState, channels: Sequence[str], allowed: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Customers x actions: may this customer be given this action.

    An action on the ``none`` channel sends nothing and needs no consent; any other needs
    the customer's consent for its channel (and the step's channel rules: ``allowed``).
    """
    n = state.ok.shape[0]
    col = {ch: j for j, ch in enumerate(state.channels)}
    out = np.zeros((n, len(channels)), dtype=bool)
    for a, ch in enumerate(channels):
        if not allowed[a]:
            continue
        out[:, a] = True if ch == "none" else state.ok[:, col[ch]]
    return out


def consent_warnings(
    plan: ConsentPlan, covers: Sequence[str], mapping: Mapping[str, str]
) -> list[str]:
    """What a marketer must know about the consent columns found (or not found)."""
    out = []
    known = {r.channel for r in plan.channels}
    for key in mapping:
        if key not in known and key not in GENERAL_KEYS:
            out.append(f"`consent:` names a column for {key!r}, but no allowed action sends on it")
    for r in plan.channels:
        if not r.columns and not r.covered:
            general = (
                f"`{plan.general}` covers {', '.join(covers) or 'no channel'}"
                if plan.general
                else "there is no general consent flag"
            )
            out.append(
                f"nobody may be sent {r.channel}: the customers table has no consent column "
                f"for it (consent_{r.channel}, {r.channel}_opt_in, or name one under `consent:`) "
                f"and {general} (`general_consent_covers`)"
            )
    return out
