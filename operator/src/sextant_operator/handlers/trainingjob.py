"""kopf handlers for TrainingJob: observe (the object, its Jobs and pods from indexes), plan, act.

Every trigger — a TrainingJob event, an event of one of its Jobs or pods, or a requeue the plan asked for —
ends in the same `reconcile(namespace, name)`, serialised per TrainingJob. No finalizer on the job backend: Jobs
carry owner references, so deleting a TrainingJob lets the garbage collector remove its Jobs and their pods, and
registered models stay in the store. On the kubeflow backend (kubeflow_training.py) a finalizer terminates the
TrainingJob's KFP runs before it goes: nothing in Kubernetes owns them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf
from kubernetes.client.exceptions import ApiException

from sextant_contracts.resources.crd import GROUP, VERSION

from ..kubeflow.api import KubeflowUnavailable
from ..reconcile.conditions import now_rfc3339
from ..reconcile.dask_job_manifest import DASK_API_VERSION
from ..reconcile.dask_observation import dask_job_view, with_runner_pods
from ..reconcile.run_names import LABEL_RUN, LABEL_TRAININGJOB
from ..reconcile.run_observation import JobView, PodView, job_view, pod_view
from ..reconcile.training_job_manifest import TrainingSettings
from ..reconcile.trainingjob import Observed, chosen_backend, plan_trainingjob, progress_to_read, results_to_read
from ..reconcile.transitions import status_changes, transition_events
from .keyed_reconciler import Key, KeyedReconciler
from .kube_actions import KubeActions
from .kubeflow_training import KubeflowTraining
from .operator_metrics import OperatorMetrics
from .run_results import RunResults

PLURAL = "trainingjobs"
OWNED_STATUS_FIELDS = frozenset({
    "phase", "reason", "message", "observedGeneration", "conditions", "mode", "run", "startTime",
    "completionTime", "trials", "best", "model", "metrics", "accepted", "dataQualityReport", "progress", "cost",
    "runs", "nextScheduleTime"})
log = logging.getLogger("sextant.operator.training")
JobIndex = kopf.Index[Key, JobView]
PodIndex = kopf.Index[Key, PodView]
#: Phases that end a run (the finished-runs metric counts them).
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


class TrainingReconciler(KeyedReconciler):
    kind = "TrainingJob"

    """Holds what outlives one handler call: the indexes (KeyedReconciler runs one pass at a time per TrainingJob,
    folds the events that arrive meanwhile into one more pass, and keeps one pending requeue)."""

    def __init__(self, settings: TrainingSettings, actions: KubeActions, results: RunResults,
                 concurrency: int = 20, metrics: OperatorMetrics | None = None,
                 kubeflow: KubeflowTraining | None = None) -> None:
        self.settings, self.actions, self.results, self.metrics = settings, actions, results, metrics
        self.kubeflow = kubeflow
        self.jobs: JobIndex | None = None
        self.pods: PodIndex | None = None
        self.dask_jobs: JobIndex | None = None  # only when the operator's Dask support is on
        self.create_errors: dict[Key, dict[str, str]] = {}  # (namespace, name) -> run -> why its apply failed
        super().__init__(concurrency, log)

    def remember(self, jobs: JobIndex, pods: PodIndex, dask_jobs: JobIndex | None = None) -> None:
        self.jobs, self.pods = jobs, pods
        self.dask_jobs = dask_jobs if dask_jobs is not None else self.dask_jobs

    async def reconcile_once(self, namespace: str, name: str) -> float | None:
        body = await asyncio.to_thread(self.actions.read_trainingjob, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            self.create_errors.pop((namespace, name), None)
            return None
        if self.kubeflow is not None and chosen_backend(body["spec"], self.settings) == "kubeflow":
            return await self.kubeflow.reconcile(body)
        jobs = list(self.jobs.get((namespace, name), [])) if self.jobs is not None else []
        pods = list(self.pods.get((namespace, name), [])) if self.pods is not None else []
        if self.dask_jobs is not None:
            jobs = with_runner_pods(jobs + list(self.dask_jobs.get((namespace, name), [])), pods)
        results: dict[str, Mapping[str, Any]] = {}
        for run in results_to_read(body, jobs):
            document = await asyncio.to_thread(self.results.read, run)
            if document is not None:
                results[run] = document
        progress: dict[str, Mapping[str, Any]] = {}
        for run in progress_to_read(body, jobs):
            document = await asyncio.to_thread(self.results.progress, run)
            if document is not None:
                progress[run] = document
        errors = self.create_errors.get((namespace, name), {})
        plan = plan_trainingjob(Observed(body, jobs, pods, results, now_rfc3339(), progress, errors), self.settings)
        # Status first: a run is recorded before its Job exists, and Stopped or Failed before its Job is deleted, so
        # a crash in between is seen and repaired (a deleted Job is never created again for a run still "going").
        current = body.get("status") or {}
        changes = status_changes(current, plan.status, OWNED_STATUS_FIELDS)
        written = bool(changes) and await asyncio.to_thread(self.actions.patch_status, namespace, name, changes)
        if written:  # not when the TrainingJob was deleted since it was read
            for event in transition_events(current, plan.status):
                kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)
            phase = plan.status.get("phase")
            if self.metrics is not None and phase != current.get("phase") and phase in FINISHED_PHASES:
                self.metrics.record_run_finished(namespace, name, str(phase))
        for manifest in plan.apply:
            try:
                await asyncio.to_thread(self.actions.apply, manifest)
            except ApiException as exc:  # the next pass says why in status; KeyedReconciler retries
                self.create_errors.setdefault((namespace, name), {})[run_of(manifest)] = refusal(manifest, exc)
                raise
            self.create_errors.get((namespace, name), {}).pop(run_of(manifest), None)
            self.applies += 1
            log.info("applied %s %s/%s", manifest["kind"], namespace, manifest["metadata"]["name"])
        for job, suspend in plan.suspend.items():
            await asyncio.to_thread(self.actions.set_suspended, namespace, job, suspend)
        kinds = {j.name: j.kind for j in jobs}
        for job in plan.delete:
            if kinds.get(job) == "DaskJob":  # its cluster and runner pod go with it (owner references)
                await asyncio.to_thread(self.actions.delete_object, DASK_API_VERSION, "DaskJob", namespace, job)
            else:
                await asyncio.to_thread(self.actions.delete_job, namespace, job)
            log.info("deleted %s %s/%s", kinds.get(job, "Job"), namespace, job)
        return plan.requeue_after


def run_of(manifest: Mapping[str, Any]) -> str:
    return str(manifest["metadata"].get("labels", {}).get(LABEL_RUN, manifest["metadata"]["name"]))


def refusal(manifest: Mapping[str, Any], exc: ApiException) -> str:
    """What the API server said when it refused a run's Job or DaskJob, and what to do about it."""
    kind, name = manifest["kind"], manifest["metadata"]["name"]
    try:
        said = str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except ValueError:
        said = str(exc.reason)
    if kind == "DaskJob" and exc.status == 404:
        return (f"the API server has no DaskJob kind ({said}): install the Dask Kubernetes operator (docs/dask.md) "
                "or set the chart value dask.enabled=false; the operator tries again")
    return f"the API server refused {kind} {name} ({exc.status}: {said}); the operator tries again"


