"""Histogram counts on one feature's baseline bins: the only input the drift engine needs, and its adapters.

A numeric feature's slots are ordered (`below`, bins `0`..`n-1`, `above`) so a CDF can be taken over them; a
categorical feature's slots are its baseline categories plus `__other__`. Missing values are counted apart: they
are not part of either distribution (a change in the missing rate is not a change in the values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sextant_contracts.errors import DriftInputError
from sextant_services.drift_bins import ABOVE, BELOW, MISSING, OTHER

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureCounts:
    """Counts of one feature's values per slot, in slot order, plus the missing values seen."""

    kind: Kind
    bins: tuple[str, ...]
    counts: tuple[float, ...]
    missing: float = 0.0

    @property
    def total(self) -> float:
        """Values counted on the bins (missing values excluded)."""
        return math.fsum(self.counts)


def check_counts(name: str, side: str, counts: FeatureCounts) -> None:
    """Raise DriftInputError naming the feature when counts are negative, not finite or misaligned with bins."""
    if len(counts.bins) != len(counts.counts):
        raise DriftInputError(f"feature {name!r}: {side} has {len(counts.bins)} bins but {len(counts.counts)} counts.",
                              "give one count per bin.")
    bad = [b for b, c in zip(counts.bins, counts.counts, strict=True) if not math.isfinite(c) or c < 0]
    if bad or not math.isfinite(counts.missing) or counts.missing < 0:
        where = f"bin {bad[0]!r}" if bad else "the missing count"
        raise DriftInputError(f"feature {name!r}: {side} count for {where} is negative or not a number.",
                              "counts must be finite and >= 0; check the exporter (counter resets are handled "
                              "by taking deltas, never by subtracting across a restart).")


def check_comparable(name: str, baseline: FeatureCounts, live: FeatureCounts) -> None:
    """Raise DriftInputError naming the feature when the two sides are not counted on the same bins."""
    check_counts(name, "baseline", baseline)
    check_counts(name, "live", live)
    if baseline.kind != live.kind:
        raise DriftInputError(f"feature {name!r} is {baseline.kind} in the baseline but {live.kind} live.",
                              "count live values with the baseline of the model version being served.")
    if baseline.bins != live.bins:
        only_base = sorted(set(baseline.bins) - set(live.bins))[:3]
        only_live = sorted(set(live.bins) - set(baseline.bins))[:3]
        raise DriftInputError(f"feature {name!r}: baseline and live bins disagree (only in baseline: {only_base}, "
                              f"only live: {only_live}).",
                              "count live values on the bins of the served version's baseline (drift_bins.py does).")


def numeric_slots(n_bins: int) -> tuple[str, ...]:
    """Ordered slot labels of a numeric feature with `n_bins` baseline bins."""
    return (BELOW, *(str(i) for i in range(n_bins)), ABOVE)


def baseline_feature_counts(name: str, stats: Mapping[str, Any], rows: int) -> FeatureCounts:
    """One feature of a manifest's `baseline.features` as counts; categorical frequencies are scaled by `rows`.

    Raises DriftInputError naming the feature when its baseline has neither counts nor frequencies.
    """
    if stats.get("type") == "numeric" and len(stats.get("counts") or []) >= 1:
        counts = [float(c) for c in stats["counts"]]
        return FeatureCounts("numeric", numeric_slots(len(counts)), (0.0, *counts, 0.0))
    if stats.get("type") == "categorical" and stats.get("frequencies"):
        freqs = {str(k): float(v) for k, v in stats["frequencies"].items()}
        bins = (*sorted(freqs), OTHER)
        return FeatureCounts("categorical", bins, tuple(freqs.get(b, 0.0) * rows for b in bins))
    raise DriftInputError(f"feature {name!r}: the baseline has no counts or frequencies.",
                          "re-register the model with a current pipeline (profile.py writes them).")


def baseline_counts(baseline: Mapping[str, Any]) -> dict[str, FeatureCounts]:
    """Every feature of a manifest's `baseline` document (`{"features": {...}, "rows": n}`) as counts."""
    rows = int(baseline.get("rows") or 0)
    return {name: baseline_feature_counts(name, stats, rows) for name, stats in baseline.get("features", {}).items()}


def live_feature_counts(name: str, reference: FeatureCounts, labels: Mapping[str, float]) -> FeatureCounts:
    """Live counts by bin label (`sextant_feature_bin_total` summed by `bin`) laid out on `reference`'s bins.

    Raises DriftInputError naming the feature and the label when a label is not one of the reference's bins.
    """
    known = set(reference.bins)
    unknown = sorted(b for b in labels if b not in known and b != MISSING)
    if unknown:
        raise DriftInputError(f"feature {name!r}: live bin {unknown[0]!r} is not one of the baseline's bins.",
                              "count live values on the baseline of the model version being served.")
    counts = tuple(float(labels.get(b, 0.0)) for b in reference.bins)
    return FeatureCounts(reference.kind, reference.bins, counts, float(labels.get(MISSING, 0.0)))


def live_counts(reference: Mapping[str, FeatureCounts],
                labels: Mapping[str, Mapping[str, float]]) -> dict[str, FeatureCounts]:
    """Live counts of every reference feature; a feature with no live counts at all has zero counts."""
    return {name: live_feature_counts(name, ref, labels.get(name, {})) for name, ref in reference.items()}

