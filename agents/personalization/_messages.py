"""Messages per (segment, action): brand-approved Jinja2 templates, optional LLM variants.

Templates run in Jinja2's sandbox (catalogue templates come from marketers' CSV files, so
they must not reach Python internals) with undefined variables as errors. The brand's
channel footer (unsubscribe link and postal address, SMS opt-out, ...) is appended to
every message so the required elements are always present. LLM variants are kept only
when the brand review passes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from agents.personalization._models import ActionDef, MessageAssignment
from conductor import Action, ConductorError, Copy, SpecError

__all__ = ["MessageVariant", "MessageVariants", "Pair", "build_messages", "slug"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

_GREETINGS = {
    "Champions": "Thank you for being one of our most loyal customers.",
    "Loyal customers": "Thank you for coming back to us so often.",
    "Promising": "Good to see you again.",
    "New customers": "Welcome, we are glad you are here.",
    "Needs attention": "We have something we think you will like.",
    "About to sleep": "It has been a little while.",
    "At risk": "We miss you.",
    "Can't lose them": "We miss you, and we saved something for you.",
    "Hibernating": "It has been a while, so here is something new.",
}
_DEFAULT_GREETING = "Here is something picked for you."


class MessageVariant(BaseModel):
    """One draft of a message, as the LLM returns it."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, description="Email subject line (email only).")
    text: str = Field(description="Message body, without footer or unsubscribe text.")


class MessageVariants(BaseModel):
    """Several drafts of one message."""

    model_config = ConfigDict(extra="forbid")

    variants: list[MessageVariant] = Field(description="The drafts, best first.")


@dataclass(frozen=True)
class Pair:
    """A (segment, action) pair that has customers, with what the copy may mention."""

    segment: str
    traits: dict[str, float]
    action: ActionDef
    customers: int


