"""Lift-test calibration of the budget agent's response curves (the `lift_tests` source)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, Cli, make_env
from test_budget import FAST, FIRST, TRUE, goal, plan, run, simulate, true_rois, write

from agents.budget import History, LiftTest, fit_model
from agents.budget._model import _base_design, _Problem
from conductor import DataError


def steady(name: str, x: float) -> float:
    """The true steady-state weekly effect of weekly spend ``x`` on channel ``name``."""
    _, k, s, beta, _ = TRUE[name]
    return beta * x**s / (x**s + k**s)


def go_dark(spend: np.ndarray, rel_sigma: float, seed: int = 0) -> list[LiftTest]:
    """One test per channel: its recent weekly spend switched off, measured with noise."""
    rng = np.random.default_rng(seed)
    tests = []
    for c, name in enumerate(TRUE):
        x0 = float(spend[-13:, c].mean())
        lift = -steady(name, x0)
        noisy = lift + abs(lift) * rel_sigma * rng.standard_normal()
        tests.append(LiftTest(c, x0, -x0, noisy, abs(lift) * rel_sigma))
    return tests


def roi_errors(spend: np.ndarray, fit_contrib: np.ndarray) -> np.ndarray:
    return np.abs(fit_contrib.sum(axis=0) / spend.sum(axis=0) / true_rois(spend) - 1)


@pytest.mark.parametrize("logistic", [False, True])
def test_lift_terms_jacobian_matches_finite_differences(logistic: bool) -> None:
    rng = np.random.default_rng(1)
    weeks = [FIRST + dt.timedelta(weeks=i) for i in range(60)]
    xs = rng.lognormal(0, 0.4, (60, 3))
    lifts = np.array(
        [
            [0, 1.0, 0.0, -0.2, 0.02, 0],
            [2, 0.8, 1.6, 0.05, 0.01, 0],
            [1, 0.0, 1.0, 0.1, 0.02, 0],
            [0, 1.2, 0.0, -0.2, 0.02, 4],  # a 4-week test: the carry-over fades over it
            [2, 0.7, 1.4, 0.05, 0.01, 6],
        ]
    )
    prob = _Problem(
        xs, rng.normal(1, 0.1, 60), _base_design(weeks, weeks[0], 60, 1), logistic, 0.05, 1, lifts
    )
    theta = prob.linear_start((0.3, 0.2, 1.7))
    theta[3:12:4] = [0.3, 0.2, 0.4]
    r, jac = prob.lift_terms(theta)
    assert r.shape == (5,) and np.all(np.isfinite(r))
    assert np.any(jac[:, 0] != 0)  # a timed test depends on the decay
    for j in range(prob.n):
        step = np.zeros(prob.n)
        step[j] = 1e-6
        num = (prob.lift_terms(theta + step)[0] - prob.lift_terms(theta - step)[0]) / 2e-6
        assert np.allclose(jac[:, j], num, rtol=1e-5, atol=1e-6), j
    # The objective's residuals and Jacobian carry the lift terms after the history's.
    assert np.allclose(prob.residuals(theta)[-5:], r)
    assert np.allclose(prob.jacobian(theta)[-5:], jac)


def test_lift_tests_pull_each_curve_to_its_measurement() -> None:
    # A noisy history leaves the average return per channel poorly identified; a precise
    # go-dark test per channel pins it.
    spend, y = simulate(104, seed=5, noise=6000.0)
    hist = History([FIRST + dt.timedelta(weeks=i) for i in range(104)], list(TRUE), spend, y)
    alone = fit_model(hist, bootstrap=0)
    tests = go_dark(spend, rel_sigma=0.03, seed=5)
    calibrated = fit_model(hist, bootstrap=0, lifts=tests)

    assert alone.lift_fits == []
    assert len(calibrated.lift_fits) == len(tests)
    for t, fitted in zip(tests, calibrated.lift_fits, strict=True):
        assert abs(fitted - t.delta_kpi) <= 3 * t.sigma
    before, after = (
        roi_errors(spend, alone.contributions),
        roi_errors(spend, calibrated.contributions),
    )
    assert after.max() < 0.1, after
    assert after.mean() < before.mean(), (before, after)


def test_a_timed_test_is_read_along_the_carry_over() -> None:
    # Four weeks after switching social off (decay 0.5) its adstock has fallen only part of
    # the way: the measured average lift is ~77% of the steady-state one. Read as steady
    # state it drags social's curve down; with `weeks` the model follows the adstock.
    spend, y = simulate(104, seed=5, noise=6000.0)
    hist = History([FIRST + dt.timedelta(weeks=i) for i in range(104)], list(TRUE), spend, y)
    tests: dict[int, list[LiftTest]] = {0: [], 4: []}
    for c, (name, (decay, *_)) in enumerate(TRUE.items()):
        x0 = float(spend[-13:, c].mean())
        path = x0 * decay ** np.arange(1, 5)  # adstock during a 4-week go-dark test
        lift = float(np.mean([steady(name, a) for a in path])) - steady(name, x0)
        for weeks, rows in tests.items():
            rows.append(LiftTest(c, x0, -x0, lift, abs(lift) * 0.02, float(weeks)))
    timed = fit_model(hist, bootstrap=0, lifts=tests[4])
    steady_read = fit_model(hist, bootstrap=0, lifts=tests[0])
    social = list(TRUE).index("social")
    err_timed = roi_errors(spend, timed.contributions)
    err_steady = roi_errors(spend, steady_read.contributions)
    assert err_timed[social] < 0.08, err_timed
    assert err_steady[social] > 2 * err_timed[social], (err_steady, err_timed)


def test_bootstrap_redraws_the_measurements() -> None:
    spend, y = simulate(78, seed=2)
    hist = History([FIRST + dt.timedelta(weeks=i) for i in range(78)], list(TRUE), spend, y)
    tight = fit_model(hist, bootstrap=12, seed=3, lifts=go_dark(spend, 0.01))
    loose = fit_model(hist, bootstrap=12, seed=3, lifts=go_dark(spend, 0.5))

    def spread(f: object) -> float:
        email = [d.beta[2] / d.k[2] for d in f.draws]  # type: ignore[attr-defined]
        return float(np.std(email) / np.mean(email))

    assert spread(tight) < spread(loose)


# ---------------------------------------------------------------------------- the agent


def write_lifts(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["channel", "spend", "delta_spend", "delta_kpi", "sigma"])
        w.writerows(rows)
    return path


def good_rows(weekly: dict[str, float], scale: float = 1.0) -> list[list[object]]:
    return [
        [name, round(x0, 2), round(-x0, 2), round(-scale * steady(name, x0), 2), 300]
        for name, x0 in weekly.items()
    ]


RECENT = {"search": 6000.0, "social": 4000.0, "email": 1200.0}


def test_agent_reports_each_test_and_warns_on_a_contradiction(tmp_path: Path) -> None:
    paths = write(tmp_path)
    paths["lift_tests"] = write_lifts(tmp_path / "lifts.csv", good_rows(RECENT))
    out = run(tmp_path, plan(goal(), FAST), paths)
    checks = out.diagnostics.lift_tests
    assert [c.channel for c in checks] == ["search", "social", "email"]
    for c in checks:
        assert c.sigma == 300 and abs(c.z) < 3
        assert c.fitted == pytest.approx(c.measured, abs=3 * c.sigma)
    assert not any("lift test" in w for w in out.warnings)

    # Switching email off cannot raise revenue on any increasing curve: the warning names
    # the test the fit cannot meet.
    rows = good_rows(RECENT)
    rows[2][3] = round(steady("email", 1200.0), 2)
    paths["lift_tests"] = write_lifts(tmp_path / "lifts.csv", rows)
    out = run(tmp_path, plan(goal(), FAST), paths)
    assert any("lift test 3 (email)" in w for w in out.warnings), out.warnings


@pytest.mark.parametrize(
    ("edit", "code", "column", "words"),
    [
        (lambda r: [x[:4] for x in r], "data.missing-column", "sigma", "required column"),
        (lambda r: [*r[:2], [*r[2][:4], 0]], "data.bad-lift-test", "sigma", "must be > 0"),
        (lambda r: [["emial", *r[0][1:]]], "data.unknown-channel", "channel", "'email'"),
        (lambda r: [[r[0][0], "n/a", *r[0][2:]]], "data.bad-value", "spend", "'n/a'"),
        (lambda r: [[*r[0][:3], "nan", r[0][4]]], "data.bad-value", "delta_kpi", "finite"),
        (lambda r: [[r[0][0], 100, -150, -10, 5]], "data.bad-lift-test", "delta_spend", "negative"),
        (lambda r: [[r[0][0], 100, 0, 10, 5]], "data.bad-lift-test", "delta_spend", "change"),
    ],
)
def test_bad_lift_tests_are_a_clear_error(
    tmp_path: Path, edit: object, code: str, column: str, words: str
) -> None:
    paths = write(tmp_path)
    rows = edit(good_rows(RECENT))  # type: ignore[operator]
    path = tmp_path / "lifts.csv"
    if column == "sigma" and code == "data.missing-column":
        with path.open("w", newline="") as fh:
            csv.writer(fh).writerows([["channel", "spend", "delta_spend", "delta_kpi"], *rows])
    else:
        write_lifts(path, rows)
    paths["lift_tests"] = path
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), FAST), paths)
    err = info.value
    assert err.code == code and err.source == "lift_tests" and err.column == column
    assert words in str(err) + err.hint


def test_test_duration_is_optional_and_checked(tmp_path: Path) -> None:
    paths = write(tmp_path)
    path = tmp_path / "lifts.csv"
    rows = [[*r, w] for r, w in zip(good_rows(RECENT), ["4", "", "6"], strict=True)]
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [["channel", "spend", "delta_spend", "delta_kpi", "sigma", "weeks"], *rows]
        )
    paths["lift_tests"] = path
    out = run(tmp_path, plan(goal(), FAST), paths)
    assert [c.weeks for c in out.diagnostics.lift_tests] == [4, None, 6]
    rows[1][5] = "0"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [["channel", "spend", "delta_spend", "delta_kpi", "sigma", "weeks"], *rows]
        )
    with pytest.raises(DataError) as info:
        run(tmp_path, plan(goal(), FAST), paths)
    assert info.value.column == "weeks" and "row 2" in str(info.value)


def test_pipeline_with_lift_tests_through_the_cli(tmp_path: Path) -> None:
    src = ROOT / "tests" / "pipelines" / "budget" / "media.yaml"
    text = src.read_text().replace(
        "  outcomes: outcomes.csv\n", "  outcomes: outcomes.csv\n  lift_tests: lifts.csv\n"
    )
    (tmp_path / "media.yaml").write_text(text)
    shutil.copy(ROOT / "pipelines" / "brands" / "acme.yaml", tmp_path / "acme.yaml")
    write(tmp_path)
    write_lifts(tmp_path / "lifts.csv", good_rows(RECENT))
    cli = Cli(cwd=tmp_path, env=make_env(tmp_path))
    assert cli("validate", "media.yaml").returncode == 0
    r = cli("run", "media.yaml", "--run-id", "lift-1")
    assert r.returncode == 3, r.stdout[-3000:] + r.stderr[-3000:]
    ok = cli("approve", "lift-1", "budget", "--as", "rosa")
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    result = json.loads((tmp_path / ".conductor" / "runs" / "lift-1" / "result.json").read_text())
    checks = result["steps"]["budget"]["output"]["diagnostics"]["lift_tests"]
    assert [c["channel"] for c in checks] == ["search", "social", "email"]

    # A broken test file stops the run with one readable message, no traceback.
    write_lifts(tmp_path / "lifts.csv", [["search", 6000, -6000, -20000, -1]])
    bad = cli("run", "media.yaml", "--run-id", "lift-2")
    text = bad.stdout + bad.stderr
    assert bad.returncode == 1 and "Traceback" not in text  # the step failed on its data
    assert "data source 'lift_tests' column 'sigma': row 1: the standard error must be > 0" in text
    # The run's summary and report say where, too, not only the CLI.
    run_dir = tmp_path / ".conductor" / "runs" / "lift-2"
    where = "data source 'lift_tests' column 'sigma': row 1"
    assert f"**budget** failed: {where}" in (run_dir / "summary.md").read_text()
    assert where in html.unescape((run_dir / "report.html").read_text(encoding="utf-8"))
