"""The DaskJob of a training run with spec.compute.dask, for the Dask Kubernetes operator to run.

The Dask operator makes a DaskCluster (a scheduler pod and Service, and the worker pods) and the runner pod from
it, and gives the runner DASK_SCHEDULER_ADDRESS; the runner is the same trainer container a Job would run, and
the scheduler and workers run `dask scheduler` and `dask worker` from the trainer image (or compute.dask.image),
which has the same packages. Every pod carries the run's labels, so the operator's pod index sees the runner, the
scheduler and the workers (an OOMKilled worker reaches the TrainingJob's status), and the DaskJob is owned by the
TrainingJob: deleting it deletes the DaskJob, which owns its cluster and runner pod.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sextant_contracts.quantities import parse_quantity

from .run_names import LABEL_CAUSE, LABEL_GENERATION, LABEL_SPEC_HASH, ROLE_TRAIN, run_labels
from .training_job_manifest import (
    RUN_ID_ENV,
    SPEC_ENV,
    TRAINER_UID,
    RunIdentity,
    TrainingSettings,
    container_env,
    container_env_from,
    owner_reference,
    pod_spec,
    train_args,
)

DASK_API_VERSION = "kubernetes.dask.org/v1"
ROLE_DASK = "dask"
SCHEDULER_PORT, DASHBOARD_PORT, WORKER_DASHBOARD_PORT = 8786, 8787, 8788
#: Per worker when compute.dask.resources says nothing: what docs/dask.md sizes one single-thread worker at.
DEFAULT_WORKER_RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
SCHEDULER_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": TRAINER_UID, "runAsGroup": TRAINER_UID,
                  "seccompProfile": {"type": "RuntimeDefault"}}


def worker_resources(dask: Mapping[str, Any]) -> dict[str, Any]:
    wanted = dask.get("resources") or {}
    if not wanted:
        return {k: dict(v) for k, v in DEFAULT_WORKER_RESOURCES.items()}
    return {k: {name: str(q) for name, q in (wanted.get(k) or {}).items()} for k in ("requests", "limits")
            if wanted.get(k)}


def worker_threads(resources: Mapping[str, Any]) -> int:
    """Threads per worker: its CPU limit, else its request, rounded up (at least one), as the trainer counts."""
    cpu = (resources.get("limits") or {}).get("cpu") or (resources.get("requests") or {}).get("cpu")
    return max(1, -(-parse_quantity(cpu) // 1)) if cpu else 1


def worker_memory_limit(resources: Mapping[str, Any]) -> str:
    """Dask's own memory limit for the worker: the container's, so Dask spills and pauses before the kernel kills
    it (`auto` reads the cgroup limit too, but says so nowhere a user looks)."""
    memory = (resources.get("limits") or {}).get("memory")
    return str(int(parse_quantity(memory))) if memory else "auto"


def _dask_pod(name: str, image: str, settings: TrainingSettings, command: list[str], resources: Mapping[str, Any],
              ports: list[dict[str, Any]], env: list[dict[str, Any]], env_from: list[dict[str, Any]],
              probe_port: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        # command, not args: the trainer image's entrypoint is sextant-train.
        "name": name, "image": image, "imagePullPolicy": settings.image_pull_policy, "command": command,
        "env": env, "resources": dict(resources), "ports": ports,
        "readinessProbe": {"httpGet": {"path": "/health", "port": probe_port}, "periodSeconds": 5},
        "securityContext": dict(RESTRICTED_CONTAINER),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own emptyDir (spill)
    }
    if env_from:
        container["envFrom"] = env_from
    return {"automountServiceAccountToken": False, "securityContext": dict(RESTRICTED_POD),
            "containers": [container], "volumes": [{"name": "tmp", "emptyDir": {}}]}


def dask_job(identity: RunIdentity, settings: TrainingSettings) -> dict[str, Any]:
    """The DaskJob of a run: the runner (the trainer) and its cluster (scheduler and compute.dask.workers)."""
    tj, meta = identity.trainingjob, identity.trainingjob["metadata"]
    spec, dask = tj["spec"], tj["spec"]["compute"]["dask"]
    image = dask.get("image") or spec.get("image") or settings.image
    resources = worker_resources(dask)
    # The workers read the data: the store's settings, the job's own env and the credentials, not the spec itself.
    worker_env = [e for e in container_env(identity, settings) if e["name"] not in (SPEC_ENV, RUN_ID_ENV)]
    # The container's memory limit is the guard. Dask's nanny would kill the worker at 95% of its RSS, which counts
    # XGBoost's page files mapped into memory: clean file pages the kernel reclaims before it kills anything.
    worker_env.append({"name": "DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE", "value": "false"})
    env_from = container_env_from(spec, settings)
    runner_labels = run_labels(meta["name"], identity.run, ROLE_TRAIN)
    cluster_labels = run_labels(meta["name"], identity.run, ROLE_DASK)
    scheduler = _dask_pod("scheduler", image, settings, ["dask", "scheduler", "--dashboard-address",
                                                         f":{DASHBOARD_PORT}"], SCHEDULER_RESOURCES,
                          [{"name": "tcp-comm", "containerPort": SCHEDULER_PORT},
                           {"name": "http-dashboard", "containerPort": DASHBOARD_PORT}], [], [], "http-dashboard")
    worker = _dask_pod("worker", image, settings, [
        "dask", "worker", "--name", "$(DASK_WORKER_NAME)", "--nthreads", str(worker_threads(resources)),
        "--memory-limit", worker_memory_limit(resources), "--local-directory", "/tmp",  # noqa: S108 - emptyDir
        "--dashboard-address", f":{WORKER_DASHBOARD_PORT}"], resources,
        [{"name": "http-dashboard", "containerPort": WORKER_DASHBOARD_PORT}], worker_env, env_from, "http-dashboard")
    selector = {"dask.org/cluster-name": identity.run, "dask.org/component": "scheduler"}
    return {
        "apiVersion": DASK_API_VERSION, "kind": "DaskJob",
        "metadata": {"name": identity.run, "namespace": meta["namespace"],
                     "labels": {**runner_labels, LABEL_CAUSE: identity.cause,
                                LABEL_GENERATION: str(identity.generation), LABEL_SPEC_HASH: identity.spec_hash},
                     "ownerReferences": [owner_reference(tj)]},
        "spec": {
            "job": {"metadata": {"labels": runner_labels}, "spec": pod_spec(identity, settings, train_args(identity))},
            # The DaskJob's CRD has no cluster.metadata: the scheduler's and workers' own metadata label their pods.
            "cluster": {"spec": {
                "scheduler": {"metadata": {"labels": cluster_labels}, "spec": scheduler, "service": {
                    "type": "ClusterIP", "selector": selector, "ports": [
                        {"name": "tcp-comm", "protocol": "TCP", "port": SCHEDULER_PORT, "targetPort": "tcp-comm"},
                        {"name": "http-dashboard", "protocol": "TCP", "port": DASHBOARD_PORT,
                         "targetPort": "http-dashboard"}]}},
                "worker": {"metadata": {"labels": cluster_labels}, "replicas": int(dask["workers"]),
                           "spec": worker}}},
        },
    }
