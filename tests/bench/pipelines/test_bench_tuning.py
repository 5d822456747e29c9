"""Benchmark: Bayesian (TPE) tuning against random search, side by side on the same problems and seeds.

For each problem and seed, random search runs N trials; its best CV score is the bar. Reported: the share of
N trials Bayesian search needed to reach that bar (1.0+ when it never did). Goal: median <= 0.6.
Environment: SEXTANT_BENCH_TUNING_TRIALS (default 40), SEXTANT_BENCH_TUNING_SEEDS (default 5).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn import datasets

from sextant_pipelines import tune
from sextant_pipelines.crossval import Problem
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import ParamSpace, PreprocessingSpec, TuningSpec
from tests.bench.pipelines.common import env_int, median, write_results

PROBLEMS: dict[str, dict[str, Any]] = {
    "digits / svm (C, gamma) / accuracy": {
        "dataset": "digits", "task": "classification", "metric": "accuracy", "algorithm": "svm",
        "params": {"probability": False},
        "space": [ParamSpace("C", "float", 1e-2, 1e3, log=True), ParamSpace("gamma", "float", 1e-5, 1e-1, log=True)]},
    "diabetes / svr (C, gamma, epsilon) / r2": {
        "dataset": "diabetes", "task": "regression", "metric": "r2", "algorithm": "svr", "params": {},
        "space": [ParamSpace("C", "float", 1e-2, 1e3, log=True), ParamSpace("gamma", "float", 1e-4, 1.0, log=True),
                  ParamSpace("epsilon", "float", 1e-3, 1.0, log=True)]},
    "breast_cancer / hist_gradient_boosting (4 params) / roc_auc": {
        "dataset": "breast_cancer", "task": "classification", "metric": "roc_auc",
        "algorithm": "hist_gradient_boosting", "params": {"max_iter": 60},
        "space": [ParamSpace("learning_rate", "float", 1e-3, 0.5, log=True),
                  ParamSpace("max_leaf_nodes", "int", 2, 64, log=True),
                  ParamSpace("min_samples_leaf", "int", 2, 100, log=True),
                  ParamSpace("l2_regularization", "float", 1e-6, 10.0, log=True)]},
}


def problem_for(config: dict[str, Any], seed: int) -> Problem:
    X, y = getattr(datasets, f"load_{config['dataset']}")(return_X_y=True, as_frame=True)
    schema = profile(X, y, config["task"]).schema
    return Problem(config["task"], schema, PreprocessingSpec(), X, y, config["metric"], seed, 3)


def running_best(trials: list[Any]) -> list[float]:
    scores = [t.score if t.state == "complete" else float("-inf") for t in trials]
    return list(np.maximum.accumulate(scores))


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_bayesian_against_random_search() -> None:
    trials = env_int("SEXTANT_BENCH_TUNING_TRIALS", 40)
    seeds = env_int("SEXTANT_BENCH_TUNING_SEEDS", 5)
    table = ["| problem | seed | random best | bayesian best | trials to reach random's best | share |",
             "|---|---:|---:|---:|---:|---:|"]
    shares: dict[str, list[float]] = {}
    for name, config in PROBLEMS.items():
        for seed in range(seeds):
            problem = problem_for(config, seed)
            runs = {}
            for strategy in ("random", "bayesian"):
                spec = TuningSpec(config["algorithm"], strategy, config["space"], max_trials=trials, cv_folds=3,
                                  params=config["params"])
                runs[strategy] = running_best(tune.run_batches(problem, spec, on_trial=lambda *_: None).trials)
            bar = runs["random"][-1]
            reached = next((i + 1 for i, s in enumerate(runs["bayesian"]) if s >= bar - 1e-12), None)
            share = (reached / trials) if reached else 1.0 + 1.0 / trials
            shares.setdefault(name, []).append(share)
            table.append(f"| {name} | {seed} | {bar:.5f} | {runs['bayesian'][-1]:.5f} | "
                         f"{reached if reached else f'not within {trials}'} | {share:.2f} |")
            print(table[-1], flush=True)
    overall = median([s for values in shares.values() for s in values])
    table.append("")
    for name, values in shares.items():
        table.append(f"- {name}: median share {median(values):.2f}")
    table.append(f"- overall median share of random search's trials: {overall:.2f} (goal <= 0.60), "
                 f"{trials} trials per search, {seeds} seeds")
    write_results("pipelines-bayesian-vs-random", {"shares": shares, "median": overall, "trials": trials}, table)
