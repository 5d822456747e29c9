"""What the operator sees of a run: its Jobs and pods reduced to the facts that decide its phase and cause."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .run_names import LABEL_CAUSE, LABEL_GENERATION, LABEL_ROLE, LABEL_RUN, LABEL_SPEC_HASH, ROLE_TRAIN

#: Waiting reasons that never resolve by themselves: the run fails at once, naming the image.
PERMANENT_IMAGE_ERRORS = frozenset({"InvalidImageName", "ErrImageNeverPull"})
#: Waiting reasons a registry hiccup can cause: the run fails only when they last this long.
IMAGE_PULL_ERRORS = frozenset({"ErrImagePull", "ImagePullBackOff"})
IMAGE_PULL_GRACE_SECONDS = 300.0


@dataclass(frozen=True)
class JobView:
    """One Job of a run, as indexed from the watch."""

    name: str
    run: str
    role: str
    generation: int
    cause: str
    spec_hash: str
    suspended: bool
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    complete: bool = False
    failed_reason: str | None = None  # BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy, ...
    failed_message: str = ""
    start_time: str | None = None
    completion_time: str | None = None  # when it completed or failed
    created: str | None = None  # metadata.creationTimestamp: when the run started, if status never said
    deleting: bool = False
    pods: int = 1  # parallelism: pods the run holds at once, for its requested compute
    cpu_request: float = 0.0
    gpu_request: float = 0.0
    kind: str = "Job"  # or DaskJob (spec.compute.dask)


@dataclass(frozen=True)
class PodView:
    """One pod of a run: the facts behind a failure or a stall."""

    name: str
    run: str
    job: str
    phase: str
    created: str | None = None
    waiting_reason: str | None = None
    waiting_message: str = ""
    terminated_reason: str | None = None  # OOMKilled, Error, Completed
    exit_code: int | None = None
    termination_message: str = ""
    unschedulable: str | None = None
    role: str = ""  # the run-role label: train (a Job's pod, a DaskJob's runner), trials, dask
    restarted_reason: str | None = None  # why the container last stopped before a restart (OOMKilled, Error)


#: The trainer writes its result document before it exits, so a completed Job without one this long after means
#: it was written to another store or not at all; the run fails saying so instead of waiting for ever.
RESULT_WAIT_SECONDS = 300.0
RESULT_RETRY_MIN_SECONDS, RESULT_RETRY_MAX_SECONDS = 5.0, 60.0


def result_retry_seconds(waited: float) -> float:
    """When to look for a missing result again: after 5 s at first, then a quarter of the wait so far, at most
    60 s (1,000 completed runs without results read every 5 s cost the operator a fifth of a core)."""
    return min(max(waited / 4, RESULT_RETRY_MIN_SECONDS), RESULT_RETRY_MAX_SECONDS)


def result_waited(jobs: Sequence[JobView], now: str) -> float:
    """Seconds since the run's train Job completed (0 if it has not, or did not say when)."""
    train = next((j for j in jobs if j.role == ROLE_TRAIN), None)
    return _seconds_between(train.completion_time, now) if train is not None and train.complete else 0.0


@dataclass(frozen=True)
class RunOutcome:
    """A run's phase as observed, with the reason word and a message a person can act on."""

    phase: str  # Pending, Running, Suspended, Succeeded, Failed
    reason: str
    message: str
    trainer_result: Mapping[str, Any] = field(default_factory=dict)


def _quantity(value: Any) -> float:
    """A CPU or device quantity as a number of units (500m -> 0.5); 0 when it cannot be read."""
    text = str(value or "0")
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return 0.0


def job_view(body: Mapping[str, Any]) -> JobView:
    """Reduce a Job object to a JobView (what the kopf index keeps)."""
    meta, spec, status = body.get("metadata", {}), body.get("spec", {}), body.get("status") or {}
    labels = meta.get("labels", {})
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    failed = conditions.get("Failed")
    containers = (spec.get("template", {}).get("spec", {}) or {}).get("containers") or [{}]
    resources = containers[0].get("resources") or {}
    requests = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return JobView(
        name=meta.get("name", ""), run=labels.get(LABEL_RUN, ""), role=labels.get(LABEL_ROLE, ROLE_TRAIN),
        generation=int(labels.get(LABEL_GENERATION, "0") or 0), cause=labels.get(LABEL_CAUSE, "spec"),
        spec_hash=labels.get(LABEL_SPEC_HASH, ""), suspended=bool(spec.get("suspend")),
        active=int(status.get("active") or 0), succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0), complete="Complete" in conditions,
        failed_reason=failed.get("reason") if failed else None,
        failed_message=failed.get("message", "") if failed else "",
        start_time=status.get("startTime"),
        completion_time=status.get("completionTime") or (failed.get("lastTransitionTime") if failed else None),
        created=meta.get("creationTimestamp"), deleting=bool(meta.get("deletionTimestamp")),
        pods=int(spec.get("parallelism") or 1),
        cpu_request=_quantity(requests.get("cpu")),
        gpu_request=sum(_quantity(v) for k, v in requests.items() if k.endswith("/gpu")),
    )


