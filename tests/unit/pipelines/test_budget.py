"""AutoML's time budget is the user's wall time: ingest to registration, with the search spending what is left."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from sextant_pipelines import automl
from sextant_pipelines.budget import RunClock, SearchBudget, refit_seconds
from sextant_pipelines.catalogue import CATALOGUE
from sextant_pipelines.crossval import Problem, TrialResult, cross_validate
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import AutomlSpec, PreprocessingSpec


class FakeTime:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def budget_with(seconds: float, now: FakeTime) -> SearchBudget:
    return SearchBudget(RunClock(seconds, started=now(), now=now), folds=5, refits=2)


def test_the_search_keeps_the_tail_and_the_best_models_refits_out_of_its_time() -> None:
    now = FakeTime()
    budget = budget_with(30, now)
    tail = budget.clock.tail_seconds()
    assert budget.search_deadline() == 130 - tail
    budget.keep_refit_of(10.0)  # a 5-fold CV of 10 s: two refits of about 2.5 s each, with a margin
    assert budget.search_deadline() == 130 - tail - refit_seconds(10.0, 5, 2)
    assert 5.0 < refit_seconds(10.0, 5, 2) < 8.0


def test_a_costly_algorithm_is_never_started_but_cheaper_ones_go_on() -> None:
    now = FakeTime()
    budget = budget_with(30, now)
    budget.learn("random_forest", 20.0, True)
    budget.learn("logistic_regression", 0.5, True)
    now.value += 15  # 15 s left, less the tail: a 20 s trial does not fit, a 0.5 s one does
    assert not budget.affords("random_forest") and budget.affords("logistic_regression")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    trials = [TrialResult(0, "logistic_regression", {}, score=0.9), TrialResult(1, "random_forest", {}, score=0.95)]
    picked = [automl._ask_affordable(study, ["random_forest", "logistic_regression"], "classification", budget,
                                     trials, 1)[1][0][0] for _ in range(10)]
    assert picked == ["logistic_regression"] * 10
    now.value += 14  # past the search's deadline: nothing fits, the search ends
    assert automl._ask_affordable(study, ["random_forest", "logistic_regression"], "classification", budget,
                                  trials, 1) == ([], [])


def small_problem() -> Problem:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return Problem("classification", profile(X, y, "classification").schema, PreprocessingSpec(), X, y,
                   "accuracy", seed=0, folds=5)


def test_a_kernel_svm_on_many_rows_is_tried_last_and_not_at_all_when_its_cost_does_not_fit() -> None:
    """On 12,000 rows SVR's default trial took 20 s of a 30 s budget while gradient boosting took under 1 s: its
    cost grows with the square of the rows, so on many rows it goes last and is skipped when it cannot fit."""
    spec = AutomlSpec(time_budget_s=30)
    few, many = (automl.candidate_algorithms("regression", spec, rows) for rows in (500, 12_000))
    assert few.index("svr") < few.index("random_forest")
    assert many[-1] == "svr"
    now = FakeTime()
    weights = {n: CATALOGUE["regression"][n].cost_at(12_000) for n in many}
    budget = SearchBudget(RunClock(30, started=now(), now=now), folds=5, refits=2, weights=weights)
    budget.learn("random_forest", 6.0, True)
    now.value += 8  # 22 s left: another random forest fits, an SVR (estimated from the forest's cost) does not
    assert budget.affords("random_forest") and not budget.affords("svr")
    assert weights["svr"] == 24 * weights["ridge"]  # 2 at 1,000 rows, times 12


def test_a_trial_that_cannot_finish_stops_before_its_next_fold() -> None:
    asked: list[float] = []

    def gate(expected: float) -> bool:
        asked.append(expected)
        return len(asked) <= 2

    result = cross_validate(small_problem(), 0, "logistic_regression", {}, fold_gate=gate, first_fold_s=0.25)
    assert result.state == "pruned" and len(result.fold_scores) == 2 and "time budget" in result.error
    assert asked[0] == 0.25 and asked[2] > 0  # then the mean of the folds it ran


def test_sextant_train_ends_within_the_budget_and_uses_it(tmp_path: Path) -> None:
    """The CLI as a pod runs it: defaults only, a short budget on a dataset whose trials take seconds."""
    budget = 20
    frame = pd.concat([load_breast_cancer(as_frame=True).frame] * 4, ignore_index=True)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    job = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "b", "namespace": "ml"},
           "spec": {"task": "classification", "model": {"name": "budgeted"},
                    "dataset": {"uri": (tmp_path / "rows.csv").as_uri(), "target": "target"},
                    "automl": {"timeBudget": f"{budget}s"}}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sextant_pipelines", "run", "--spec", str(tmp_path / "job.yaml"),
                           "--store", (tmp_path / "store").as_uri(), "--result", str(tmp_path / "result.json")],
                          capture_output=True, text=True, timeout=300)
    process_seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    if result["trials"]["total"] == 1 and result["durationSeconds"] > budget + 3:
        pytest.skip(f"machine too loaded: the fixed costs and the one trial every run completes took "
                    f"{result['durationSeconds']} s of a {budget} s budget")
    assert result["durationSeconds"] <= budget + 3, proc.stderr[-3000:]  # ingest to registration
    assert result["durationSeconds"] >= budget * 0.6  # the search spent what the fixed costs left
    assert result["search"]["stoppedBecause"].startswith("time budget")  # trials: as many as the machine allows
    assert result["finalModel"]["rows"] in (len(frame), int(len(frame) * 0.8) + 1, int(len(frame) * 0.8))
    print(f"budget {budget} s: run {result['durationSeconds']} s, process {process_seconds:.1f} s, "
          f"{result['trials']['total']} trials, final model on {result['finalModel']}")
