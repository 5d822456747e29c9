"""A TrainingJob with spec.compute.dask: one DaskJob per run for the Dask Kubernetes operator, its phase read from
the runner pod when the DaskJob's status lags, and held Pending with the fix when the Dask support is off."""

from __future__ import annotations

import copy
from typing import Any

from sextant_operator.reconcile.dask_job_manifest import worker_memory_limit, worker_threads
from sextant_operator.reconcile.dask_observation import dask_job_view
from sextant_operator.reconcile.run_observation import pod_view
from sextant_operator.reconcile.training_job_manifest import SPEC_ENV, TrainingSettings
from sextant_operator.reconcile.trainingjob import Observed, TrainingPlan, plan_trainingjob

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
SETTINGS = TrainingSettings(image="sextant.local/trainer:abc", store_uri="s3://sextant",
                            store_env={"AWS_ENDPOINT_URL": "http://store:7070"}, store_secret="sextant-artifact-store",
                            dask_enabled=True)
SPEC = {"task": "classification", "dataset": {"uri": "s3://data/big/*.parquet", "target": "churned",
                                              "credentialsSecret": "data-keys"},
        "estimator": {"algorithm": "xgboost"}, "model": {"name": "churn"},
        "compute": {"dask": {"workers": 3, "resources": {"requests": {"cpu": "1"},
                                                         "limits": {"cpu": "2", "memory": "700Mi"}}}}}
RESULT = {"status": "Succeeded", "runId": "churn-g1", "accepted": True, "objective": "accuracy",
          "best": {"algorithm": "xgboost", "params": {}}, "metrics": {"accuracy": 0.78},
          "model": {"name": "churn", "version": 4, "digest": "sha256:ab", "uri": "s3://sextant/models/churn/4"},
          "compute": {"engine": "dask", "workers": 3, "partitions": 40,
                      "workerPeakMemoryBytes": [400 * 2**20, 611 * 2**20 + 1, 500 * 2**20]}}


def _tj(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": "churn", "namespace": "ml", "uid": "u-1", "generation": 1, "creationTimestamp": T0},
            "spec": copy.deepcopy(spec or SPEC), "status": status or {}}


def _started() -> tuple[dict[str, Any], dict[str, Any], TrainingPlan]:
    tj = _tj()
    plan = plan_trainingjob(Observed(tj, now=T0), SETTINGS)
    (manifest,) = plan.apply
    tj["status"] = plan.status
    return tj, manifest, plan


def _runner(phase: str, **state: Any) -> dict[str, Any]:
    labels = {"ml.sextant.io/trainingjob": "churn", "ml.sextant.io/run": "churn-g1", "ml.sextant.io/role": "train",
              "dask.org/cluster-name": "churn-g1", "dask.org/component": "job-runner"}
    return {"metadata": {"name": "churn-g1-runner", "labels": labels, "creationTimestamp": T0},
            "status": {"phase": phase, "containerStatuses": [{"state": state}]}}


def _daskjob(manifest: dict[str, Any], job_status: str, **more: Any) -> dict[str, Any]:
    return {**manifest, "status": {"jobStatus": job_status, **more}}