def pod_view(body: Mapping[str, Any]) -> PodView:
    """Reduce a Pod object to a PodView."""
    meta, status = body.get("metadata", {}), body.get("status") or {}
    container: Mapping[str, Any] = next(iter(status.get("containerStatuses") or []), {})
    state = container.get("state") or {}
    waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
    labels = meta.get("labels", {})
    conditions = status.get("conditions") or []
    scheduled: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "PodScheduled"), {})
    unschedulable = scheduled.get("message") if scheduled.get("reason") == "Unschedulable" else None
    last = (container.get("lastState") or {}).get("terminated") or {}
    return PodView(
        name=meta.get("name", ""), run=labels.get(LABEL_RUN, ""),
        # A Job's pods name their Job; a DaskJob's runner, scheduler and workers their cluster (named as the job).
        job=labels.get("batch.kubernetes.io/job-name") or labels.get("job-name") or
        labels.get("dask.org/cluster-name", ""),
        phase=status.get("phase", "Pending"), created=meta.get("creationTimestamp"),
        waiting_reason=waiting.get("reason"), waiting_message=waiting.get("message", ""),
        terminated_reason=terminated.get("reason"), exit_code=terminated.get("exitCode"),
        termination_message=(terminated.get("message") or "").strip(), unschedulable=unschedulable,
        role=labels.get(LABEL_ROLE, ""), restarted_reason=last.get("reason"),
    )


def trainer_message(text: str) -> tuple[str | None, str]:
    """The trainer's failure (reason, message and fix) from its termination message; raw text otherwise."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None, text[-1000:]
    if not isinstance(doc, dict):
        return None, text[-1000:]
    return trainer_failure(doc)


def trainer_failure(doc: Mapping[str, Any]) -> tuple[str | None, str]:
    """The reason and the message with its fix of the trainer's failure document."""
    message = str(doc.get("message", ""))
    if doc.get("fix"):
        message = f"{message} Fix: {doc['fix']}"
    return (str(doc["reason"]) if doc.get("reason") else None), message


