"""The drift engine from histogram counts: shifts found, no shift quiet, too little data said, bad input named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sextant_contracts.errors import DriftInputError
from sextant_services.drift import DriftPolicy, FeatureCounts, baseline_counts, drift_report, live_counts
from sextant_services.drift.report import adjust_p_values
from sextant_services.drift_bins import categorical_bin_labels
from tests.support.drift_data import live_numeric_counts, normal_trial, numeric_setup

CATEGORICAL_BASELINE = {"features": {"plan": {"type": "categorical",
                                              "frequencies": {"basic": 0.5, "pro": 0.3, "team": 0.2}}},
                        "rows": 10_000}


def categorical_live(values: list[str]) -> dict[str, FeatureCounts]:
    known = set(CATEGORICAL_BASELINE["features"]["plan"]["frequencies"])  # type: ignore[index]
    return live_counts(baseline_counts(CATEGORICAL_BASELINE), {"plan": categorical_bin_labels(values, known)})


def test_a_mean_shift_in_one_feature_is_detected_and_named() -> None:
    baseline, [live] = normal_trial(np.random.default_rng(7), features=20, train_rows=20_000, live_rows=2_000,
                                    shifts=(0.5,))
    report = drift_report(baseline, live, DriftPolicy())
    assert report.verdict == "drifted"
    assert report.drifted_features == ("f000",)
    assert report.score == pytest.approx(1 / 20)
    shifted = report.features[0]
    assert shifted.test == "ks" and shifted.adjusted_p_value is not None and shifted.adjusted_p_value < 1e-6


def test_no_shift_reports_no_drift_with_every_feature_tested() -> None:
    baseline, [live] = normal_trial(np.random.default_rng(8), features=20, train_rows=20_000, live_rows=2_000,
                                    shifts=(0.0,))
    report = drift_report(baseline, live)
    assert (report.verdict, report.drifted_features, report.score) == ("no_drift", (), 0.0)
    assert all(f.p_value is not None and f.psi is not None for f in report.features)


def test_an_unseen_category_counted_as_other_is_categorical_drift() -> None:
    rng = np.random.default_rng(9)
    same = list(rng.choice(["basic", "pro", "team"], size=1_000, p=[0.5, 0.3, 0.2]))
    new = list(rng.choice(["basic", "pro", "team", "enterprise"], size=1_000, p=[0.4, 0.25, 0.15, 0.2]))
    baseline = baseline_counts(CATEGORICAL_BASELINE)
    assert drift_report(baseline, categorical_live(same)).verdict == "no_drift"
    report = drift_report(baseline, categorical_live(new))
    assert report.verdict == "drifted" and report.features[0].test == "chi2"
    assert report.features[0].name == "plan"


def test_too_few_live_samples_is_insufficient_data_never_no_drift() -> None:
    rng = np.random.default_rng(10)
    setup = numeric_setup(rng.standard_normal((3, 5_000)))
    report = drift_report(setup.baseline, live_numeric_counts(setup, rng.standard_normal((3, 50))),
                          DriftPolicy(min_samples=200))
    assert report.verdict == "insufficient_data" and report.score == 0.0
    assert {f.verdict for f in report.features} == {"insufficient_data"}
    assert report.features[0].samples == 50 and report.features[0].p_value is None


def test_one_feature_short_of_data_keeps_the_dataset_from_no_drift() -> None:
    baseline = baseline_counts(CATEGORICAL_BASELINE)
    live = categorical_live(["basic"] * 150 + ["pro"] * 90 + ["team"] * 60)
    assert drift_report(baseline, live, DriftPolicy(min_samples=100)).verdict == "no_drift"
    assert drift_report(baseline, live, DriftPolicy(min_samples=301)).verdict == "insufficient_data"


def test_a_tiny_shift_on_a_huge_sample_stays_under_the_effect_size_floor() -> None:
    bins = ("below", "0", "1", "2", "3", "above")
    baseline = {"x": FeatureCounts("numeric", bins, (0.0, 2.5e6, 2.5e6, 2.5e6, 2.5e6, 0.0))}
    live = {"x": FeatureCounts("numeric", bins, (0.0, 2.45e6, 2.5e6, 2.5e6, 2.55e6, 0.0))}
    report = drift_report(baseline, live, DriftPolicy(min_psi=0.02))
    assert report.features[0].p_value is not None and report.features[0].p_value < 1e-10
    assert report.verdict == "no_drift"
    assert drift_report(baseline, live, DriftPolicy(min_psi=0.0)).verdict == "drifted"


def test_bins_that_disagree_are_refused_naming_the_feature() -> None:
    baseline = {"age": FeatureCounts("numeric", ("below", "0", "1", "above"), (0.0, 500.0, 500.0, 0.0))}
    live = {"age": FeatureCounts("numeric", ("below", "0", "1", "2", "above"), (0.0, 300.0, 300.0, 300.0, 0.0))}
    with pytest.raises(DriftInputError, match="feature 'age': baseline and live bins disagree"):
        drift_report(baseline, live)


def test_negative_counts_are_refused_naming_the_feature_and_bin() -> None:
    bins = ("below", "0", "1", "above")
    baseline = {"age": FeatureCounts("numeric", bins, (0.0, 500.0, 500.0, 0.0))}
    live = {"age": FeatureCounts("numeric", bins, (0.0, 300.0, -3.0, 0.0))}
    with pytest.raises(DriftInputError, match="feature 'age': live count for bin '1' is negative"):
        drift_report(baseline, live)


def test_a_live_label_outside_the_baseline_bins_is_refused() -> None:
    with pytest.raises(DriftInputError, match="feature 'plan': live bin 'gold' is not one of the baseline's bins"):
        live_counts(baseline_counts(CATEGORICAL_BASELINE), {"plan": {"gold": 3.0}})


def test_feature_sets_that_differ_are_refused() -> None:
    baseline = baseline_counts(CATEGORICAL_BASELINE)
    with pytest.raises(DriftInputError, match=r"only in the baseline \['plan'\]"):
        drift_report(baseline, {})


@pytest.mark.parametrize(("field", "policy_args"), [("alpha", {"alpha": 1.5}), ("min_psi", {"min_psi": -1.0}),
                                                    ("min_samples", {"min_samples": 0}),
                                                    ("correction", {"correction": "bonferroni"})])
def test_invalid_policies_name_the_field(field: str, policy_args: dict[str, object]) -> None:
    with pytest.raises(DriftInputError, match=f"policy.{field}"):
        DriftPolicy(**policy_args)  # type: ignore[arg-type]


def test_quality_at_modest_size_detection_and_false_alarms() -> None:
    """The benchmark's question at a tenth of its size: 0.25 sigma in one of 100 features, 1,000 live rows."""
    rng = np.random.default_rng(2026)
    repetitions = 20
    detected = alarms = 0
    for _ in range(repetitions):
        baseline, [shifted, unshifted] = normal_trial(rng, features=100, train_rows=20_000, live_rows=1_000,
                                                      shifts=(0.25, 0.0))
        detected += "f000" in drift_report(baseline, shifted).drifted_features
        alarms += drift_report(baseline, unshifted).verdict == "drifted"
    assert detected >= 17 and alarms <= 2, (detected, alarms)


def test_corrections_adjust_p_values_as_published() -> None:
    assert adjust_p_values([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_p_values([0.01, 0.04, 0.03], "benjamini-hochberg") == pytest.approx([0.03, 0.04, 0.04])


def test_the_report_is_json_ready() -> None:
    baseline = baseline_counts(CATEGORICAL_BASELINE)
    doc = json.loads(json.dumps(drift_report(baseline, categorical_live(["basic"] * 300)).to_dict()))
    assert doc["verdict"] == "drifted" and doc["driftedFeatures"] == ["plan"]
    assert doc["features"][0]["drifted"] is True and doc["policy"]["alpha"] == 0.05
