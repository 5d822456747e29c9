"""The Kubernetes Jobs of a training run, built from the TrainingJob spec and the operator's settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sextant_contracts.resources.crd import GROUP, VERSION

from .run_names import (
    LABEL_CAUSE,
    LABEL_GENERATION,
    LABEL_SPEC_HASH,
    ROLE_TRAIN,
    ROLE_TRIALS,
    run_labels,
    trials_job_name,
)

SPEC_ENV = "SEXTANT_TRAININGJOB"
RUN_ID_ENV = "SEXTANT_RUN_ID"
STORE_ENV = "SEXTANT_ARTIFACT_STORE"
#: The trainer's exit code for a spec or data error: retrying cannot help, so the Job fails at once.
PERMANENT_EXIT_CODE = 2
TRAINER_UID = 65532


@dataclass(frozen=True)
class TrainingSettings:
    """The operator's defaults for training pods (chart values `training.*` and `artifactStore.*`)."""

    image: str = "ghcr.io/sextant-ml/sextant-trainer:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    default_backend: str = "job"
    store_uri: str | None = None
    #: Plain settings the trainer needs to reach the store (AWS_ENDPOINT_URL, AWS_REGION); never keys.
    store_env: Mapping[str, str] = field(default_factory=dict)
    #: Secret in the TrainingJob's namespace whose AWS_* keys reach the store (envFrom, by reference).
    store_secret: str | None = None
    default_requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "500m", "memory": "1Gi"})
    default_limits: Mapping[str, str] = field(default_factory=lambda: {"memory": "2Gi"})
    #: spec.compute.dask runs as a DaskJob (the Dask Kubernetes operator is installed: chart value dask.enabled).
    dask_enabled: bool = False


@dataclass(frozen=True)
class RunIdentity:
    """Which run a Job belongs to."""

    trainingjob: Mapping[str, Any]  # the TrainingJob object (metadata and spec)
    run: str
    cause: str  # spec or schedule
    generation: int
    spec_hash: str


def trial_shards(spec: Mapping[str, Any]) -> int:
    """Pods of the Indexed trials Job: tuning.parallelTrials when above 1, else 0 (no sharding)."""
    tuning = spec.get("tuning") or {}
    shards = int(tuning.get("parallelTrials", 1))
    return shards if shards > 1 else 0


def owner_reference(trainingjob: Mapping[str, Any]) -> dict[str, Any]:
    meta = trainingjob["metadata"]
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def spec_document(trainingjob: Mapping[str, Any]) -> str:
    """The TrainingJob the trainer reads (its lineage and spec), passed in an env var: no ConfigMap needed."""
    meta = trainingjob["metadata"]
    lineage = {k: meta[k] for k in ("namespace", "name", "uid", "generation") if k in meta}
    return json.dumps({"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": lineage,
                       "spec": trainingjob["spec"]}, sort_keys=True, separators=(",", ":"))


def _resources(spec: Mapping[str, Any], settings: TrainingSettings) -> dict[str, Any]:
    wanted = spec.get("resources") or {}
    requests = {**settings.default_requests, **(wanted.get("requests") or {})}
    limits = {**settings.default_limits, **(wanted.get("limits") or {})}
    return {"requests": {k: str(v) for k, v in requests.items()}, "limits": {k: str(v) for k, v in limits.items()}}


def container_env(identity: RunIdentity, settings: TrainingSettings) -> list[dict[str, Any]]:
    spec = identity.trainingjob["spec"]
    env: list[dict[str, Any]] = [{"name": SPEC_ENV, "value": spec_document(identity.trainingjob)},
                                 {"name": RUN_ID_ENV, "value": identity.run}]
    if settings.store_uri:
        env.append({"name": STORE_ENV, "value": settings.store_uri})
    env += [{"name": k, "value": v} for k, v in sorted(settings.store_env.items())]
    return env + [dict(item) for item in spec.get("env") or []]


