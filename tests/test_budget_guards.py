"""The budget agent's guards: repeated rows and unsupported KPIs are refused; a budget far
from the recent pace and curves that do not forecast lead the warnings and the summary."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, Cli, make_env
from test_budget import FIRST, TRUE, _rewrite, goal, plan, run, write

from agents.budget import History
from agents.budget._data import load_history
from agents.budget._guards import holdout_caveat, run_rate_caveat
from conductor import DataCatalog, DataError, DataSource, Kpi, SpecError

FAST = {"bootstrap": 0}


def history(paths: dict[str, Path]) -> None:
    cat = DataCatalog({k: DataSource(path=v) for k, v in paths.items()})
    try:
        load_history(cat.cursor(), "revenue", "outcomes" in paths)
    finally:
        cat.close()


# ------------------------------------------------------------------ repeated rows


def test_a_spend_row_exported_twice_is_refused(tmp_path: Path) -> None:
    paths = write(tmp_path, weeks=30)
    _rewrite(paths["spend"], lambda rows: [*rows, rows[3], rows[4]])  # week 2: search, social
    with pytest.raises(DataError) as info:
        history(paths)
    err = info.value
    assert err.code == "data.duplicate-rows" and err.source == "spend" and err.column == "date"
    assert "2 (date, channel) key(s) appear in more than one row (2 extra row(s))" in err.message
    week = FIRST.replace(day=FIRST.day + 7).isoformat()
    assert f"e.g. {week} search (2 rows), {week} social (2 rows)" in err.message
    assert "count double" in err.message and "remove the repeated rows" in err.hint


def test_the_same_key_with_another_amount_is_refused_too(tmp_path: Path) -> None:
    paths = write(tmp_path, weeks=30)
    _rewrite(paths["spend"], lambda rows: [*rows, [rows[0][0], rows[0][1], "123.00"]])
    with pytest.raises(DataError) as info:
        history(paths)
    assert info.value.code == "data.duplicate-rows"
    assert f"{FIRST.isoformat()} search (2 rows)" in info.value.message


def test_rows_told_apart_by_another_column_are_summed(tmp_path: Path) -> None:
    # Spend per campaign: several rows per (date, channel), each a part of the total.
    paths = write(tmp_path, weeks=30)
    rows = list(csv.reader(paths["spend"].open()))
    with paths["spend"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*rows[0], "campaign"])
        for d, ch, s in rows[1:]:
            half = f"{float(s) / 2:.3f}"
            w.writerows([[d, ch, half, "brand"], [d, ch, half, "generic"]])
    history(paths)


def test_a_wide_table_with_a_repeated_date_is_refused(tmp_path: Path) -> None:
    paths = write(tmp_path, weeks=30, wide=True)
    _rewrite(paths["spend"], lambda rows: [*rows[:3], rows[2], *rows[3:]])
    with pytest.raises(DataError) as info:
        history(paths)
    assert info.value.code == "data.duplicate-rows" and "1 date key(s)" in info.value.message


def test_a_repeated_outcomes_week_is_refused(tmp_path: Path) -> None:
    paths = write(tmp_path, weeks=30)
    _rewrite(paths["outcomes"], lambda rows: [*rows, rows[-1]])
    with pytest.raises(DataError) as info:
        history(paths)
    assert info.value.code == "data.duplicate-rows" and info.value.source == "outcomes"
    assert "1 date key(s)" in info.value.message


def _kpi_on_every_row(paths: dict[str, Path], campaigns: bool = False) -> dict[str, Path]:
    """The long spend table with the KPI joined onto every channel's row (no outcomes)."""
    kpi = dict(list(csv.reader(paths["outcomes"].open()))[1:])
    rows = list(csv.reader(paths["spend"].open()))[1:]
    with paths["spend"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "channel", "spend", "revenue", *(["campaign"] * campaigns)])
        for d, ch, s in rows:
            if campaigns:
                half = f"{float(s) / 2:.3f}"
                w.writerows([[d, ch, half, kpi[d], "a"], [d, ch, half, kpi[d], "b"]])
            else:
                w.writerow([d, ch, s, kpi[d]])
    return {"spend": paths["spend"]}


def _load(paths: dict[str, Path]) -> History:
    cat = DataCatalog({k: DataSource(path=v) for k, v in paths.items()})
    try:
        return load_history(cat.cursor(), "revenue", "outcomes" in paths)[0]
    finally:
        cat.close()


@pytest.mark.parametrize("campaigns", [False, True])
def test_a_long_export_with_the_kpi_on_every_row_reads_it_once_per_date(
    tmp_path: Path, campaigns: bool
) -> None:
    # Once refused with `data.missing-source` ("no 'revenue' column") although it had one.
    paths = write(tmp_path, weeks=30)
    separate = _load(paths)
    joined = _load(_kpi_on_every_row(paths, campaigns))
    assert joined.channels == separate.channels
    np.testing.assert_allclose(joined.kpi, separate.kpi)  # not three (or six) times it
    np.testing.assert_allclose(joined.spend, separate.spend, rtol=1e-6)


def test_a_repeated_kpi_that_disagrees_within_a_date_is_refused(tmp_path: Path) -> None:
    paths = _kpi_on_every_row(write(tmp_path, weeks=30))
    _rewrite(
        paths["spend"],
        lambda rows: [[*rows[1][:3], "1.00"] if i == 1 else r for i, r in enumerate(rows)],
    )
    with pytest.raises(DataError) as info:
        history(paths)
    err = info.value
    assert err.code == "data.kpi-disagrees" and err.source == "spend" and err.column == "revenue"
    assert f"disagree within 1 date(s), e.g. {FIRST.isoformat()}: 1.00 to " in err.message
    assert "one revenue per date" in err.hint


