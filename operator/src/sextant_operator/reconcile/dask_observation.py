"""What the operator sees of a Dask run: its DaskJob as a JobView, corrected by the runner pod's own phase.

The Dask operator's status lags or sticks at times (dask/dask-kubernetes#975: a DaskJob left Running after its
runner finished; #968: a cluster Pending with running pods), so the runner pod decides: once it has succeeded the
run is complete (its result document says how it went), once it has failed the run has failed, whatever the
DaskJob's jobStatus says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from .run_names import LABEL_CAUSE, LABEL_GENERATION, LABEL_ROLE, LABEL_RUN, LABEL_SPEC_HASH, ROLE_TRAIN
from .run_observation import JobView, PodView

#: The DaskJob's status.jobStatus values while the run goes on (JobCreated before the Dask operator saw it).
GOING = frozenset({"JobCreated", "ClusterCreated", "Running"})
DASK_JOB_FAILED = "DaskJobFailed"


def dask_job_view(body: Mapping[str, Any]) -> JobView:
    """Reduce a DaskJob to a JobView (what the kopf index keeps)."""
    meta, spec, status = body.get("metadata", {}), body.get("spec", {}), body.get("status") or {}
    labels = meta.get("labels", {})
    phase = status.get("jobStatus") or "JobCreated"
    workers = int(((spec.get("cluster") or {}).get("spec") or {}).get("worker", {}).get("replicas") or 0)
    return JobView(
        name=meta.get("name", ""), run=labels.get(LABEL_RUN, ""), role=labels.get(LABEL_ROLE, ROLE_TRAIN),
        generation=int(labels.get(LABEL_GENERATION, "0") or 0), cause=labels.get(LABEL_CAUSE, "spec"),
        spec_hash=labels.get(LABEL_SPEC_HASH, ""), suspended=False, active=1 if phase in GOING else 0,
        succeeded=1 if phase == "Successful" else 0, failed=1 if phase == "Failed" else 0,
        complete=phase == "Successful",
        failed_reason=DASK_JOB_FAILED if phase == "Failed" else None,
        failed_message="the Dask job's runner pod failed" if phase == "Failed" else "",
        start_time=status.get("startTime"), completion_time=status.get("endTime"),
        created=meta.get("creationTimestamp"), deleting=bool(meta.get("deletionTimestamp")),
        pods=1 + workers, kind="DaskJob",
    )


def with_runner_pods(jobs: Sequence[JobView], pods: Sequence[PodView]) -> list[JobView]:
    """DaskJob views as their runner pods say (see the module docstring); Jobs unchanged."""
    runners = {p.job: p for p in pods if p.role == ROLE_TRAIN and p.job}
    out: list[JobView] = []
    for job in jobs:
        runner = runners.get(job.name)
        if job.kind != "DaskJob" or runner is None or job.complete or job.failed_reason:
            out.append(job)
        elif runner.phase == "Succeeded":
            out.append(dataclasses.replace(job, complete=True, succeeded=1, active=0))
        elif runner.phase == "Failed":
            out.append(dataclasses.replace(job, failed=1, active=0, failed_reason=DASK_JOB_FAILED,
                                           failed_message="the Dask job's runner pod failed"))
        else:
            out.append(job)
    return out
