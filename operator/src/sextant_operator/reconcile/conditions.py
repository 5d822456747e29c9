"""Builds conditions in the metav1.Condition shape, keeping lastTransitionTime while a status holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sextant_contracts.resources.common import Condition

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class ConditionState:
    """A condition as the reconciler decides it, before timestamps."""

    type: str
    status: Status
    reason: str
    message: str


def now_rfc3339() -> str:
    """The current time in the second-precision RFC 3339 form Kubernetes stores."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(current: Sequence[Condition], desired: Sequence[ConditionState], generation: int,
                     now: str) -> list[Condition]:
    """The desired conditions, reusing lastTransitionTime from current ones whose status did not change."""
    previous = {c.get("type"): c for c in current}
    merged: list[Condition] = []
    for state in desired:
        before = previous.get(state.type)
        unchanged = before is not None and before.get("status") == state.status
        since = before.get("lastTransitionTime", now) if before is not None and unchanged else now
        merged.append({
            "type": state.type, "status": state.status, "reason": state.reason, "message": state.message,
            "lastTransitionTime": since, "observedGeneration": generation,
        })
    return merged


def find_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of that type, if present."""
    return next((c for c in conditions if c.get("type") == type_), None)
