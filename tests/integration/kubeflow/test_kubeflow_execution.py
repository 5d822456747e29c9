"""TrainingJobs of the kubeflow backend executed for real: the operator installed by its chart (its pod on the real
node) creates the runs; KFP's API server compiles each into an Argo Workflow, Argo's controller runs its pods on
the real node, KFP's driver and launcher run each step against the ML Metadata service, and the trainer image
trains, evaluates and registers the model (tests/support/kfp_execution.py).

Opt-in (minutes, and about 580 MB of images): `make test-kfp-exec`, or SEXTANT_KFP_EXEC=1 after
`make kfp-exec-images`. Needs the real node.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sextant_devcluster.layout import NODE_IP
from tests.support.kfp_backend import BIN_DIR, KfpBackend, running_kfp
from tests.support.kfp_execution import ExecutionImages, InstalledExecution, install_execution
from tests.support.polling import eventually
from tests.support.real_pods import chart_in_namespace, image_refs
from tests.support.sextant_fixtures import crds  # noqa: F401

GROUP, VERSION, PLURAL = "ml.sextant.io", "v1alpha1", "trainingjobs"
SPEC = {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
        "estimator": {"algorithm": "logistic_regression"}, "model": {"name": "iris"},
        "runtime": {"backend": "kubeflow"}}
RUN_TIMEOUT_S = 900.0
STORE_KEYS_SECRET = "sextant-store-keys"

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
        # On the real node's address, where the operator's pod reaches it (and the host, which the tests check from).
        with running_kfp(cluster, installed.store, name, workdir, server_env=env, http_host=NODE_IP) as backend:
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


@dataclass
class Executing:
    """The operator watching the test's namespace against the executing KFP, and what the tests look at."""

    namespace: str
    backend: KfpBackend
    installed: InstalledExecution
    api: client.CustomObjectsApi
    operator_logs: Callable[[], str]

    def create(self, name: str, spec: dict[str, Any]) -> str:
        """Create the TrainingJob (its model named after it, so each test's model is its own); returns its UID."""
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob",
                "metadata": {"name": name, "namespace": self.namespace}, "spec": {**spec, "model": {"name": name}}}
        return str(self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)
                   ["metadata"]["uid"])

    def status_when(self, name: str, check: Callable[[dict[str, Any]], object], what: str,
                    timeout: float = RUN_TIMEOUT_S) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            status = trainingjob_status(self.api, self.namespace, name)
            return status if check(status) else None

        try:
            return eventually(probe, timeout=timeout, interval=0.5, what=what)
        except BaseException:
            print(self.operator_logs()[-6000:], self.backend.logs(), sep="\n")
            raise

    def runs(self, uid: str) -> dict[str, str]:
        """KFP run id -> state of the runs carrying the TrainingJob's UID, through the SDK's client."""
        filter_ = json.dumps({"predicates": [{"key": "display_name", "operation": "IS_SUBSTRING",
                                              "string_value": f"[{uid}]"}]})
        return {r.run_id: r.state for r in self.backend.client().list_runs(filter=filter_, page_size=20).runs or []}

    def workflow(self, run_id: str) -> dict[str, Any]:
        workflows = self.api.list_namespaced_custom_object("argoproj.io", "v1alpha1", self.backend.namespace,
                                                           "workflows", label_selector=f"pipeline/runid={run_id}")
        [workflow] = workflows["items"]
        return dict(workflow)


@pytest.fixture
def executing(cluster: Any, crds: None,  # noqa: F811
              executing_kfp: tuple[KfpBackend, InstalledExecution, ExecutionImages]) -> Iterator[Executing]:
    """Sextant installed by its chart in a namespace of its own, as a user installs it against an existing KFP:
    kubeflow.endpoint on the real node's address, the store by reference to a Secret of its keys."""
    backend, installed, _ = executing_kfp
    namespace = f"kfx-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("create", "secret", "generic", STORE_KEYS_SECRET, "-n", namespace,
                    f"--from-literal=AWS_ACCESS_KEY_ID={installed.store.access_key}",
                    f"--from-literal=AWS_SECRET_ACCESS_KEY={installed.store.secret_key}")
    settings = (f"kubeflow.endpoint={backend.endpoint}", f"kubeflow.namespace={backend.namespace}",
                f"kubeflow.experiment={namespace}", "kubeflow.uiUrl=http://kfp-ui.example",
                "artifactStore.embedded.enabled=false", "artifactStore.uri=s3://sextant",
                f"artifactStore.endpoint={installed.store.endpoint}",
                f"artifactStore.credentialsSecret={STORE_KEYS_SECRET}")
    with chart_in_namespace(cluster, namespace, *settings) as name:
        yield Executing(name, backend, installed, client.CustomObjectsApi(cluster.api_client()),
                        lambda: cluster.kubectl("logs", "-n", name, "deployment/sx-sextant-operator", "--tail=300",
                                                check=False).stdout)


def _run_pods(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in (workflow.get("status") or {}).get("nodes", {}).values() if n.get("type") == "Pod"]


def _executing(executing: Executing, name: str) -> str:
    """The TrainingJob's run id once the run is Running and the first of its pods has run."""
    run_id = str(executing.status_when(name, lambda s: s.get("phase") == "Running", "phase Running")["run"]["id"])
    def started_pods() -> list[dict[str, Any]] | None:
        pods = _run_pods(executing.workflow(run_id))
        return pods if any(n["phase"] in ("Running", "Succeeded") for n in pods) else None

    pods = eventually(started_pods, timeout=180, interval=0.5, what="the run's first pod to run")
    print(f"run {run_id} executing: " + ", ".join(f"{n['displayName']}={n['phase']}" for n in pods))
    return run_id


