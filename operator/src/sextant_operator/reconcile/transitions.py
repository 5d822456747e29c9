"""Decides the status patch and the Events for a reconcile: none at all when nothing changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .conditions import find_condition


@dataclass(frozen=True)
class EventSpec:
    """A Kubernetes Event to post on the resource."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


def status_changes(current: Mapping[str, Any], desired: Mapping[str, Any],
                   owned: frozenset[str] | None = None) -> dict[str, Any]:
    """Top-level status fields whose desired value differs from the current one (a merge patch).

    A field the writer owns but no longer produces is removed (null); fields owned by other writers (a drift
    poller, say) are left alone. `owned=None` means every field is this writer's.
    """
    changes: dict[str, Any] = {k: v for k, v in desired.items() if current.get(k) != v}
    changes.update({k: None for k in current if k not in desired and (owned is None or k in owned)})
    return changes


def transition_events(current: Mapping[str, Any], desired: Mapping[str, Any],
                      warning_reasons: frozenset[str] = frozenset()) -> list[EventSpec]:
    """One Event per transition: the phase change, or else each existing condition whose status changed.

    A phase change also flips conditions; they are covered by its Event, so `kubectl describe` reads as one
    line per thing that happened. Failed phases and the given reasons are Warnings.
    """
    reason = str(desired.get("reason") or "Reconciled")
    if current.get("phase") != desired.get("phase"):
        warn = reason in warning_reasons or desired.get("phase") == "Failed"
        kind: Literal["Normal", "Warning"] = "Warning" if warn else "Normal"
        return [EventSpec(kind, reason, f"phase is now {desired.get('phase')}: {desired.get('message', '')}")]
    events: list[EventSpec] = []
    for cond in desired.get("conditions", []):
        before = find_condition(current.get("conditions", []), cond["type"])
        if before is not None and before.get("status") != cond["status"]:
            events.append(EventSpec("Normal", cond["reason"],
                                    f"{cond['type']} is {cond['status']}: {cond['message']}"))
    return events
