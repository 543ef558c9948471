"""The report fits the run: numbers for people, every baseline in the banner, curve axes
over the history's range, the goal's constraints as rules in words."""

from __future__ import annotations

import re

from conductor.goals import parse_goal
from conductor.numbers import change_words, number, percent, points
from conductor.report._agents import _baselines
from conductor.report._charts import _curves_chart
from conductor.report._html import render_html


def test_a_loss_reads_as_a_loss_in_percentage_points() -> None:
    assert change_words(-0.002532, rate=True) == ("loses", "0.25 percentage points")
    assert change_words(0.0125, rate=True) == ("adds", "1.25 percentage points")
    assert change_words(-3.14159, rate=False)[0] == "loses"
    assert number(1234567.8) == "1,234,568"
    assert percent(0.0312, 2) == "3.12%"
    assert points(-0.0025).startswith("-0.25")
    assert number(float("nan")) == number(None) == "—"


def _estimates(new: float, logging: float, best: float, lo: float, hi: float) -> dict:
    def e(policy: str, value: float, lo_: float = 0.0, hi_: float = 0.0) -> dict:
        return {"policy": policy, "estimator": "dr", "value": value, "ci_low": lo_, "ci_high": hi_}

    return {
        "confidence": 0.9,
        "bounds": [0.0, 1.0],
        "estimates": [
            e("new", new),
            e("logging", logging),
            e("best_single", best),
            e("new-logging", new - logging, 0.001, 0.02),
            e("new-best_single", new - best, lo, hi),
        ],
    }


def test_banner_says_when_one_offer_for_all_beats_the_new_policy() -> None:
    lines, tone = _baselines(
        _estimates(0.05, 0.03, 0.06, -0.02, -0.001), {"best_single_action": "free_shipping"}
    )
    assert len(lines) == 2  # today's policy and one offer for all
    assert lines[0].startswith("The new policy beats today's policy")
    assert "One offer for all ('free_shipping') is better than the new policy" in lines[1]
    assert tone == "bad"
    lines, tone = _baselines(_estimates(0.05, 0.03, 0.04, 0.001, 0.02), {})
    assert tone == "ok" and all(x.startswith("The new policy beats") for x in lines)


def test_curve_axis_covers_the_history_and_the_plan() -> None:
    plan = {
        "channel": "tv",
        "previous": 13 * 1000.0,
        "weekly": 1500.0,
        "history_weekly_min": 200.0,
        "history_weekly_max": 9000.0,
        "curve": {"half_saturation": {"value": 800.0}, "beta": {"value": 1.0}},
    }
    html = str(_curves_chart([plan], 13, "revenue", "c", history_weeks=104))
    xs = [float(x) for x in re.findall(r'"x":\[([^\]]+)\]', html)[0].split(",")]
    assert max(xs) >= 9000.0  # the history's busiest week is on the axis
    assert "history&#39;s weekly spend" in html or "history's weekly spend" in html


def test_goal_constraints_are_a_readable_list() -> None:
    goal = parse_goal(
        "Grow revenue 10% with $200k in Q3 2027, at most 40% on paid search",
        today=__import__("datetime").date(2027, 5, 1),
    )
    page = render_html({"goal": goal.model_dump(mode="json")})
    m = re.search(r'<section class="card" id="goal">(.*?)</section>', page, re.S)
    assert m
    body = m.group(1)
    assert "at most 40%" in body
    assert '"kind"' not in body and "max_channel_share" not in body  # not raw JSON
