"""Formatting helpers and the plotly charts of ``report.html`` (see :mod:`conductor.report._html`).

Every chart is a plotly figure rendered to a ``<div>`` with the data inline; plotly.js
itself is inlined once by the page. Text plotly draws is HTML-escaped here, because
plotly reads a subset of HTML in labels.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from conductor.numbers import number, percent

_FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
_INK = "#1f2933"
_GRID = "#e4e7eb"
_CURRENT = "#9aa5b1"
_ACCENT = "#2f6fde"
_TRUTH = "#1f2933"
_PALETTE = (
    "#2f6fde",
    "#e8833a",
    "#3aa67a",
    "#c4497b",
    "#7b61c9",
    "#d1a933",
    "#3fa5c4",
    "#8c6d4f",
    "#5f6b7a",
    "#b8c94a",
)


# --------------------------------------------------------------------------- formatting


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)
        except Exception:  # None, text, a template's Undefined: not a number
            return None
    value = float(value)
    return value if math.isfinite(value) else None


def _num(value: Any, digits: int = 0) -> str:
    x = _finite(value)
    if x is None:
        return "—" if value is None else str(value)
    return number(x, digits)


def _pct(value: Any, digits: int = 1) -> str:
    return percent(value, digits)


def _money(value: Any, currency: Any = "") -> str:
    x = _finite(value)
    if x is None:
        return "—"
    return f"{number(x)} {currency}".strip()


def _when(value: Any) -> str:
    if not value:
        return "—"
    try:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _value(value: Any, limit: int = 140) -> str:
    """A spec or goal value in one short line."""
    if value is None:
        return "—"
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int | float):
        text = _num(value, 0 if float(value).is_integer() else 4)
        text = text.rstrip("0").rstrip(".") if "." in text else text
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(str(v) for v in value) or "(none)"
    elif isinstance(value, dict) and not value:
        text = "(none)"
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _goal_value(key: str, value: Any) -> str:
    if isinstance(value, dict):
        if key == "budget" and "amount" in value:
            return _money(value.get("amount"), value.get("currency", ""))
        if key == "target" and "value" in value:
            kind, v = value.get("kind"), value.get("value")
            x = _finite(v)
            if kind == "relative" and x is not None:
                return f"{x:+.0%} ({kind})"
            return f"{_value(v)} ({kind})"
        if key == "horizon" and "start" in value:
            label = value.get("label")
            span = f"{value.get('start')} – {value.get('end')}"
            return f"{label} ({span})" if label else span
    return _value(value)


def _esc(value: Any) -> str:
    """Text for plotly labels: plotly reads <b>, <a href> … in labels, so escape them."""
    return html.escape(str(value), quote=False)


def _slug(text: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def _d(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


# --------------------------------------------------------------------------- charts


def _figure_html(fig: Any, div_id: str) -> Any:
    import plotly.io as pio
    from markupsafe import Markup

    own = fig.layout.to_plotly_json()  # the chart's own settings win over the defaults
    own.pop("template", None)
    fig.update_layout(
        template="none",
        font={"family": _FONT, "size": 12, "color": _INK},
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hoverlabel={"font": {"family": _FONT}},
    )
    fig.update_layout(own)
    fig.update_xaxes(gridcolor=_GRID, linecolor="#cbd2d9", zerolinecolor="#cbd2d9", automargin=True)
    fig.update_yaxes(gridcolor=_GRID, linecolor="#cbd2d9", zerolinecolor="#cbd2d9", automargin=True)
    # plotly writes the figure as JSON with "<" escaped, so labels cannot end the script.
    div = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        # No mode bar: it covers legends, and a report is read, not edited. Hover, drag to
        # zoom and double-click to reset still work.
        config={"displaylogo": False, "displayModeBar": False, "responsive": True},
    )
    return Markup(div)  # noqa: S704 - plotly output; all text inside is escaped JSON


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _funnel_chart(stages: Sequence[Mapping[str, Any]], div_id: str) -> Any:
    go = _go()
    names = [_esc(s.get("stage", "?")) for s in stages]
    counts = [_finite(s.get("journeys")) or 0 for s in stages]
    texts = [f"{_num(s.get('journeys'))} · {_pct(s.get('overall_rate'), 0)}" for s in stages]
    fig = go.Figure(
        go.Funnel(
            y=names,
            x=counts,
            text=texts,
            textinfo="text",
            textposition="inside",
            insidetextanchor="middle",
            marker={"color": _ACCENT},
            connector={"fillcolor": "#dbe6fb"},
            hovertemplate="%{y}: %{x:,} journeys<extra></extra>",
        )
    )
    fig.update_layout(height=80 + 55 * len(stages), margin={"l": 20, "t": 20, "b": 20})
    fig.update_xaxes(showgrid=False, showticklabels=False)
    return _figure_html(fig, div_id)


def _attribution_chart(models: Sequence[Mapping[str, Any]], div_id: str) -> Any:
    go = _go()
    fig = go.Figure()
    channels = sorted({str(c) for m in models for c in _d(m.get("conversions"))})
    for i, m in enumerate(models):
        credits = _d(m.get("conversions"))
        total = sum(_finite(v) or 0.0 for v in credits.values()) or 1.0
        fig.add_bar(
            name=_esc(m.get("model", "?")),
            x=[_esc(c) for c in channels],
            y=[(_finite(credits.get(c)) or 0.0) / total for c in channels],
            customdata=[_finite(credits.get(c)) or 0.0 for c in channels],
            marker_color=_PALETTE[i % len(_PALETTE)],
            hovertemplate="%{x}: %{y:.1%} (%{customdata:,.1f} conversions)<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(
        barmode="group", height=380, yaxis={"tickformat": ".0%", "title": "share of conversions"}
    )
    return _figure_html(fig, div_id)


def _budget_chart(
    channels: Sequence[str],
    series: Sequence[tuple[str, Mapping[str, Any], str]],
    currency: str,
    div_id: str,
) -> Any:
    go = _go()
    fig = go.Figure()
    for name, values, color in series:
        fig.add_bar(
            name=_esc(name),
            x=[_esc(c) for c in channels],
            y=[_finite(values.get(c)) or 0.0 for c in channels],
            marker_color=color,
            hovertemplate="%{x}: %{y:,.0f} " + _esc(currency) + "<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(
        barmode="group", height=380, yaxis={"title": _esc(f"spend ({currency})".strip())}
    )
    return _figure_html(fig, div_id)


def _curve_value(curve: Mapping[str, Any], x: float) -> float:
    beta = _finite(_d(curve.get("max_weekly_effect")).get("value")) or 0.0
    k = _finite(_d(curve.get("half_saturation")).get("value")) or 1.0
    if k <= 0 or x <= 0:
        return 0.0
    if curve.get("kind") == "logistic":
        return beta * math.tanh(math.atanh(0.5) * x / k)
    shape = _finite(_d(curve.get("shape")).get("value")) or 1.0
    return float(beta / (1.0 + (k / x) ** shape))


def _curves_chart(
    plans: Sequence[Mapping[str, Any]],
    weeks: float,
    kpi: str,
    div_id: str,
    history_weeks: float | None = None,
) -> Any:
    """Each channel's response curve with the current and recommended weekly spend, the
    history's range of weekly spend shaded; each x axis covers all of them."""
    from plotly.subplots import make_subplots

    go = _go()
    cols = min(3, len(plans))
    rows = math.ceil(len(plans) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_esc(p.get("channel", "?")) for p in plans],
        horizontal_spacing=0.08,
        vertical_spacing=0.16 if rows > 1 else 0.1,
    )
    shown_history = False
    for i, p in enumerate(plans):
        curve = _d(p.get("curve"))
        now = (_finite(p.get("previous")) or 0.0) / weeks
        rec = _finite(p.get("weekly")) or 0.0
        k = _finite(_d(curve.get("half_saturation")).get("value")) or 1.0
        low, high = _finite(p.get("history_weekly_min")), _finite(p.get("history_weekly_max"))
        if high is None and history_weeks:
            # An older plan without the weekly range: at least its mean weekly spend.
            high = (_finite(p.get("history_spend")) or 0.0) / history_weeks
        # The axis covers the plan, today's pace and every week of the history, with room.
        top = max(now, rec, high or 0.0) * 1.25 or k * 3
        xs = [top * j / 120 for j in range(121)]
        row, col = i // cols + 1, i % cols + 1
        first = i == 0
        if low is not None and high is not None and high > 0:
            fig.add_trace(
                go.Scatter(
                    x=[low, high, high, low, low],
                    y=[0, 0, _curve_value(curve, high), _curve_value(curve, low), 0],
                    mode="lines",
                    fill="toself",
                    fillcolor="rgba(154,165,177,0.22)",
                    line={"width": 0},
                    name="history's weekly spend",
                    legendgroup="history",
                    showlegend=not shown_history,
                    hovertemplate=f"history: {number(low)} to {number(high)}/week<extra></extra>",
                ),
                row=row,
                col=col,
            )
            shown_history = True
        fig.update_xaxes(range=[0, top], row=row, col=col)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[_curve_value(curve, x) for x in xs],
                mode="lines",
                name="response curve",
                legendgroup="curve",
                showlegend=first,
                line={"color": _ACCENT, "width": 2},
                hovertemplate="%{x:,.0f}/week → %{y:,.0f} " + _esc(kpi) + "/week<extra></extra>",
            ),
            row=row,
            col=col,
        )
        for label, x, color, symbol in (
            ("current", now, _CURRENT, "circle"),
            ("recommended", rec, "#e8833a", "diamond"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=[x],
                    y=[_curve_value(curve, x)],
                    mode="markers",
                    name=f"{label} spend",
                    legendgroup=label,
                    showlegend=first,
                    marker={"color": color, "size": 11, "symbol": symbol, "line": {"width": 1}},
                    hovertemplate=f"{label}: %{{x:,.0f}}/week → %{{y:,.0f}}<extra></extra>",
                ),
                row=row,
                col=col,
            )
    height = 130 + 260 * rows
    fig.update_layout(
        height=height,
        margin={"t": 40, "b": 90},
        legend={"orientation": "h", "yanchor": "top", "y": -70 / (height - 130), "x": 0},
    )
    fig.update_xaxes(title_text="weekly spend", title_font_size=11)
    return _figure_html(fig, div_id)


