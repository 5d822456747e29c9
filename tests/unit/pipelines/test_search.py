"""Tuning and AutoML mechanics: plans, median early stopping, determinism under parallel trials, exit criteria."""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer

from sextant_pipelines import automl, tune
from sextant_pipelines.crossval import Problem, TrialResult
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import AutomlSpec, ParamSpace, PreprocessingSpec, TuningSpec, parse_spec
from tests.unit.pipelines.helpers import spec as training_spec


@pytest.fixture(scope="module")
def problem() -> Problem:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X, y = X.iloc[:300], y.iloc[:300]
    return Problem("classification", profile(X, y, "classification").schema, PreprocessingSpec(), X, y,
                   "roc_auc", seed=7, folds=3)


def tuning(strategy: str, **overrides: Any) -> TuningSpec:
    space = [ParamSpace("C", "float", 1e-4, 100.0, log=True)]
    if strategy == "grid":
        space = [ParamSpace("C", "categorical", values=[0.001, 0.1, 10.0]),
                 ParamSpace("max_iter", "int", 100, 300, step=100)]
    return TuningSpec(**{"algorithm": "logistic_regression", "strategy": strategy, "search_space": space,
                         "max_trials": 8, "cv_folds": 3, **overrides})


def test_grid_plan_enumerates_every_point() -> None:
    spec = tuning("grid")
    plan = tune.grid_plan(spec.search_space, 100, 0)
    assert len(plan) == 9 and {p["max_iter"] for p in plan} == {100, 200, 300}
    assert len(tune.grid_plan(spec.search_space, 4, 0)) == 4


def test_random_plan_respects_bounds_and_log_scale() -> None:
    plan = tune.random_plan([ParamSpace("C", "float", 1e-4, 100.0, log=True),
                             ParamSpace("k", "int", 1, 5)], 200, 1)
    assert all(1e-4 <= p["C"] <= 100 and 1 <= p["k"] <= 5 for p in plan)
    assert sum(p["C"] < 0.1 for p in plan) > 60  # log-uniform: half of the decades lie below 0.1


def test_random_plan_draws_every_integer_evenly_and_a_small_list_space_once_each() -> None:
    plan = tune.random_plan([ParamSpace("k", "int", 1, 5)], 500, 3)
    counts = {k: sum(p["k"] == k for p in plan) for k in range(1, 6)}
    assert all(70 <= n <= 130 for n in counts.values()), counts  # the end points as likely as the middle ones
    lists = [ParamSpace("a", "categorical", values=["x", "y"]), ParamSpace("b", "categorical", values=[1, 2, 3])]
    small = tune.random_plan(lists, 20, 0)
    assert len(small) == 6 and len({(p["a"], p["b"]) for p in small}) == 6  # no trial repeats another
    assert tune.random_plan(lists, 4, 0) == tune.random_plan(lists, 4, 0) and len(tune.random_plan(lists, 4, 0)) == 4


@pytest.mark.parametrize("strategy", ["grid", "random", "bayesian"])
def test_parallel_trials_give_the_same_search_as_sequential(problem: Problem, strategy: str) -> None:
    sequential = tune.run_batches(problem, tuning(strategy), on_trial=lambda *_: None)
    parallel = tune.run_batches(problem, tuning(strategy, parallel_trials=4), on_trial=lambda *_: None)
    if strategy != "bayesian":  # TPE proposes in batches of 4 vs 1: different but still reproducible
        assert [t.params for t in sequential.trials] == [t.params for t in parallel.trials]
    again = tune.run_batches(problem, tuning(strategy, parallel_trials=4), on_trial=lambda *_: None)
    assert [(t.params, t.score) for t in again.trials] == [(t.params, t.score) for t in parallel.trials]
    assert parallel.best.score >= 0.97