def test_a_dask_run_is_one_daskjob_owned_by_the_trainingjob_with_its_runner_scheduler_and_workers() -> None:
    tj, manifest, plan = _started()
    assert manifest["apiVersion"] == "kubernetes.dask.org/v1" and manifest["kind"] == "DaskJob"
    assert manifest["metadata"]["name"] == "churn-g1" and manifest["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert plan.status["run"] == {"backend": "dask", "id": "churn-g1"} and plan.status["phase"] == "Pending"

    runner = manifest["spec"]["job"]["spec"]["containers"][0]
    assert runner["args"][:3] == ["run", "--spec", f"env:{SPEC_ENV}"] and runner["image"] == SETTINGS.image
    assert manifest["spec"]["job"]["metadata"]["labels"]["ml.sextant.io/role"] == "train"
    cluster = manifest["spec"]["cluster"]
    assert "metadata" not in cluster  # the DaskJob CRD declares none: server-side apply would refuse it
    worker = cluster["spec"]["worker"]
    for part in (worker, cluster["spec"]["scheduler"]):
        assert part["metadata"]["labels"]["ml.sextant.io/run"] == "churn-g1"
        assert part["metadata"]["labels"]["ml.sextant.io/role"] == "dask"
    assert worker["replicas"] == 3
    (container,) = worker["spec"]["containers"]
    args = container["command"]
    assert args[:2] == ["dask", "worker"] and args[args.index("--nthreads") + 1] == "2"
    assert args[args.index("--memory-limit") + 1] == str(700 * 2**20)
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "700Mi"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AWS_ENDPOINT_URL"] == "http://store:7070" and SPEC_ENV not in env  # the data's, not the spec
    assert env["DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE"] == "false"  # the container's limit guards
    assert [s["secretRef"]["name"] for s in container["envFrom"]] == ["sextant-artifact-store", "data-keys"]
    scheduler = cluster["spec"]["scheduler"]
    assert scheduler["spec"]["containers"][0]["command"][:2] == ["dask", "scheduler"]
    assert scheduler["service"]["selector"] == {"dask.org/cluster-name": "churn-g1",
                                                "dask.org/component": "scheduler"}
    for pod in (manifest["spec"]["job"]["spec"], worker["spec"], scheduler["spec"]):  # restricted PSS
        assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}

    created = [dask_job_view(_daskjob(manifest, "ClusterCreated"))]
    waiting = plan_trainingjob(Observed(tj, created, now=T1), SETTINGS)
    assert waiting.apply == [] and waiting.status["phase"] == "Pending"  # no pod seen yet: the pods decide
    running = plan_trainingjob(Observed(tj, created, [pod_view(_runner("Running", running={}))], now=T1), SETTINGS)
    assert running.apply == [] and running.status["phase"] == "Running"


def test_the_runner_pod_decides_when_the_daskjob_stays_running_after_it() -> None:
    # dask/dask-kubernetes#975: the DaskJob said Running after its runner had finished.
    tj, manifest, _ = _started()
    stuck = [dask_job_view(_daskjob(manifest, "Running", startTime=T0))]
    pods = [pod_view(_runner("Succeeded", terminated={"reason": "Completed", "exitCode": 0}))]
    reading = plan_trainingjob(Observed(tj, stuck, pods, now=T1), SETTINGS)
    assert reading.status["phase"] == "Running" and reading.status["reason"] == "ReadingResult"
    tj["status"] = reading.status
    done = plan_trainingjob(Observed(tj, stuck, pods, {"churn-g1": RESULT}, now=T2), SETTINGS)
    assert done.status["phase"] == "Succeeded" and done.status["model"]["version"] == "4"
    assert done.status["run"]["backend"] == "dask"
    # What sizing the workers needs, in the units of their limit (rounded up).
    assert done.status["compute"] == {"engine": "dask", "workers": 3, "partitions": 40, "workerPeakMemory": "612Mi"}


def test_a_failed_runner_fails_the_run_with_the_trainers_message() -> None:
    tj, manifest, _ = _started()
    message = ('{"reason": "DataError", "message": "dataset s3://data/big/*.parquet does not exist", '
               '"fix": "upload the data first"}')
    pods = [pod_view(_runner("Failed", terminated={"reason": "Error", "exitCode": 2, "message": message}))]
    plan = plan_trainingjob(Observed(tj, [dask_job_view(_daskjob(manifest, "Running"))], pods, now=T1), SETTINGS)
    assert plan.status["phase"] == "Failed" and plan.status["reason"] == "DataError"
    assert "upload the data first" in plan.status["message"]