def test_a_trainingjob_trains_and_registers_through_an_executed_kfp_run(executing: Executing) -> None:
    started = time.monotonic()
    uid = executing.create("iris", SPEC)
    phases, status = follow_phases(executing.api, executing.namespace, "iris", RUN_TIMEOUT_S)
    elapsed = time.monotonic() - started
    print(f"TrainingJob phases {phases} in {elapsed:.0f} s; status: {json.dumps(status, indent=1)}")
    if status.get("phase") != "Succeeded":
        print(executing.operator_logs()[-6000:], executing.backend.logs(), sep="\n")
    assert phases[-1] == "Succeeded" and "Running" in phases, phases
    assert phases.index("Running") < phases.index("Succeeded")
    assert status["model"]["name"] == "iris" and status["model"]["version"] == "1"
    assert status["model"]["uri"].startswith("s3://sextant/models/iris/1")
    assert status["metrics"]["accuracy"] > 0.8
    assert status["run"]["backend"] == "kubeflow"
    assert executing.runs(uid) == {status["run"]["id"]: "SUCCEEDED"}
    objects = executing.installed.store.client().list_objects_v2(Bucket="sextant", Prefix="models/iris/1/")
    assert objects.get("KeyCount", 0) > 0, "the registered model is not in the store"
    workflow = executing.workflow(status["run"]["id"])
    pods = _run_pods(workflow)
    print(f"Workflow {workflow['metadata']['name']}: {workflow['status']['phase']}, {len(pods)} pods: "
          + ", ".join(f"{n['displayName']}={n['phase']}" for n in pods))
    assert workflow["status"]["phase"] == "Succeeded"
    assert pods and all(n["phase"] == "Succeeded" for n in pods)


def test_an_executed_run_that_fails_says_the_trainers_reason(executing: Executing) -> None:
    missing = {**SPEC, "dataset": {"uri": "s3://sextant/data/no-such-file.csv", "target": "species"}}
    uid = executing.create("missing", missing)
    failed = executing.status_when("missing", lambda s: s.get("phase") == "Failed", "phase Failed")
    print(json.dumps({k: failed.get(k) for k in ("phase", "reason", "message")}))
    assert failed["reason"] == "InvalidData", failed  # the trainer's own reason, message and fix
    assert "no-such-file.csv" in failed["message"] and "does not exist" in failed["message"]
    assert list(executing.runs(uid).values()) == ["FAILED"]


def test_deleting_a_trainingjob_mid_run_terminates_its_executing_run(executing: Executing) -> None:
    uid = executing.create("doomed", SPEC)
    run_id = _executing(executing, "doomed")
    executing.api.delete_namespaced_custom_object(GROUP, VERSION, executing.namespace, PLURAL, "doomed")
    eventually(lambda: trainingjob_status_or_none(executing, "doomed") is None, timeout=60,
               what="the TrainingJob gone")
    # KFP 2.14 ends a terminated run FAILED (never CANCELED); Argo stops its pods.
    ended = eventually(lambda: (state := executing.runs(uid).get(run_id)) in ("FAILED", "CANCELED") and state,
                       timeout=300, interval=2, what="the run to end terminated")
    workflow = executing.workflow(run_id)
    print(f"run {run_id}: {ended}; Workflow {workflow['status'].get('phase')}: {workflow['status'].get('message')}")
    assert workflow["status"]["phase"] in ("Failed", "Error")
    assert not [n for n in _run_pods(workflow) if n["phase"] in ("Pending", "Running")]
    assert executing.installed.store.client().list_objects_v2(Bucket="sextant", Prefix="models/doomed/").get(
        "KeyCount", 0) == 0, "the deleted TrainingJob's run registered a model"


def test_a_spec_change_mid_run_stops_the_old_run_and_trains_the_new_generation(executing: Executing) -> None:
    uid = executing.create("changed", SPEC)
    first = _executing(executing, "changed")
    executing.api.patch_namespaced_custom_object(GROUP, VERSION, executing.namespace, PLURAL, "changed",
                                                 {"spec": {"estimator": {"algorithm": "random_forest"}}})
    done = executing.status_when("changed", lambda s: s.get("observedGeneration") == 2
                                 and s.get("phase") in ("Succeeded", "Failed"), "generation 2 to end")
    print(json.dumps({k: done.get(k) for k in ("phase", "reason", "run", "runs", "best")}, indent=1))
    second = done["run"]["id"]
    assert done["phase"] == "Succeeded" and done["best"]["algorithm"] == "random_forest"
    old = next(r for r in done["runs"] if r["generation"] == 1)
    assert (old["phase"], old["reason"]) == ("Stopped", "Superseded")
    def old_run_ended() -> dict[str, str] | None:
        runs = executing.runs(uid)
        return runs if runs.get(first) in ("FAILED", "CANCELED") else None

    states = eventually(old_run_ended, timeout=300, interval=2, what="the old run to end terminated")
    assert states == {first: states[first], second: "SUCCEEDED"}


def trainingjob_status_or_none(executing: Executing, name: str) -> dict[str, Any] | None:
    try:
        return trainingjob_status(executing.api, executing.namespace, name)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
