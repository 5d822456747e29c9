"""The binned two-sample statistics on their own: known values, and valid p-values where cells are sparse."""

from __future__ import annotations

import numpy as np
import pytest

from sextant_services.drift.statistics import (
    binned_ks,
    chi_square_homogeneity,
    jensen_shannon_distance,
    population_stability_index,
)


def test_identical_histograms_have_no_distance_and_p_value_one() -> None:
    counts = np.array([0.0, 10.0, 30.0, 60.0, 0.0])
    assert population_stability_index(counts, counts * 3) == pytest.approx(0.0, abs=1e-3)  # smoothing: not exactly 0
    assert jensen_shannon_distance(counts, counts * 3) == pytest.approx(0.0)
    assert binned_ks(counts, counts * 3).p_value == pytest.approx(1.0)
    assert chi_square_homogeneity(counts, counts * 3).p_value == pytest.approx(1.0)


def test_binned_ks_statistic_is_the_largest_cdf_gap() -> None:
    result = binned_ks(np.array([50.0, 50.0, 0.0]), np.array([0.0, 50.0, 50.0]))
    assert result.name == "ks" and result.statistic == pytest.approx(0.5) and result.p_value < 0.01


def test_chi_square_stays_valid_with_rare_categories() -> None:
    """Categories with expected counts under 5 are pooled, so the test keeps its size (about 5% at alpha 5%)."""
    rng = np.random.default_rng(11)
    shares = np.array([0.6, 0.3, 0.08, 0.015, 0.005, 0.0])  # the last cell is `__other__`
    rejections = sum(chi_square_homogeneity(shares * 20_000, rng.multinomial(300, shares).astype(float)).p_value
                     < 0.05 for _ in range(400))
    assert 8 <= rejections <= 32, rejections
