"""The Kubernetes Job of a batch-scoring run, built from the BatchPrediction spec and the operator's settings (pure).

The pod runs the scorer in the model-server image (`python -m sextant_services.batch`) under the namespace's
own identity and the `restricted` Pod Security Standard. It reaches the store with the namespace's store Secret
and the data with spec.credentialsSecret, both by reference; it reports counts to the store and its outcome in
its termination message, so the operator never reads the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sextant_contracts.resources.crd import GROUP, VERSION

from .run_names import GROUP_PREFIX, LABEL_CAUSE, LABEL_GENERATION, LABEL_RUN, LABEL_SPEC_HASH, MANAGED_BY

LABEL_BATCHPREDICTION = f"{GROUP_PREFIX}/batchprediction"
LABEL_ROLE = f"{GROUP_PREFIX}/role"
ROLE_SCORE = "score"
CONTAINER = "scorer"
#: The scorer's exit code for input or a model that cannot be scored: the Job fails at once, without retries.
PERMANENT_EXIT_CODE = 2
SCORER_UID = 65532
MODEL_CACHE = "/tmp/models"  # noqa: S108 - the pod's own emptyDir


@dataclass(frozen=True)
class BatchSettings:
    """The operator's defaults for scorer pods: the model-server image (it holds the scorer) and the store."""

    image: str = "ghcr.io/sextant-ml/sextant-server:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    store_uri: str | None = None
    #: Plain settings the scorer needs to reach the store (AWS_ENDPOINT_URL, AWS_REGION); never keys.
    store_env: Mapping[str, str] = field(default_factory=dict)
    #: Secret in the BatchPrediction's namespace whose AWS_* keys reach the store (envFrom, by reference).
    store_secret: str | None = None
    default_requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "250m", "memory": "512Mi"})
    default_limits: Mapping[str, str] = field(default_factory=lambda: {"memory": "2Gi"})


@dataclass(frozen=True)
class ScoringRun:
    """Which run a Job belongs to, and the model version it was pinned to when it started."""

    batchprediction: Mapping[str, Any]  # the BatchPrediction object (metadata and spec)
    run: str
    cause: str  # spec or schedule
    generation: int
    spec_hash: str
    model: Mapping[str, str]  # name, version, digest


def progress_key(namespace: str, run: str) -> str:
    """Where in the store the scorer of a run writes its counts (rows done and total, nothing else)."""
    return f"batchruns/{namespace}/{run}/progress.json"


def scorer_args(run: ScoringRun, settings: BatchSettings) -> list[str]:
    """`python -m sextant_services.batch` arguments: the pinned model, input, output and reporting."""
    spec, meta = run.batchprediction["spec"], run.batchprediction["metadata"]
    args = ["--store", settings.store_uri or "", "--model", run.model["name"], "--version", run.model["version"],
            "--input", spec["input"]["uri"], "--output", spec["output"]["uri"], "--id-column", spec["idColumn"],
            "--chunk-rows", str(spec.get("chunkSize", 10000)), "--cache-dir", MODEL_CACHE,
            "--termination-message", "/dev/termination-log", "--progress-key", progress_key(meta["namespace"], run.run)]
    if run.model.get("digest"):
        args += ["--digest", run.model["digest"]]
    for side, flag in (("input", "--input-format"), ("output", "--output-format")):
        if spec[side].get("format"):
            args += [flag, spec[side]["format"]]
    if spec["output"].get("probabilities"):
        args.append("--proba")
    return args


def _env_from(spec: Mapping[str, Any], settings: BatchSettings) -> list[dict[str, Any]]:
    # Later sources win on duplicate keys: the data's own keys override the store's.
    sources: list[dict[str, Any]] = [{"secretRef": {"name": settings.store_secret}}] if settings.store_secret else []
    if spec.get("credentialsSecret"):
        sources.append({"secretRef": {"name": spec["credentialsSecret"]}})
    return sources + [dict(item) for item in spec.get("envFrom") or []]


def _resources(spec: Mapping[str, Any], settings: BatchSettings) -> dict[str, Any]:
    wanted = spec.get("resources") or {}
    requests = {**settings.default_requests, **(wanted.get("requests") or {})}
    limits = {**settings.default_limits, **(wanted.get("limits") or {})}
    return {"requests": {k: str(v) for k, v in requests.items()}, "limits": {k: str(v) for k, v in limits.items()}}


def _container(run: ScoringRun, settings: BatchSettings) -> dict[str, Any]:
    spec = run.batchprediction["spec"]
    env = [{"name": k, "value": v} for k, v in sorted(settings.store_env.items())] + \
        [dict(item) for item in spec.get("env") or []]
    container: dict[str, Any] = {
        "name": CONTAINER, "image": spec.get("image") or settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "sextant_services.batch"], "args": scorer_args(run, settings),
        "env": env, "resources": _resources(spec, settings),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own emptyDir
    }
    env_from = _env_from(spec, settings)
    if env_from:
        container["envFrom"] = env_from
    return container


def _pod_spec(run: ScoringRun, settings: BatchSettings) -> dict[str, Any]:
    spec = run.batchprediction["spec"]
    account = spec.get("serviceAccountName")
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        # The namespace's own identity, never the operator's; no API token unless an account was asked for.
        "automountServiceAccountToken": bool(account),
        "securityContext": {"runAsNonRoot": True, "runAsUser": SCORER_UID, "runAsGroup": SCORER_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(run, settings)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if account:
        pod["serviceAccountName"] = account
    scheduling = spec.get("scheduling") or {}
    pod.update({k: scheduling[k] for k in ("nodeSelector", "tolerations", "affinity", "priorityClassName")
                if scheduling.get(k)})
    return pod


def batch_run_labels(batchprediction: str, run: str) -> dict[str, str]:
    """Labels on a run's Job and pods: the kopf indexes and `kubectl get pods -l` select by them."""
    return {LABEL_BATCHPREDICTION: batchprediction, LABEL_RUN: run, LABEL_ROLE: ROLE_SCORE,
            MANAGED_BY[0]: MANAGED_BY[1]}


def scoring_job(run: ScoringRun, settings: BatchSettings, suspend: bool) -> dict[str, Any]:
    """The Job of one run, owned by the BatchPrediction (deleting it deletes its Jobs and pods)."""
    spec, meta = run.batchprediction["spec"], run.batchprediction["metadata"]
    labels = batch_run_labels(meta["name"], run.run)
    job_spec: dict[str, Any] = {
        "suspend": suspend,
        "backoffLimit": int(spec.get("backoffLimit", 2)),
        # A bad row or a model that cannot load (exit 2) fails the run at once instead of retrying.
        "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
            "containerName": CONTAINER, "operator": "In", "values": [PERMANENT_EXIT_CODE]}}]},
        "template": {"metadata": {"labels": labels}, "spec": _pod_spec(run, settings)},
    }
    if spec.get("activeDeadlineSeconds"):
        job_spec["activeDeadlineSeconds"] = int(spec["activeDeadlineSeconds"])
    if spec.get("ttlSecondsAfterFinished") is not None:
        job_spec["ttlSecondsAfterFinished"] = int(spec["ttlSecondsAfterFinished"])
    owner = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "BatchPrediction", "name": meta["name"], "uid": meta["uid"],
             "controller": True, "blockOwnerDeletion": True}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": run.run, "namespace": meta["namespace"], "ownerReferences": [owner],
                     "labels": {**labels, LABEL_CAUSE: run.cause, LABEL_GENERATION: str(run.generation),
                                LABEL_SPEC_HASH: run.spec_hash}},
        "spec": job_spec,
    }
