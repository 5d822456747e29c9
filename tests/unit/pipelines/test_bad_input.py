"""Mistakes in specs and data fail fast, name the problem and the fix, and register nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sextant_contracts.errors import ContractError
from sextant_pipelines.flow import RunContext, run_training
from tests.unit.pipelines.helpers import spec

Case = Callable[[Path], dict[str, Any]]


def csv(tmp: Path, frame: pd.DataFrame, name: str = "data.csv") -> str:
    frame.to_csv(tmp / name, index=False)
    return (tmp / name).as_uri()


def frame(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows), "target": np.arange(rows) % 2})


def est(uri: str, **extra: Any) -> dict[str, Any]:
    return spec("classification", uri, "m", estimator={"algorithm": "logistic_regression"}, **extra)


CASES: dict[str, tuple[Case, list[str]]] = {
    "missing target column": (
        lambda t: est(csv(t, frame()), target="label"), ["'label' is not in the dataset", "dataset.target"]),
    "single class": (
        lambda t: est(csv(t, frame().assign(target=1))), ["single class", "at least two classes"]),
    "all-missing feature": (
        lambda t: est(csv(t, frame().assign(b=np.nan))), ["'b' has no values", "dataset.exclude"]),
    "unreadable file": (
        lambda t: (t / "x.parquet").write_bytes(b"PAR1 not really parquet") and est((t / "x.parquet").as_uri()),
        ["could not be read as parquet", "truncated or corrupt"]),
    "wrong format": (
        lambda t: (frame().to_parquet(t / "d.csv"), est((t / "d.csv").as_uri()))[1],
        ["could not be read as csv", "set dataset.format: parquet"]),
    "unknown algorithm": (
        lambda t: spec("classification", "builtin:iris", "m", estimator={"algorithm": "random_forrest"}),
        ["spec.estimator.algorithm", "did you mean 'random_forest'"]),
    "unknown hyperparameter": (
        lambda t: spec("classification", "builtin:iris", "m",
                       estimator={"algorithm": "random_forest", "params": {"n_estimator": 10}}),
        ["spec.estimator.params[n_estimator]", "did you mean 'n_estimators'"]),
    "invalid hyperparameter value": (
        lambda t: spec("classification", "builtin:iris", "m",
                       estimator={"algorithm": "random_forest", "params": {"n_estimators": -5}}),
        ["spec.estimator.params[n_estimators]", "range [1, inf)"]),
    "inconsistent search space": (
        lambda t: spec("classification", "builtin:iris", "m", tuning={
            "algorithm": "svm", "strategy": "random", "searchSpace": {"C": {"type": "float", "min": 10, "max": 1}}}),
        ["spec.tuning.searchSpace[C].min", "min must be less than max"]),
    "grid over a continuous range": (
        lambda t: spec("classification", "builtin:iris", "m", tuning={
            "algorithm": "svm", "strategy": "grid", "searchSpace": {"C": {"type": "float", "min": 1, "max": 10}}}),
        ["grid search cannot enumerate a float range", "give each float dimension a step"]),
    "search space outside the estimator's domain": (
        lambda t: spec("classification", "builtin:iris", "m", tuning={
            "algorithm": "knn", "strategy": "random", "searchSpace": {"n_neighbors": {"type": "int", "min": 0,
                                                                                       "max": 5}}}),
        ["spec.tuning.searchSpace[n_neighbors].min", "range [1, inf)"]),
    "empty dataset": (
        lambda t: est(csv(t, frame().iloc[:0])), ["has a header but no rows", "dataset.uri"]),
    "zero-byte file": (
        lambda t: (t / "empty.csv").write_bytes(b"") or est((t / "empty.csv").as_uri()), ["is empty (0 bytes"]),
    "missing local file": (
        lambda t: est((t / "absent.csv").as_uri()), ["absent.csv does not exist", "check the path"]),
    "unknown builtin dataset": (
        lambda t: est("builtin:titanic"), ["spec.dataset.uri", "builtin:titanic", "breast_cancer"]),
    "unsupported URI scheme": (
        lambda t: est("http://example.com/data.csv"), ["spec.dataset.uri", "s3://bucket/key"]),
    "non-numeric regression target": (
        lambda t: spec("regression", csv(t, frame().assign(target=["x", "y"] * 20)), "m",
                       estimator={"algorithm": "ridge"}), ["is not numeric", "task: classification"]),
    "metric of another task": (
        lambda t: spec("classification", "builtin:iris", "m", estimator={"algorithm": "knn"},
                       objective={"metric": "rmse"}), ["spec.objective.metric", "choose one of: accuracy"]),
    "acceptance on an unknown metric": (
        lambda t: spec("regression", "builtin:diabetes", "m", estimator={"algorithm": "ridge"},
                       acceptance=[{"metric": "auc", "min": 0.5}]), ["acceptance[0].metric", "rmse"]),
    "two training modes": (
        lambda t: spec("classification", "builtin:iris", "m", estimator={"algorithm": "knn"},
                       automl={"timeBudget": "1m"}), ["exactly one of spec.estimator, spec.tuning or spec.automl"]),
    "invalid model name": (
        lambda t: spec("classification", "builtin:iris", "Churn Model!", estimator={"algorithm": "knn"}),
        ["spec.model.name", "should match"]),
    "class with one row": (
        lambda t: est(csv(t, frame().assign(target=[0] * 20 + [1] * 19 + [2]))), ["has a single row", "class"]),
    "unknown feature column": (
        lambda t: est("builtin:iris", features=["petal width (cm)", "colour"]), ["'colour'", "dataset.features"]),
    "bad time budget": (
        lambda t: spec("regression", "builtin:diabetes", "m", automl={"timeBudget": "ten minutes"}),
        ["spec.automl.timeBudget", "should match", "1h30m"]),
    "zero time budget": (
        lambda t: spec("regression", "builtin:diabetes", "m", automl={"timeBudget": "0m"}),
        ["spec.automl.timeBudget", "longer than 0s"]),
    "holdout of nothing": (
        lambda t: est("builtin:iris", **{"split": {"testFraction": 0}}),
        ["spec.split.testFraction", "0.05"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mistake_fails_fast_with_a_named_fix(case: str, tmp_path: Path) -> None:
    build, fragments = CASES[case]
    doc = build(tmp_path)
    store = tmp_path / "store"
    started = time.perf_counter()
    with pytest.raises(ContractError) as caught:
        run_training(doc, RunContext(store.as_uri()))
    elapsed = time.perf_counter() - started
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert caught.value.fix, "every error must say how to fix it"
    assert elapsed < 10, f"took {elapsed:.1f} s: validation must happen before training"
    assert not (store / "models").exists(), "nothing may be registered"


def test_there_are_at_least_fifteen_distinct_mistakes() -> None:
    assert len(CASES) >= 15
