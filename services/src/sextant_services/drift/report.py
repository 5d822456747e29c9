"""The drift decision: one test per feature by type, a multiple-testing correction, an effect-size floor, a verdict.

Rule (see docs/drift.md): a feature drifts when its corrected p-value is at most `alpha` AND its PSI is at least
`min_psi`; the dataset drifts when any feature drifts. Under no drift at all, Benjamini-Hochberg's false discovery
rate equals the chance of any alarm, so the dataset-level false-alarm rate is at most `alpha` (Holm bounds it for
any dependence). A feature with fewer than `min_samples` values on either side is `insufficient_data`, and the
dataset is never `no_drift` while any feature is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy.stats import false_discovery_control

from sextant_contracts.errors import DriftInputError
from sextant_services.drift.counts import FeatureCounts, Kind, check_comparable
from sextant_services.drift.statistics import (
    binned_ks,
    chi_square_homogeneity,
    jensen_shannon_distance,
    population_stability_index,
)

Verdict = Literal["drifted", "no_drift", "insufficient_data"]
Correction = Literal["benjamini-hochberg", "holm"]
CORRECTIONS: tuple[Correction, ...] = ("benjamini-hochberg", "holm")


@dataclass(frozen=True)
class DriftPolicy:
    """How sure (alpha after correction), how big (PSI floor) and how much data (min samples) a drift must be."""

    alpha: float = 0.05
    correction: Correction = "benjamini-hochberg"
    min_psi: float = 0.02
    min_samples: int = 200

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise DriftInputError(f"policy.alpha is {self.alpha}; it must be between 0 and 1.", "use e.g. 0.05.")
        if self.correction not in CORRECTIONS:
            raise DriftInputError(f"policy.correction is {self.correction!r}.", f"use one of {list(CORRECTIONS)}.")
        if self.min_psi < 0.0:
            raise DriftInputError(f"policy.min_psi is {self.min_psi}; it must be >= 0.", "use e.g. 0.02.")
        if self.min_samples < 1:
            raise DriftInputError(f"policy.min_samples is {self.min_samples}; it must be >= 1.", "use e.g. 200.")


DEFAULT_POLICY = DriftPolicy()


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's test, effect sizes and verdict; the statistics are None when there was too little data."""

    name: str
    kind: Kind
    verdict: Verdict
    samples: int
    baseline_samples: int
    missing: int
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    psi: float | None = None
    js_distance: float | None = None

    @property
    def drifted(self) -> bool:
        return self.verdict == "drifted"


@dataclass(frozen=True)
class DriftReport:
    """The dataset verdict, its score (share of tested features that drifted) and every feature's result."""

    verdict: Verdict
    score: float
    drifted_features: tuple[str, ...]
    samples: int
    features: tuple[FeatureDrift, ...]
    policy: DriftPolicy

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (for status, Events and the stored report)."""
        return {"verdict": self.verdict, "score": self.score, "driftedFeatures": list(self.drifted_features),
                "samples": self.samples, "policy": vars(self.policy),
                "features": [vars(f) | {"drifted": f.drifted} for f in self.features]}


def measure_feature(name: str, baseline: FeatureCounts, live: FeatureCounts, policy: DriftPolicy) -> FeatureDrift:
    """Test one feature (KS for numeric, chi-square for categorical) and measure PSI and JS; verdict still open.

    Raises DriftInputError naming the feature when the counts are invalid or the bins disagree.
    """
    check_comparable(name, baseline, live)
    b, lv = np.asarray(baseline.counts, dtype=np.float64), np.asarray(live.counts, dtype=np.float64)
    seen = FeatureDrift(name, baseline.kind, "insufficient_data", round(lv.sum()), round(b.sum()), round(live.missing))
    if min(seen.samples, seen.baseline_samples) < policy.min_samples:
        return seen
    test = binned_ks(b, lv) if baseline.kind == "numeric" else chi_square_homogeneity(b, lv)
    return replace(seen, verdict="no_drift", test=test.name, statistic=test.statistic, p_value=test.p_value,
                   psi=population_stability_index(b, lv), js_distance=jensen_shannon_distance(b, lv))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    stepped = np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in adjusted]


def adjust_p_values(p_values: Sequence[float], correction: Correction) -> list[float]:
    """Adjusted p-values: a feature survives the correction at level alpha when its adjusted p-value <= alpha."""
    if not p_values:
        return []
    if correction == "holm":
        return holm(p_values)
    return [float(v) for v in false_discovery_control(np.asarray(p_values, dtype=np.float64), method="bh")]


def decide(feature: FeatureDrift, adjusted: float, policy: DriftPolicy) -> FeatureDrift:
    """Drifted when the adjusted p-value is at most alpha and the PSI reaches the effect-size floor."""
    drifted = adjusted <= policy.alpha and (feature.psi or 0.0) >= policy.min_psi
    return replace(feature, adjusted_p_value=adjusted, verdict="drifted" if drifted else "no_drift")


def dataset_verdict(features: Sequence[FeatureDrift]) -> Verdict:
    """Drifted if any feature drifted; otherwise insufficient data if any feature (or no feature) lacked data."""
    if any(f.drifted for f in features):
        return "drifted"
    if not features or any(f.verdict == "insufficient_data" for f in features):
        return "insufficient_data"
    return "no_drift"


def check_same_features(baseline: Mapping[str, FeatureCounts], live: Mapping[str, FeatureCounts]) -> None:
    """Raise DriftInputError naming the features present on one side only."""
    only_base, only_live = sorted(set(baseline) - set(live)), sorted(set(live) - set(baseline))
    if only_base or only_live:
        raise DriftInputError(f"features differ: only in the baseline {only_base[:5]}, only live {only_live[:5]}.",
                              "compare live counts with the baseline of the model version that produced them.")


def drift_report(baseline: Mapping[str, FeatureCounts], live: Mapping[str, FeatureCounts],
                 policy: DriftPolicy = DEFAULT_POLICY) -> DriftReport:
    """Compare live counts with baseline counts feature by feature and decide whether the data drifted.

    Raises DriftInputError naming the feature when feature sets or bins disagree or a count is negative.
    """
    check_same_features(baseline, live)
    measured = [measure_feature(name, baseline[name], live[name], policy) for name in baseline]
    tested = [i for i, f in enumerate(measured) if f.p_value is not None]
    adjusted = adjust_p_values([measured[i].p_value or 0.0 for i in tested], policy.correction)
    for i, adj in zip(tested, adjusted, strict=True):
        measured[i] = decide(measured[i], adj, policy)
    drifted = sorted((f for f in measured if f.drifted), key=lambda f: -(f.psi or 0.0))
    return DriftReport(verdict=dataset_verdict(measured), score=len(drifted) / len(tested) if tested else 0.0,
                       drifted_features=tuple(f.name for f in drifted),
                       samples=max((f.samples for f in measured), default=0),
                       features=tuple(measured), policy=policy)
