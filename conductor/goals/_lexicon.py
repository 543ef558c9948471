"""Words the goal parser knows: channels, KPIs, objectives, currencies, markets, dates;
the channel names data uses (read by ``canonical_channel``); the words a goal may use
without a value being read from them, and hints for those that change its meaning.

Data only (plus the regexes compiled from it), so that adding a synonym is a one-line
change that the corpus test then covers. Every phrase is lower case; the parser matches
them against a lower-cased copy of the goal text of the same length, so offsets stay
valid in the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "AUDIENCE_HEADS",
    "AUDIENCE_MODIFIERS",
    "CHANNELS",
    "CHANNEL_NAMES",
    "CURRENCY_SYMBOLS",
    "CURRENCY_WORDS",
    "DOWN_GOOD_KPIS",
    "DOWN_VERBS",
    "FUNCTION_WORDS",
    "KPIS",
    "MARKETS",
    "MARKET_ADJECTIVES",
    "MONTHS",
    "NUMBER_WORDS",
    "OBJECTIVE_PHRASES",
    "RATE_KPIS",
    "STOP_WORDS",
    "UNUSED_WORD_HINTS",
    "UP_VERBS",
    "VERBS_OR_CHANNELS",
    "alternation",
    "phrase_regex",
]

# Channel synonym -> Channel enum value. Longest phrases win (see `phrase_regex`).
CHANNELS: Mapping[str, str] = {
    # paid search
    "paid search": "paid_search",
    "search ads": "paid_search",
    "search advertising": "paid_search",
    "search engine marketing": "paid_search",
    "sem": "paid_search",
    "ppc": "paid_search",
    "pay per click": "paid_search",
    "pay-per-click": "paid_search",
    "google ads": "paid_search",
    "google search": "paid_search",
    "adwords": "paid_search",
    "bing ads": "paid_search",
    "bing": "paid_search",
    "microsoft ads": "paid_search",
    "paid_search": "paid_search",
    "search": "paid_search",
    "google": "paid_search",
    # organic search
    "seo": "organic_search",
    "organic search": "organic_search",
    "organic_search": "organic_search",
    # social
    "social": "social",
    "social media": "social",
    "paid social": "social",
    "meta": "social",
    "meta ads": "social",
    "facebook": "social",
    "facebook ads": "social",
    "instagram": "social",
    "linkedin": "social",
    "pinterest": "social",
    "snapchat": "social",
    "reddit": "social",
    "twitter": "social",
    "influencers": "social",
    "influencer marketing": "social",
    # email
    "email": "email",
    "e-mail": "email",
    "emails": "email",
    "e-mails": "email",
    "newsletter": "email",
    "newsletters": "email",
    "crm email": "email",
    # display
    "display": "display",
    "display ads": "display",
    "banner ads": "display",
    "banners": "display",
    "programmatic": "display",
    "google display network": "display",
    "gdn": "display",
    # video
    "video": "video",
    "online video": "video",
    "youtube": "video",
    "ctv": "video",
    "connected tv": "video",
    # tv
    "tv": "tv",
    "television": "tv",
    "linear tv": "tv",
    # radio
    "radio": "radio",
    # affiliate
    "affiliate": "affiliate",
    "affiliates": "affiliate",
    "affiliate marketing": "affiliate",
    # sms
    "sms": "sms",
    "text messages": "sms",
    "text messaging": "sms",
    # push
    "push notification": "push",
    "push notifications": "push",
    "app push": "push",
    # tiktok
    "tiktok": "tiktok",
    "tik tok": "tiktok",
    # direct mail
    "direct mail": "direct_mail",
    "direct_mail": "direct_mail",
    "mailers": "direct_mail",
    "postal mail": "direct_mail",
    "catalogues": "direct_mail",
    "catalogs": "direct_mail",
    # out of home
    "ooh": "ooh",
    "out of home": "ooh",
    "out-of-home": "ooh",
    "billboards": "ooh",
    "outdoor": "ooh",
    "dooh": "ooh",
    # podcasts
    "podcast": "podcast",
    "podcasts": "podcast",
    "podcast ads": "podcast",
}

# KPI phrase -> (Kpi value, objective it implies). "sales" is a count of conversions;
# "$2M in sales" is re-read as revenue by the parser when the target is money.
KPIS: Mapping[str, tuple[str, str]] = {
    "revenue": ("revenue", "grow_revenue"),
    "revenues": ("revenue", "grow_revenue"),
    "sales revenue": ("revenue", "grow_revenue"),
    "turnover": ("revenue", "grow_revenue"),
    "gmv": ("revenue", "grow_revenue"),
    "top line": ("revenue", "grow_revenue"),
    "top-line": ("revenue", "grow_revenue"),
    "income": ("revenue", "grow_revenue"),
    "conversions": ("conversions", "convert"),
    "conversion": ("conversions", "convert"),
    "sales": ("conversions", "convert"),
    "orders": ("conversions", "convert"),
    "purchases": ("conversions", "convert"),
    "transactions": ("conversions", "convert"),
    "bookings": ("conversions", "convert"),
    "sign-ups": ("conversions", "acquire"),
    "signups": ("conversions", "acquire"),
    "sign ups": ("conversions", "acquire"),
    "registrations": ("conversions", "acquire"),
    "leads": ("conversions", "acquire"),
    "qualified leads": ("conversions", "acquire"),
    "new customers": ("conversions", "acquire"),
    "new subscribers": ("conversions", "acquire"),
    "subscriptions": ("conversions", "acquire"),
    "installs": ("conversions", "acquire"),
    "app installs": ("conversions", "acquire"),
    "downloads": ("conversions", "acquire"),
    "trials": ("conversions", "acquire"),
    "free trials": ("conversions", "acquire"),
    "demo requests": ("conversions", "acquire"),
    "customer acquisition": ("conversions", "acquire"),
    "cpa": ("cpa", "efficiency"),
    "cost per acquisition": ("cpa", "efficiency"),
    "cost per action": ("cpa", "efficiency"),
    "cost per conversion": ("cpa", "efficiency"),
    "cost per sale": ("cpa", "efficiency"),
    "cost per order": ("cpa", "efficiency"),
    "cost per lead": ("cpa", "efficiency"),
    "cost per sign-up": ("cpa", "efficiency"),
    "cost per signup": ("cpa", "efficiency"),
    "cpl": ("cpa", "efficiency"),
    "cac": ("cpa", "efficiency"),
    "customer acquisition cost": ("cpa", "efficiency"),
    "acquisition cost": ("cpa", "efficiency"),
    "roas": ("roas", "efficiency"),
    "return on ad spend": ("roas", "efficiency"),
    "return on advertising spend": ("roas", "efficiency"),
    "retention": ("retention_rate", "retain"),
    "retention rate": ("retention_rate", "retain"),
    "customer retention": ("retention_rate", "retain"),
    "repeat purchase rate": ("retention_rate", "retain"),
    "repeat rate": ("retention_rate", "retain"),
    "churn": ("churn_rate", "retain"),
    "churn rate": ("churn_rate", "retain"),
    "attrition": ("churn_rate", "retain"),
    "aov": ("aov", "grow_revenue"),
    "average order value": ("aov", "grow_revenue"),
    "average basket": ("aov", "grow_revenue"),
    "average basket size": ("aov", "grow_revenue"),
    "basket size": ("aov", "grow_revenue"),
    "order value": ("aov", "grow_revenue"),
    "reach": ("reach", "awareness"),
    "awareness": ("reach", "awareness"),
    "brand awareness": ("reach", "awareness"),
    "impressions": ("reach", "awareness"),
    "visibility": ("reach", "awareness"),
    "brand recall": ("reach", "awareness"),
}

# Phrases that state an objective without naming a KPI ("win back lapsed customers").
OBJECTIVE_PHRASES: Mapping[str, str] = {
    "acquire": "acquire",
    "acquiring": "acquire",
    "acquisition": "acquire",
    "win new": "acquire",
    "grow the customer base": "acquire",
    "grow our customer base": "acquire",
    "win back": "retain",
    "winback": "retain",
    "win-back": "retain",
    "re-engage": "retain",
    "reengage": "retain",
    "re-activate": "retain",
    "reactivate": "retain",
    "reactivation": "retain",
    "retain": "retain",
    "keep more customers": "retain",
    "loyalty": "retain",
    "build awareness": "awareness",
    "raise awareness": "awareness",
    "launch": "awareness",
    "get the word out": "awareness",
    "grow sales": "convert",
    "drive sales": "convert",
    "sell more": "convert",
    "make more money": "grow_revenue",
    "cut costs": "efficiency",
    "spend more efficiently": "efficiency",
    "efficiency": "efficiency",
    "more efficient": "efficiency",
}

# People nouns: "5,000 customers" reads as a count of conversions.
AUDIENCE_HEADS: tuple[str, ...] = (
    "customers",
    "customer",
    "buyers",
    "shoppers",
    "users",
    "subscribers",
    "members",
    "visitors",
    "clients",
    "households",
    "families",
    "parents",
    "students",
    "professionals",
    "businesses",
    "smbs",
    "prospects",
    "players",
    "patients",
    "travellers",
    "travelers",
    "homeowners",
    "drivers",
    "fans",
    "millennials",
    "gen z",
    "gen-z",
    "boomers",
    "people",
    "women",
    "men",
    "teens",
    "cart abandoners",
    "abandoners",
    "accounts",
    "donors",
)

AUDIENCE_MODIFIERS: tuple[str, ...] = (
    "lapsed",
    "churned",
    "inactive",
    "dormant",
    "former",
    "past",
    "existing",
    "current",
    "loyal",
    "repeat",
    "returning",
    "first-time",
    "first time",
    "one-time",
    "new",
    "high-value",
    "high value",
    "low-value",
    "vip",
    "premium",
    "free",
    "trial",
    "active",
    "engaged",
    "at-risk",
    "at risk",
    "young",
    "younger",
    "older",
    "senior",
    "urban",
    "rural",
    "b2b",
    "small business",
    "enterprise",
    "mobile",
    "app",
    "online",
    "female",
    "male",
    "budget-conscious",
    "price-sensitive",
    "frequent",
    "occasional",
    "dog-owning",
    "cat-owning",
)

# Market name -> ISO 3166 alpha-2 code, or an upper-case region code.
MARKETS: Mapping[str, str] = {
    "germany": "DE",
    "france": "FR",
    "spain": "ES",
    "italy": "IT",
    "portugal": "PT",
    "netherlands": "NL",
    "the netherlands": "NL",
    "holland": "NL",
    "belgium": "BE",
    "austria": "AT",
    "switzerland": "CH",
    "ireland": "IE",
    "united kingdom": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "sweden": "SE",
    "norway": "NO",
    "denmark": "DK",
    "finland": "FI",
    "poland": "PL",
    "czechia": "CZ",
    "czech republic": "CZ",
    "greece": "GR",
    "united states": "US",
    "the united states": "US",
    "america": "US",
    "usa": "US",
    "canada": "CA",
    "mexico": "MX",
    "brazil": "BR",
    "argentina": "AR",
    "colombia": "CO",
    "australia": "AU",
    "new zealand": "NZ",
    "japan": "JP",
    "china": "CN",
    "india": "IN",
    "singapore": "SG",
    "south korea": "KR",
    "korea": "KR",
    "indonesia": "ID",
    "south africa": "ZA",
    "nigeria": "NG",
    "united arab emirates": "AE",
    "saudi arabia": "SA",
    "europe": "EUROPE",
    "the eu": "EU",
    "dach": "DACH",
    "the dach region": "DACH",
    "nordics": "NORDICS",
    "the nordics": "NORDICS",
    "benelux": "BENELUX",
    "emea": "EMEA",
    "apac": "APAC",
    "latam": "LATAM",
    "latin america": "LATAM",
    "north america": "NORTH_AMERICA",
}

# Written in capitals in the goal text only ("US revenue"); "us" is a pronoun.
MARKET_CODES_UPPER: Mapping[str, str] = {
    "US": "US",
    "U.S.": "US",
    "USA": "US",
    "UK": "GB",
    "U.K.": "GB",
    "UAE": "AE",
    "EU": "EU",
}

MARKET_ADJECTIVES: Mapping[str, str] = {
    "german": "DE",
    "french": "FR",
    "spanish": "ES",
    "italian": "IT",
    "dutch": "NL",
    "belgian": "BE",
    "austrian": "AT",
    "swiss": "CH",
    "irish": "IE",
    "british": "GB",
    "swedish": "SE",
    "norwegian": "NO",
    "danish": "DK",
    "finnish": "FI",
    "polish": "PL",
    "american": "US",
    "canadian": "CA",
    "mexican": "MX",
    "brazilian": "BR",
    "australian": "AU",
    "japanese": "JP",
    "indian": "IN",
    "nordic": "NORDICS",
    "european": "EUROPE",
}

# Symbol or prefix -> ISO currency. Checked longest first, so "us$" beats "$".
CURRENCY_SYMBOLS: Mapping[str, str] = {
    "us$": "USD",
    "a$": "AUD",
    "au$": "AUD",
    "c$": "CAD",
    "ca$": "CAD",
    "nz$": "NZD",
    "s$": "SGD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "chf": "CHF",
    "usd": "USD",
    "eur": "EUR",
    "gbp": "GBP",
    "jpy": "JPY",
    "cad": "CAD",
    "aud": "AUD",
    "nzd": "NZD",
    "sgd": "SGD",
    "sek": "SEK",
    "nok": "NOK",
    "dkk": "DKK",
    "pln": "PLN",
    "inr": "INR",
    "brl": "BRL",
    "mxn": "MXN",
}

# Currency words written after the amount ("1.5 million dollars").
CURRENCY_WORDS: Mapping[str, str] = {
    "us dollars": "USD",
    "dollars": "USD",
    "dollar": "USD",
    "bucks": "USD",
    "euros": "EUR",
    "euro": "EUR",
    "pounds sterling": "GBP",
    "pounds": "GBP",
    "pound": "GBP",
    "quid": "GBP",
    "yen": "JPY",
    "swiss francs": "CHF",
    "francs": "CHF",
    "kronor": "SEK",
    "kroner": "DKK",
    "rupees": "INR",
    "reais": "BRL",
}

MONTHS: Mapping[str, int] = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}

NUMBER_WORDS: Mapping[str, int] = {
    "zero": 0,
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "eighteen": 18,
    "twenty": 20,
    "twenty-four": 24,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}

UP_VERBS: tuple[str, ...] = (
    "grow",
    "growing",
    "increase",
    "increasing",
    "boost",
    "boosting",
    "lift",
    "raise",
    "raising",
    "drive",
    "driving",
    "drive up",
    "push up",
    "improve",
    "improving",
    "expand",
    "scale",
    "scale up",
    "accelerate",
    "maximise",
    "maximize",
    "up",
    "more",
    "higher",
    "double",
    "triple",
    "get",
    "add",
    "gain",
    "win",
    "generate",
    "deliver",
    "reach",
    "hit",
    "achieve",
)

DOWN_VERBS: tuple[str, ...] = (
    "reduce",
    "reducing",
    "cut",
    "cutting",
    "lower",
    "lowering",
    "decrease",
    "decreasing",
    "drop",
    "bring down",
    "shrink",
    "trim",
    "slash",
    "halve",
    "minimise",
    "minimize",
    "down",
    "less",
    "fewer",
)

# KPIs where smaller is better ("improve CPA" means lower it).
DOWN_GOOD_KPIS: frozenset[str] = frozenset({"cpa", "churn_rate"})
# KPIs that are rates: percentages are read as fractions, "points" make sense.
RATE_KPIS: frozenset[str] = frozenset({"retention_rate", "churn_rate"})


# ------------------------------------------------------------------ channel names in data
#
# How a channel is spelled in data (a spend column, a GA4 "source / medium" pair, a CRM
# export), read by `canonical_channel` after `CHANNELS`: phrase (lower case, words
# separated by single spaces) -> (kind, Channel value or ""). The kinds decide which word
# wins when a name has several ("facebook / cpc" is social, "Email (Klaviyo)" email):
#
# - "lead": a platform that is a channel of its own whatever the medium (TikTok, YouTube).
# - "channel": a word that names the channel ("email", "display", "organic", "paid social").
# - "platform": a vendor or site whose channel does not depend on the medium (Facebook,
#   Klaviyo, Criteo, DV360). It yields to a channel word: "Google Ads Display" is display.
# - "none": a word that says the traffic has no marketing channel: "(direct) / (none)",
#   "referral", "(not set)". Conductor has no "direct" channel, on purpose: direct and
#   referral visits are not bought, so nothing can be allocated to or credited to them.
# - "engine": a search engine; its channel depends on the medium ("google / organic" is
#   organic search, "google / referral" no channel), else paid search ("Google", "Bing").
# - "paid": a medium that says the traffic was bought; only its default channel when no
#   other word names one ("* / cpc" is paid search, "* / cpm" display, "* / paid" nothing).
CHANNEL_NAMES: Mapping[str, tuple[str, str]] = {
    # platforms that are channels of their own
    "tiktok": ("lead", "tiktok"),
    "tik tok": ("lead", "tiktok"),
    "tiktok ads": ("lead", "tiktok"),
    "youtube": ("lead", "video"),
    "youtube ads": ("lead", "video"),
    "yt": ("lead", "video"),
    # words that name the channel
    "organic": ("channel", "organic_search"),
    "organic search": ("channel", "organic_search"),
    "organic shopping": ("channel", "organic_search"),
    "seo": ("channel", "organic_search"),
    "paid search": ("channel", "paid_search"),
    "sem": ("channel", "paid_search"),
    "search ads": ("channel", "paid_search"),
    "shopping": ("channel", "paid_search"),
    "paid shopping": ("channel", "paid_search"),
    "social": ("channel", "social"),
    "paid social": ("channel", "social"),
    "organic social": ("channel", "social"),
    "social media": ("channel", "social"),
    "social network": ("channel", "social"),
    "influencer": ("channel", "social"),
    "influencers": ("channel", "social"),
    "email": ("channel", "email"),
    "emails": ("channel", "email"),
    "e mail": ("channel", "email"),
    "newsletter": ("channel", "email"),
    "newsletters": ("channel", "email"),
    "display": ("channel", "display"),
    "banner": ("channel", "display"),
    "banners": ("channel", "display"),
    "programmatic": ("channel", "display"),
    "native ads": ("channel", "display"),
    "interstitial": ("channel", "display"),
    "video": ("channel", "video"),
    "paid video": ("channel", "video"),
    "organic video": ("channel", "video"),
    "ctv": ("channel", "video"),
    "ott": ("channel", "video"),
    "connected tv": ("channel", "video"),
    "tv": ("channel", "tv"),
    "radio": ("channel", "radio"),
    "affiliate": ("channel", "affiliate"),
    "affiliates": ("channel", "affiliate"),
    "sms": ("channel", "sms"),
    "mms": ("channel", "sms"),
    "text message": ("channel", "sms"),
    "text messages": ("channel", "sms"),
    "push": ("channel", "push"),
    "mobile push": ("channel", "push"),
    "push notification": ("channel", "push"),
    "push notifications": ("channel", "push"),
    "direct mail": ("channel", "direct_mail"),
    "ooh": ("channel", "ooh"),
    "dooh": ("channel", "ooh"),
    "out of home": ("channel", "ooh"),
    "podcast": ("channel", "podcast"),
    "podcasts": ("channel", "podcast"),
    # vendors and sites
    "google ads": ("platform", "paid_search"),
    "adwords": ("platform", "paid_search"),
    "google search": ("platform", "paid_search"),
    "microsoft ads": ("platform", "paid_search"),
    "microsoft advertising": ("platform", "paid_search"),
    "bing ads": ("platform", "paid_search"),
    "apple search ads": ("platform", "paid_search"),
    "google display network": ("platform", "display"),
    "gdn": ("platform", "display"),
    "dv360": ("platform", "display"),
    "dv 360": ("platform", "display"),
    "display video 360": ("platform", "display"),
    "trade desk": ("platform", "display"),
    "the trade desk": ("platform", "display"),
    "ttd": ("platform", "display"),
    "criteo": ("platform", "display"),
    "taboola": ("platform", "display"),
    "outbrain": ("platform", "display"),
    "adroll": ("platform", "display"),
    "amazon dsp": ("platform", "display"),
    "meta": ("platform", "social"),
    "meta ads": ("platform", "social"),
    "facebook": ("platform", "social"),
    "facebook ads": ("platform", "social"),
    "fb": ("platform", "social"),
    "instagram": ("platform", "social"),
    "ig": ("platform", "social"),
    "linkedin": ("platform", "social"),
    "linkedin ads": ("platform", "social"),
    "lnkd": ("platform", "social"),
    "pinterest": ("platform", "social"),
    "snapchat": ("platform", "social"),
    "snap": ("platform", "social"),
    "reddit": ("platform", "social"),
    "twitter": ("platform", "social"),
    "x ads": ("platform", "social"),
    "quora": ("platform", "social"),
    "vimeo": ("platform", "video"),
    "klaviyo": ("platform", "email"),
    "mailchimp": ("platform", "email"),
    "sendgrid": ("platform", "email"),
    "iterable": ("platform", "email"),
    "customer io": ("platform", "email"),
    "omnisend": ("platform", "email"),
    "hubspot": ("platform", "email"),
    "salesforce marketing cloud": ("platform", "email"),
    "sfmc": ("platform", "email"),
    "attentive": ("platform", "sms"),
    "postscript": ("platform", "sms"),
    "twilio": ("platform", "sms"),
    # Braze, Airship and OneSignal started as push services; write "Braze email" (or map
    # it in the taxonomy) when email goes out through them.
    "braze": ("platform", "push"),
    "airship": ("platform", "push"),
    "onesignal": ("platform", "push"),
    "firebase": ("platform", "push"),
    "awin": ("platform", "affiliate"),
    "impact com": ("platform", "affiliate"),
    "impact radius": ("platform", "affiliate"),
    "rakuten": ("platform", "affiliate"),
    "partnerize": ("platform", "affiliate"),
    "cj affiliate": ("platform", "affiliate"),
    # traffic that no channel bought
    "direct": ("none", ""),
    "none": ("none", ""),
    "not set": ("none", ""),
    "referral": ("none", ""),
    "unassigned": ("none", ""),
    "cross network": ("none", ""),
    # search engines
    "google": ("engine", "paid_search"),
    "bing": ("engine", "paid_search"),
    "yahoo": ("engine", "paid_search"),
    "duckduckgo": ("engine", "paid_search"),
    "baidu": ("engine", "paid_search"),
    "yandex": ("engine", "paid_search"),
    "ecosia": ("engine", "paid_search"),
    "naver": ("engine", "paid_search"),
    # media that say the traffic was paid for
    "cpc": ("paid", "paid_search"),
    "ppc": ("paid", "paid_search"),
    "pay per click": ("paid", "paid_search"),
    "search": ("paid", "paid_search"),
    "cpm": ("paid", "display"),
    "cpv": ("paid", "video"),
    "paid": ("paid", ""),
    "paid media": ("paid", ""),
    "retargeting": ("paid", ""),
}

# ------------------------------------------------------------------- words not used
#
# Words that carry no meaning of their own in a goal, or that the grammar reads as cues
# (verbs of direction, budget and comparison words, periods, units), so a goal word that
# no value was read from is flagged only when it is not one of them (see `_unused`).
_FUNCTION_WORDS = """
a about above across after again against all almost along also although am among amongst
an and another any are around as at be because been before being below between both but
by can could did do does doing done down during each either else even ever every few for
from further had has have having he her here hers him his how however i if in into is it
it's its itself just least less let let's lets may me might more most much must my near
nearly neither no nor not now of off on once one only onto or other others otherwise our
ours ourselves out over own per please plus quite rather really same shall she should so
some such than that that's the their theirs them then there these they this those though
through throughout thus till to too toward towards under until up upon us very via was we
we'd we'll we're we've well were what when where whether which while whilst who whom whose
why will with within without would yet you your yours etc i.e e.g ie eg vs versus
"""
_CUE_WORDS = """
achieve achieving add adding aim aiming aims allocate allocating allocation allow allowed
ambition approx approximately avoid avoiding ban banned become better bring budget
budgeted budgets campaign campaigns cap capped caps ceiling cent channel channels cheaper
commit continue cost costs current currently deliver delivering do don't dont doesn't down
drive driving drop end ensure ensuring excluded excluding exclude exceed exceeding exceeds
except expected fewer floor focus focused focusing fold forbidden fund funding gain get
getting go goal goals going grow growing growth half halve higher hit hold increase
increases invest investing investment keep keeping kpi kpis launch let limit limited limits
lower make making marketing max maximum media min minimum month month's mostly need needs never
next nothing objective objectives ok only overall paid pct percent percentage period plan
planning pp pts point points priority quarter quarters raise reach reduce reduction
remain roughly run running save set spend spending spent stay stop target targeted
targeting targets than third thirds times total try up uplift use used using want wants
worse x zero
aside apart besides outside everything anything touch skip skipping away table exclusively
solely purely totals totalling totaling got given outlay ad advertising daily weekly monthly
quarterly yearly annually annual day days week weeks months year years beneath sub greater
tops mustn't shouldn't can't cannot won't doubling doubled tripling tripled quadruple
halving halved fifth tenth decrease brand unique extend market markets consumers audience
audiences sell selling build building maintain maintaining maintained stays staying
compared previous prior last yoy thanks thank
"""
# (A comparison, "vs last year" or "compared to Q1", is not flagged: a relative target is
# read against the level the data shows now, which is what such goals mean in practice.)
# Scope words the data already answers: the KPI is measured on the pipeline's data, which
# for an online business is online ("grow online revenue" is its revenue).
_SCOPE_WORDS = "online digital ecommerce e-commerce web website"
# Verbs that are also channel names: a cue when they open a clause or come before a KPI
# ("Push registrations up 15%"), else a channel the grammar did not read ("SMS and push").
VERBS_OR_CHANNELS: frozenset[str] = frozenset({"push"})
FUNCTION_WORDS: frozenset[str] = frozenset(_FUNCTION_WORDS.split())
STOP_WORDS: frozenset[str] = (
    FUNCTION_WORDS
    | frozenset((_CUE_WORDS + _SCOPE_WORDS).split())
    | {
        word
        for table in (UP_VERBS, DOWN_VERBS, NUMBER_WORDS, MONTHS, CURRENCY_WORDS, AUDIENCE_HEADS)
        for phrase in table
        for word in phrase.split()
    }
) - VERBS_OR_CHANNELS

# Words that change what a goal means but that the grammar does not read: word ->
# (the goal field it concerns, what to write instead, whether the hint needs the next word
# to be a KPI or people word: "new range" is a product, not new customers). `{phrase}` is
# the word and the word after it as written ("repeat purchases"); `{kpi}` the KPI read.
_RETENTION = (
    "kpi",
    "if you meant {phrase} (retention), say so with a structured goal (kpi: retention_rate)",
    True,
)
_ACQUISITION = (
    "objective",
    "if you meant {phrase} (new customers only: acquisition), say so with a structured goal "
    "(objective: acquire, audience: new customers)",
    True,
)
_WIN_BACK = (
    "objective",
    "if you meant {phrase} (winning back lapsed customers), say so with a structured goal "
    "(objective: retain, audience: lapsed customers)",
    True,
)
_RENEWALS = (
    "kpi",
    "if you meant {phrase} (renewals: retention), say so with a structured goal "
    "(kpi: retention_rate)",
    True,
)
_PROFIT = (
    "kpi",
    "there is no profit or margin KPI: the goal is read on {kpi}, not on {phrase}",
    False,
)
_LIFETIME = (
    "kpi",
    "there is no lifetime-value KPI: the goal is read on {kpi}, not on {phrase}",
    False,
)
_SCOPE = (
    "audience",
    "the KPI is measured over all the data; to measure {phrase} only, narrow the data "
    "source (a `query:` in `data:`)",
    True,
)
_RATE = (
    "kpi",
    "the goal is read on {kpi} itself, not on a rate of it; for a rate, say so with a "
    "structured goal (kpi: retention_rate, churn_rate or roas)",
    False,
)
_INCREASE = (
    "target",
    "an amount is read as the level {kpi} should reach, not as an increase; give the "
    "increase as a percentage ('by 12%') or the level ('to $2M')",
    True,
)
_PUSH = (
    "channels",
    "if you meant the push channel, write 'push notifications'",
    False,
)
UNUSED_WORD_HINTS: Mapping[str, tuple[str, str, bool]] = {
    "rate": _RATE,
    "rates": _RATE,
    "incremental": _INCREASE,
    "additional": _INCREASE,
    "extra": _INCREASE,
    "push": _PUSH,
    "repeat": _RETENTION,
    "returning": _RETENTION,
    "existing": _RETENTION,
    "loyal": _RETENTION,
    "retained": _RETENTION,
    "recurring": _RENEWALS,
    "subscription": _RENEWALS,
    "renewal": _RENEWALS,
    "renewals": _RENEWALS,
    "new": _ACQUISITION,
    "first-time": _ACQUISITION,
    "prospective": _ACQUISITION,
    "lapsed": _WIN_BACK,
    "churned": _WIN_BACK,
    "dormant": _WIN_BACK,
    "inactive": _WIN_BACK,
    "former": _WIN_BACK,
    "profit": _PROFIT,
    "profits": _PROFIT,
    "profitability": _PROFIT,
    "margin": _PROFIT,
    "margins": _PROFIT,
    "ltv": _LIFETIME,
    "clv": _LIFETIME,
    "cltv": _LIFETIME,
    "lifetime": _LIFETIME,
    "offline": _SCOPE,
    "in-store": _SCOPE,
    "store": _SCOPE,
    "stores": _SCOPE,
    "retail": _SCOPE,
    "wholesale": _SCOPE,
    "mobile": _SCOPE,
    "app": _SCOPE,
}


def alternation(phrases: Iterable[str]) -> str:
    """A regex alternation of phrases, longest first, spaces matching any whitespace."""
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)


def phrase_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """A compiled regex matching any phrase as whole words (group ``p``)."""
    return re.compile(rf"(?<![\w$€£-])(?P<p>{alternation(phrases)})(?![\w-])")
