"""Vocabulary of the brand engine's claim packs: health, finance, endorsements, superlatives.

Each pack is a list of regular-expression *sources* (compiled and combined by
:mod:`conductor.brand._compiled`), with the text the brand requires alongside a claim
(the supplement disclaimer, the risk warning, the results-vary disclosure). The patterns
are deliberately conservative: every pattern is anchored on word boundaries and scoped
to one clause or sentence, because a rule that fires on "treat yourself" or "best
wishes" teaches marketers to ignore the reviewer.

Gaps between two anchor words are written with :func:`gap` and mean "up to N words, not
crossing a sentence end", which is how "cures ... arthritis" is told apart from two
unrelated sentences that each contain one of the words. :data:`NEGATORS` and
:data:`CLAUSE_BREAK` decide when a negation in front takes a claim back.
"""

from __future__ import annotations


def gap(max_words: int) -> str:
    """Up to ``max_words`` intervening words, never crossing ``.``, ``!`` or ``?``."""
    return rf"(?:[^\w.!?\n]+[\w'’-]+){{0,{max_words}}}?[^\w.!?\n]+"


GAP = gap(5)

# Words that negate a claim when they open its clause ("does not treat", "no guarantee").
NEGATORS = (
    r"\b(?:not|no|never|nor|neither|cannot|can't|won't|doesn't|don't|isn't|aren't|"
    r"wasn't|didn't|without)\b|n't\b"
)
# Negation does not reach across these: "Don't wait, but ours treats colds" is a claim.
CLAUSE_BREAK = r"[;:.!?\n—–]|\bbut\b|\byet\b|\bhowever\b"

# --- health pack -------------------------------------------------------------------------

HEALTH_DISCLAIMER = (
    "These statements have not been evaluated by the Food and Drug Administration. "
    "This product is not intended to diagnose, treat, cure, or prevent any disease."
)

HEALTH_CONDITIONS = [
    r"diseases?",
    r"illness(?:es)?",
    r"cancers?",
    r"tumou?rs?",
    r"diabetes",
    r"diabetic",
    r"arthritis",
    r"alzheimer'?s",
    r"dementia",
    r"depression",
    r"anxiety(?:\s+disorders?)?",
    r"insomnia",
    r"heart\s+disease",
    r"hypertension",
    r"high\s+blood\s+pressure",
    r"high\s+cholesterol",
    r"strokes?",
    r"obesity",
    r"asthma",
    r"migraines?",
    r"(?:the\s+)?common\s+cold",
    r"colds",
    r"(?:the\s+)?flu",
    r"influenza",
    r"covid(?:-?19)?",
    r"infections?",
    r"viruse?s?",
    r"viral\s+infections?",
    r"eczema",
    r"psoriasis",
    r"osteoporosis",
    r"adhd",
    r"ibs",
    r"ulcers?",
    r"acne",
    r"joint\s+pain",
    r"chronic\s+(?:pain|fatigue|inflammation)",
    r"disorders?",
    r"syndromes?",
    r"hair\s+loss",
    r"memory\s+loss",
]

HEALTH_DISEASE_VERBS = [
    r"treats?",
    r"treating",
    r"treatment\s+(?:of|for)",
    r"prevents?",
    r"preventing",
    r"prevention\s+of",
    r"heals?",
    r"healing",
    r"reverses?",
    r"reversing",
    r"fights?",
    r"fighting",
    r"combats?",
    r"eliminates?",
    r"relieves?",
    r"relief\s+(?:from|of|for)",
    r"remed(?:y|ies)\s+for",
    r"mitigates?",
    r"diagnoses?",
    r"protects?\s+(?:you\s+)?against",
    r"wards?\s+off",
    r"reduces?\s+(?:the\s+)?risk\s+of",
    r"lowers?\s+(?:your\s+)?risk\s+of",
    r"beats?",
    r"kills?",
    r"stops?",
    r"shrinks?",
    r"say\s+goodbye\s+to",
    r"gets?\s+rid\s+of",
    r"no\s+more",
]

# A cure is a disease claim whatever follows it.
HEALTH_DISEASE_STRONG = [
    r"cures?",
    r"cured",
    r"curing",
    r"cure-all",
    r"miracle\s+(?:pill|cure|remedy)",
]

# "arthritis relief", "cancer-fighting", "cold and flu remedy".
HEALTH_DISEASE_NOUN_FIRST = [
    r"relief",
    r"remed(?:y|ies)",
    r"treatment",
    r"fighting",
    r"fighter",
    r"prevention",
    r"cure",
]

HEALTH_SF_VERBS = [
    r"supports?",
    r"supporting",
    r"promotes?",
    r"promoting",
    r"maintains?",
    r"maintaining",
    r"helps?\s+(?:to\s+)?maintain",
    r"boosts?",
    r"boosting",
    r"strengthens?",
    r"enhances?",
    r"improves?",
    r"nourishes?",
    r"protects?",
    r"balances?",
    r"restores?",
    r"revitali[sz]es?",
]

