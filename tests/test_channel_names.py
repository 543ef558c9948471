"""Channel names as data spells them map to the canonical channel: `canonical_channel`.

Journeys say ``google / cpc``, spend files ``google_ads``, a CRM ``Email (Klaviyo)``, the
goal "email": each is read as one channel, whatever its case and separators, GA4 source /
medium pairs follow GA4's default grouping, and a pipeline's taxonomy wins over all of it.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conductor.goals import Channel, canonical_channel, goal_from_mapping, normalise_channel_key

GA4 = [
    ("google / cpc", "paid_search"),
    ("google / organic", "organic_search"),
    ("bing / cpc", "paid_search"),
    ("bing / organic", "organic_search"),
    ("duckduckgo / organic", "organic_search"),
    ("facebook / paid", "social"),
    ("facebook / cpc", "social"),
    ("facebook / paid_social", "social"),
    ("instagram / referral", "social"),
    ("l.facebook.com / referral", "social"),
    ("newsletter / email", "email"),
    ("klaviyo / email", "email"),
    ("spring_sale / email", "email"),
    ("partner / cpc", "paid_search"),
    ("partner / ppc", "paid_search"),
    ("partner / display", "display"),
    ("partner / cpm", "display"),
    ("criteo / retargeting", "display"),
    ("awin / affiliate", "affiliate"),
    ("attentive / sms", "sms"),
    ("firebase / push", "push"),
    ("youtube / organic", "video"),
    ("youtube / cpc", "video"),
    ("vimeo / video", "video"),
    ("tiktok / paid_social", "tiktok"),
    ("tiktok / cpc", "tiktok"),
]
PLATFORMS = [
    ("google_ads", "paid_search"),
    ("Google Ads", "paid_search"),
    ("meta_ads", "social"),
    ("Facebook Ads", "social"),
    ("Instagram", "social"),
    ("LinkedIn Ads", "social"),
    ("Microsoft Ads", "paid_search"),
    ("Bing Ads", "paid_search"),
    ("TikTok Ads", "tiktok"),
    ("Snapchat", "social"),
    ("Pinterest", "social"),
    ("DV360", "display"),
    ("Criteo", "display"),
    ("Klaviyo", "email"),
    ("Mailchimp", "email"),
    ("Braze", "push"),
    ("Attentive", "sms"),
]
SPELLINGS = [
    ("email_klaviyo", "email"),
    ("Email (Klaviyo)", "email"),
    ("klaviyo_sms", "sms"),
    ("Paid Search", "paid_search"),
    ("paid_search", "paid_search"),
    ("PAID-SEARCH", "paid_search"),
    ("PaidSearch", "paid_search"),
    ("Organic Search", "organic_search"),
    ("Search (Organic)", "organic_search"),
    ("Google Ads (Display)", "display"),
    ("Paid Social", "social"),
    ("Organic Social", "social"),
    ("Paid Shopping", "paid_search"),
    ("Mobile Push Notifications", "push"),
    ("E-Mail", "email"),
    ("Tik-Tok", "tiktok"),
    ("Direct Mail", "direct_mail"),
    ("out-of-home", "ooh"),
]
# Traffic no channel bought, and names that say too little or too much: None, on purpose.
NO_CHANNEL = [
    "(direct) / (none)",
    "(direct) / (not set)",
    "Direct",
    "google / referral",
    "Referral",
    "(not set)",
    "Unassigned",
    "Paid Other",
    "paid",
    "Audio",
    "Retail Media",
    "email_sms",
    "",
]


def _read(names: list[str]) -> dict[str, str | None]:
    return {n: (c.value if (c := canonical_channel(n)) else None) for n in names}


def test_ga4_source_medium_pairs_follow_the_default_grouping() -> None:
    """...and traffic no channel bought is no channel, on purpose (there is no "direct")."""
    expected = dict(GA4) | dict.fromkeys(NO_CHANNEL[:4])
    assert _read(list(expected)) == expected


def test_ad_platforms_and_marketing_vendors() -> None:
    assert _read([n for n, _ in PLATFORMS]) == dict(PLATFORMS)


def test_vendor_suffixes_cases_and_separators() -> None:
    expected = dict(SPELLINGS) | dict.fromkeys(NO_CHANNEL[4:])
    assert _read(list(expected)) == expected


def test_every_channel_value_and_goal_synonym_is_itself_with_or_without_separators() -> None:
    from conductor.goals import _lexicon as lex

    for channel in Channel:
        squashed = channel.value.replace("_", "")
        for name in (channel.value, channel, squashed, squashed.upper(), channel.value.upper()):
            assert canonical_channel(name) == channel, name
        assert normalise_channel_key(channel.value) == channel.value
    wrong = {k: v for k, v in lex.CHANNELS.items() if canonical_channel(k) != Channel(v)}
    assert wrong == {}


def test_normalised_keys() -> None:
    assert normalise_channel_key("Paid Search") == "paid_search"
    assert normalise_channel_key("  google / cpc ") == "google_cpc"
    assert normalise_channel_key("Email (Klaviyo)") == "email_klaviyo"
    assert normalise_channel_key("PAID--search__") == "paid_search"


KNOWN = [name for name, _ in GA4 + PLATFORMS + SPELLINGS] + [c.value for c in Channel]


@st.composite
def respelled(draw: st.DrawFn) -> tuple[str, str]:
    """A known name with its case changed and each separator run replaced by another."""
    name = draw(st.sampled_from(KNOWN))
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    seps = st.text(alphabet=" _-/()|.", min_size=1, max_size=3)
    out = draw(st.text(alphabet=" _(", max_size=2))
    for i, word in enumerate(words):
        flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
        out += "".join(c.swapcase() if f else c for c, f in zip(word, flips, strict=True))
        out += draw(seps) if i < len(words) - 1 else draw(st.text(alphabet=" _)", max_size=2))
    return name, out


@settings(max_examples=400, deadline=None)
@given(pair=respelled())
def test_case_and_separators_do_not_change_the_channel(pair: tuple[str, str]) -> None:
    name, other = pair
    assert canonical_channel(other) == canonical_channel(name) is not None
    assert normalise_channel_key(other) == normalise_channel_key(name)


# --------------------------------------------------------------------- taxonomy


def test_a_taxonomy_wins_over_the_defaults_and_is_normalised_like_names() -> None:
    taxonomy = {"Braze": "email", "google / cpc": "Paid Search", "Retail_Media": "display"}
    assert canonical_channel("braze", taxonomy) == Channel.EMAIL
    assert canonical_channel("Braze", None) == Channel.PUSH
    assert canonical_channel("GOOGLE_CPC", taxonomy) == Channel.PAID_SEARCH
    assert canonical_channel("retail media", taxonomy) == Channel.DISPLAY
    assert canonical_channel("email_klaviyo", taxonomy) == Channel.EMAIL  # not in it: defaults
    assert canonical_channel("(direct) / (none)", {"(direct) / (none)": "organic_search"}) == (
        Channel.ORGANIC_SEARCH
    )


def test_a_taxonomy_value_that_is_no_channel_is_an_error() -> None:
    with pytest.raises(ValueError, match="'direct', which is not a channel"):
        canonical_channel("x", {"(direct) / (none)": "direct"})


def test_two_spellings_of_one_key_mapped_apart_are_an_error() -> None:
    with pytest.raises(ValueError, match="are one spelling"):
        canonical_channel("x", {"Paid Search": "paid_search", "paid_search": "social"})


def test_structured_goals_read_data_spellings_too() -> None:
    goal = goal_from_mapping(
        {"objective": "grow_revenue", "channels": ["google / cpc", "Email (Klaviyo)", "Meta Ads"]},
        today=dt.date(2026, 11, 23),
    )
    assert goal.channels == ["paid_search", "email", "social"]