def _owner_key(namespace: str | None, labels: Mapping[str, str]) -> Key:
    return (namespace or "", labels.get(LABEL_TRAININGJOB, ""))


def register_trainingjob_handlers(registry: kopf.OperatorRegistry, reconciler: TrainingReconciler) -> None:
    """Register the TrainingJob handlers and the indexes of its children into registry."""
    children = {LABEL_TRAININGJOB: kopf.PRESENT}

    @kopf.index("batch", "v1", "jobs", labels=children, registry=registry, id="training_jobs")
    def training_jobs(namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Key, JobView]:
        return {_owner_key(namespace, labels): job_view(body)}

    @kopf.index("", "v1", "pods", labels=children, registry=registry, id="training_pods")
    def training_pods(namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Key, PodView]:
        return {_owner_key(namespace, labels): pod_view(body)}

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="trainingjob")
    async def trainingjob_changed(namespace: str | None, name: str, type: str | None,
                                  body: kopf.Body, **indexes: Any) -> None:
        reconciler.remember(indexes["training_jobs"], indexes["training_pods"], indexes.get("training_dask_jobs"))
        if reconciler.seen.is_news(type, body) and type != "DELETED":
            reconciler.enqueue(namespace or "", name)

    def on_kubeflow(spec: kopf.Spec, **_: Any) -> bool:
        return reconciler.kubeflow is not None and chosen_backend(spec, reconciler.settings) == "kubeflow"

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="kubeflow-runs", when=on_kubeflow)
    async def trainingjob_deleted(body: kopf.Body, **_: Any) -> None:
        if reconciler.kubeflow is None:  # the when= filter already said so
            return
        try:
            await reconciler.kubeflow.terminate_all(body)
        except KubeflowUnavailable as exc:
            raise kopf.TemporaryError(f"{exc}; the TrainingJob is deleted once its runs are terminated",
                                      delay=30) from exc

    @kopf.on.event("batch", "v1", "jobs", labels=children, registry=registry, id="run-job")
    async def run_job_changed(namespace: str | None, labels: kopf.Labels, type: str | None,
                              body: kopf.Body, **indexes: Any) -> None:
        reconciler.remember(indexes["training_jobs"], indexes["training_pods"], indexes.get("training_dask_jobs"))
        if reconciler.seen.is_news(type, body, hash(job_view(body))):
            reconciler.enqueue(*_owner_key(namespace, labels))

    if reconciler.settings.dask_enabled:
        register_dask_job_handlers(registry, reconciler, children)

    @kopf.on.event("", "v1", "pods", labels=children, registry=registry, id="run-pod")
    async def run_pod_changed(namespace: str | None, labels: kopf.Labels, type: str | None,
                              body: kopf.Body, **indexes: Any) -> None:
        reconciler.remember(indexes["training_jobs"], indexes["training_pods"], indexes.get("training_dask_jobs"))
        if reconciler.seen.is_news(type, body, hash(pod_view(body))):
            reconciler.enqueue(*_owner_key(namespace, labels))


