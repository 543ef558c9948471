"""Goal words the grammar did not use are listed as a warning, never dropped in silence.

"Lift repeat purchases 8%" was read as conversions with "repeat" gone. Now every content
word no value was read from is listed in ``goal.warnings`` (and so by `parse-goal`,
`plan` and the report), with a hint for the words that change a goal's meaning; function
words, units and the words the grammar consumed are not.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Cli
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conductor.errors import GoalError
from conductor.goals import goal_from_mapping, parse_goal, parse_goal_partial

TODAY = dt.date(2026, 11, 23)
REPEAT = "Lift repeat purchases 8%"
REPEAT_WARNING = (
    'words not used: "repeat" (in "Lift repeat purchases 8%") — the KPI read is conversions; '
    "if you meant repeat purchases (retention), say so with a structured goal "
    "(kpi: retention_rate)"
)
CORPUS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "goal_corpus.yaml").read_text(encoding="utf-8")
)


def unused(warnings: list[str]) -> list[str]:
    return [w for w in warnings if w.startswith("words not used:")]


def test_repeat_purchases_says_repeat_was_not_used() -> None:
    goal = parse_goal(REPEAT, today=TODAY)
    assert goal.kpi == "conversions"
    assert unused(goal.warnings) == [REPEAT_WARNING]


@pytest.mark.parametrize(
    ("text", "words", "hint"),
    [
        ("Increase returning purchases 10% in Q1", '"returning"', "kpi: retention_rate"),
        ("Grow subscription revenue 15% next quarter", '"subscription"', "renewals"),
        ("Grow revenue 10% from new products in Q1", '"new", "products"', "does not know"),
        ("Increase lapsed revenue 5% in Q1", '"lapsed"', "audience: lapsed customers"),
        ("Grow profit and revenue 10% in Q1", '"profit"', "no profit or margin KPI"),
        ("Grow in-store sales 5% in Q1", '"in-store"', "narrow the data source"),
        ("Drive incremental revenue of $500k in Q1", '"incremental"', "not as an increase"),
        ("Grow revenue 10% in Q1 with email, SMS and push", '"push"', "push notifications"),
        ("Grow revenue 10% over the holiday season", '"holiday", "season"', "without them"),
    ],
)
def test_meaningful_words_are_listed_with_a_hint(text: str, words: str, hint: str) -> None:
    [warning] = unused(parse_goal(text, today=TODAY).warnings)
    assert warning.startswith(f"words not used: {words} (in ")
    assert hint in warning


def test_each_sentence_is_quoted_on_its_own() -> None:
    text = "Lift repeat purchases 8% in Q1. Focus on the spring range."
    found = unused(parse_goal(text, today=TODAY).warnings)
    assert [w.split(" (in ")[0] for w in found] == [
        'words not used: "repeat"',
        'words not used: "spring", "range"',
    ]
    assert '(in "Focus on the spring range")' in found[1]


@pytest.mark.parametrize(
    "text",
    [
        # function words, numbers, money, dates, channels, markets, audiences, rules
        "Grow revenue 12% in Q3 with a $250k budget, keep CPA under $40, no TikTok",
        "Increase our sign-ups by 20% in the UK and Ireland next quarter via LinkedIn",
        "Win back 2,000 lapsed customers in Germany from 1 March to 30 April 2027 with £75,000",
        "Grow revenue from returning customers 10% in Q1, at most 30% on social",
        "Get 5,000 new customers by end of March with a budget of 150000",
        "Push registrations up 15% during January with 40 000 €, please",
        "Grow revenue 10% in Q1 with our existing budget of $100k",
        "Grow online revenue 12% next quarter across paid search, social and email",
    ],
)
def test_ordinary_goals_get_none_until_a_word_is_not_read(text: str) -> None:
    assert unused(parse_goal(text, today=TODAY).warnings) == []
    [warning] = unused(parse_goal(f"{text}. Think zorblat range.", today=TODAY).warnings)
    assert warning.startswith('words not used: "Think", "zorblat", "range" (in "Think')


def test_the_corpus_lists_every_such_warning_it_gets() -> None:
    """No corpus goal gains the warning unless its expectations say it should."""
    flagged, expected = [], []
    for item in CORPUS:
        if "error" in item:
            continue
        got = unused(parse_goal(item["text"], today=item["today"]).warnings)
        wants = [w for w in item["expect"].get("warnings", []) if w.startswith("words not used")]
        if got:
            flagged.append(item["text"])
        if wants:
            expected.append(item["text"])
    assert flagged == expected
    assert len(flagged) >= 10


def test_a_structured_field_answers_the_hint_it_concerns() -> None:
    goal = goal_from_mapping({"text": REPEAT, "kpi": "retention_rate"}, today=TODAY)
    assert unused(goal.warnings) == []
    text = f"{REPEAT} for the spring range"
    goal = goal_from_mapping({"text": text, "kpi": "conversions"}, today=TODAY)
    [warning] = unused(goal.warnings)
    assert warning.startswith('words not used: "spring", "range"')
    assert "the KPI is conversions (given)" in warning
    [warning] = unused(goal_from_mapping({"text": text}, today=TODAY).warnings)
    assert warning.startswith('words not used: "repeat", "spring", "range"')


def test_a_default_kpi_is_named_as_one() -> None:
    goal = parse_goal("Re-engage dormant members next quarter with seasonal offers", today=TODAY)
    [warning] = unused(goal.warnings)
    assert '"seasonal", "offers"' in warning
    assert "the KPI is retention_rate (a default)" in warning


def test_the_partial_parse_reports_them_too() -> None:
    fields, _ = parse_goal_partial(REPEAT, today=TODAY)
    assert REPEAT_WARNING in fields["warnings"]


# -------------------------------------------------------------------- properties

KPI_WORDS = ["revenue", "sales", "sign-ups", "leads", "orders", "conversions", "bookings"]
VERBS = ["Grow", "Increase", "Lift", "Boost", "Drive", "Raise"]
CHANNEL_WORDS = ["paid search", "Google Ads", "email", "TikTok", "display", "Meta", "SMS"]
PERIODS = ["in Q1", "next quarter", "in H2 2027", "over the next 6 weeks", "by end of March"]
MARKETS = ["in Germany", "in the UK", "across the Nordics", "in France and Spain", ""]


@st.composite
def ordinary_goals(draw: st.DrawFn) -> str:
    parts = [
        draw(st.sampled_from(VERBS)),
        draw(st.sampled_from(["", "our ", "the "])) + draw(st.sampled_from(KPI_WORDS)),
        f"{draw(st.integers(1, 60))}%",
        draw(st.sampled_from(PERIODS)),
        draw(st.sampled_from(MARKETS)),
        f"with a ${draw(st.integers(10, 900))}k budget",
        "on "
        + " and ".join(draw(st.lists(st.sampled_from(CHANNEL_WORDS), min_size=1, max_size=3))),
    ]
    if draw(st.booleans()):
        parts.append(f", keep CPA under ${draw(st.integers(5, 90))}")
    return " ".join(p for p in parts if p).replace(" ,", ",")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ordinary_goals(), where=st.integers(0, 40), word=st.sampled_from(["zorblat", "quux"]))
def test_only_a_word_the_grammar_does_not_know_is_listed(text: str, where: int, word: str) -> None:
    """A goal made of words the grammar reads gets no such warning; put one word it does
    not know anywhere in it, and that word is listed."""
    words = text.split(" ")
    words.insert(where % (len(words) + 1), word)
    changed = " ".join(words)
    try:
        goal = parse_goal(text, today=TODAY)
        other = parse_goal(changed, today=TODAY)
    except GoalError:
        assume(False)
        return
    assert unused(goal.warnings) == [], text
    assert [w for w in unused(other.warnings) if f'"{word}"' in w], (changed, other.warnings)


# ------------------------------------------------------------- where it is shown

PIPELINE = """\
pipeline: repeat
goal: "Lift repeat purchases 8% in Q3 2027 with a $50k budget"
today: 2027-01-10
steps:
  notes: {agent: test_note, with: {label: N}}
"""


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_parse_goal_and_plan_print_the_warning(sqlite_cli: Cli, tmp_path: Path) -> None:
    r = sqlite_cli("parse-goal", REPEAT, "--today", "2027-01-10")
    assert r.returncode == 0, r.stderr
    assert REPEAT_WARNING in _flat(r.stdout)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = sqlite_cli("plan", "p.yaml")
    assert r.returncode == 0, r.stderr
    assert 'words not used: "repeat"' in _flat(r.stdout)
    assert "kpi: retention_rate" in _flat(r.stdout)


def test_the_report_shows_the_warning(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    r = sqlite_cli("run", "p.yaml", "--run-id", "repeat-1")
    assert r.returncode == 0, r.stderr
    run = tmp_path / ".conductor" / "runs" / "repeat-1"
    result = json.loads((run / "result.json").read_text())
    assert any(w.startswith('words not used: "repeat"') for w in result["goal"]["warnings"])
    page = html.unescape((run / "report.html").read_text())
    assert 'words not used: "repeat"' in page