def test_a_long_export_without_the_kpi_still_asks_for_outcomes(tmp_path: Path) -> None:
    paths = write(tmp_path, weeks=30)
    with pytest.raises(DataError) as info:
        history({"spend": paths["spend"]})
    assert info.value.code == "data.missing-source"
    assert "`spend` has no 'revenue' column" in info.value.message


# ------------------------------------------------------------------ the goal's KPI


@pytest.mark.parametrize("kpi", ["retention_rate", "churn_rate", "aov", "reach"])
def test_a_goal_kpi_the_agent_cannot_model_is_refused(kpi: str) -> None:
    with pytest.raises(SpecError) as info:
        plan(goal(kpi=kpi))
    err = info.value
    assert err.code == "budget.unsupported-kpi" and err.field == "kpi" and err.step == "budget"
    assert f"the goal's KPI is {kpi}" in err.message
    assert "revenue" in err.message and "conversions" in err.message
    assert "with: {kpi: revenue}" in err.hint


def test_with_kpi_lets_any_goal_plan() -> None:
    spec = plan(goal(kpi="retention_rate"), {"kpi": "revenue"})
    assert spec.kpi == "revenue"


@pytest.mark.parametrize(
    ("kpi", "modelled"),
    [
        (Kpi.REVENUE, "revenue"),
        (Kpi.ROAS, "revenue"),
        (Kpi.CONVERSIONS, "conversions"),
        (Kpi.CPA, "conversions"),
    ],
)
def test_supported_goal_kpis_still_plan(kpi: Kpi, modelled: str) -> None:
    assert plan(goal(kpi=kpi)).kpi == modelled


# ------------------------------------------------------------------ caveats


def test_run_rate_caveat_text() -> None:
    text = run_rate_caveat(120_000, 50_000, 13, 13, "USD")
    assert text is not None
    assert text.startswith(
        "your 120,000 USD over 13 weeks is 18% of the last 13 weeks' pace "
        "(650,000 USD over the same 13 weeks): far below"
    )
    assert "yearly budget" in (run_rate_caveat(2_000_000, 50_000, 13, 13, "USD") or "")
    assert run_rate_caveat(400_000, 50_000, 13, 13, "USD") is None  # 62%: fine
    assert run_rate_caveat(1_300_000, 50_000, 13, 13, "USD") is None  # 200%: fine
    assert run_rate_caveat(1, 0.0, 13, 13, "USD") is None  # no recent spend: nothing to compare


def test_holdout_caveat_only_below_zero() -> None:
    assert holdout_caveat(0.0, 7) is None and holdout_caveat(None, 0) is None
    text = holdout_caveat(-0.4, 7)
    assert text is not None and "hold-out R² -0.40" in text
    assert "do not predict the 7 held-out weeks better than their average" in text


def test_a_normal_plan_has_no_caveats(tmp_path: Path) -> None:
    out = run(tmp_path, plan(goal(), FAST))
    assert out.caveats == [] and not out.summary().startswith("⚠")


def test_caveats_lead_the_warnings_and_the_summary(tmp_path: Path) -> None:
    paths = write(tmp_path)
    # The last seven weeks (the hold-out) jump 60% for no reason the spend shows.
    _rewrite(
        paths["outcomes"],
        lambda rows: [[d, f"{float(v) * 1.6:.2f}"] if i >= len(rows) - 7 else [d, v]
                      for i, (d, v) in enumerate(rows)],
    )  # fmt: skip
    # cv_folds 0: the jump fails the out-of-sample check too (whose caveat would lead);
    # this test is about the pace and hold-out caveats (tests/test_budget_validation.py).
    params = {**FAST, "budget": 20_000, "cv_folds": 0}
    out = run(tmp_path, plan(goal(), params), paths)
    assert out.diagnostics.holdout_weeks == 7 and (out.diagnostics.holdout_r2 or 0) < 0
    assert len(out.caveats) == 2
    pace, fit = out.caveats
    assert pace.startswith("your 20,000 EUR over 13 weeks is ") and "far below" in pace
    assert fit.startswith("the response curves do not predict the 7 held-out weeks")
    assert out.warnings[:2] == [pace, fit]
    assert out.summary().startswith(f"⚠ {pace}\n⚠ {fit}\n20,000 EUR over 13 weeks")
    assert len(out.warnings) > 2  # the usual warnings follow them


PIPELINE = ROOT / "tests" / "pipelines" / "budget" / "media.yaml"


def test_the_caveat_reaches_the_console_result_json_and_report(tmp_path: Path) -> None:
    write(tmp_path)
    shutil.copy(ROOT / "pipelines" / "brands" / "acme.yaml", tmp_path / "acme.yaml")
    (tmp_path / "media.yaml").write_text(
        PIPELINE.read_text().replace("$130k budget", "$20k budget")
    )
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    r = cli("run", "media.yaml", "--run-id", "low")
    text = r.stdout + r.stderr
    assert r.returncode == 3, text[-3000:]
    assert "— ⚠ your 20,000 USD over 13.1 weeks is" in " ".join(text.split())
    run_dir = tmp_path / ".conductor" / "runs" / "low"
    out = json.loads((run_dir / "result.json").read_text())["steps"]["budget"]["output"]
    assert out["warnings"][0] == out["caveats"][0]
    assert out["caveats"][0].startswith("your 20,000 USD")
    html = (run_dir / "report.html").read_text()
    lead = html.index("your 20,000 USD")
    assert lead < html.index("20,000 USD over 13.1 weeks across")
    assert set(TRUE) <= set(out["allocation"]["amounts"])