def slug(text: str) -> str:
    """Lowercase, dash-separated id part."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _capfirst(value: Any) -> str:
    s = str(value)
    return s[:1].upper() + s[1:]


def make_environment() -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment messages are rendered in."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["capfirst"] = _capfirst
    return env


def _context(pair: Pair, brand: Any) -> dict[str, Any]:
    company = getattr(brand, "company", None)
    return {
        "offer": pair.action.offer.strip().rstrip(".!"),
        "action": pair.action.id,
        "channel": pair.action.channel,
        "segment": pair.segment,
        "traits": dict(pair.traits),
        "greeting": _GREETINGS.get(pair.segment, _DEFAULT_GREETING),
        "brand_name": getattr(brand, "name", None),
        "company_name": getattr(company, "legal_name", None),
    }


def _render(
    env: SandboxedEnvironment,
    source: str | None,
    default: str,
    ctx: dict[str, Any],
    action_id: str,
    step: str | None,
) -> str:
    try:
        template = env.from_string(source) if source is not None else env.get_template(default)
        return template.render(**ctx).strip()
    except (jinja2.TemplateError, jinja2.exceptions.SecurityError) as exc:
        raise SpecError(
            f"the message template of action {action_id!r} cannot be rendered: {exc}",
            step=step,
            field="actions",
            code="personalization.bad-template",
            hint="templates may use: " + ", ".join(sorted(ctx)),
        ) from None


def _with_footer(text: str, channel: str, brand: Any) -> str:
    if brand is None:
        return text
    footer = str(brand.footer(channel) or "").strip()
    if not footer or footer in text:
        return text
    sep = " " if channel in ("sms", "push") else "\n\n"
    return f"{text}{sep}{footer}"


def render_template(env: SandboxedEnvironment, pair: Pair, brand: Any, step: str | None) -> Copy:
    """The template message of one pair, footer included."""
    ctx = _context(pair, brand)
    a = pair.action
    channel_default = f"{a.channel}.txt.j2"
    if channel_default not in env.list_templates():
        channel_default = "default.txt.j2"
    text = _render(env, a.template, channel_default, ctx, a.id, step)
    subject = None
    if a.channel == "email":
        subject = _render(env, a.subject, "email_subject.txt.j2", ctx, a.id, step)
    return Copy(
        id=f"copy/{slug(pair.segment)}/{slug(a.id)}",
        channel=a.channel,
        text=_with_footer(text, a.channel, brand),
        segment=pair.segment,
        subject=subject,
    )


def _ask_llm(llm: Any, pair: Pair, base: Copy, n: int, brand: Any) -> list[MessageVariant]:
    structured = llm.with_structured_output(MessageVariants)
    voice = getattr(brand, "voice", None)
    tone = ", ".join(getattr(voice, "tone", None) or []) if voice is not None else ""
    name = getattr(brand, "name", None) or "the brand"
    system = (
        f"You write short marketing messages for {name}. Tone: {tone or 'warm, plain, honest'}. "
        "Make no promises or guarantees, no superlatives, no health or financial claims, and "
        "never name competitors. Do not add unsubscribe or opt-out text: it is appended for you."
    )
    limit = " Keep each under 140 characters." if pair.action.channel in ("sms", "push") else ""
    human = (
        f"Write {n} distinct variants of a {pair.action.channel} message for the customer "
        f"segment '{pair.segment}' offering: {pair.action.offer}.{limit}\n"
        f"Approved starting point:\n{base.text}"
        + ("\nInclude a subject line." if pair.action.channel == "email" else "")
    )
    result = structured.invoke([("system", system), ("human", human)])
    if isinstance(result, dict):
        result = MessageVariants.model_validate(result)
    if not isinstance(result, MessageVariants):
        raise TypeError(f"structured output returned {type(result).__name__}")
    return result.variants[:n]


def build_messages(
    pairs: Sequence[Pair],
    *,
    brand: Any,
    llm: Any,
    variants: int,
    llm_pairs: int,
    step: str | None,
) -> tuple[list[Copy], list[MessageAssignment], list[str]]:
    """Render every pair's message; with an LLM, add the variants the brand review passes.

    Returns:
        The Copy artifacts, which copy goes to which pair, and warnings.
    """
    env = make_environment()
    copies: list[Copy] = []
    index: list[MessageAssignment] = []
    warnings: list[str] = []
    by_size = sorted(range(len(pairs)), key=lambda i: -pairs[i].customers)
    ask = set(by_size[:llm_pairs]) if llm is not None else set()
    for i, pair in enumerate(pairs):
        base = render_template(env, pair, brand, step)
        ids = [base.id]
        copies.append(base)
        if i in ask:
            try:
                drafts = _ask_llm(llm, pair, base, variants, brand)
            except ConductorError:
                raise
            except Exception as exc:  # a flaky model must not lose the approved template copy
                warnings.append(
                    f"LLM variants for {pair.segment}/{pair.action.id} failed "
                    f"({type(exc).__name__}); the template message is used"
                )
                drafts = []
            candidates = [
                Copy(
                    id=f"{base.id}/v{j + 1}",
                    channel=pair.action.channel,
                    text=_with_footer(d.text.strip(), pair.action.channel, brand),
                    segment=pair.segment,
                    subject=(d.subject or base.subject) if pair.action.channel == "email" else None,
                )
                for j, d in enumerate(drafts)
                if d.text.strip()
            ]
            kept = _passing(candidates, brand, step)
            if candidates and len(kept) < len(candidates):
                warnings.append(
                    f"{len(candidates) - len(kept)} of {len(candidates)} LLM variants for "
                    f"{pair.segment}/{pair.action.id} broke brand rules and were dropped"
                )
            copies.extend(kept)
            ids.extend(c.id for c in kept)
        index.append(
            MessageAssignment(
                segment=pair.segment, action=pair.action.id, customers=pair.customers, copy_ids=ids
            )
        )
    return copies, index, warnings


def _passing(candidates: list[Copy], brand: Any, step: str | None) -> list[Copy]:
    if not candidates or brand is None:
        return candidates
    verdict = brand.review(candidates, step=step)
    return [
        c
        for c in candidates
        if all(v.action.rank < Action.REVISE.rank for v in verdict.for_artifact(c.id))
    ]
