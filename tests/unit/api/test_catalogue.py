"""The catalogue covers the common scikit-learn estimators with their real hyperparameter names."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from sextant_contracts.catalogue import ALGORITHMS, DEFAULT_METRIC, METRICS, Param

EXPECTED = {
    "classification": {"logistic_regression", "random_forest", "gradient_boosting", "hist_gradient_boosting",
                       "svm", "knn", "decision_tree", "extra_trees", "naive_bayes", "sgd", "lightgbm", "xgboost"},
    "regression": {"linear_regression", "ridge", "lasso", "elastic_net", "random_forest", "gradient_boosting",
                   "hist_gradient_boosting", "svr", "knn", "decision_tree", "extra_trees", "lightgbm", "xgboost"},
    "clustering": {"kmeans", "minibatch_kmeans", "birch", "gaussian_mixture"},
    "anomalyDetection": {"isolation_forest", "one_class_svm", "local_outlier_factor", "elliptic_envelope"},
}


def test_every_expected_algorithm_is_offered() -> None:
    assert {task: set(algos) for task, algos in ALGORITHMS.items()} == EXPECTED


def test_default_metrics_belong_to_their_task() -> None:
    for task, metric in DEFAULT_METRIC.items():
        assert metric in METRICS[task]


def test_importing_the_catalogue_and_operator_does_not_load_scikit_learn() -> None:
    code = ("import sys, sextant_contracts.catalogue, sextant_operator.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'pandas', 'bentoml')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("task,name", [(t, n) for t, algos in EXPECTED.items() for n in sorted(algos)])
def test_hyperparameter_names_are_those_of_the_scikit_learn_estimator(task: str, name: str) -> None:
    pytest.importorskip("sklearn")
    algo = ALGORITHMS[task][name]  # type: ignore[index]
    module, _, cls = algo.estimator.rpartition(".")
    estimator = getattr(importlib.import_module(module), cls)
    # XGBoost's classes take most of their parameters as **kwargs of a base class; get_params lists them all.
    real = set(inspect.signature(estimator).parameters) | set(estimator().get_params())
    assert set(algo.params) <= real, f"not parameters of {algo.estimator}: {set(algo.params) - real}"


def test_param_accepts_ints_where_floats_are_expected_but_not_the_reverse() -> None:
    assert Param(("float",)).accepts(1)
    assert not Param(("int",)).accepts(1.5)
    assert not Param(("int",)).accepts(True)
    assert Param(("str",), ("a", "b")).accepts("a") and not Param(("str",), ("a", "b")).accepts("c")