def container_env_from(spec: Mapping[str, Any], settings: TrainingSettings) -> list[dict[str, Any]]:
    # Later sources win on duplicate keys: the dataset's own keys override the store's.
    sources: list[dict[str, Any]] = []
    if settings.store_secret:
        sources.append({"secretRef": {"name": settings.store_secret}})
    dataset_secret = (spec.get("dataset") or {}).get("credentialsSecret")
    if dataset_secret:
        sources.append({"secretRef": {"name": dataset_secret}})
    return sources + [dict(item) for item in spec.get("envFrom") or []]


def pod_spec(identity: RunIdentity, settings: TrainingSettings, args: list[str]) -> dict[str, Any]:
    spec = identity.trainingjob["spec"]
    scheduling = spec.get("scheduling") or {}
    account = spec.get("serviceAccountName")
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        # The job's own identity, never the operator's; no API token unless an account was asked for.
        "automountServiceAccountToken": bool(account),
        "securityContext": {"runAsNonRoot": True, "runAsUser": TRAINER_UID, "runAsGroup": TRAINER_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "trainer",
            "image": spec.get("image") or settings.image,
            "imagePullPolicy": settings.image_pull_policy,
            "args": args,
            "env": container_env(identity, settings),
            "envFrom": container_env_from(spec, settings),
            "resources": _resources(spec, settings),
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own emptyDir
        }],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if account:
        pod["serviceAccountName"] = account
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        if scheduling.get(key):
            pod[key] = scheduling[key]
    if not pod["containers"][0]["envFrom"]:
        del pod["containers"][0]["envFrom"]
    return pod


def _job(identity: RunIdentity, settings: TrainingSettings, name: str, role: str, args: list[str],
         suspend: bool, extra: Mapping[str, Any]) -> dict[str, Any]:
    spec = identity.trainingjob["spec"]
    meta = identity.trainingjob["metadata"]
    labels = run_labels(meta["name"], identity.run, role)
    job_labels = {**labels, LABEL_CAUSE: identity.cause, LABEL_GENERATION: str(identity.generation),
                  LABEL_SPEC_HASH: identity.spec_hash}
    job_spec: dict[str, Any] = {
        "suspend": suspend,
        "backoffLimit": int(spec.get("backoffLimit", 2)),
        # A spec or data error (exit 2) fails the run at once instead of retrying backoffLimit times.
        "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
            "containerName": "trainer", "operator": "In", "values": [PERMANENT_EXIT_CODE]}}]},
        "template": {"metadata": {"labels": labels}, "spec": pod_spec(identity, settings, args)},
        **extra,
    }
    if spec.get("activeDeadlineSeconds"):
        job_spec["activeDeadlineSeconds"] = int(spec["activeDeadlineSeconds"])
    if spec.get("ttlSecondsAfterFinished") is not None:
        job_spec["ttlSecondsAfterFinished"] = int(spec["ttlSecondsAfterFinished"])
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": meta["namespace"], "labels": job_labels,
                     "ownerReferences": [owner_reference(identity.trainingjob)]},
        "spec": job_spec,
    }


def train_args(identity: RunIdentity) -> list[str]:
    """The trainer's command line for the run's train step (a Job's pod, or a DaskJob's runner)."""
    args = ["run", "--spec", f"env:{SPEC_ENV}", "--termination-message", "/dev/termination-log"]
    if trial_shards(identity.trainingjob["spec"]):
        args.append("--trials-from-store")
    return args


def train_job(identity: RunIdentity, settings: TrainingSettings, suspend: bool) -> dict[str, Any]:
    """The Job that runs every step and registers the model (after the trials Job when tuning is sharded)."""
    return _job(identity, settings, identity.run, ROLE_TRAIN, train_args(identity), suspend, {})


def trials_job(identity: RunIdentity, settings: TrainingSettings, suspend: bool) -> dict[str, Any]:
    """The Indexed Job whose pods each evaluate one shard of the tuning trials."""
    shards = trial_shards(identity.trainingjob["spec"])
    args = ["trials", "--spec", f"env:{SPEC_ENV}", "--run-id", identity.run, "--count", str(shards),
            "--termination-message", "/dev/termination-log"]
    return _job(identity, settings, trials_job_name(identity.run), ROLE_TRIALS, args, suspend,
                {"completionMode": "Indexed", "completions": shards, "parallelism": shards})
