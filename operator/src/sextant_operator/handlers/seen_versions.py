"""Which version of each watched object the handlers last acted on, so a relist does not reconcile everything.

kopf lists a resource again each time its watch stream ends (the API server closes it after
SEXTANT_WATCH_TIMEOUT, 300 s by default) and hands every listed object to the handlers as an event. With 1,000
InferenceServices that is thousands of passes every five minutes over objects that did not change. An event for
an object at the resourceVersion already handled announces nothing: the pass that followed the first delivery,
or the requeue it asked for, already covers it.

A child's event may name what the pass reads of it instead (`fingerprint`: the hash of its view, e.g. a Deployment's
replica counts): the deployment controller and the kubelet update fields no pass reads (timestamps, conditions'
probe times, a pod's node), and such an event announces nothing either. Like a controller-runtime predicate, but
decided from what the planner would see.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any


class SeenVersions:
    """uid -> resourceVersion (or fingerprint) last handled; pure bookkeeping, bounded by the objects that exist."""

    def __init__(self) -> None:
        self._seen: dict[str, Hashable] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def is_news(self, event_type: str | None, body: Mapping[str, Any], fingerprint: Hashable | None = None) -> bool:
        """False only for an object delivered again at a version (or with a fingerprint) already handled;
        deletions are always news."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        version = fingerprint if fingerprint is not None else str(meta.get("resourceVersion", ""))
        if event_type == "DELETED":
            self._seen.pop(uid, None)
            return True
        if not uid or version == "":
            return True
        if self._seen.get(uid) == version:
            return False
        self._seen[uid] = version
        return True
