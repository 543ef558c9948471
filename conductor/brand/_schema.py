"""The brand file's schema: every section a brand file may hold, as pydantic models.

:class:`BrandRules` is the whole file as data; :class:`~conductor.brand.BrandStrategy`
adds the rule engine compiled from it. Every field is documented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from conductor.brand import _packs as packs
from conductor.brand._pack_file import check_regex
from conductor.brand._policy import (
    AudienceRules,
    BudgetRules,
    ReviewPolicy,
)
from conductor.brand._safe_regex import UnsafePattern
from conductor.brand._vocab import CustomPack, load_custom_pack
from conductor.verdict import Severity

__all__ = [
    "BannedPhrase",
    "BrandRules",
    "ChannelRules",
    "ClaimPacks",
    "ClaimRules",
    "CompanyInfo",
    "Competitor",
    "DisclaimerRule",
    "EndorsementPack",
    "FinancePack",
    "ForbiddenClaim",
    "GradeRange",
    "HealthPack",
    "ModelReviewPolicy",
    "RequiredTerm",
    "SemanticRules",
    "VoiceRules",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _phrase_shorthand(value: Any, key: str) -> Any:
    # Lists of rules read better in YAML when a bare string is allowed for the simple case.
    return {key: value} if isinstance(value, str) else value


# --- company and voice -------------------------------------------------------------------


class CompanyInfo(_Model):
    """Who sends the messages: what email and SMS law require every message to carry."""

    legal_name: str = Field(min_length=1, description="Registered company name, e.g. 'Acme Inc.'.")
    postal_address: str = Field(
        min_length=1, description="Physical postal address printed in every marketing email."
    )
    unsubscribe_url: str = Field(
        min_length=1, description="Link that unsubscribes the reader from marketing email."
    )
    sms_opt_out: str = Field(
        default="Reply STOP to opt out",
        min_length=1,
        description="Opt-out instruction appended to every marketing SMS.",
    )
    support_email: str | None = Field(
        default=None,
        min_length=1,
        description="The brand's own contact address; copy may give it (content.personal-data "
        "flags any other email address).",
    )
    support_phone: str | None = Field(
        default=None,
        min_length=1,
        description="The brand's own phone number; copy may give it, in any format "
        "(content.personal-data flags any other phone number).",
    )


class BannedPhrase(_Model):
    """A word or phrase the brand never uses, with what to say instead."""

    phrase: str = Field(min_length=1, description="The word or phrase (matched as whole words).")
    replacement: str | None = Field(
        default=None,
        description="What to write instead; when set the fix is applied mechanically.",
    )
    reason: str = Field(default="", description="Why it is banned, shown to the writer.")
    regex: bool = Field(default=False, description="Treat `phrase` as a regular expression.")
    case_sensitive: bool = Field(default=False, description="Match letter case exactly.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _phrase_shorthand(value, "phrase")

    @model_validator(mode="after")
    def _valid_regex(self) -> BannedPhrase:
        if self.regex:
            check_regex(self.phrase, what="phrase")
        return self


class RequiredTerm(_Model):
    """A term every piece of copy (on the listed channels) must contain."""

    term: str = Field(min_length=1, description="The term, matched as whole words.")
    channels: list[str] = Field(
        default_factory=list, description="Channels it is required on; empty means all."
    )
    reason: str = Field(default="", description="Why it is required.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _phrase_shorthand(value, "term")


class GradeRange(_Model):
    """Allowed Flesch-Kincaid reading grade of the copy."""

    min: float | None = Field(default=None, ge=0, description="Lowest allowed grade.")
    max: float | None = Field(default=None, ge=0, description="Highest allowed grade.")
    min_words: int = Field(
        default=30,
        ge=1,
        description="Only copy with at least this many words is graded (short text is noisy).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> GradeRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class ModelReviewPolicy(_Model):
    """How an optional LLM brand-voice score turns into warnings or escalations."""

    warn_below: float = Field(
        default=0.6, ge=0, le=1, description="A voice score under this adds a warning."
    )
    escalate_below: float | None = Field(
        default=0.3,
        ge=0,
        le=1,
        description="A voice score under this sends the copy to a person (null: never).",
    )


class VoiceRules(_Model):
    """How the brand sounds."""

    description: str = Field(
        default="", description="The voice in a few sentences (used by the model review)."
    )
    tone: list[str] = Field(default_factory=list, description="Tone words, e.g. warm, plain.")
    avoid_tone: list[str] = Field(
        default_factory=list, description="Tones the brand never takes, e.g. pushy, smug."
    )
    banned: list[BannedPhrase] = Field(
        default_factory=list, description="Words and phrases never to use, with replacements."
    )
    required_terms: list[RequiredTerm] = Field(
        default_factory=list, description="Terms copy must contain (per channel)."
    )
    reading_grade: GradeRange | None = Field(
        default=None, description="Allowed Flesch-Kincaid grade range; null: not checked."
    )
    max_exclamations: int | None = Field(
        default=1, ge=0, description="Most '!' allowed in one piece of copy; null: no limit."
    )
    max_caps_words: int | None = Field(
        default=0, ge=0, description="Most ALL-CAPS words (acronyms excepted); null: no limit."
    )
    allowed_caps: list[str] = Field(
        default_factory=list,
        description="Extra all-caps words that are not shouting (acronyms, product names).",
    )
    max_emoji: int | None = Field(
        default=0, ge=0, description="Most emoji allowed in one piece of copy; null: no limit."
    )
    model_review: ModelReviewPolicy = Field(
        default_factory=ModelReviewPolicy, description="Thresholds for the optional LLM review."
    )


# --- claims ------------------------------------------------------------------------------


class ForbiddenClaim(_Model):
    """A claim the brand may never make, e.g. 'risk-free' or 'clinically proven'."""

    pattern: str = Field(min_length=1, description="Phrase (whole words) or regular expression.")
    regex: bool = Field(default=False, description="Treat `pattern` as a regular expression.")
    name: str = Field(default="", description="Short name of the claim shown in messages.")
    message: str = Field(default="", description="Why it is forbidden, for the writer.")
    fix: str = Field(default="", description="What to do instead.")
    replacement: str | None = Field(
        default=None, description="Mechanical replacement text, when a safe wording exists."
    )
    severity: Severity = Field(default=Severity.ERROR, description="How bad a match is.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _phrase_shorthand(value, "pattern")

    @model_validator(mode="after")
    def _valid_regex(self) -> ForbiddenClaim:
        if self.regex:
            check_regex(self.pattern, what="pattern")
        return self


class HealthPack(_Model):
    """Rules for health and dietary-supplement marketing (FDA/FTC style)."""

    disclaimer: str = Field(
        default_factory=lambda: packs.required_text("health"),
        min_length=1,
        description="Disclaimer required whenever copy makes a structure/function claim.",
    )
    extra_conditions: list[str] = Field(
        default_factory=list,
        description="More disease or condition words that make a cure/treat claim.",
    )


class FinancePack(_Model):
    """Rules for financial promotions: no promised returns; a risk warning on investments."""

    risk_warning: str = Field(
        default_factory=lambda: packs.required_text("finance"),
        min_length=1,
        description="Warning required whenever copy promotes an investment.",
    )
    extra_investment_terms: list[str] = Field(
        default_factory=list,
        description="More words that make a message an investment promotion.",
    )


class EndorsementPack(_Model):
    """Rules for testimonials and reviews (FTC endorsement guides style)."""

    disclosure: str = Field(
        default_factory=lambda: packs.required_text("endorsements"),
        min_length=1,
        description="Disclosure required when a testimonial quotes a specific result.",
    )


class ClaimPacks(_Model):
    """Industry rule packs; a pack is on when its key is present (``health: {}``)."""

    health: HealthPack | None = Field(default=None, description="Health/supplement pack.")
    finance: FinancePack | None = Field(default=None, description="Financial promotions pack.")
    endorsements: EndorsementPack | None = Field(
        default=None, description="Testimonials and reviews pack."
    )
    custom: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Custom claim pack files (a path or a list of paths, relative to the "
        "brand file); each family of a pack is the rule claims.custom.<family>.",
    )

    @field_validator("custom", mode="before")
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class SemanticRules(_Model):
    """Claims caught by meaning (docs/brand.md "Claims by meaning")."""

    enabled: bool = Field(
        default=True,
        description="Run the semantic check beside the phrase rules, for the claim families "
        "the brand's packs turn on.",
    )
    threshold: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description="Score (0-1) at or above which a sentence is flagged; calibrated on "
        "tests/semantic_corpus/tune.yaml.",
    )
    thresholds: dict[
        Literal[
            "disease", "guarantee", "past-performance", "testimonial", "superlative", "urgency"
        ],
        Annotated[float, Field(ge=0.0, le=1.0)],
    ] = Field(default_factory=dict, description="Per-family thresholds overriding `threshold`.")


class ClaimRules(_Model):
    """Claims the brand may not make."""

    forbidden: list[ForbiddenClaim] = Field(
        default_factory=list, description="Brand-specific forbidden claim patterns."
    )
    superlatives: bool = Field(
        default=True,
        description="Flag unqualified superlatives ('#1', 'the best', 'unbeatable').",
    )
    packs: ClaimPacks = Field(default_factory=ClaimPacks, description="Industry rule packs.")
    semantic: SemanticRules = Field(
        default_factory=SemanticRules, description="Claims caught by meaning, not only by phrase."
    )


class Competitor(_Model):
    """A competitor that copy must not name."""

    name: str = Field(min_length=1, description="The competitor's name.")
    aliases: list[str] = Field(default_factory=list, description="Other names and spellings.")
    case_sensitive: bool = Field(
        default=False,
        description="Match case exactly (for names that are also words, e.g. 'Evergreen').",
    )
    replacement: str | None = Field(
        default=None, description="Neutral wording to use instead, e.g. 'other banks'."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _phrase_shorthand(value, "name")


# --- channels and disclaimers ------------------------------------------------------------


class ChannelRules(_Model):
    """What one channel's messages must carry and how long they may be."""

    max_length: int | None = Field(
        default=None, ge=1, description="Most characters of text, required elements included."
    )
    unicode_max_length: int | None = Field(
        default=None,
        ge=1,
        description="Limit when the text needs Unicode (emoji, curly quotes): SMS drops to 70.",
    )
    subject_max_length: int | None = Field(
        default=None, ge=1, description="Most characters of the subject line (email)."
    )
    require_unsubscribe: bool = Field(default=False, description="Must carry an unsubscribe link.")
    require_postal_address: bool = Field(
        default=False, description="Must carry the company's postal address."
    )
    require_opt_out: bool = Field(
        default=False, description="Must carry an opt-out instruction ('Reply STOP...')."
    )
    disclaimers: list[str] = Field(
        default_factory=list, description="Disclaimers every message on this channel carries."
    )


