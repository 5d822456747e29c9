"""Fixtures of the kubeflow backend's tests: KFP's real API server and persistence agent (one per module), and an
operator pointed at it (one per test, its own experiment)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.support.kfp_backend import KfpBackend, SwitchableProxy, running_kfp
from tests.support.polling import eventually
from tests.support.sextant_fixtures import crds, start_sextant, stop_sextant  # noqa: F401
from tests.support.sextant_operator import OperatorProcess
from tests.support.versitygw import RunningStore, versitygw  # noqa: F401

GROUP, VERSION, PLURAL = "ml.sextant.io", "v1alpha1", "trainingjobs"
SPEC = {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
        "estimator": {"algorithm": "logistic_regression"}, "model": {"name": "iris"},
        "runtime": {"backend": "kubeflow"}}


@pytest.fixture(scope="module")
def kfp(cluster: Any, versitygw: RunningStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KfpBackend]:  # noqa: F811
    """The KFP API server and persistence agent; their Workflows go to a namespace of their own."""
    name = f"kfp-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    try:
        with running_kfp(cluster, versitygw.s3, name, tmp_path_factory.mktemp("kfp")) as backend:
            yield backend
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@dataclass
class KubeflowWorld:
    """What a test touches: the cluster, its namespace, KFP, the store, the operator and the proxy to KFP."""

    cluster: Any
    namespace: str
    kfp: KfpBackend
    store: RunningStore
    operator: OperatorProcess
    proxy: SwitchableProxy
    experiment: str

    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.cluster.api_client())

    def create(self, name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob",
                "metadata": {"name": name, "namespace": self.namespace}, "spec": spec or SPEC}
        return dict(self.custom().create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body))

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.custom().get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name))
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def status_when(self, name: str, predicate: Any, what: str, timeout: float = 60.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            status = (self.get(name) or {}).get("status") or {}
            return status if predicate(status) else None

        try:
            return eventually(probe, timeout=timeout, what=what)
        except Exception:
            print(self.operator.logs()[-6000:])
            raise

    def runs(self, uid: str) -> list[Any]:
        """The KFP runs carrying this TrainingJob's UID, through the SDK's own client."""
        filter_ = json.dumps({"predicates": [{"key": "display_name", "operation": "IS_SUBSTRING",
                                              "string_value": f"[{uid}]"}]})
        return list(self.kfp.client().list_runs(filter=filter_, page_size=100).runs or [])

    def workflow(self, run_id: str) -> dict[str, Any] | None:
        found = self.custom().list_namespaced_custom_object(
            "argoproj.io", "v1alpha1", self.kfp.namespace, "workflows", label_selector=f"pipeline/runid={run_id}")
        items = found.get("items") or []
        return dict(items[0]) if items else None

    def set_workflow_phase(self, run_id: str, phase: str, message: str = "") -> None:
        """The stand-in for Argo's workflow controller: the Workflow's status.phase, through the real API."""
        workflow = eventually(lambda: self.workflow(run_id), timeout=30, what=f"the Workflow of run {run_id}")
        status: dict[str, Any] = {"phase": phase, "startedAt": "2026-01-01T00:00:00Z"}
        if phase in ("Succeeded", "Failed", "Error"):
            status.update({"finishedAt": "2026-01-01T00:01:00Z", "message": message})
        self.custom().patch_namespaced_custom_object(
            "argoproj.io", "v1alpha1", self.kfp.namespace, "workflows", workflow["metadata"]["name"],
            {"status": status})

    def write_result(self, run_name: str, version: str, metrics: dict[str, float]) -> None:
        """The result document the pipeline's register step writes at the end of a run."""
        document = {"status": "Succeeded", "runId": run_name, "accepted": True, "objective": "accuracy",
                    "model": {"name": "iris", "version": version, "uri": f"s3://{self.store.bucket}/models/iris/"
                              f"{version}"}, "best": {"algorithm": "logistic_regression", "params": {}},
                    "metrics": metrics}
        self.store.s3.client().put_object(Bucket=self.store.bucket, Key=f"runs/{run_name}/result.json",
                                          Body=json.dumps(document).encode())


@pytest.fixture()
def world(cluster: Any, crds: None, namespace: str, tmp_path: Path, kfp: KfpBackend,  # noqa: F811
          versitygw: RunningStore) -> Iterator[KubeflowWorld]:  # noqa: F811
    """An operator whose kubeflow backend reaches KFP through a switchable proxy, in its own experiment."""
    proxy = SwitchableProxy(int(kfp.endpoint.rsplit(":", 1)[1]))
    proxy.on()
    env = {"SEXTANT_KFP_ENDPOINT": proxy.endpoint, "SEXTANT_KFP_NAMESPACE": kfp.namespace,
           "SEXTANT_KFP_EXPERIMENT": namespace, "SEXTANT_KFP_UI_URL": "http://kfp-ui.example",
           "SEXTANT_STORE_URI": f"s3://{versitygw.bucket}", **versitygw.s3.env()}
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False, env=env)
    try:
        yield KubeflowWorld(cluster, namespace, kfp, versitygw, operator, proxy, namespace)
    finally:
        proxy.on()  # the deletion handler terminates runs through KFP before the TrainingJobs can go
        stop_sextant(cluster, namespace, operator, hook)
        proxy.off()
