"""The InferenceService reconciler: honest Pending states, metav1.Condition shape, events on change."""

from __future__ import annotations

from typing import Any

from sextant_operator.reconcile.inferenceservice import (
    Unresolved,
    desired_inferenceservice_status,
    no_registry,
)
from sextant_operator.reconcile.transitions import transition_events
from tests.support.resources import load_sample

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def _conditions(status: Any) -> dict[str, Any]:
    return {c["type"]: c for c in status["conditions"]}


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
