"""Baseline and live counts made the way production makes them: profile.py's baseline, drift_bins.py's counting.

Shared by the drift unit tests and the drift benchmark, so both measure the engine on the server's binning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines.profile import feature_baseline
from sextant_services.drift import FeatureCounts, baseline_counts, live_counts
from sextant_services.drift_bins import NumericBinner


def feature_names(count: int) -> list[str]:
    return [f"f{i:03d}" for i in range(count)]


def numeric_baseline_document(train: np.ndarray) -> dict[str, Any]:
    """The manifest's `baseline` for a (features, rows) matrix of numeric training values, as profile.py writes it."""
    names = feature_names(train.shape[0])
    features = {n: feature_baseline(FeatureSpec(n, "numeric", "float64", False), pd.Series(train[i]))
                for i, n in enumerate(names)}
    return {"features": features, "rows": train.shape[1]}


@dataclass(frozen=True)
class NumericSetup:
    """A baseline's counts and the server's binner for its bins."""

    baseline: dict[str, FeatureCounts]
    binner: NumericBinner


def numeric_setup(train: np.ndarray) -> NumericSetup:
    document = numeric_baseline_document(train)
    edges = {n: np.asarray(s["bins"], dtype=np.float64) for n, s in document["features"].items()}
    return NumericSetup(baseline_counts(document), NumericBinner(edges))


def labelled(binner: NumericBinner, slot_counts: np.ndarray) -> dict[str, dict[str, float]]:
    """Slot counts as `sextant_feature_bin_total` would show them summed by feature and bin."""
    out: dict[str, dict[str, float]] = {}
    for (feature, label), count in zip(binner.slot_labels(), slot_counts.tolist(), strict=True):
        out.setdefault(feature, {})[label] = float(count)
    return out


def live_numeric_counts(setup: NumericSetup, live: np.ndarray) -> dict[str, FeatureCounts]:
    """Live counts for a (features, rows) matrix, counted by the server's binner."""
    return live_counts(setup.baseline, labelled(setup.binner, setup.binner.count(live)))


def normal_trial(rng: np.random.Generator, features: int, train_rows: int, live_rows: int,
                 shifts: tuple[float, ...]) -> tuple[dict[str, FeatureCounts], list[dict[str, FeatureCounts]]]:
    """A fresh standard-normal baseline and, per shift, a live sample whose first feature's mean moves by it (sigma)."""
    setup = numeric_setup(rng.standard_normal((features, train_rows)))
    lives = []
    for shift in shifts:
        live = rng.standard_normal((features, live_rows))
        live[0] += shift
        lives.append(live_numeric_counts(setup, live))
    return setup.baseline, lives
