"""TrainingJobs on the kubeflow backend against KFP 2.14.3's real API server and persistence agent.

What is real: the operator, the KFP API server (MariaDB, versitygw as its object store), its persistence agent,
the Workflows it creates in the cluster, the `kfp` SDK client the tests check with. What is not: nothing executes
the Workflows (no Argo controller, no driver/launcher images, no MLMD), so `set_workflow_phase` sets a Workflow's
status.phase through the real Kubernetes API as Argo's controller would, and `write_result` writes the result
document the pipeline's register step writes. The persistence agent carries the phase into the run's state.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from tests.integration.kubeflow.conftest import SPEC, KubeflowWorld
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(300)


def _run_id(world: KubeflowWorld, name: str) -> str:
    return str(world.status_when(name, lambda s: (s.get("run") or {}).get("id"), "the run's id in status")
               ["run"]["id"])


def test_a_trainingjob_follows_its_kfp_run_to_a_registered_model(world: KubeflowWorld) -> None:
    tj = world.create("iris")
    run_id = _run_id(world, "iris")
    runs = world.runs(tj["metadata"]["uid"])
    assert [r.run_id for r in runs] == [run_id]
    assert runs[0].display_name == f"{world.namespace}/iris g1 [{tj['metadata']['uid']}]"
    status = world.get("iris")["status"]  # type: ignore[index]
    assert status["run"] == {"backend": "kubeflow", "id": run_id,
                             "url": f"http://kfp-ui.example/#/runs/details/{run_id}"}

    world.set_workflow_phase(run_id, "Running")
    world.status_when("iris", lambda s: s.get("phase") == "Running", "phase Running")
    world.write_result("iris-g1", "7", {"accuracy": 0.96})
    world.set_workflow_phase(run_id, "Succeeded")
    done = world.status_when("iris", lambda s: s.get("phase") == "Succeeded", "phase Succeeded")
    assert done["model"]["version"] == "7" and done["metrics"] == {"accuracy": 0.96}
    assert next(c for c in done["conditions"] if c["type"] == "Succeeded")["status"] == "True"
    assert len(world.runs(tj["metadata"]["uid"])) == 1


def test_a_failed_run_fails_the_trainingjob_with_the_reason(world: KubeflowWorld) -> None:
    world.create("iris")
    run_id = _run_id(world, "iris")
    world.set_workflow_phase(run_id, "Failed", "child 'fit' failed")
    failed = world.status_when("iris", lambda s: s.get("phase") == "Failed", "phase Failed")
    assert failed["reason"] == "RunFailed" and "FAILED" in failed["message"]


def test_a_spec_change_terminates_the_old_run_and_starts_one_for_the_new_generation(world: KubeflowWorld) -> None:
    tj = world.create("iris")
    first = _run_id(world, "iris")
    world.set_workflow_phase(first, "Running")
    world.status_when("iris", lambda s: s.get("phase") == "Running", "phase Running")
    world.custom().patch_namespaced_custom_object("ml.sextant.io", "v1alpha1", world.namespace, "trainingjobs",
                                                  "iris", {"spec": {"estimator": {"algorithm": "random_forest"}}})
    second = world.status_when("iris", lambda s: (s.get("run") or {}).get("id") not in (None, first),
                               "a run for generation 2")["run"]["id"]
    # KFP's terminate: the old Workflow's deadline goes to 0 and its run to CANCELING
    eventually(lambda: (world.workflow(first) or {}).get("spec", {}).get("activeDeadlineSeconds") == 0,
               timeout=30, what="the old run's Workflow terminated")
    world.set_workflow_phase(first, "Failed", "Stopped with strategy 'Terminate'")  # what Argo then does
    runs = {r.run_id: r for r in world.runs(tj["metadata"]["uid"])}
    assert set(runs) == {first, second}
    status = world.get("iris")["status"]  # type: ignore[index]
    old = next(r for r in status["runs"] if r["generation"] == 1)
    assert (old["phase"], old["reason"]) == ("Stopped", "Superseded")  # not Failed: the operator asked


def test_deleting_a_trainingjob_terminates_its_run(world: KubeflowWorld) -> None:
    world.create("iris")
    run_id = _run_id(world, "iris")
    world.custom().delete_namespaced_custom_object("ml.sextant.io", "v1alpha1", world.namespace, "trainingjobs",
                                                   "iris")
    eventually(lambda: world.get("iris") is None, timeout=30, what="the TrainingJob gone")
    # The KFP API server terminates a run by patching its Workflow; CI once read it a moment before the patch.
    eventually(lambda: (workflow := world.workflow(run_id)) is not None
               and workflow["spec"].get("activeDeadlineSeconds") == 0, timeout=30, interval=0.5,
               what="the run's Workflow to be terminated (activeDeadlineSeconds 0)")


def test_an_unreachable_kfp_api_is_a_condition_and_then_exactly_one_run(world: KubeflowWorld) -> None:
    world.proxy.off()
    tj = world.create("iris")
    down = world.status_when("iris", lambda s: s.get("reason") == "KubeflowUnavailable", "KubeflowUnavailable")
    reachable = next(c for c in down["conditions"] if c["type"] == "BackendReachable")
    assert reachable["status"] == "False" and "retries with backoff" in reachable["message"]
    assert world.runs(tj["metadata"]["uid"]) == []
    world.proxy.on()
    run_id = _run_id(world, "iris")
    up = world.status_when("iris", lambda s: s.get("reason") != "KubeflowUnavailable", "KFP reachable again")
    assert next(c for c in up["conditions"] if c["type"] == "BackendReachable")["status"] == "True"
    assert [r.run_id for r in world.runs(tj["metadata"]["uid"])] == [run_id]


def test_an_operator_killed_between_creating_a_run_and_recording_it_makes_no_second_run(
        world: KubeflowWorld) -> None:
    tj = world.create("iris")
    uid = tj["metadata"]["uid"]
    eventually(lambda: world.runs(uid) or None, timeout=60, interval=0.05, what="the run in KFP")
    world.operator.stop(signal.SIGKILL)  # as soon as KFP has the run: status may or may not hold its id yet
    recorded_before_restart = (world.get("iris")["status"].get("run") or {}).get("id")  # type: ignore[index]
    world.operator.start()
    run_id = _run_id(world, "iris")
    assert [r.run_id for r in world.runs(uid)] == [run_id]
    print(f"\nrun id in status when the operator was killed: {recorded_before_restart!r}")


def test_a_run_created_just_before_a_crash_is_adopted_after_restart(world: KubeflowWorld) -> None:
    """The deterministic form of the kill above: the run exists in KFP, status knows nothing of it."""
    world.operator.stop(signal.SIGKILL)
    tj = world.create("iris")
    client = world.kfp.client()
    experiment = client.create_experiment(world.experiment, namespace=world.kfp.namespace)
    client.run_pipeline(experiment.experiment_id, f"{world.namespace}/iris g1 [{tj['metadata']['uid']}]",
                        pipeline_package_path=_pipeline_file(world), params=_params(), enable_caching=False)
    world.operator.start()
    run_id = _run_id(world, "iris")
    assert [r.run_id for r in world.runs(tj["metadata"]["uid"])] == [run_id]


def test_twenty_trainingjobs_created_at_once_make_exactly_twenty_runs(world: KubeflowWorld) -> None:
    started = time.monotonic()
    uids = [world.create(f"iris-{i}", SPEC)["metadata"]["uid"] for i in range(20)]
    for i in range(20):
        _run_id(world, f"iris-{i}")
    counts = [len(world.runs(uid)) for uid in uids]
    assert counts == [1] * 20
    print(f"\n20 TrainingJobs -> 20 KFP runs recorded in status in {time.monotonic() - started:.1f} s")


def _pipeline_file(world: KubeflowWorld) -> str:
    from importlib import resources

    path = world.operator.workdir / "pipeline.yaml"
    path.write_text(resources.files("sextant_operator.kubeflow").joinpath("training_pipeline.yaml").read_text())
    return str(path)


def _params() -> dict[str, Any]:
    return {"spec_json": "{}", "store_uri": "s3://sextant", "run_id": "iris-g1", "training_job_json": "{}"}
