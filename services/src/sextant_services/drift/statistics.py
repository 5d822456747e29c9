"""Two-sample statistics on binned counts only (baseline vs live on the same bins): PSI, Jensen-Shannon, KS, chi-square.

Every function takes two count vectors of equal length and costs O(bins); none needs the raw values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, kstwo

Counts = NDArray[np.float64]
# Additive smoothing for PSI's logarithm: half a count per cell (Jeffreys), so an empty cell is finite.
PSI_PSEUDOCOUNT = 0.5
# Chi-square's approximation needs expected counts of at least this many per cell; sparser cells are pooled.
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class TwoSampleResult:
    """A test's statistic and its p-value."""

    name: str
    statistic: float
    p_value: float


def occupied(baseline: Counts, live: Counts) -> tuple[Counts, Counts]:
    """The two vectors without the cells that are empty on both sides (they carry no information)."""
    keep = (baseline + live) > 0
    return baseline[keep], live[keep]


def population_stability_index(baseline: Counts, live: Counts) -> float:
    """PSI = sum((l - b) * ln(l / b)) over smoothed proportions; 0 for identical shapes, symmetric."""
    b, lv = occupied(baseline, live)
    p = (b + PSI_PSEUDOCOUNT) / (b.sum() + PSI_PSEUDOCOUNT * b.size)
    q = (lv + PSI_PSEUDOCOUNT) / (lv.sum() + PSI_PSEUDOCOUNT * lv.size)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon_distance(baseline: Counts, live: Counts) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the two histograms' proportions; no smoothing needed."""
    return float(jensenshannon(baseline / baseline.sum(), live / live.sum(), base=2))


def binned_ks(baseline: Counts, live: Counts) -> TwoSampleResult:
    """Two-sample Kolmogorov-Smirnov on ordered bins: D is the largest gap between the binned CDFs.

    The CDFs are compared at bin edges only, so D never exceeds the raw-data D and the test is conservative.
    The p-value is scipy's `kstwo` at the effective sample size n*m/(n+m), as `ks_2samp(method="asymp")` does.
    """
    n, m = float(baseline.sum()), float(live.sum())
    gap = np.abs(np.cumsum(baseline) / n - np.cumsum(live) / m)
    d = float(gap.max())
    effective = max(1, round(n * m / (n + m)))
    return TwoSampleResult("ks", d, float(kstwo.sf(d, effective)))


def pool_sparse_cells(table: Counts) -> Counts:
    """Merge the columns of a 2 x k table whose smallest expected count is below MIN_EXPECTED into one column."""
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    sparse = expected.min(axis=0) < MIN_EXPECTED
    if not sparse.any():
        return table
    pooled = np.column_stack([table[:, ~sparse], table[:, sparse].sum(axis=1)])
    if pooled.shape[1] > 2 and (pooled[:, -1].sum() * pooled.sum(axis=1) / pooled.sum()).min() < MIN_EXPECTED:
        smallest = int(np.argmin(pooled[:, :-1].sum(axis=0)))
        pooled[:, smallest] += pooled[:, -1]
        pooled = pooled[:, :-1]
    return pooled


def chi_square_homogeneity(baseline: Counts, live: Counts) -> TwoSampleResult:
    """Chi-square test that both samples come from one categorical distribution (a 2 x k contingency table).

    A category unseen in training (baseline 0, live > 0) is a valid cell: expected counts come from the pooled
    table, not from the baseline alone. Cells with small expected counts are pooled first (the usual rule of 5).
    """
    table = pool_sparse_cells(np.vstack(occupied(baseline, live)))
    if table.shape[1] < 2:
        return TwoSampleResult("chi2", 0.0, 1.0)
    result = chi2_contingency(table, correction=False)
    return TwoSampleResult("chi2", float(result.statistic), float(result.pvalue))