def register_dask_job_handlers(registry: kopf.OperatorRegistry, reconciler: TrainingReconciler,
                               children: Mapping[str, Any]) -> None:
    """DaskJobs of spec.compute.dask runs (only with the Dask Kubernetes operator's CRDs installed): indexed and
    watched like Jobs. Only read: the Dask operator (kopf too) keeps its own annotations on them, this operator's
    progress annotations use its own prefix, and each runs standalone (no shared peering to freeze both)."""
    group, version = DASK_API_VERSION.split("/")

    @kopf.index(group, version, "daskjobs", labels=children, registry=registry, id="training_dask_jobs")
    def training_dask_jobs(namespace: str | None, labels: kopf.Labels, body: kopf.Body,
                           **_: Any) -> dict[Key, JobView]:
        return {_owner_key(namespace, labels): dask_job_view(body)}

    @kopf.on.event(group, version, "daskjobs", labels=children, registry=registry, id="run-dask-job")
    async def run_dask_job_changed(namespace: str | None, labels: kopf.Labels, type: str | None,
                                   body: kopf.Body, **indexes: Any) -> None:
        reconciler.remember(indexes["training_jobs"], indexes["training_pods"], indexes.get("training_dask_jobs"))
        if reconciler.seen.is_news(type, body, hash(dask_job_view(body))):
            reconciler.enqueue(*_owner_key(namespace, labels))
