"""Counting feature values into the training baseline's bins (pure functions)."""

from __future__ import annotations

import numpy as np

from sextant_services.drift_bins import EDGE_COUNT_MIN_ROWS, NumericBinner, categorical_bin_labels, numeric_bin_labels


def test_numeric_values_fall_into_baseline_bins_and_outside_counts() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 9.0, np.nan])
    assert numeric_bin_labels(values, edges) == {"below": 1, "0": 2, "1": 1, "2": 2, "above": 1, "__missing__": 1}


def test_unseen_categories_fold_into_other() -> None:
    assert categorical_bin_labels(["a", "b", "zz", None], {"a", "b"}) == \
        {"a": 1, "b": 1, "__other__": 1, "__missing__": 1}


def test_large_batches_counted_edge_by_edge_match_the_broadcast_comparison() -> None:
    rng = np.random.default_rng(3)
    edges = {"a": np.histogram(rng.standard_normal(500), bins=10)[1], "b": np.array([0.0, 0.5, 2.0]),
             "c": np.linspace(-1.0, 1.0, 21)}
    binner = NumericBinner(edges)
    x = rng.standard_normal((3, EDGE_COUNT_MIN_ROWS + 100)) * 2
    for i, e in enumerate(edges.values()):  # every edge, both ends, NaN and far outside, in every feature
        x[i, : e.size] = e
        x[i, e.size: e.size + 3] = [np.nan, -1e9, 1e9]
    by_edges = binner.count(x)
    by_comparison = sum(binner.count(x[:, s: s + 50]) for s in range(0, x.shape[1], 50))
    assert by_edges.tolist() == by_comparison.tolist()
