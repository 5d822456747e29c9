"""Permutation importances in the model report fit the time an AutoML budget leaves: fewer shuffles, then fewer
rows for a model that predicts slowly, rather than none at all."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from sextant_pipelines import model_report
from sextant_pipelines.budget import REGISTER_SHARE, TAIL_FRACTION, TAIL_SECONDS, RunClock
from sextant_pipelines.model_report import IMPORTANCE_REPEATS, MIN_IMPORTANCE_ROWS, importance_plan, importances


@pytest.mark.parametrize(("allowance", "expected"), [
    (10.0, (2000, IMPORTANCE_REPEATS)),  # 3 shuffles of 20 features at 0.1 s: 6 s
    (3.0, (2000, 1)),  # one shuffle: 2 s
    (1.0, (800, 1)),  # half the rows predict in about half the time: aim at 80% of it
    (0.15, None),  # 150 rows would fit: too few to rank 20 features
    (-1.0, None),  # the budget is already spent
])
def test_the_plan_gives_up_shuffles_then_rows_then_the_importances(allowance: float,
                                                                    expected: tuple[int, int] | None) -> None:
    assert importance_plan(0.1, 2000, 20, allowance) == expected


def test_a_small_holdout_is_never_cut_below_what_it_has() -> None:
    assert importance_plan(0.01, 120, 10, 0.5) == (120, IMPORTANCE_REPEATS)
    assert importance_plan(0.01, 120, 10, 0.05) is None  # fewer than MIN_IMPORTANCE_ROWS would be left


def test_a_slow_model_gets_importances_from_fewer_rows_within_the_time_left() -> None:
    digits = load_digits(as_frame=True)
    X, y = digits.data, digits.target.astype(str)
    model = KNeighborsClassifier(algorithm="brute").fit(X, y)
    one_shuffle = min(_predict_seconds(model, X) for _ in range(4)) * X.shape[1]  # the first is slower (caches)
    # A budget that leaves 60% of one shuffle of every feature, whatever this machine's speed.
    allowance = one_shuffle * 0.6
    frozen = time.monotonic()
    clock = RunClock(_budget_leaving(allowance), started=frozen, now=lambda: frozen)
    left = clock.remaining() - clock.tail_seconds(evaluated=True)
    assert left * model_report.IMPORTANCE_SHARE == pytest.approx(allowance)
    started = time.perf_counter()
    found, note = importances(model, X, y, "accuracy", 0, clock)
    spent = time.perf_counter() - started
    used = int(note.split(" holdout rows")[0].rsplit(" ", 1)[1])
    assert "1 shuffle" in note and MIN_IMPORTANCE_ROWS <= used < len(X), note
    assert len(found) == model_report.SHOWN_FEATURES and max(found.values()) > 0
    assert spent < 3 * allowance + 1.0, (spent, allowance)  # two timing predictions on top of the shuffles


def _predict_seconds(model: KNeighborsClassifier, X: pd.DataFrame) -> float:
    started = time.perf_counter()
    model.predict(X)
    return time.perf_counter() - started


def _budget_leaving(allowance: float) -> float:
    """The timeBudget that, at its start and less its registration tail, lets the importances take `allowance`."""
    share = model_report.IMPORTANCE_SHARE
    return (allowance / share + TAIL_SECONDS * REGISTER_SHARE) / (1 - TAIL_FRACTION * REGISTER_SHARE)


def test_without_a_budget_every_holdout_row_gets_every_shuffle() -> None:
    digits = load_digits(as_frame=True)
    X, y = digits.data.iloc[:300], digits.target.astype(str).iloc[:300]
    model = KNeighborsClassifier().fit(X, y)
    found, note = importances(model, X, y, "accuracy", 0, None)
    assert f"{IMPORTANCE_REPEATS} shuffles" in note and "300 holdout rows" in note and found


def test_the_time_kept_for_the_refit_on_all_rows_is_not_theirs_to_take() -> None:
    digits = load_digits(as_frame=True)
    X, y = digits.data.iloc[:300], digits.target.astype(str).iloc[:300]
    model = KNeighborsClassifier().fit(X, y)
    frozen = time.monotonic()
    clock = RunClock(60.0, started=frozen, now=lambda: frozen)
    assert importances(model, X, y, "accuracy", 0, clock)[0]
    # the refit takes every second left after the registration tail (a fixed 58 s left 0.16 s, in which a fast
    # machine predicts 64 shuffles of 300 rows)
    left = clock.remaining() - clock.tail_seconds(evaluated=True)
    found, note = importances(model, X, y, "accuracy", 0, clock, reserved=left)
    assert found == {} and note.startswith("skipped:") and "a longer budget gives them" in note
