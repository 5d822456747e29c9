"""What the operator last applied to each child, so a pass that would apply the same manifest again does not.

Every reconcile pass plans every child of its InferenceService. Before this memo each pass server-side applied
all of them: 100 InferenceServices at rest for five minutes cost 1,111 API writes (docs/scale.md), every one a
no-op. A controller-runtime operator compares with its informer cache instead; this is the same idea with less
memory: per child, the digest of the manifest last applied and the version the API server answered with.

A child is applied again when its manifest changes, or when someone else changed it: the operator watches its
children (labelled with their InferenceService), and an event for a child that differs from what the apply
answered — another writer, or a deletion — forgets the child and asks for a pass. For kinds with a
`metadata.generation` (Deployments, disruption budgets, ScaledObjects) only the generation counts, so the status
writes of their controllers are not mistaken for edits. Services, ConfigMaps and HorizontalPodAutoscalers have
none (the API server keeps no generation for an HPA), so a digest of everything but their status and the
server's bookkeeping does: the HPA controller's status writes, once taken for edits, cost every InferenceService
a second pass and a second apply of its HPA. The memo is empty when the operator starts: its first pass over
each object applies everything once, which also repairs what changed while it was down.
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
    content: str  # content_digest of the answer, for kinds without a generation


#: What a writer's edit changes besides the spec: labels, annotations, owners. The rest of metadata is the
#: server's bookkeeping (resourceVersion, managedFields, uid, timestamps).
OWNED_METADATA = ("labels", "annotations", "ownerReferences")


def child_key(manifest: Mapping[str, Any]) -> ChildKey:
    meta = manifest["metadata"]
    return manifest["kind"], meta["namespace"], meta["name"]


def _digest(value: Mapping[str, Any]) -> str:
    """A short digest of a JSON-able mapping, independent of key order (kept per child: memory counts at scale)."""
    return hashlib.blake2b(json.dumps(value, sort_keys=True, separators=(",", ":")).encode(),
                           digest_size=16).hexdigest()


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    return _digest(manifest)


def content_digest(body: Mapping[str, Any]) -> str:
    """Everything a writer sets on an object (all but its status and the server's metadata)."""
    meta = body.get("metadata") or {}
    content = {k: v for k, v in body.items() if k not in ("metadata", "status")}
    content["metadata"] = {k: meta[k] for k in OWNED_METADATA if meta.get(k)}
    return _digest(content)


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
        generation = _generation(answer.get("metadata") or {})
        self._applied[child_key(manifest)] = Applied(manifest_digest(manifest), generation,
                                                     "" if generation is not None else content_digest(answer))

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
            changed = content_digest(body) != applied.content
        if changed:
            del self._applied[key]
        return changed