class DisclaimerRule(_Model):
    """A disclaimer required when copy mentions certain things (e.g. '% off' → terms)."""

    text: str = Field(min_length=1, description="The disclaimer, exactly as it must appear.")
    when: list[str] = Field(
        default_factory=list,
        description="Phrases (whole words) that make it required; empty means always.",
    )
    when_regex: bool = Field(default=False, description="Treat `when` entries as regexes.")
    channels: list[str] = Field(
        default_factory=list, description="Channels it applies to; empty means all."
    )
    name: str = Field(default="", description="Short name shown in messages.")

    @model_validator(mode="after")
    def _valid_regex(self) -> DisclaimerRule:
        if self.when_regex:
            for i, w in enumerate(self.when):
                try:
                    check_regex(w, what="when")
                except UnsafePattern as exc:
                    exc.loc = ("when", i)  # located at the entry, not the disclaimer
                    raise
        return self


# --- the strategy ------------------------------------------------------------------------


class BrandRules(_Model):
    """What a brand file says: voice, claims, competitors, channels, money, people, policy.

    The data alone; :class:`BrandStrategy` adds the rule engine compiled from it.
    """

    name: str = Field(min_length=1, description="Brand name, as customers know it.")
    description: str = Field(default="", description="What the brand sells, to whom.")
    company: CompanyInfo = Field(description="Legal sender details required by law.")
    voice: VoiceRules = Field(default_factory=VoiceRules, description="How the brand sounds.")
    claims: ClaimRules = Field(default_factory=ClaimRules, description="Claims it may not make.")
    competitors: list[Competitor] = Field(
        default_factory=list, description="Competitors copy must not name."
    )
    channels: dict[str, ChannelRules] = Field(
        default_factory=dict, description="Channel name -> its required elements and limits."
    )
    disclaimers: list[DisclaimerRule] = Field(
        default_factory=list, description="Disclaimers required when copy mentions something."
    )
    budget: BudgetRules = Field(default_factory=BudgetRules, description="Rules for money.")
    audience: AudienceRules = Field(default_factory=AudienceRules, description="Rules for people.")
    review_policy: ReviewPolicy = Field(
        default_factory=ReviewPolicy, description="Actions per rule/severity and sign-off."
    )
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = Field(
        default_factory=lambda: ["en"],
        min_length=1,
        description="Languages the brand sells in (ISO 639-1 codes such as en, es, fr, de); "
        "the semantic check reads the packs' exemplars in these languages.",
    )

    _source: str | None = PrivateAttr(default=None)
    _custom_packs: tuple[CustomPack, ...] | None = PrivateAttr(default=None)

    @field_validator("channels")
    @classmethod
    def _lower_channels(cls, value: dict[str, ChannelRules]) -> dict[str, ChannelRules]:
        return {k.strip().lower(): v for k, v in value.items()}

    @property
    def source(self) -> str | None:
        """The file this strategy was loaded from, if any."""
        return self._source

    @property
    def custom_packs(self) -> tuple[CustomPack, ...]:
        """The custom claim packs of ``claims.packs.custom``, read and checked.

        :func:`~conductor.brand.load_brand` reads them with the brand file (so their
        errors point at the brand file too); a strategy built otherwise reads them here,
        relative to its :attr:`source` or the working directory.
        """
        if self._custom_packs is None:
            base = Path(self._source).parent if self._source else Path()
            self._custom_packs = tuple(load_custom_pack(base / p) for p in self.claims.packs.custom)
        return self._custom_packs

    def channel(self, channel: str) -> ChannelRules | None:
        """The rules of a channel (case-insensitive), or None when the file has none."""
        return self.channels.get(channel.strip().lower())

    def footer(self, channel: str) -> str:
        """Text that, appended to a message, carries the channel's required elements.

        Args:
            channel: Channel name (email, sms, push, ...).

        Returns:
            For email the unsubscribe link and postal address, for SMS the opt-out
            instruction, plus the channel's always-required disclaimers; "" when the
            channel requires nothing.
        """
        rules = self.channel(channel)
        if rules is None:
            return ""
        parts = list(rules.disclaimers)
        parts.extend(self.required_elements(channel).values())
        return " ".join(parts)

    def required_elements(self, channel: str) -> dict[str, str]:
        """The channel's legally required elements, by rule id, as text to append."""
        rules = self.channel(channel)
        out: dict[str, str] = {}
        if rules is None:
            return out
        c = self.company
        if rules.require_postal_address:
            out["channel.postal-address-missing"] = f"{c.legal_name}, {c.postal_address}."
        if rules.require_unsubscribe:
            out["channel.unsubscribe-missing"] = f"Unsubscribe: {c.unsubscribe_url}"
        if rules.require_opt_out:
            out["channel.opt-out-missing"] = c.sms_opt_out
        return out
