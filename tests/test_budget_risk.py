"""Risk-aware budget decisions (issue 18 item 3): `decision: guarded` bounds the share of
refits doing worse than the current mix; the headline states the uplift's interval and
its probability, and an interval that reaches zero is not called a gain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_budget import goal, plan, run, write
from test_budget_validation import write_no_media

from agents.budget import Estimate

REFITS = {"bootstrap": 10}


def _amounts(out) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([c.amount for c in out.channels])


def test_guarded_steps_back_towards_the_current_mix_when_refits_disagree(tmp_path: Path) -> None:
    # Spend that does nothing, the out-of-sample check off: the refits chase noise.
    paths = write_no_media(tmp_path)
    params = {**REFITS, "cv_folds": 0}
    free = run(tmp_path / "a", plan(goal(), {**params, "decision": "resampled"}), paths)
    out = run(tmp_path / "b", plan(goal(), {**params, "decision": "guarded"}), paths)
    assert out.decision == "guarded" and free.decision == "resampled"
    assert free.uplift_probability is not None and free.uplift_probability < 0.9
    assert out.uplift_probability is not None and out.uplift_probability >= 0.9
    prev = np.array([c.previous for c in out.channels])
    step = (_amounts(out) - prev) / (_amounts(free) - prev)  # on the segment between them
    assert np.allclose(step, step[0]) and 0 <= step[0] < 1
    assert any(w.startswith("decision guarded: the plan moves") for w in out.warnings)
    assert sum(_amounts(out)) == pytest.approx(130000)
    for c in out.channels:
        assert c.min_amount - 1e-6 <= c.amount <= c.max_amount + 1e-6


def test_guarded_is_the_resampled_split_when_the_refits_agree(tmp_path: Path) -> None:
    paths = write(tmp_path)
    free = run(tmp_path / "a", plan(goal(), {**REFITS, "decision": "resampled"}), paths)
    out = run(tmp_path / "b", plan(goal(), {**REFITS, "decision": "guarded"}), paths)
    assert out.decision == "guarded" and out.uplift_probability == 1.0
    np.testing.assert_allclose(_amounts(out), _amounts(free))
    assert not any(w.startswith("decision guarded") for w in out.warnings)


def test_a_tighter_bound_moves_less(tmp_path: Path) -> None:
    paths = write_no_media(tmp_path)
    params = {**REFITS, "cv_folds": 0, "decision": "guarded"}
    loose = run(tmp_path / "a", plan(goal(), {**params, "max_loss_probability": 0.5}), paths)
    tight = run(tmp_path / "b", plan(goal(), {**params, "max_loss_probability": 0.05}), paths)
    prev = np.array([c.previous for c in loose.channels])
    assert np.abs(_amounts(tight) - prev).sum() <= np.abs(_amounts(loose) - prev).sum() + 1e-6


def test_an_uplift_whose_interval_reaches_zero_is_not_called_a_gain(tmp_path: Path) -> None:
    out = run(tmp_path, plan(goal(), {**REFITS, "cv_folds": 0}), write_no_media(tmp_path))
    assert out.uplift.low <= 0 < out.uplift.value  # this world's plan gains nothing sure
    head = out.summary().splitlines()[0]
    u = out.uplift
    assert f"{u.value:+,.0f} [{u.low:+,.0f}, {u.high:+,.0f}] vs the current mix" in head
    assert f"P(gain) {out.uplift_probability:.0%}; not a demonstrated gain" in head
    statement = out.insights[0].statement
    assert "includes zero: not a demonstrated gain" in statement and " adds " not in statement
    assert out.insights[0].evidence["uplift_probability"] == pytest.approx(
        out.uplift_probability, abs=1e-4
    )


def test_a_sure_gain_is_stated_with_its_interval_and_probability(tmp_path: Path) -> None:
    out = run(tmp_path, plan(goal(), REFITS))
    sure = out.model_copy(
        update={"uplift": Estimate(value=900.0, low=100.0, high=1500.0), "uplift_probability": 1}
    )
    head = sure.summary().splitlines()[0]
    assert "+900 [+100, +1,500] vs the current mix" in head
    assert "P(gain) 100%" in head and "not a demonstrated gain" not in head
    assert out.insights[0].statement.startswith("The recommended split adds ")
