"""Benchmark: Sextant AutoML against FLAML at equal time budgets on five bundled datasets, repeated splits.

Both get the same training rows, the same budget, one core each (FLAML n_jobs=1, Sextant parallelTrials=1),
5-fold CV inside, and are scored on the same holdout (accuracy, or R2 for diabetes). Reported: the ratio
Sextant / FLAML of mean holdout scores per dataset and budget. Goal: >= 0.99 on at least four of five.
Environment: SEXTANT_BENCH_BUDGETS (default "30,120"), SEXTANT_BENCH_REPEATS (default 2).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import datasets
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sextant_pipelines import automl
from sextant_pipelines.crossval import Problem
from sextant_pipelines.preprocess import build_model
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import AutomlSpec, PreprocessingSpec
from tests.bench.pipelines.common import env_int, write_results

DATASETS = {"breast_cancer": "classification", "wine": "classification", "digits": "classification",
            "iris": "classification", "diabetes": "regression"}
FLAML_PYTHON = Path(os.environ.get("SEXTANT_FLAML_VENV", Path.home() / ".cache/sextant/bench/flaml-2.7.0")) / \
    "bin" / "python"
FOLDS = 5


def split(name: str, seed: int) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True, as_frame=True)
    index = np.arange(len(X))
    stratify = y if DATASETS[name] == "classification" else None
    train, test = train_test_split(index, test_size=0.25, random_state=seed, stratify=stratify)
    return X, y, train, test


def sextant_score(name: str, seed: int, budget: float) -> dict[str, Any]:
    X, y, train, test = split(name, seed)
    task = DATASETS[name]
    metric = "accuracy" if task == "classification" else "r2"
    X_train, y_train = X.iloc[train], y.iloc[train]
    started = time.perf_counter()
    schema = profile(X_train, y_train, task).schema
    problem = Problem(task, schema, PreprocessingSpec(), X_train, y_train, metric, seed, FOLDS)
    outcome = automl.search(problem, AutomlSpec(time_budget_s=budget, ensemble="stacking", cv_folds=FOLDS),
                            on_trial=lambda *_: None)
    model = build_model(schema, PreprocessingSpec(), automl.final_estimator(problem, outcome))
    with threadpool_limits(limits=1):
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    predicted = model.predict(X.iloc[test])
    score = accuracy_score(y.iloc[test], predicted) if task == "classification" else r2_score(y.iloc[test], predicted)
    return {"score": float(score), "estimator": outcome.algorithm(), "seconds": seconds, "trials": len(outcome.trials)}


def flaml_score(name: str, seed: int, budget: float) -> dict[str, Any]:
    _, _, train, test = split(name, seed)
    request = {"dataset": name, "task": DATASETS[name], "train": train.tolist(), "test": test.tolist(),
               "budget": budget, "seed": seed, "n_jobs": 1, "folds": FOLDS}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(request, handle)
    runner = Path(__file__).with_name("flaml_runner.py")
    proc = subprocess.run([str(FLAML_PYTHON), str(runner), handle.name], capture_output=True, text=True,
                          timeout=budget * 3 + 120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    os.unlink(handle.name)
    if proc.returncode != 0:
        raise RuntimeError(f"FLAML runner failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


BUDGETS = [float(b) for b in os.environ.get("SEXTANT_BENCH_BUDGETS", "30,120").split(",")]


@pytest.mark.bench
@pytest.mark.timeout(4 * 3600)  # bounded below: datasets x repeats x 2 systems x budget (+ FLAML's own timeout)
@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"{b:.0f}s")
def test_automl_against_flaml(budget: float) -> None:
    if not FLAML_PYTHON.exists():
        pytest.skip(f"FLAML venv missing at {FLAML_PYTHON}: run bash tests/bench/pipelines/setup.sh")
    repeats = env_int("SEXTANT_BENCH_REPEATS", 2)
    runs: list[dict[str, Any]] = []
    for name in DATASETS:
        for repeat in range(repeats):
            seed = 1000 + repeat
            ours, theirs = sextant_score(name, seed, budget), flaml_score(name, seed, budget)
            runs.append({"budget": budget, "dataset": name, "seed": seed, "sextant": ours, "flaml": theirs})
            print(f"{budget:>5.0f}s {name:<14} seed {seed}: sextant {ours['score']:.4f} ({ours['estimator']}, "
                  f"{ours['seconds']:.1f}s, {ours['trials']} trials) flaml {theirs['score']:.4f} "
                  f"({theirs['estimator']}, {theirs['seconds']:.1f}s)", flush=True)
    table = ["| budget | dataset | metric | Sextant | FLAML | ratio | Sextant s | FLAML s |",
             "|---:|---|---|---:|---:|---:|---:|---:|"]
    ratios: dict[str, float] = {}
    for name in DATASETS:
        rows = [r for r in runs if r["dataset"] == name]
        ours_mean = float(np.mean([r["sextant"]["score"] for r in rows]))
        theirs_mean = float(np.mean([r["flaml"]["score"] for r in rows]))
        ratios[name] = ours_mean / theirs_mean
        table.append(f"| {budget:.0f} s | {name} | {'accuracy' if DATASETS[name] == 'classification' else 'R2'} "
                     f"| {ours_mean:.4f} | {theirs_mean:.4f} | {ratios[name]:.4f} | "
                     f"{np.mean([r['sextant']['seconds'] for r in rows]):.1f} | "
                     f"{np.mean([r['flaml']['seconds'] for r in rows]):.1f} |")
    table.append(f"\n{budget:.0f} s: ratio >= 0.99 on {sum(r >= 0.99 for r in ratios.values())} of {len(ratios)} "
                 f"datasets (goal: at least 4), {repeats} splits each")
    write_results(f"pipelines-automl-vs-flaml-{budget:.0f}s", {"runs": runs, "ratios": ratios, "repeats": repeats},
                  table)
