"""Channel names in data -> the canonical :class:`Channel`.

A spend file says ``google_ads``, a GA4 export ``google / cpc``, a CRM ``Email
(Klaviyo)``, the goal "paid search": :func:`canonical_channel` reads each as the same
channel. A name is normalised first (:func:`normalise_channel_key`: case, spaces,
underscores, hyphens, slashes and brackets do not matter), then looked up whole in the
goal grammar's synonyms and the data names of the lexicon (``CHANNELS``,
``CHANNEL_NAMES``), and otherwise read word by word: see :func:`_by_words` for which word
wins. A pipeline's taxonomy, when given, is read before all of this.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

from conductor.goals import _lexicon as lex
from conductor.goals._model import Channel

__all__ = ["canonical_channel", "channel_name", "check_taxonomy", "normalise_channel_key"]

# Any run of characters that are not letters or digits (of any script: "Télé" and "メール"
# keep their letters) is one separator.
_SEPARATORS = re.compile(r"[\W_]+")


def normalise_channel_key(name: str) -> str:
    """The form channel names are compared in: lower case, words joined by one underscore.

    Every run of characters other than letters and digits (spaces, underscores,
    hyphens, slashes, brackets, dots) is one separator, so ``"Paid Search"``,
    ``"paid-search"`` and ``"PAID_SEARCH"`` are all ``"paid_search"``, ``"google / cpc"``
    is ``"google_cpc"`` and ``"Email (Klaviyo)"`` is ``"email_klaviyo"``. A
    :class:`Channel` value is its own key.
    """
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    return _SEPARATORS.sub("_", text).strip("_")


def _squash(key: str) -> str:
    return key.replace("_", "")


def _build_tables() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """(whole name -> (kind, channel)) keyed by the name without separators, and
    (phrase of words joined by '_' -> (kind, channel)) for reading a name word by word."""
    phrases: dict[str, tuple[str, str]] = {
        normalise_channel_key(k): ("channel", v) for k, v in lex.CHANNELS.items()
    }
    for c in Channel:
        phrases.setdefault(c.value, ("channel", c.value))
    phrases.update({normalise_channel_key(k): v for k, v in lex.CHANNEL_NAMES.items()})
    return {_squash(k): v for k, v in phrases.items()}, phrases


_WHOLE, _PHRASES = _build_tables()
_LONGEST = max(len(k.split("_")) for k in _PHRASES)


def _words(key: str) -> list[tuple[str, str]]:
    """The (kind, channel) of each known phrase in ``key``, longest phrases first from the
    left; 'tik_tok' and 'tiktok' read alike. Unknown words are skipped."""
    tokens = [t for t in key.split("_") if t]
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        for j in range(min(len(tokens), i + _LONGEST), i, -1):
            part = tokens[i:j]
            hit = _PHRASES.get("_".join(part)) or _WHOLE.get("".join(part))
            if hit is not None:
                found.append(hit)
                i = j
                break
        else:
            i += 1
    return found


def _one(found: list[tuple[str, str]], kinds: tuple[str, ...]) -> tuple[bool, str | None]:
    """Whether any word of these kinds is present, and the channel they agree on (None
    when they disagree or name none)."""
    channels = {ch for kind, ch in found if kind in kinds}
    if not channels:
        return False, None
    return True, (channels.pop() if len(channels) == 1 and "" not in channels else None)


def _by_words(key: str) -> str | None:
    """A name read word by word, in this order: a platform that is a channel of its own
    (TikTok, YouTube) wins; then a word that names the channel ('google / organic' is
    organic search, 'Google Ads Display' display); then a vendor or site ('facebook /
    cpc' is social, 'Email (Klaviyo)' email); then a word for unbought traffic (direct,
    referral, none) means no channel; then a search engine means paid search; last, a
    paid medium's default ('* / cpc' paid search, '* / cpm' display). Words of one rank
    that disagree ('email_sms') give no channel."""
    found = _words(key)
    for kinds in (("lead",), ("channel",), ("platform",)):
        present, channel = _one(found, kinds)
        if present:
            return channel
    if any(kind == "none" for kind, _ in found):
        return None
    for kinds in (("engine",), ("paid",)):
        present, channel = _one(found, kinds)
        if present:
            return channel
    return None


@functools.lru_cache(maxsize=4096)
def _default(key: str) -> Channel | None:
    hit = _WHOLE.get(_squash(key))
    if hit is not None:
        return Channel(hit[1]) if hit[1] else None
    value = _by_words(key)
    return Channel(value) if value else None


def canonical_channel(name: str, taxonomy: Mapping[str, str] | None = None) -> Channel | None:
    """The canonical channel a channel name stands for, as data and goals spell it.

    ``'Google Ads'``, ``'google_ads'``, ``'google / cpc'`` and ``'SEM'`` are all
    ``paid_search``; ``'Email (Klaviyo)'``, ``'email_klaviyo'`` and ``'klaviyo / email'``
    are ``email``; ``'facebook / cpc'`` and ``'Meta Ads'`` are ``social``. Case and
    separators (spaces, underscores, hyphens, slashes, brackets) do not matter, and every
    :class:`Channel` value maps to itself. GA4 ``source / medium`` pairs follow GA4's
    default channel grouping where it has a counterpart here (``google / organic`` is
    organic search, ``* / email`` email, ``* / cpc`` paid search, ``* / cpm`` display,
    ``youtube / *`` video, ``tiktok / *`` tiktok). Direct and referral traffic
    (``(direct) / (none)``, ``google / referral``) give None on purpose: there is no
    "direct" channel, since nothing can be bought or allocated there.

    Args:
        name: The name, as written in the data or the goal.
        taxonomy: A pipeline's own map from spellings to channels, read before the
            defaults: ``{"google / cpc": "paid_search", "Braze": "email"}``. Its keys are
            normalised like ``name`` (so ``"Google_Ads"`` matches ``"google ads"``); its
            values are :class:`Channel` values or any name this function knows.

    Returns:
        The channel, or None when the name is not a channel this function knows.

    Raises:
        ValueError: A taxonomy value is not a channel, or two of its keys that normalise
            alike map to different channels.
    """
    key = normalise_channel_key(name)
    if taxonomy:
        mapped = _taxonomy(taxonomy).get(_squash(key))
        if mapped is not None:
            return mapped
    return _default(key)


def channel_name(name: str, taxonomy: Mapping[str, str] | None = None) -> str:
    """The name an agent analyses a data channel under.

    A spelling the pipeline's taxonomy (``channels:``) lists becomes its canonical
    channel, so ``google / cpc`` in the events and ``Google Ads`` in the spend are one
    channel when the taxonomy says so. Any other name is only normalised
    (:func:`normalise_channel_key`): ``Paid Search`` and ``paid_search`` are one channel,
    but ``facebook`` and ``instagram`` stay two although both are social: merging
    channels a file keeps apart is the user's call, made in the taxonomy. Goal channels
    still find data channels through :func:`canonical_channel`.
    """
    if taxonomy:
        mapped = _taxonomy(taxonomy).get(_squash(normalise_channel_key(name)))
        if mapped is not None:
            return mapped.value
    return normalise_channel_key(name)


def check_taxonomy(taxonomy: Mapping[str, str]) -> dict[str, Channel]:
    """Every spelling of a taxonomy read as its channel (keys as written).

    Raises:
        ValueError: A value is not a channel, or two spellings that normalise alike map
            to different channels.
    """
    checked = _taxonomy(taxonomy)
    return {k: checked[_squash(normalise_channel_key(k))] for k in taxonomy}


def _taxonomy(taxonomy: Mapping[str, str]) -> dict[str, Channel]:
    """A taxonomy keyed like the defaults, each value read as a channel."""
    return _taxonomy_cached(tuple(sorted(taxonomy.items(), key=lambda kv: str(kv[0]))))


@functools.lru_cache(maxsize=64)
def _taxonomy_cached(items: tuple[tuple[str, str], ...]) -> dict[str, Channel]:
    taxonomy = dict(items)
    out: dict[str, Channel] = {}
    spelled: dict[str, str] = {}
    for spelling, value in taxonomy.items():
        target = _default(normalise_channel_key(value)) if isinstance(value, str) else None
        if target is None:
            raise ValueError(
                f"the channel taxonomy maps {spelling!r} to {value!r}, which is not a channel; "
                f"use one of {', '.join(c.value for c in Channel)}"
            )
        key = _squash(normalise_channel_key(spelling))
        if key in out and out[key] != target:
            raise ValueError(
                f"the channel taxonomy maps {spelled[key]!r} to {out[key].value} and "
                f"{spelling!r} to {target.value}, but the two are one spelling"
            )
        out[key], spelled[key] = target, spelling
    return out