def _seconds_between(start: str | None, now: str) -> float:
    if not start:
        return 0.0
    parse = datetime.fromisoformat
    return (parse(now.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def _failure_from_pods(pods: Sequence[PodView]) -> RunOutcome | None:
    """The most telling failure among finished pods: OOMKilled first, then the trainer's own message."""
    for pod in pods:
        if pod.terminated_reason == "OOMKilled" and pod.role != "dask":
            return RunOutcome("Failed", "OOMKilled", f"pod {pod.name} ran out of memory (OOMKilled): raise "
                              "spec.resources.limits.memory, train on a sample of the data, or, for data larger "
                              "than a pod, train on Dask workers with spec.compute.dask (docs/dask.md)")
    for pod in pods:  # a Dask worker restarts in place: its previous container's end tells
        if pod.role == "dask" and "OOMKilled" in (pod.terminated_reason, pod.restarted_reason):
            return RunOutcome("Failed", "OOMKilled", f"Dask pod {pod.name} ran out of memory (OOMKilled): raise "
                              "spec.compute.dask.resources.limits.memory, add workers, or exclude columns")
    for pod in pods:
        if pod.exit_code not in (None, 0) and pod.termination_message:
            reason, message = trainer_message(pod.termination_message)
            return RunOutcome("Failed", reason or "TrainerFailed", f"pod {pod.name} exited {pod.exit_code}: "
                              f"{message}")
    return None


def _stall_from_pods(pods: Sequence[PodView], now: str) -> RunOutcome | None:
    """A pod that cannot start: a bad image fails the run; unschedulable or missing config keeps it Pending."""
    for pod in pods:
        reason = pod.waiting_reason
        if reason in PERMANENT_IMAGE_ERRORS or (
                reason in IMAGE_PULL_ERRORS and _seconds_between(pod.created, now) > IMAGE_PULL_GRACE_SECONDS):
            return RunOutcome("Failed", "ImagePullFailed", f"pod {pod.name} cannot get its image ({reason}): "
                              f"{pod.waiting_message} Fix spec.image or the operator's training image.")
    for pod in pods:
        if pod.unschedulable:
            return RunOutcome("Pending", "Unschedulable", f"pod {pod.name} cannot be scheduled: "
                              f"{pod.unschedulable}")
        if pod.waiting_reason in IMAGE_PULL_ERRORS:
            return RunOutcome("Pending", "ImagePullBackOff", f"pod {pod.name}: {pod.waiting_message}")
        if pod.waiting_reason == "CreateContainerConfigError":
            return RunOutcome("Pending", "ConfigError", f"pod {pod.name} cannot start: {pod.waiting_message} "
                              "(a Secret or ConfigMap named in env/envFrom is missing)")
    return None


def _job_failure(job: JobView, pods: Sequence[PodView]) -> RunOutcome:
    from_pods = _failure_from_pods(pods)
    if job.failed_reason == "DeadlineExceeded":
        return RunOutcome("Failed", "DeadlineExceeded", f"the run passed spec.activeDeadlineSeconds and was "
                          f"stopped: {job.failed_message}")
    if from_pods is not None:
        return from_pods
    reason = job.failed_reason or "JobFailed"
    return RunOutcome("Failed", reason, f"Job {job.name} failed ({reason}): {job.failed_message}")


def observe_run(jobs: Sequence[JobView], pods: Sequence[PodView], result: Mapping[str, Any] | None,
                now: str) -> RunOutcome:
    """The phase of one run from its Jobs (train, and trials when sharded), their pods and its result document.

    `result` is the trainer's result document from the store (None until the train Job has completed and the
    operator has read it): success is declared from it, never from logs.
    """
    if not jobs:
        return RunOutcome("Pending", "JobCreating", "the run's Job is being created")
    for job in jobs:
        if job.failed_reason:
            return _job_failure(job, [p for p in pods if p.job == job.name])
    train = next((j for j in jobs if j.role == ROLE_TRAIN), None)
    if train is not None and train.complete:
        if result is None:
            waited = result_waited(jobs, now)
            if waited >= RESULT_WAIT_SECONDS:
                log_of = f"kubectl logs job/{train.name}" if train.kind == "Job" else "its runner pod's log"
                return RunOutcome("Failed", "ResultMissing", f"the trainer's {train.kind} {train.name} completed "
                                  f"{waited:.0f} s ago, but its result document is not in the operator's artifact "
                                  f"store: the trainer wrote it to another store or not at all. Read its log "
                                  f"({log_of}) and check that it and the operator use the same store (chart value "
                                  "artifactStore.uri); then change spec.trigger to run again")
            return RunOutcome("Running", "ReadingResult", "the trainer finished; reading its result document")
        if result.get("status") != "Succeeded":
            return RunOutcome("Failed", str(result.get("reason", "TrainerFailed")), str(result.get("message", "")))
        version = (result.get("model") or {}).get("version")
        if result.get("accepted") is False:  # registered for the record, but no alias moved to it
            failed = "; ".join(str(f) for f in result.get("failedCriteria") or []) or "a criterion failed"
            return RunOutcome("Failed", "AcceptanceFailed", f"version {version} was registered but not promoted: "
                              f"{failed}", result)
        return RunOutcome("Succeeded", "Trained", f"version {version} was trained, evaluated and registered",
                          result)
    if any(j.suspended for j in jobs):
        return RunOutcome("Suspended", "Suspended", "spec.suspend is true: the run's pods are stopped until it "
                          "is set back to false")
    stalled = _stall_from_pods([p for p in pods if p.phase == "Pending"], now)
    if stalled is not None:
        return stalled
    if any(p.phase != "Pending" for p in pods) or any(j.succeeded or j.failed for j in jobs):
        stage = "evaluating tuning trials in shards" if train is None else "training"
        return RunOutcome("Running", "Training", f"the run is {stage}")
    return RunOutcome("Pending", "PodsStarting", "waiting for the run's pods to start")
