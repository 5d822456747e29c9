"""Which version of each watched object the handlers last acted on, so a relist does not reconcile everything.

kopf lists a resource again each time its watch stream ends (the API server closes it after
SEXTANT_WATCH_TIMEOUT, 300 s by default) and hands every listed object to the handlers as an event. With 1,000
InferenceServices that is thousands of passes every five minutes over objects that did not change. An event for
an object at the resourceVersion already handled announces nothing: the pass that followed the first delivery,
or the requeue it asked for, already covers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SeenVersions:
    """uid -> resourceVersion last handled; pure bookkeeping, bounded by the objects that exist."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def is_news(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """False only for an object delivered again at a version already handled; deletions are always news."""
        meta = body.get("metadata") or {}
        uid, version = str(meta.get("uid", "")), str(meta.get("resourceVersion", ""))
        if event_type == "DELETED":
            self._seen.pop(uid, None)
            return True
        if not uid or not version:
            return True
        if self._seen.get(uid) == version:
            return False
        self._seen[uid] = version
        return True