def _mix_chart(rows: Sequence[tuple[str, str, float]], div_id: str) -> Any:
    go = _go()
    segments = list(dict.fromkeys(r[0] for r in rows))
    actions = list(dict.fromkeys(r[1] for r in rows))
    fig = go.Figure()
    for i, action in enumerate(actions):
        counts = {seg: n for seg, act, n in rows if act == action}
        fig.add_bar(
            name=_esc(action),
            y=[_esc(s) for s in segments],
            x=[counts.get(s, 0) for s in segments],
            orientation="h",
            marker_color=_CURRENT if action == "nothing sent" else _PALETTE[i % len(_PALETTE)],
            hovertemplate="%{y}: %{x:,} customers<extra>%{fullData.name}</extra>",
        )
    height = 150 + 42 * len(segments)
    fig.update_layout(
        barmode="stack",
        height=height,
        margin={"t": 20, "b": 110},
        legend={
            "orientation": "h",
            "traceorder": "normal",
            "yanchor": "top",
            "y": -55 / (height - 130),
            "x": 0,
        },
        xaxis={"title": "customers"},
        yaxis={"autorange": "reversed"},
    )
    return _figure_html(fig, div_id)


def _value_chart(
    bars: Sequence[tuple[str, float, float | None, float | None, str]], title: str, div_id: str
) -> Any:
    go = _go()
    fig = go.Figure()
    for name, value, low, high, color in bars:
        err = None
        if low is not None and high is not None:
            err = {
                "type": "data",
                "symmetric": False,
                "array": [max(high - value, 0.0)],
                "arrayminus": [max(value - low, 0.0)],
                "color": _INK,
                "thickness": 1.2,
            }
        fig.add_bar(
            name=_esc(name),
            x=[_esc(name)],
            y=[value],
            error_y=err,
            marker_color=color,
            showlegend=False,
            hovertemplate="%{x}: %{y:.4f}<extra></extra>",
        )
    fig.update_layout(height=340, yaxis={"title": _esc(title)}, bargap=0.45)
    return _figure_html(fig, div_id)


def _truth_attribution_chart(channels: Mapping[str, Any], model: str, div_id: str) -> Any:
    go = _go()
    names = list(channels)
    fig = go.Figure()
    fig.add_bar(
        name=_esc(f"{model} (agent)"),
        x=[_esc(c) for c in names],
        y=[_finite(_d(channels[c]).get("estimated")) or 0.0 for c in names],
        marker_color=_ACCENT,
        hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>",
    )
    fig.add_trace(
        go.Scatter(
            name="true share",
            x=[_esc(c) for c in names],
            y=[_finite(_d(channels[c]).get("true")) or 0.0 for c in names],
            mode="markers",
            marker={"color": _TRUTH, "size": 14, "symbol": "line-ew", "line": {"width": 3}},
            hovertemplate="%{x}: %{y:.1%}<extra>true</extra>",
        )
    )
    fig.update_layout(height=340, yaxis={"tickformat": ".0%", "title": "share of conversions"})
    return _figure_html(fig, div_id)