HEALTH_SF_FUNCTIONS = [
    r"immun(?:e|ity)(?:\s+(?:system|health|function|response))?",
    r"joints?(?:\s+(?:health|comfort|function|mobility))?",
    r"heart(?:\s+health)?",
    r"cardiovascular\s+health",
    r"energy(?:\s+levels?)?",
    r"(?:restful\s+|healthy\s+)?sleep",
    r"digestion",
    r"digestive\s+(?:health|comfort|system)",
    r"gut(?:\s+health)?",
    r"metabolism",
    r"focus",
    r"memory",
    r"cognitive\s+(?:health|function|performance)",
    r"brain(?:\s+health)?",
    r"mood",
    r"skin(?:\s+health)?",
    r"hair(?:\s+growth)?",
    r"bones?(?:\s+health)?",
    r"muscles?(?:\s+(?:recovery|growth|function))?",
    r"recovery",
    r"circulation",
    r"(?:healthy\s+)?cholesterol\s+levels",
    r"(?:healthy\s+)?blood\s+sugar(?:\s+levels)?",
    r"stress\s+response",
    r"vitality",
    r"wellbeing",
    r"well-being",
]

# --- finance pack ------------------------------------------------------------------------

FINANCE_RISK_WARNING = (
    "Investing involves risk, including possible loss of principal. "
    "Past performance does not guarantee future results."
)

# "guaranteed" next to something money does; the negation check runs on these only.
FINANCE_GUARANTEE = [
    r"guarantee[ds]?" + gap(3) + r"(?:returns?|income|profits?|gains?|growth|yields?|"
    r"interest|payouts?|dividends?|results?|performance|wealth)",
    r"(?:returns?|income|profits?|gains?|growth|yields?|payouts?|dividends?)\s+"
    r"(?:are\s+|is\s+)?guaranteed",
    r"guaranteed\s+to\s+(?:grow|double|triple|earn|pay|rise|beat|outperform)",
]

# Promises that are claims even (or especially) when phrased with a negation.
FINANCE_PROMISSORY = [
    r"(?:can't|cannot|can\s+not|won't|will\s+never|never)\s+lose(?:\s+money)?",
    r"(?<!not\s)(?:no|zero|without)\s+(?:any\s+)?risk(?![\s-]free)",
    r"no\s+downside",
]

_PRONOUN_LL = r"(?:you|we|it|they|he|she|that|this|which|money|savings|portfolio)'ll"

# Promises that a negation in front takes back: "is not risk-free", "no sure thing".
FINANCE_PROMISSORY_NEGATABLE = [
    r"risk[\s-]free",
    r"safe\s+bet",
    r"sure\s+thing",
    r"can't\s+miss",
    r"double\s+your\s+money",
    r"triple\s+your\s+money",
    r"get\s+rich",
    r"(?:will|" + _PRONOUN_LL + r")\s+(?:double|triple|outperform|beat\s+the\s+market)",
    r"(?:will|" + _PRONOUN_LL + r")\s+(?:grow|return|earn|gain|rise)\s+(?:by\s+)?\d+(?:\.\d+)?\s?%",
    r"(?:returns?|gains?|profits?)\s+of\s+\d+(?:\.\d+)?\s?%\s+(?:a|per|every|each)\s+"
    r"(?:year|month|week|annum)",
    r"beat\s+the\s+market\s+every\s+(?:time|year)",
    r"(?:assured|certain)\s+(?:returns?|profits?|gains?)",
]

# Mentioning these makes a message an investment promotion that needs the risk warning.
FINANCE_INVESTMENT_TERMS = [
    r"invest(?:s|ing|ment|ments|or|ors)?",
    r"portfolios?",
    r"(?:index|mutual|investment|pension|hedge|exchange-traded|income|growth|bond|equity|"
    r"balanced|target[\s-]date)\s+funds?",
    r"etfs?",
    r"stocks?",
    r"shares",
    r"equities",
    r"bonds",
    r"crypto(?:currenc(?:y|ies))?",
    r"bitcoin",
    r"trading",
    r"returns?",
    r"dividends?",
    r"retirement\s+savings",
    r"401\(?k\)?",
    r"iras?",
]

# --- endorsements pack -------------------------------------------------------------------

ENDORSEMENT_DISCLOSURE = "Individual results vary."

