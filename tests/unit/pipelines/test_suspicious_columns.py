"""The data-quality report warns about ID-like columns and columns that give the target away."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes

from sextant_pipelines.profile import profile, stump_accuracy


def test_ids_and_leaks_are_warned_about_and_ordinary_features_are_not() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    assert profile(X, y, "classification").warnings == []
    rng = np.random.default_rng(0)
    X["row_id"] = np.arange(len(X))
    X["order_key"] = [f"k-{i:05d}" for i in range(len(X))]
    X["outcome_score"] = y * 2 + rng.random(len(X)) * 0.1  # computed from the label
    X["outcome_text"] = y.map({0: "malignant", 1: "benign"})
    warnings = " ".join(profile(X, y, "classification").warnings)
    assert "'row_id' looks like an ID" in warnings and "'order_key' looks like an ID" in warnings
    assert "'outcome_score' alone predicts the target" in warnings and "'outcome_text' alone" in warnings
    assert "dataset.exclude" in warnings and "mean radius" not in warnings


def test_a_regression_leak_is_found_by_correlation() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    assert profile(X, y, "regression").warnings == []
    X["target_in_cents"] = y * 100
    assert any("'target_in_cents' alone predicts" in w for w in profile(X, y, "regression").warnings)


def test_the_stump_finds_the_best_single_threshold() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert stump_accuracy(x, np.array(["a", "a", "a", "b", "b", "b"])) == 1.0
    assert stump_accuracy(x, np.array(["a", "b", "a", "b", "a", "b"])) == 4 / 6
