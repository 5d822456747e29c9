"""What the operator last applied to each child, so a pass that would apply the same manifest again does not.

Every reconcile pass plans every child of its InferenceService. Before this memo each pass server-side applied
all of them: 100 InferenceServices at rest for five minutes cost 1,111 API writes (docs/scale.md), every one a
no-op. A controller-runtime operator compares with its informer cache instead; this is the same idea with less
memory: per child, the digest of the manifest last applied and the version the API server answered with.

A child is applied again when its manifest changes, or when someone else changed it: the operator watches its
children (labelled with their InferenceService), and an event for a child whose version differs from the one the
apply answered — another writer, or a deletion — forgets the child and asks for a pass. For kinds with a
`metadata.generation` (Deployments, autoscalers, disruption budgets) only the generation counts, so the status
writes of their controllers are not mistaken for edits; Services and ConfigMaps have none, so their
resourceVersion does. The memo is empty when the operator starts: its first pass over each object applies
everything once, which also repairs what changed while it was down.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ChildKey = tuple[str, str, str]  # kind, namespace, name


@dataclass(frozen=True)
class Applied:
    digest: str
    generation: int | None
    resource_version: str


def child_key(manifest: Mapping[str, Any]) -> ChildKey:
    meta = manifest["metadata"]
    return manifest["kind"], meta["namespace"], meta["name"]


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _generation(meta: Mapping[str, Any]) -> int | None:
    value = meta.get("generation")
    return int(value) if value else None


class AppliedChildren:
    """Pure bookkeeping, no I/O: the reconciler asks `unchanged` before applying and calls `record` after; the
    child event handlers call `changed_by_others`."""

    def __init__(self) -> None:
        self._applied: dict[ChildKey, Applied] = {}

    def __len__(self) -> int:
        return len(self._applied)

    def unchanged(self, manifest: Mapping[str, Any]) -> bool:
        """True when this exact manifest was applied and nobody changed the object since."""
        applied = self._applied.get(child_key(manifest))
        return applied is not None and applied.digest == manifest_digest(manifest)

    def record(self, manifest: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """After a successful apply: `answer` is the object the API server returned."""
        meta = answer.get("metadata") or {}
        self._applied[child_key(manifest)] = Applied(manifest_digest(manifest), _generation(meta),
                                                     str(meta.get("resourceVersion", "")))

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self._applied.pop((kind, namespace, name), None)

    def changed_by_others(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """Fold in a watch event for a child: True (and the child forgotten) when it was deleted or someone else
        changed it since the operator's apply; False for the echo of the operator's own write, status-only
        changes, relists and children the operator has not applied yet (its next pass applies those anyway)."""
        meta = body.get("metadata") or {}
        key = (str(body.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")))
        applied = self._applied.get(key)
        if applied is None:
            return event_type == "DELETED"
        if event_type == "DELETED":
            changed = True
        elif applied.generation is not None:
            changed = _generation(meta) != applied.generation
        else:
            changed = str(meta.get("resourceVersion", "")) != applied.resource_version
        if changed:
            del self._applied[key]
        return changed