ENDORSEMENT_TYPICAL = [
    r"(?:these\s+|her\s+|his\s+|their\s+|such\s+)?results\s+(?:are|were)\s+typical",
    r"typical\s+of\s+what\s+(?:you|everyone|anyone)",
    r"everyone\s+(?:can|will|gets?|sees?|loses?|earns?|achieves?)",
    r"anyone\s+can\s+(?:lose|earn|make|get|achieve|see)",
    r"you\s+too\s+can",
    r"you\s+can\s+too",
    r"you(?:'ll|\s+will)\s+(?:lose|earn|make|get|see|achieve)\s+(?:the\s+same|similar)",
    r"(?:same|identical)\s+results\s+(?:are\s+)?guaranteed",
    r"results\s+like\s+(?:hers|his|theirs|these|mine|\w+'s)",
    r"just\s+like\s+(?:she|he|they|\w+)\s+did",
]

# A first-person outcome with a number: "I lost 22 lbs", "my portfolio grew 40%".
TESTIMONIAL_OUTCOME = [
    r"(?:i|we)\s+(?:lost|dropped|shed|gained|earned|made|saved|paid\s+off|doubled|tripled|"
    r"grew|cut)\b[^.!?\"”\n]{0,40}?(?:[$€£]\s?\d[\d,.]*k?|\d[\d,.]*\s?(?:%|lbs?\b|pounds|kg\b|"
    r"kilos|dollars|inches|sizes|points|k\b))",
    r"my\s+(?:portfolio|savings|income|weight|waist|account|balance)\s+(?:grew|doubled|tripled|"
    r"dropped|fell|went\s+up|went\s+down|rose)\b[^.!?\"”\n]{0,30}?(?:[$€£]\s?\d|\d[\d,.]*\s?"
    r"(?:%|lbs?\b|pounds|kg\b|inches|x\b))",
]

RESULTS_VARY = (
    r"results\s+(?:may\s+|will\s+)?vary|results\s+(?:are\s+)?not\s+typical|"
    r"individual\s+results|typical\s+results\s+(?:are|were|range)"
)

# Star glyphs are not word characters, so they are matched without a word boundary.
INVENTED_REVIEW_GLYPHS = [r"(?:★|⭐){3,}"]

INVENTED_REVIEW = [
    *INVENTED_REVIEW_GLYPHS,
    r"[45](?:\.\d)?[\s-]?stars?\b",
    r"\b\d(?:\.\d)?\s?/\s?5\b",
    r"(?:thousands|millions|hundreds|tens\s+of\s+thousands)\s+of\s+(?:happy|satisfied|"
    r"five-star|5-star|glowing)\s+(?:customers|reviews|users|clients|members)",
    r"\d+\s+(?:out\s+of|in)\s+10\s+(?:doctors|dentists|dermatologists|experts|customers|"
    r"users|people|nutritionists|advisors|advisers)",
    r"(?:doctors|dentists|dermatologists|experts|nutritionists|scientists)\s+"
    r"(?:recommend|agree|approve)",
    r"rated\s+(?:#\s?1|number\s+one|no\.?\s?1|the\s+best)\s+by",
    r"(?:top|highest)[\s-]rated\s+by\s+(?:customers|users|experts)",
]

ENDORSEMENT_QUALIFIERS = (
    r"based\s+on\s+[\d,]+\s+(?:verified\s+)?(?:reviews|ratings|responses)|"
    r"verified\s+(?:buyers?|reviews?|purchases?|customers?)|source:|"
    r"survey\s+of\s+[\d,]+|(?:on|via)\s+(?:trustpilot|google|yelp|amazon|bazaarvoice|"
    r"the\s+app\s+store)"
)

# --- shared claims -----------------------------------------------------------------------

SUPERLATIVE = [
    r"#\s?1\b",
    r"number\s+one\b",
    r"no\.\s?1\b",
    r"(?:the|world's|america's|nation's|britain's|europe's)\s+best\b(?![\s-](?:selling|seller|"
    r"sellers|part|way|ways|time|thing|bit|of\s+luck|wishes|regards))",
    r"best\s+(?:in|on)\s+(?:the\s+)?(?:market|world|class|town|planet|industry|country|business)",
    r"best[\s-]in[\s-]class",
    r"(?:the\s+)?(?:lowest|cheapest)\s+prices?\s+(?:anywhere|in\s+town|on\s+the\s+planet|ever)",
    r"the\s+(?:lowest|cheapest|fastest|safest|strongest|healthiest|smartest|"
    r"most\s+(?:effective|trusted|advanced|powerful|reliable|popular|secure|accurate))\b",
    r"unbeatable",
    r"unmatched",
    r"unrivall?ed",
    r"second\s+to\s+none",
    r"industry[\s-]leading",
    r"world[\s-]class",
]

SUPERLATIVE_QUALIFIER = (
    r"according\s+to|rated\s+by|voted\s+(?:by|the)|as\s+ranked|ranked\s+by|source:|"
    r"in\s+(?:a|an|our)\s+(?:\d{4}\s+)?(?:survey|study|test|review)\s+(?:of|by)|[*†‡]"
)
