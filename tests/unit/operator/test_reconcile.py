"""Pure reconcilers: honest Pending states, metav1.Condition shape, and no change when nothing changed."""

from __future__ import annotations

from typing import Any

from sextant_operator.reconcile.inferenceservice import (
    Unresolved,
    desired_inferenceservice_status,
    no_registry,
)
from sextant_operator.reconcile.trainingjob import TrainingContext, desired_trainingjob_status
from sextant_operator.reconcile.transitions import status_changes, transition_events
from tests.support.resources import load_sample

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
CONTEXT = TrainingContext(default_backend="job")


def _conditions(status: Any) -> dict[str, Any]:
    return {c["type"]: c for c in status["conditions"]}


def test_trainingjob_without_backend_is_pending_with_the_reason() -> None:
    status = desired_trainingjob_status(load_sample("trainingjob")["spec"], 3, {}, CONTEXT, T0)
    assert status["phase"] == "Pending" and status["reason"] == "BackendNotConfigured"
    assert "'kubeflow' training backend is not available" in status["message"]
    assert status["observedGeneration"] == 3 and status["mode"] == "gradient_boosting"
    conds = _conditions(status)
    assert conds["Running"]["status"] == "False" and conds["Succeeded"]["status"] == "Unknown"
    assert set(conds["Running"]) == {"type", "status", "reason", "message", "lastTransitionTime",
                                     "observedGeneration"}


def test_mode_names_tuning_and_automl() -> None:
    tuning = desired_trainingjob_status(load_sample("trainingjob_tuning")["spec"], 1, {}, CONTEXT, T0)
    automl = desired_trainingjob_status(load_sample("trainingjob_automl")["spec"], 1, {}, CONTEXT, T0)
    assert tuning["mode"] == "tuning(hist_gradient_boosting)" and automl["mode"] == "automl"


def test_operator_default_backend_is_used_when_the_job_names_none() -> None:
    spec = load_sample("trainingjob_anomaly")["spec"]
    status = desired_trainingjob_status(spec, 1, {}, TrainingContext(default_backend="local"), T0)
    assert "'local' training backend" in status["message"]


def test_reconciling_again_later_changes_nothing() -> None:
    spec = load_sample("trainingjob")["spec"]
    first = desired_trainingjob_status(spec, 1, {}, CONTEXT, T0)
    again = desired_trainingjob_status(spec, 1, dict(first), CONTEXT, T1)
    assert status_changes(first, again) == {}
    assert transition_events(first, again) == []


def test_new_generation_updates_observed_generation_but_keeps_transition_times() -> None:
    spec = load_sample("trainingjob")["spec"]
    first = desired_trainingjob_status(spec, 1, {}, CONTEXT, T0)
    second = desired_trainingjob_status(spec, 2, dict(first), CONTEXT, T1)
    assert set(status_changes(first, second)) == {"observedGeneration", "conditions"}
    assert all(c["lastTransitionTime"] == T0 and c["observedGeneration"] == 2 for c in second["conditions"])


def test_creation_posts_one_event_for_the_phase() -> None:
    status = desired_trainingjob_status(load_sample("trainingjob")["spec"], 1, {}, CONTEXT, T0)
    (event,) = transition_events({}, status, frozenset({"BackendNotConfigured"}))
    assert event.type == "Warning" and event.reason == "BackendNotConfigured" and "Pending" in event.message


def test_inferenceservice_without_registry_reports_model_not_resolved() -> None:
    status = desired_inferenceservice_status(load_sample("inferenceservice_variants")["spec"], 1, {}, no_registry, T0)
    conds = _conditions(status)
    assert conds["ModelResolved"]["status"] == "False"
    assert conds["ModelResolved"]["reason"] == "RegistryNotConfigured"
    assert "churn:6" in conds["ModelResolved"]["message"] and "churn@staging" in conds["ModelResolved"]["message"]
    assert conds["Ready"]["status"] == "False" and status["phase"] == "Pending"
    assert conds["DriftDetected"]["reason"] == "NotChecked"
    assert status["variantWeights"] == "current=85,challenger=15"
    assert status["modelVersions"] == "churn:6,churn@staging"
    assert [v["name"] for v in status["variants"]] == ["current", "challenger"]


def test_single_model_is_one_default_variant() -> None:
    status = desired_inferenceservice_status(load_sample("inferenceservice")["spec"], 1, {}, no_registry, T0)
    assert status["variantWeights"] == "default=100" and status["modelVersions"] == "churn@production"
    assert _conditions(status)["DriftDetected"]["reason"] == "MonitoringDisabled"


def test_resolved_models_still_not_ready_without_model_servers() -> None:
    def resolve(ref: Any) -> Any:
        return {"name": ref["name"], "version": "6", "digest": "sha256:ab"}

    status = desired_inferenceservice_status(load_sample("inferenceservice")["spec"], 1, {}, resolve, T0)
    conds = _conditions(status)
    assert conds["ModelResolved"]["status"] == "True"
    assert conds["Ready"]["status"] == "False" and conds["VariantsAvailable"]["reason"] == "ServingNotImplemented"
    assert status["variants"][0]["model"]["version"] == "6"


def test_suspended_service() -> None:
    spec = {**load_sample("inferenceservice")["spec"], "suspend": True}
    status = desired_inferenceservice_status(spec, 1, {}, lambda ref: Unresolved("X", "y"), T0)
    assert status["phase"] == "Suspended" and status["reason"] == "Suspended"


def test_condition_status_change_posts_an_event() -> None:
    spec = load_sample("inferenceservice")["spec"]
    before = desired_inferenceservice_status(spec, 1, {}, no_registry, T0)
    after = desired_inferenceservice_status(spec, 1, dict(before),
                                            lambda ref: {"name": "churn", "version": "1", "digest": "d"}, T1)
    reasons = {e.reason for e in transition_events(before, after)}
    assert "ModelsFound" in reasons
    resolved = _conditions(after)["ModelResolved"]
    assert resolved["lastTransitionTime"] == T1
