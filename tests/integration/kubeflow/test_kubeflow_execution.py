"""A TrainingJob of the kubeflow backend executed for real: KFP's API server compiles the run into an Argo Workflow,
Argo's controller runs its pods on the real node, KFP's driver and launcher run each step against the ML Metadata
service, and the trainer image trains, evaluates and registers the model (tests/support/kfp_execution.py).

Opt-in (minutes, and about 580 MB of images): `make test-kfp-exec`, or SEXTANT_KFP_EXEC=1 after
`make kfp-exec-images`. Needs the real node.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.support.kfp_backend import BIN_DIR, KfpBackend, running_kfp
from tests.support.kfp_execution import ExecutionImages, InstalledExecution, install_execution
from tests.support.polling import eventually
from tests.support.real_pods import image_refs
from tests.support.sextant_fixtures import crds, start_sextant, stop_sextant  # noqa: F401

GROUP, VERSION, PLURAL = "ml.sextant.io", "v1alpha1", "trainingjobs"
SPEC = {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
        "estimator": {"algorithm": "logistic_regression"}, "model": {"name": "iris"},
        "runtime": {"backend": "kubeflow"}}
RUN_TIMEOUT_S = 900.0

pytestmark = [
    pytest.mark.skipif(os.environ.get("SEXTANT_KFP_EXEC") != "1",
                       reason="executing a KFP run is opt-in: make test-kfp-exec (or SEXTANT_KFP_EXEC=1)"),
    pytest.mark.timeout(1500),
]


def execution_images(cluster: Any) -> ExecutionImages:
    """The images built here; skips naming the make target when one is missing."""
    refs = image_refs(cluster)
    try:
        return ExecutionImages.from_refs(refs)
    except KeyError as missing:
        pytest.skip(f"image {missing} is not built: run `make kfp-exec-images`")


@pytest.fixture(scope="module")
def executing_kfp(cluster: Any, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[KfpBackend, InstalledExecution, ExecutionImages]]:
    """KFP's API server and persistence agent, with Argo, MLMD and the store in their namespace."""
    images = execution_images(cluster)
    manifests = BIN_DIR / "argo-manifests"
    if not (manifests / "crds.yaml").is_file():
        pytest.skip(f"Argo's manifests are not in {BIN_DIR}: run `make kfp-exec-tools`")
    name = f"kfp-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    workdir = tmp_path_factory.mktemp("kfp-exec")
    try:
        installed = install_execution(cluster, name, images, manifests)
        env = {"V2_DRIVER_IMAGE": images.driver, "V2_LAUNCHER_IMAGE": images.launcher}
        with running_kfp(cluster, installed.store, name, workdir, server_env=env) as backend:
            yield backend, installed, images
    finally:
        _dump_namespace(cluster, name, workdir)
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _dump_namespace(cluster: Any, namespace: str, workdir: Path) -> None:
    """Pods, Workflows and every container's log of the KFP namespace, into the work directory (for a failure)."""
    out = workdir / "namespace.txt"
    parts = [cluster.kubectl("get", "pods,workflows", "-n", namespace, "-o", "wide", check=False).stdout]
    pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "name", check=False).stdout.split()
    for pod in pods:
        logs = cluster.kubectl("logs", pod, "-n", namespace, "--all-containers", "--prefix", "--tail=200",
                               check=False)
        parts.append(f"== {pod}\n{logs.stdout}{logs.stderr}")
    out.write_text("\n".join(parts))
    print(f"KFP namespace dump: {out}")


def trainingjob_status(api: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    body = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return dict(body.get("status") or {})


def follow_phases(api: client.CustomObjectsApi, namespace: str, name: str, timeout: float) -> tuple[list[str],
                                                                                                    dict[str, Any]]:
    """Poll the TrainingJob until it ends (Succeeded or Failed); return the phases seen on the way and the last
    status. Fails the test after `timeout` s."""
    phases: list[str] = []

    def ended() -> dict[str, Any] | None:
        status = trainingjob_status(api, namespace, name)
        phase = status.get("phase")
        if phase and (not phases or phases[-1] != phase):
            phases.append(phase)
            print(f"{time.strftime('%H:%M:%S')} phase {phase}")
        return status if phase in ("Succeeded", "Failed") else None

    status = eventually(ended, timeout=timeout, interval=0.5, what=f"TrainingJob {namespace}/{name} to end")
    return phases, status


def test_a_trainingjob_trains_and_registers_through_an_executed_kfp_run(
        cluster: Any, crds: None, namespace: str, tmp_path: Path,  # noqa: F811
        executing_kfp: tuple[KfpBackend, InstalledExecution, ExecutionImages]) -> None:
    backend, installed, images = executing_kfp
    env = {"SEXTANT_KFP_ENDPOINT": backend.endpoint, "SEXTANT_KFP_NAMESPACE": backend.namespace,
           "SEXTANT_KFP_EXPERIMENT": namespace, "SEXTANT_KFP_UI_URL": "http://kfp-ui.example",
           "SEXTANT_STORE_URI": "s3://sextant", "SEXTANT_TRAINER_IMAGE": images.trainer, **installed.store.env()}
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False, env=env)
    api = client.CustomObjectsApi(cluster.api_client())
    started = time.monotonic()
    try:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob",
                "metadata": {"name": "iris", "namespace": namespace}, "spec": SPEC}
        uid = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)["metadata"]["uid"]
        try:
            phases, status = follow_phases(api, namespace, "iris", RUN_TIMEOUT_S)
        except BaseException:  # a timeout: what the operator and KFP said is the way to why
            print(operator.logs()[-6000:], backend.logs(), sep="\n")
            raise
        elapsed = time.monotonic() - started
        print(f"TrainingJob phases {phases} in {elapsed:.0f} s; status: {json.dumps(status, indent=1)}")
        if status.get("phase") != "Succeeded":
            print(operator.logs()[-6000:], backend.logs(), sep="\n")
        assert phases[-1] == "Succeeded" and "Running" in phases, phases
        assert phases.index("Running") < phases.index("Succeeded")
        assert status["model"]["name"] == "iris" and status["model"]["version"] == "1"
        assert status["model"]["uri"].startswith("s3://sextant/models/iris/1")
        assert status["metrics"]["accuracy"] > 0.8
        assert status["run"]["backend"] == "kubeflow"
        filter_ = json.dumps({"predicates": [{"key": "display_name", "operation": "IS_SUBSTRING",
                                              "string_value": f"[{uid}]"}]})
        runs = list(backend.client().list_runs(filter=filter_, page_size=10).runs or [])
        assert [(r.run_id, r.state) for r in runs] == [(status["run"]["id"], "SUCCEEDED")]
        objects = installed.store.client().list_objects_v2(Bucket="sextant", Prefix="models/iris/1/")
        assert objects.get("KeyCount", 0) > 0, "the registered model is not in the store"
        workflows = api.list_namespaced_custom_object("argoproj.io", "v1alpha1", backend.namespace, "workflows",
                                                      label_selector=f"pipeline/runid={status['run']['id']}")
        [workflow] = workflows["items"]
        pods = [n for n in workflow["status"]["nodes"].values() if n.get("type") == "Pod"]
        print(f"Workflow {workflow['metadata']['name']}: {workflow['status']['phase']}, {len(pods)} pods: "
              + ", ".join(f"{n['displayName']}={n['phase']}" for n in pods))
        assert workflow["status"]["phase"] == "Succeeded"
        assert pods and all(n["phase"] == "Succeeded" for n in pods)
    finally:
        stop_sextant(cluster, namespace, operator, None)
        del hook
