"""Findings in words, each citing the numbers behind it."""

from __future__ import annotations

from agents.journey._models import (
    ChannelStats,
    ConversionTiming,
    Funnel,
    ModelCredits,
    PathStat,
)
from conductor import Insight

__all__ = ["build_insights"]

ASSIST_RATIO = 2.0  # "assists far more than it closes" starts at twice as many
MIN_SHARE = 0.01  # ignore channels behind fewer than 1% of conversions


def _assist_vs_close(
    stats: list[ChannelStats], markov: ModelCredits | None, total: int
) -> Insight | None:
    floor = max(10, MIN_SHARE * total)
    best: tuple[float, ChannelStats] | None = None
    for s in stats:
        if s.assisted_conversions < floor:
            continue
        ratio = s.assisted_conversions / max(s.last_touch_conversions, 1)
        if ratio >= ASSIST_RATIO and (best is None or ratio > best[0]):
            best = (ratio, s)
    if best is None:
        return None
    ratio, s = best
    closes = (
        "never closed one"
        if s.last_touch_conversions == 0
        else (f"closed only {s.last_touch_conversions:,}")
    )
    statement = (
        f"{s.channel} assisted {s.assisted_conversions:,} conversions but {closes} "
        f"({ratio:.1f}x more assists than closes)"
    )
    evidence: dict[str, float | int | str] = {
        "channel": s.channel,
        "assisted_conversions": s.assisted_conversions,
        "last_touch_conversions": s.last_touch_conversions,
        "assist_to_close_ratio": round(ratio, 3),
    }
    if markov is not None:
        credit = markov.conversions.get(s.channel, 0.0)
        statement += (
            f"; the {markov.model} model credits it {credit:,.0f} conversions against "
            f"{s.last_touch_conversions:,} under last touch"
        )
        evidence[f"{markov.model}_conversions"] = round(credit, 3)
    return Insight(
        id=f"journey/assist-vs-close/{s.channel}", statement=statement + ".", evidence=evidence
    )


def _drop_off(funnel: Funnel) -> Insight | None:
    d = funnel.biggest_drop_off
    if d is None:
        return None
    return Insight(
        id="journey/funnel/biggest-drop-off",
        statement=(
            f"The biggest funnel drop-off is {d.from_stage} -> {d.to_stage}: only "
            f"{d.continue_rate:.1%} of journeys continue (95% CI {d.continue_low:.1%}-"
            f"{d.continue_high:.1%}), {d.lost:,} journeys lost."
        ),
        evidence={
            "from_stage": d.from_stage,
            "to_stage": d.to_stage,
            "continue_rate": round(d.continue_rate, 6),
            "continue_low": round(d.continue_low, 6),
            "continue_high": round(d.continue_high, 6),
            "journeys_lost": d.lost,
        },
    )


def _model_gap(markov: ModelCredits, last: ModelCredits, total: int) -> list[Insight]:
    if total <= 0:
        return []
    gaps = {ch: markov.conversions[ch] - last.conversions.get(ch, 0.0) for ch in markov.conversions}
    out = []
    for label, ch in (
        ("under-credits", max(gaps, key=lambda c: (gaps[c], c))),
        ("over-credits", min(gaps, key=lambda c: (gaps[c], c))),
    ):
        gap = gaps[ch]
        if abs(gap) < MIN_SHARE * total:
            continue
        out.append(
            Insight(
                id=f"journey/last-touch-{label}/{ch}",
                statement=(
                    f"Last-touch attribution {label} {ch}: {last.conversions.get(ch, 0.0):,.0f} "
                    f"conversions against {markov.conversions[ch]:,.0f} under the "
                    f"{markov.model} model ({gap / total:+.1%} of all conversions)."
                ),
                evidence={
                    "channel": ch,
                    "last_touch_conversions": round(last.conversions.get(ch, 0.0), 3),
                    f"{markov.model}_conversions": round(markov.conversions[ch], 3),
                    "gap_share_of_conversions": round(gap / total, 6),
                },
            )
        )
    return out


def _top_credit(model: ModelCredits, metric: str, total: float) -> Insight | None:
    values = model.revenue if metric == "revenue" else model.conversions
    if total <= 0 or not values:
        return None
    ch, credit = max(values.items(), key=lambda kv: (kv[1], kv[0]))
    unit = "revenue" if metric == "revenue" else "conversions"
    return Insight(
        id=f"journey/top-channel/{model.model}",
        statement=(
            f"{ch} earns the largest share of {unit} under the {model.model} model: "
            f"{credit:,.0f} of {total:,.0f} ({credit / total:.1%})."
        ),
        evidence={
            "channel": ch,
            "model": model.model,
            f"credited_{unit}": round(credit, 3),
            f"total_{unit}": round(total, 3),
            "share": round(credit / total, 6),
        },
    )


def _top_path(paths: list[PathStat]) -> Insight | None:
    if not paths:
        return None
    p = paths[0]
    return Insight(
        id="journey/paths/top-converting",
        statement=(
            f"The most common converting path is {' > '.join(p.path)}: {p.conversions:,} "
            f"conversions from {p.journeys:,} journeys ({p.conversion_rate:.1%} convert)."
        ),
        evidence={
            "path": " > ".join(p.path),
            "conversions": p.conversions,
            "journeys": p.journeys,
            "conversion_rate": round(p.conversion_rate, 6),
        },
    )


def _duration(days: float) -> str:
    if days < 1:
        return f"{days * 24:.1f} hours"
    return f"{days:.1f} days"


def _timing(rows: list[ConversionTiming]) -> Insight | None:
    overall = next((r for r in rows if r.channel == "(all)"), None)
    if overall is None:
        return None
    return Insight(
        id="journey/timing/overall",
        statement=(
            f"Converting journeys take a median of {_duration(overall.days_to_convert_median)} "
            f"(90th percentile {_duration(overall.days_to_convert_p90)}) and "
            f"{overall.path_length_median:g} touch(es) (90th percentile "
            f"{overall.path_length_p90:g}) from first touch to conversion."
        ),
        evidence={
            "converting_journeys": overall.converting_journeys,
            "days_median": round(overall.days_to_convert_median, 4),
            "days_p90": round(overall.days_to_convert_p90, 4),
            "touches_median": overall.path_length_median,
            "touches_p90": overall.path_length_p90,
        },
    )


def build_insights(
    *,
    stats: list[ChannelStats],
    funnel: Funnel,
    credits: list[ModelCredits],
    converting_paths: list[PathStat],
    timing: list[ConversionTiming],
    conversions: int,
    revenue: float,
    metric: str,
) -> list[Insight]:
    """Every finding that the numbers support (none are invented when data is thin)."""
    markov = next((m for m in credits if m.model.startswith("markov_")), None)
    last = next((m for m in credits if m.model == "last_touch"), None)
    found: list[Insight | None] = [_drop_off(funnel)]
    if conversions > 0:
        found.append(_assist_vs_close(stats, markov, conversions))
        if markov is not None and last is not None and len(stats) > 1:
            found.extend(_model_gap(markov, last, conversions))
        chosen = markov or (credits[0] if credits else None)
        if chosen is not None and len(stats) > 1:
            total = revenue if metric == "revenue" else float(conversions)
            found.append(_top_credit(chosen, metric, total))
        found.append(_top_path(converting_paths))
        found.append(_timing(timing))
    return [i for i in found if i is not None]
