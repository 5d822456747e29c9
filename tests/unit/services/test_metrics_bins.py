"""Counting feature values into the training baseline's bins (pure functions)."""

from __future__ import annotations

import numpy as np

from sextant_services.drift_bins import categorical_bin_labels, numeric_bin_labels


def test_numeric_values_fall_into_baseline_bins_and_outside_counts() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 9.0, np.nan])
    assert numeric_bin_labels(values, edges) == {"below": 1, "0": 2, "1": 1, "2": 2, "above": 1, "__missing__": 1}


def test_unseen_categories_fold_into_other() -> None:
    assert categorical_bin_labels(["a", "b", "zz", None], {"a", "b"}) == \
        {"a": 1, "b": 1, "__other__": 1, "__missing__": 1}
