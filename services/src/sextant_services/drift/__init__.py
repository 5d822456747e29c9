"""The drift engine: decides from histogram counts alone (baseline vs live on the baseline's bins) whether data drifted.

It lives in services, not contracts, because it needs numpy and scipy and the operator's image must stay free of
them (tests/unit/packaging/test_dependency_sets.py); the drift checker runs it from the services image.
"""

from sextant_services.drift.counts import FeatureCounts, baseline_counts, live_counts
from sextant_services.drift.report import DEFAULT_POLICY, DriftPolicy, DriftReport, FeatureDrift, drift_report

__all__ = ["DEFAULT_POLICY", "DriftPolicy", "DriftReport", "FeatureCounts", "FeatureDrift", "baseline_counts",
           "drift_report", "live_counts"]
