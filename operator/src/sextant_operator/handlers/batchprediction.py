"""kopf handlers for BatchPrediction: observe (the object, its Jobs and pods from indexes, the model reference and
progress documents from the store), plan, act.

Every trigger — a BatchPrediction event, an event of one of its Jobs or pods, or a requeue the plan asked for —
ends in the same `reconcile(namespace, name)`, serialised per BatchPrediction. No finalizer: Jobs carry owner
references, so deleting a BatchPrediction lets the garbage collector remove its Jobs and pods; published
predictions stay where they were written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf

from sextant_contracts.resources.crd import GROUP, VERSION

from ..reconcile.batch_job_manifest import LABEL_BATCHPREDICTION, BatchSettings, progress_key
from ..reconcile.batchprediction import BatchObserved, plan_batchprediction, progress_to_read, run_starting
from ..reconcile.conditions import now_rfc3339
from ..reconcile.inferenceservice import Resolver
from ..reconcile.run_observation import JobView, PodView, job_view, pod_view
from ..reconcile.transitions import status_changes, transition_events
from .keyed_reconciler import Key, KeyedReconciler
from .kube_actions import KubeActions
from .run_results import RunResults

PLURAL = "batchpredictions"
OWNED_STATUS_FIELDS = frozenset({
    "phase", "reason", "message", "observedGeneration", "conditions", "currentRun", "lastRun", "startTime",
    "completionTime", "model", "modelVersion", "progress", "output", "badRow", "runs", "nextScheduleTime"})
#: Reasons of a run that cannot go on because of its input: a Warning Event says which row.
WARNING_REASONS = frozenset({"BadRow", "SchemaMismatch", "InputNotFound", "InvalidInput", "ModelNotFound"})
log = logging.getLogger("sextant.operator.batch")
JobIndex = kopf.Index[Key, JobView]
PodIndex = kopf.Index[Key, PodView]


class BatchReconciler(KeyedReconciler):
    """Holds what outlives one handler call: the indexes (KeyedReconciler runs one pass at a time per BatchPrediction,
    folds the events that arrive meanwhile into one more pass, and keeps one pending requeue)."""

    kind = "BatchPrediction"

    def __init__(self, settings: BatchSettings, actions: KubeActions, resolve: Resolver, documents: RunResults,
                 concurrency: int = 20) -> None:
        self.settings, self.actions, self.resolve, self.documents = settings, actions, resolve, documents
        self.jobs: JobIndex | None = None
        self.pods: PodIndex | None = None
        super().__init__(concurrency, log)

    def remember(self, jobs: JobIndex, pods: PodIndex) -> None:
        self.jobs, self.pods = jobs, pods

    async def reconcile_once(self, namespace: str, name: str) -> float | None:
        body = await asyncio.to_thread(self.actions.read_custom, PLURAL, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        jobs = list(self.jobs.get((namespace, name), [])) if self.jobs is not None else []
        pods = list(self.pods.get((namespace, name), [])) if self.pods is not None else []
        now = now_rfc3339()
        model = None
        if run_starting(body, jobs, now):  # the registry is read only when a run starts: it pins the version
            model = await asyncio.to_thread(self.resolve, body["spec"]["model"])
        progress: dict[str, Mapping[str, Any]] = {}
        for run in progress_to_read(body, jobs):
            document = await asyncio.to_thread(self.documents.document, progress_key(namespace, run))
            if document is not None:
                progress[run] = document
        plan = plan_batchprediction(BatchObserved(body, jobs, pods, model, progress, now), self.settings)
        # Status first: a run (and its pinned model) is recorded before its Job exists, so a crash in between
        # is repaired by applying the same Job under the same name.
        current = body.get("status") or {}
        changes = status_changes(current, plan.status, OWNED_STATUS_FIELDS)
        written = bool(changes) and await asyncio.to_thread(self.actions.patch_status, namespace, name, changes,
                                                            PLURAL)
        if written:
            for event in transition_events(current, plan.status, WARNING_REASONS):
                kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)
        for manifest in plan.apply:
            await asyncio.to_thread(self.actions.apply, manifest)
            self.applies += 1
            log.info("applied Job %s/%s", namespace, manifest["metadata"]["name"])
        for job, suspend in plan.suspend.items():
            await asyncio.to_thread(self.actions.set_suspended, namespace, job, suspend)
        for job in plan.delete:
            await asyncio.to_thread(self.actions.delete_job, namespace, job)
            log.info("deleted Job %s/%s", namespace, job)
        return plan.requeue_after


def _owner_key(namespace: str | None, labels: Mapping[str, str]) -> Key:
    return (namespace or "", labels.get(LABEL_BATCHPREDICTION, ""))


def register_batchprediction_handlers(registry: kopf.OperatorRegistry, reconciler: BatchReconciler) -> None:
    """Register the BatchPrediction handlers and the indexes of its children into registry."""
    children = {LABEL_BATCHPREDICTION: kopf.PRESENT}

    @kopf.index("batch", "v1", "jobs", labels=children, registry=registry, id="batch_jobs")
    def batch_jobs(namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Key, JobView]:
        return {_owner_key(namespace, labels): job_view(body)}

    @kopf.index("", "v1", "pods", labels=children, registry=registry, id="batch_pods")
    def batch_pods(namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Key, PodView]:
        return {_owner_key(namespace, labels): pod_view(body)}

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="batchprediction")
    async def batchprediction_changed(namespace: str | None, name: str, type: str | None,
                                      body: kopf.Body, **indexes: Any) -> None:
        reconciler.remember(indexes["batch_jobs"], indexes["batch_pods"])
        if reconciler.seen.is_news(type, body) and type != "DELETED":
            reconciler.enqueue(namespace or "", name)

    @kopf.on.event("batch", "v1", "jobs", labels=children, registry=registry, id="batch-run-job")
    async def batch_job_changed(namespace: str | None, labels: kopf.Labels, type: str | None,
                                body: kopf.Body, **indexes: Any) -> None:
        reconciler.remember(indexes["batch_jobs"], indexes["batch_pods"])
        if reconciler.seen.is_news(type, body, hash(job_view(body))):
            reconciler.enqueue(*_owner_key(namespace, labels))

    @kopf.on.event("", "v1", "pods", labels=children, registry=registry, id="batch-run-pod")
    async def batch_pod_changed(namespace: str | None, labels: kopf.Labels, type: str | None,
                                body: kopf.Body, **indexes: Any) -> None:
        reconciler.remember(indexes["batch_jobs"], indexes["batch_pods"])
        if reconciler.seen.is_news(type, body, hash(pod_view(body))):
            reconciler.enqueue(*_owner_key(namespace, labels))