def test_an_oom_killed_worker_is_named_in_the_failure() -> None:
    tj, manifest, _ = _started()
    worker = {"metadata": {"name": "churn-g1-default-worker-1", "creationTimestamp": T0, "labels": {
        "ml.sextant.io/run": "churn-g1", "ml.sextant.io/role": "dask", "dask.org/cluster-name": "churn-g1"}},
        "status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}, "restartCount": 1,
                                                              "lastState": {"terminated": {"reason": "OOMKilled"}}}]}}
    pods = [pod_view(worker), pod_view(_runner("Failed", terminated={"reason": "Error", "exitCode": 3}))]
    plan = plan_trainingjob(Observed(tj, [dask_job_view(_daskjob(manifest, "Failed"))], pods, now=T1), SETTINGS)
    assert plan.status["phase"] == "Failed" and plan.status["reason"] == "OOMKilled"
    assert "churn-g1-default-worker-1" in plan.status["message"]
    assert "compute.dask.resources.limits.memory" in plan.status["message"]
    assert plan.delete == []  # the Dask operator already removed the cluster; the DaskJob stays for the record


def test_with_the_dask_support_off_the_job_is_held_pending_naming_the_chart_value() -> None:
    plan = plan_trainingjob(Observed(_tj(), now=T0), TrainingSettings(dask_enabled=False))
    assert plan.apply == [] and plan.status["phase"] == "Pending" and plan.status["reason"] == "DaskNotSupported"
    assert "dask.enabled" in plan.status["message"] and "remove spec.compute.dask" in plan.status["message"]


def test_worker_threads_and_memory_follow_the_container_resources() -> None:
    assert worker_threads({"requests": {"cpu": "500m"}}) == 1
    assert worker_threads({"requests": {"cpu": "1"}, "limits": {"cpu": "2500m"}}) == 3
    assert worker_threads({}) == 1
    assert worker_memory_limit({"limits": {"memory": "1Gi"}}) == str(2**30)
    assert worker_memory_limit({"requests": {"memory": "1Gi"}}) == "auto"


def _undeclared(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Fields of `value` the structural schema does not declare (what server-side apply refuses)."""
    if schema.get("x-kubernetes-preserve-unknown-fields") or not isinstance(value, (dict, list)):
        return []
    if isinstance(value, list):
        return [f for i, item in enumerate(value) for f in _undeclared(item, schema.get("items", {}), f"{path}[{i}]")]
    properties, extra = schema.get("properties"), schema.get("additionalProperties")
    found: list[str] = []
    for key, item in value.items():
        if properties is not None and key in properties:
            found += _undeclared(item, properties[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            found += _undeclared(item, extra, f"{path}.{key}")
        elif properties is not None:
            found.append(f"{path}.{key}")
    return found


def test_the_daskjob_fits_the_dask_operators_own_crd() -> None:
    import yaml

    from sextant_devcluster.chart_deps import source_chart

    crd = yaml.safe_load((source_chart("dask-kubernetes-operator") / "crds" / "daskjob.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    _, manifest, _ = _started()
    assert _undeclared({"spec": manifest["spec"]}, schema, "") == []


def test_a_daskjob_the_api_server_refuses_is_said_in_status_not_only_in_the_log() -> None:
    import json as _json

    from kubernetes.client.exceptions import ApiException

    from sextant_operator.handlers.trainingjob import refusal

    tj, manifest, _ = _started()
    missing = ApiException(status=404, reason="Not Found")
    missing.body = _json.dumps({"message": "the server could not find the requested resource"})
    why = refusal(manifest, missing)
    assert "install the Dask Kubernetes operator" in why and "could not find the requested resource" in why
    plan = plan_trainingjob(Observed(tj, now=T1, create_errors={"churn-g1": why}), SETTINGS)
    assert plan.apply and plan.status["phase"] == "Pending" and plan.status["reason"] == "RunNotCreated"
    assert why in plan.status["message"]
    invalid = ApiException(status=500, reason="Internal Server Error")
    invalid.body = _json.dumps({"message": ".spec.cluster.metadata: field not declared in schema"})
    assert "refused DaskJob churn-g1 (500: .spec.cluster.metadata: field not declared" in refusal(manifest, invalid)
