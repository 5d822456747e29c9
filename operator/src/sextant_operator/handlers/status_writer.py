"""Applies a desired status as at most one patch per reconcile, and posts the Events of its transitions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from ..reconcile.transitions import status_changes, transition_events

Logger = logging.Logger | logging.LoggerAdapter[Any]
WARNING_REASONS = frozenset({"BackendNotConfigured", "RegistryNotConfigured", "ModelNotFound"})


def write_status(body: kopf.Body, current: Mapping[str, Any], desired: Mapping[str, Any], patch: kopf.Patch,
                 logger: Logger, owned: frozenset[str]) -> bool:
    """Put the changed status fields among `owned` into kopf's patch (none when nothing changed); return whether
    any did."""
    changes = status_changes(current, desired, owned)
    if not changes:
        logger.debug("status is up to date; nothing to patch")
        return False
    patch.setdefault("status", {}).update(changes)
    for event in transition_events(current, desired, WARNING_REASONS):
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    logger.info("status will be patched: %s", ", ".join(sorted(changes)))
    return True
