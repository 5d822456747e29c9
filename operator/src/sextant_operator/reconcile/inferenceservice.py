"""Computes an InferenceService's status from its spec and what the model registry can resolve."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sextant_contracts.resources.inferenceservice import InferenceServiceStatus, ResolvedModel, VariantStatus

from .conditions import ConditionState, merge_conditions

DEFAULT_VARIANT = "default"


@dataclass(frozen=True)
class Unresolved:
    """Why a model reference could not be resolved."""

    reason: str
    message: str


Resolver = Callable[[Mapping[str, Any]], ResolvedModel | Unresolved]


def no_registry(ref: Mapping[str, Any]) -> Unresolved:
    """The resolver used while the operator has no model registry configured."""
    return Unresolved("RegistryNotConfigured",
                      f"model {describe_reference(ref)} cannot be resolved: this operator has no model registry "
                      f"configured yet")


def describe_reference(ref: Mapping[str, Any]) -> str:
    """churn:6, churn@staging or churn@latest."""
    name = ref.get("name", "")
    if "version" in ref:
        return f"{name}:{ref['version']}"
    return f"{name}@{ref.get('alias', 'latest')}"


def requested_variants(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The variants of the spec; a single `model` is one variant named default with all the traffic."""
    if "variants" in spec:
        return list(spec["variants"])
    return [{"name": DEFAULT_VARIANT, "model": spec.get("model", {}), "weight": 100}]


def _variant_status(variant: Mapping[str, Any], resolved: ResolvedModel | Unresolved) -> VariantStatus:
    out: VariantStatus = {"name": variant["name"], "weight": int(variant.get("weight", 0)),
                          "replicas": 0, "readyReplicas": 0}
    if not isinstance(resolved, Unresolved):
        out["model"] = resolved
    return out


def _conditions(failures: Sequence[Unresolved], spec: Mapping[str, Any]) -> list[ConditionState]:
    drift = ((spec.get("monitoring") or {}).get("drift") or {}).get("enabled", False)
    if failures:
        resolved = ConditionState("ModelResolved", "False", failures[0].reason,
                                  "; ".join(f.message for f in failures))
    else:
        resolved = ConditionState("ModelResolved", "True", "ModelsFound", "every variant's model was found")
    waiting = "serving starts once every variant's model is resolved"
    return [
        resolved,
        ConditionState("VariantsAvailable", "False", "ServingNotImplemented" if not failures else "ModelNotResolved",
                       waiting if failures else "model servers are not deployed by this operator version yet"),
        ConditionState("RoutesReady", "False", "VariantsNotAvailable", "no variant is available to route to"),
        ConditionState("DriftDetected", "Unknown", "NotChecked" if drift else "MonitoringDisabled",
                       "no drift check has run" if drift else "spec.monitoring.drift.enabled is false"),
        ConditionState("Ready", "False", resolved.reason if failures else "VariantsNotAvailable",
                       resolved.message if failures else "no variant is available"),
    ]


def desired_inferenceservice_status(spec: Mapping[str, Any], generation: int, current: Mapping[str, Any],
                                    resolve: Resolver, now: str) -> InferenceServiceStatus:
    """The status the operator should report for this InferenceService generation."""
    variants = requested_variants(spec)
    results = [resolve(v.get("model", {})) for v in variants]
    failures = [r for r in results if isinstance(r, Unresolved)]
    states = _conditions(failures, spec)
    ready = states[-1]
    suspended = bool(spec.get("suspend"))
    status: InferenceServiceStatus = {
        "phase": "Suspended" if suspended else "Pending",
        "reason": "Suspended" if suspended else ready.reason,
        "message": "spec.suspend is true: no replicas run" if suspended else ready.message,
        "observedGeneration": generation,
        "conditions": merge_conditions(current.get("conditions", []), states, generation, now),
        "variants": [_variant_status(v, r) for v, r in zip(variants, results, strict=True)],
        "variantWeights": ",".join(f"{v['name']}={v.get('weight', 0)}" for v in variants),
        "modelVersions": ",".join(describe_reference(v.get("model", {})) for v in variants),
    }
    return status
