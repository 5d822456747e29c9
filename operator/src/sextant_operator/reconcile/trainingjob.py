"""Computes a TrainingJob's status from its spec and the training backends this operator has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sextant_contracts.resources.trainingjob import TrainingJobStatus

from .conditions import ConditionState, merge_conditions

BACKEND_NOT_CONFIGURED = "BackendNotConfigured"


@dataclass(frozen=True)
class TrainingContext:
    """What the operator offers a TrainingJob: its default backend and the backends that can run jobs."""

    default_backend: str
    available_backends: frozenset[str] = frozenset()


def trainingjob_mode(spec: Mapping[str, Any]) -> str:
    """What is trained, for the Mode printer column: the algorithm, tuning(<algorithm>) or automl."""
    if "estimator" in spec:
        return str(spec["estimator"].get("algorithm", ""))
    if "tuning" in spec:
        return f"tuning({spec['tuning'].get('algorithm', '')})"
    return "automl"


def chosen_backend(spec: Mapping[str, Any], context: TrainingContext) -> str:
    """The backend the job asks for, or the operator's default."""
    return str((spec.get("runtime") or {}).get("backend") or context.default_backend)


def _pending_without_backend(backend: str, context: TrainingContext) -> tuple[str, list[ConditionState]]:
    offered = ", ".join(sorted(context.available_backends)) or "none yet"
    message = (f"the {backend!r} training backend is not available in this operator version "
               f"(available: {offered}); the job stays Pending and starts once an operator with that backend "
               f"reconciles it")
    return message, [
        ConditionState("Accepted", "True", "SpecValid", "the spec passed schema and catalogue validation"),
        ConditionState("Running", "False", BACKEND_NOT_CONFIGURED, message),
        ConditionState("Succeeded", "Unknown", BACKEND_NOT_CONFIGURED, "training has not started"),
        ConditionState("Failed", "False", BACKEND_NOT_CONFIGURED, "training has not started"),
    ]


def desired_trainingjob_status(spec: Mapping[str, Any], generation: int, current: Mapping[str, Any],
                               context: TrainingContext, now: str) -> TrainingJobStatus:
    """The status the operator should report for this TrainingJob generation.

    Training backends arrive in later versions; until one is available the job is honestly Pending.
    """
    backend = chosen_backend(spec, context)
    message, states = _pending_without_backend(backend, context)
    status: TrainingJobStatus = {
        "phase": "Pending",
        "reason": BACKEND_NOT_CONFIGURED,
        "message": message,
        "observedGeneration": generation,
        "mode": trainingjob_mode(spec),
        "conditions": merge_conditions(current.get("conditions", []), states, generation, now),
    }
    return status
