"""Drift monitoring decisions: the window of live counts, when a check is due, the status, and retraining limits."""

from __future__ import annotations

import pytest

from sextant_operator.reconcile.drift_monitoring import (
    best_coverage,
    drift_condition,
    drift_settings,
    feature_bin_counts,
    nested,
    prometheus_bin_counts,
    prometheus_query,
    retrain_refusal,
    seconds_until_due,
    summarize,
    variant_result,
    waiting_result,
    window_counts,
)

METRICS = """# HELP sextant_feature_bin_total Feature values per training-baseline bin (for drift)
# TYPE sextant_feature_bin_total counter
sextant_feature_bin_total{bin="0",feature="age",model="churn",variant="default",version="3"} 40.0
sextant_feature_bin_total{bin="above",feature="age",model="churn",variant="default",version="3"} 2.0
sextant_feature_bin_total{bin="pro",feature="plan",model="churn",variant="default",version="3"} 42.0
sextant_feature_bin_total{bin="0",feature="age",model="churn",variant="default",version="2"} 1000.0
sextant_feature_bin_created{bin="0",feature="age",model="churn",variant="default",version="3"} 1.7e9
"""
SPEC = {"monitoring": {"drift": {"enabled": True, "interval": "1m", "minSamples": 100, "retrain": "churn-train",
                                 "retrainCooldown": "1h", "maxRetrainsPerDay": 2}}}
MODEL = {"name": "churn", "version": "3", "digest": "sha256:ab"}


def test_only_the_served_versions_counters_are_read() -> None:
    counts = feature_bin_counts(METRICS, "churn", "3")
    assert counts == {("age", "0"): 40.0, ("age", "above"): 2.0, ("plan", "pro"): 42.0}


def test_the_window_is_counter_growth_and_a_restarted_pod_counts_from_zero() -> None:
    before = {"a": {("age", "0"): 100.0}, "b": {("age", "0"): 50.0}}
    now = {"a": {("age", "0"): 130.0}, "b": {("age", "0"): 20.0}, "c": {("age", "0"): 5.0}}
    assert window_counts(before, now) == {("age", "0"): 30.0 + 20.0 + 5.0}


def test_coverage_is_the_best_covered_feature() -> None:
    counts = {("age", "0"): 40.0, ("age", "1"): 60.0, ("plan", "pro"): 42.0}
    assert best_coverage(counts) == 100
    assert nested(counts) == {"age": {"0": 40.0, "1": 60.0}, "plan": {"pro": 42.0}}


def test_a_check_is_due_at_first_and_then_every_interval() -> None:
    settings = drift_settings(SPEC)
    assert seconds_until_due({}, settings, "2026-12-02T08:00:00Z") == 0
    assert seconds_until_due({"checkedAt": "2026-12-02T08:00:00Z"}, settings, "2026-12-02T08:00:45Z") == 15
    assert seconds_until_due({"checkedAt": "2026-12-02T08:00:00Z"}, settings, "2026-12-02T08:02:00Z") == 0


def test_defaults_when_only_enabled() -> None:
    s = drift_settings({"monitoring": {"drift": {"enabled": True}}})
    assert (s.interval_seconds, s.threshold, s.min_samples, s.retrain, s.max_retrains_per_day) == (300, 0, 500, None, 2)


def test_a_drifted_variant_names_its_features_and_the_status_takes_the_worst() -> None:
    settings = drift_settings(SPEC)
    drifted = variant_result("challenger", MODEL, {"verdict": "drifted", "score": 0.5, "driftedFeatures": ["age"],
                                                   "samples": 900}, settings, "t0", "s3://b/r.html")
    quiet = variant_result("default", MODEL, {"verdict": "no_drift", "score": 0.0, "samples": 800}, settings, "t0",
                           None)
    status = summarize([quiet, drifted], "2026-12-02T08:00:00Z", [])
    assert status["verdict"] == "Drifted" and status["driftedFeatures"] == ["challenger/age"]
    assert status["report"] == "s3://b/r.html" and status["samples"] == 1700
    condition = drift_condition(status, True)
    assert (condition.status, condition.reason) == ("True", "Drifted")
    assert "challenger: age drifted (score 0.500, 900 live values)" in condition.message


def test_a_score_under_the_threshold_is_not_drift() -> None:
    settings = drift_settings({"monitoring": {"drift": {"enabled": True, "threshold": 0.5}}})
    result = variant_result("default", MODEL, {"verdict": "drifted", "score": 0.25, "driftedFeatures": ["age"]},
                            settings, "t0", None)
    assert result["verdict"] == "NoDrift" and "under threshold 0.5" in result["message"]


def test_too_few_samples_is_said_not_guessed() -> None:
    waiting = waiting_result("default", MODEL, 37, drift_settings(SPEC), "2026-12-02T08:00:00Z")
    status = summarize([waiting], "2026-12-02T08:01:00Z", [])
    assert status["verdict"] == "InsufficientSamples"
    condition = drift_condition(status, True)
    assert condition.status == "Unknown" and "37 live values since 2026-12-02T08:00:00Z, 100 needed" in \
        condition.message


def test_retraining_respects_cooldown_and_daily_limit() -> None:
    settings = drift_settings(SPEC)
    drifted = {"verdict": "Drifted"}
    assert retrain_refusal(drifted, [], settings, "2026-12-02T08:00:00Z") is None  # type: ignore[arg-type]
    cooling = retrain_refusal(drifted, ["2026-12-02T07:30:00Z"], settings,  # type: ignore[arg-type]
                              "2026-12-02T08:00:00Z")
    assert cooling is not None and "within retrainCooldown" in cooling
    full = retrain_refusal(drifted, ["2026-12-01T12:00:00Z", "2026-12-02T06:00:00Z"],  # type: ignore[arg-type]
                           settings, "2026-12-02T08:00:00Z")
    assert full is not None and "maxRetrainsPerDay 2" in full
    old = retrain_refusal(drifted, ["2026-12-01T07:00:00Z"], settings, "2026-12-02T08:00:00Z")  # type: ignore[arg-type]
    assert old is None
    assert retrain_refusal({"verdict": "NoDrift"}, [], settings, "2026-12-02T08:00:00Z") == "no drift"  # type: ignore[arg-type]


def test_the_condition_says_when_monitoring_is_off_or_has_not_run() -> None:
    assert drift_condition({}, False).reason == "MonitoringDisabled"
    assert drift_condition({}, True).reason == "NotChecked"


def test_prometheus_counts_come_per_pod() -> None:
    answer = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"pod": "p1", "feature": "age", "bin": "0"}, "value": [1.7e9, "12"]},
        {"metric": {"pod": "p2", "feature": "age", "bin": "0"}, "value": [1.7e9, "3"]}]}}
    assert prometheus_bin_counts(answer) == {"p1": {("age", "0"): 12.0}, "p2": {("age", "0"): 3.0}}
    assert 'variant="default"' in prometheus_query("ns", "churn", "3", "default")
    with pytest.raises(ValueError, match="Prometheus answered"):
        prometheus_bin_counts({"status": "error", "error": "bad query"})
