"""Vocabulary of the brand engine's content-hygiene rules.

Regular-expression sources for prompt injection, leftover placeholders, SMS opt-outs,
unsubscribe links and emoji, plus the acronyms that do not count as shouting. Like the
claim packs (:mod:`conductor.brand._claim_vocab`) they are compiled and combined by
:mod:`conductor.brand._compiled`, and written in lower case except where capitals are
the point (:data:`PLACEHOLDER_CASED`).
"""

from __future__ import annotations

# --- content hygiene ---------------------------------------------------------------------

INJECTION = [
    r"(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|"
    r"these\s+|those\s+|every\s+)?(?:of\s+the\s+|of\s+your\s+)?(?:previous\s+|prior\s+|above\s+|"
    r"earlier\s+|preceding\s+|brand\s+|content\s+|safety\s+|compliance\s+|system\s+)*"
    r"(?:instructions?|rules?|guidelines?|polic(?:y|ies)|prompts?|checks?|review|"
    r"filters?|restrictions?|constraints?|guidance|directions?)",
    r"(?:system|developer)\s+prompt",
    r"you\s+are\s+now\s+(?:a|an|in|the)\b",
    r"as\s+an\s+ai(?:\s+language)?\s+model",
    r"(?:brand|compliance|content)\s+(?:rules?|checks?|review|policy)\s+(?:do(?:es)?\s+not|"
    r"don't|doesn't)\s+apply",
    r"(?:this|the)\s+(?:copy|message|text|email|content)\s+(?:is|has\s+been|was)\s+"
    r"(?:pre-?)?approved",
    r"(?:mark|flag|treat|rate|classify)\s+(?:this|it)\s+as\s+(?:compliant|approved|passed|"
    r"safe|clean|on-brand)",
    r"(?:do\s+not|don't|never)\s+(?:flag|block|report|review|check)\s+(?:this|it|me)\b",
    r"(?:reviewer|assistant|model|ai|llm|chatbot)\s*[:,]\s*(?:approve|pass|ignore|output)",
    r"approve\s+this\s+(?:copy|message|text|content|email)",
    r"jailbreak|developer\s+mode|dan\s+mode",
    r"<\|im_(?:start|end)\|>|\[/?inst\]|<</?sys>>|###\s*(?:instruction|system)",
    r"new\s+instructions\s*:",
    r"pretend\s+(?:you\s+are|to\s+be)\s+(?:a|an|the)\b",
]

PLACEHOLDER = [
    r"lorem\s+ipsum",
    r"\[\s*(?:insert|placeholder|tbd|todo|your|name|first\s+name|last\s+name|customer|"
    r"product|link|url|date|price|offer|code|city|store)\b[^\]]{0,40}\]",
    r"<\s*(?:insert|placeholder)[^>]{0,40}>",
]

# Matched on the original text: capitals are what make these placeholders.
PLACEHOLDER_CASED = [
    r"\b(?:TODO|TBD|FIXME|XXX)\b",
    r"\[[A-Z][A-Z_ ]{2,30}\]",
    r"\{[A-Z][A-Z_]{2,30}\}",
]

OPT_OUT = (
    r"\b(?:reply|text|txt|send)\s+[\"“']?stop[\"”']?\b|"
    r"\bstop\s+to\s+(?:opt[\s-]?out|unsubscribe|end|cancel|quit|stop)\b"
)

UNSUBSCRIBE_LINK = (
    r"unsubscribe\W{0,20}(?:https?://\S+|\{\{\s*unsubscribe\w*\s*\}\}|\*\|unsub\|\*)|"
    r"(?:https?://\S+|\{\{\s*unsubscribe\w*\s*\}\}|\*\|unsub\|\*)\W{0,5}\(?unsubscribe"
)

# Emoji with optional variation selector / skin tone, joined by ZWJ into one glyph.
_EMOJI_CHAR = (
    "[\U0001f300-\U0001faff\U0001f1e6-\U0001f1ff\u2600-\u2604\u2607-\u2712\u2714-\u27bf"
    "\u2b50\u2b55\u231a\u231b\u23e9-\u23fa\u2934\u2935\u3030\u303d\u3297\u3299]"
)
_EMOJI_MOD = "[\ufe0f\U0001f3fb-\U0001f3ff]*"
EMOJI = rf"{_EMOJI_CHAR}{_EMOJI_MOD}(?:\u200d{_EMOJI_CHAR}{_EMOJI_MOD})*"

# Acronyms that are not shouting. Brands add their own (``voice.allowed_caps``).
ALLOWED_CAPS = frozenset(
    [
        "AM",
        "PM",
        "OK",
        "ID",
        "TV",
        "UK",
        "US",
        "USA",
        "EU",
        "UN",
        "FAQ",
        "SMS",
        "FDA",
        "FDIC",
        "APR",
        "APY",
        "IRA",
        "ETF",
        "SPF",
        "UV",
        "UVA",
        "UVB",
        "DNA",
        "PIN",
        "ATM",
        "VIP",
        "CEO",
        "CFO",
        "DIY",
        "GPS",
        "HD",
        "LED",
        "USB",
        "URL",
        "PDF",
        "NYC",
        "LA",
        "SKU",
        "RSVP",
        "ASAP",
        "FYI",
        "AI",
        "IT",
        "HR",
        "HSA",
        "FSA",
        "SEC",
        "FINRA",
        "SIPC",
        "NMLS",
        "EST",
        "PST",
        "CST",
        "MST",
        "GMT",
        "UTC",
        "BPA",
        "GMO",
        "USDA",
        "NSF",
        "CBD",
        "EPA",
        "DHA",
        "NYSE",
        "ISA",
        "ISAS",
    ]
)