def test_median_stopping_prunes_trials_below_the_median() -> None:
    stopping = tune.MedianStopping(min_trials=3)
    for score in (0.9, 0.8, 0.85):
        stopping.record(TrialResult(0, "a", {}, fold_scores=[score, score, score]))
    should_stop = stopping.frozen()
    assert should_stop(0, 0.7) and not should_stop(0, 0.86)
    stopping.record(TrialResult(0, "a", {}, fold_scores=[0.1, 0.1, 0.1]))
    assert should_stop(0, 0.84)  # the frozen view (median 0.85) ignores trials recorded later
    assert not stopping.frozen()(0, 0.84)  # a new view sees the weak trial: median 0.825


def test_early_stopping_waits_for_the_specs_min_trials() -> None:
    doc = training_spec("classification", "builtin:iris", "iris", tuning={
        "algorithm": "svm", "earlyStopping": {"strategy": "median", "minTrials": 2},
        "searchSpace": {"C": {"type": "float", "min": 0.01, "max": 100, "log": True}}})
    stopping = tune.median_stopping(parse_spec(doc).tuning)
    assert stopping is not None
    stopping.record(TrialResult(0, "svm", {}, fold_scores=[0.9, 0.9]))
    assert not stopping.frozen()(0, 0.1)  # one completed trial: too few to judge
    stopping.record(TrialResult(1, "svm", {}, fold_scores=[0.8, 0.8]))
    assert stopping.frozen()(0, 0.1) and not stopping.frozen()(1, 0.86)


def test_median_early_stopping_prunes_bad_candidates(problem: Problem) -> None:
    spec = tuning("random", max_trials=16, early_stopping="median",
                  search_space=[ParamSpace("C", "float", 1e-6, 100.0, log=True)])
    outcome = tune.run_batches(problem, spec, on_trial=lambda *_: None)
    counts = outcome.counts()
    assert counts["pruned"] >= 2 and counts["total"] == 16
    pruned = [t for t in outcome.trials if t.state == "pruned"]
    assert all(len(t.fold_scores) < 3 for t in pruned)


def test_automl_exit_criteria_and_ensemble(problem: Problem) -> None:
    target = automl.search(problem, AutomlSpec(time_budget_s=60, target_score=0.9,
                                               algorithms=["logistic_regression", "knn"]), on_trial=lambda *_: None)
    assert target.stopped_because.startswith("targetScore 0.9 reached") and len(target.trials) <= 2
    capped = automl.search(problem, AutomlSpec(time_budget_s=60, max_trials=6, ensemble="voting",
                                               algorithms=["logistic_regression", "knn", "naive_bayes"]),
                           on_trial=lambda *_: None)
    assert capped.stopped_because == "maxTrials 6 reached" and len(capped.trials) == 6
    assert "voting" in capped.ensemble_scores
    assert {t.algorithm for t in capped.trials} == {"logistic_regression", "knn", "naive_bayes"}


def test_automl_keeps_out_of_fold_outputs_only_where_an_ensemble_or_the_threshold_can_use_them(
        problem: Problem) -> None:
    outcome = automl.search(problem, AutomlSpec(time_budget_s=60, max_trials=10, ensemble="voting",
                                                algorithms=["logistic_regression", "knn"]), on_trial=lambda *_: None)
    holding = [t for t in outcome.trials if t.oof is not None]
    assert len(outcome.trials) == 10 and len(holding) <= 2  # the best trial of each of the two algorithms
    best = tune.best_trial(outcome.trials, "automl")
    assert best in holding and {t.algorithm for t in holding} == {"logistic_regression", "knn"}
    assert "voting" in outcome.ensemble_scores


def test_automl_stops_at_the_time_budget(problem: Problem) -> None:
    outcome = automl.search(problem, AutomlSpec(time_budget_s=3, algorithms=["logistic_regression", "knn"]),
                            on_trial=lambda *_: None)
    # Within the budget plus at most one fold's overrun (a fold cannot be interrupted); slow machines: the first
    # trial always completes.
    assert outcome.stopped_because.startswith("time budget")
    assert outcome.seconds < 3 + max(t.seconds / len(t.fold_scores) for t in outcome.trials if t.fold_scores) \
        or len(outcome.trials) == 1
