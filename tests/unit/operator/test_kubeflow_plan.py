"""The kubeflow backend's planner: one KFP run per generation, found again by its display name, states mapped."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sextant_operator.reconcile.kubeflow_pipeline import pipeline_version_name, with_component_image
from sextant_operator.reconcile.kubeflow_runs import (
    KfpRunView,
    KubeflowObserved,
    KubeflowPlan,
    backoff_seconds,
    kfp_run_display_name,
    kubeflow_results_to_read,
    plan_kubeflow,
    run_generation,
    trainingjob_phase_from_run,
)
from sextant_operator.reconcile.transitions import status_changes
from tests.support.resources import REPO

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"
SPEC = {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
        "estimator": {"algorithm": "logistic_regression"}, "model": {"name": "iris"},
        "runtime": {"backend": "kubeflow"}}
UID = "0f6c-uid"
RESULT = {"model": {"name": "iris", "version": "3", "uri": "s3://sextant/models/iris/3"},
          "metrics": {"accuracy": 0.97}, "accepted": True, "best": {"algorithm": "logistic_regression"}}
STORE = "s3://sextant"


def _tj(spec: dict[str, Any] | None = None, generation: int = 1,
        status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "iris", "namespace": "ml", "uid": UID, "generation": generation},
            "spec": copy.deepcopy(spec or SPEC), "status": status or {}}


def _run(generation: int, state: str | None = None, run_id: str = "r1", error: str = "") -> KfpRunView:
    return KfpRunView(run_id, kfp_run_display_name(_tj(), generation), state, error, created_at=T0)


def _plan(tj: dict[str, Any], *runs: KfpRunView, results: dict[str, Any] | None = None,
          error: str | None = None, failures: int = 0) -> KubeflowPlan:
    return plan_kubeflow(KubeflowObserved(tj, runs, results or {}, T1, error, failures, "http://kfp-ui"), STORE)


def _after(tj: dict[str, Any], plan: KubeflowPlan) -> dict[str, Any]:
    out = copy.deepcopy(tj)
    out["status"] = {**out["status"], **status_changes(out["status"], plan.status)}
    return out


def test_display_name_carries_uid_and_generation_and_is_parsed_back() -> None:
    name = kfp_run_display_name(_tj(), 4)
    assert name == f"ml/iris g4 [{UID}]"
    assert run_generation(name, UID) == 4
    assert run_generation(name, "another-uid") is None


def test_a_new_trainingjob_records_its_run_then_creates_it() -> None:
    plan = _plan(_tj())
    assert plan.create is not None and plan.create.generation == 1
    assert plan.create.display_name == f"ml/iris g1 [{UID}]"
    assert plan.create.arguments["run_id"] == "iris-g1" and plan.create.arguments["store_uri"] == STORE
    assert plan.status["phase"] == "Pending" and plan.status["runs"][0]["name"] == "iris-g1"


def test_a_run_created_before_a_crash_is_adopted_not_created_again() -> None:
    recorded = _after(_tj(), _plan(_tj()))  # status written, then the operator died before or after creating
    assert _plan(recorded).create is not None  # KFP has no run: create it now
    adopted = _plan(recorded, _run(1, "RUNNING", "kfp-1"))
    assert adopted.create is None
    assert adopted.status["phase"] == "Running"
    assert adopted.status["run"] == {"backend": "kubeflow", "id": "kfp-1", "url": "http://kfp-ui/#/runs/details/kfp-1"}
    lost_status = _plan(_tj(), _run(1, "PENDING", "kfp-1"))  # status lost entirely: the run is still found
    assert lost_status.create is None and lost_status.status["run"]["id"] == "kfp-1"


@pytest.mark.parametrize(("state", "phase", "reason"), [
    (None, "Pending", "RunPending"), ("PENDING", "Pending", "RunPending"), ("RUNNING", "Running", "RunRunning"),
    ("PAUSED", "Suspended", "RunPaused"), ("CANCELING", "Running", "RunCanceling"),
    ("FAILED", "Failed", "RunFailed"), ("SKIPPED", "Failed", "RunSkipped"), ("CANCELED", "Failed", "RunCanceled"),
    ("SUCCEEDED", "Running", "ReadingResult"),
])
def test_kfp_states_map_to_run_phases(state: str | None, phase: str, reason: str) -> None:
    outcome = trainingjob_phase_from_run(_run(1, state), None)
    assert (outcome.phase, outcome.reason) == (phase, reason)


def test_a_failed_run_says_why() -> None:
    outcome = trainingjob_phase_from_run(_run(1, "FAILED", error="step fit: exit code 2"), None)
    assert "step fit: exit code 2" in outcome.message


def test_a_failed_run_says_the_failed_steps_own_reason_and_fix() -> None:
    running = _after(_tj(), _plan(_after(_tj(), _plan(_tj())), _run(1, "RUNNING")))
    assert kubeflow_results_to_read(running, [_run(1, "FAILED")]) == ["iris-g1"]
    document = {"status": "Failed", "runId": "iris-g1", "reason": "InvalidData",
                "message": "dataset s3://data/iris.csv does not exist.", "fix": "upload it or correct dataset.uri."}
    failed = _plan(running, _run(1, "FAILED", error="task prepare failed"), results={"iris-g1": document})
    assert (failed.status["phase"], failed.status["reason"]) == ("Failed", "InvalidData")
    assert "does not exist. Fix: upload it" in failed.status["message"]
    without = _plan(running, _run(1, "FAILED", error="task prepare failed"))  # no document: KFP's words
    assert without.status["reason"] == "RunFailed" and "task prepare failed" in without.status["message"]


def test_success_reads_the_result_document_into_status() -> None:
    running = _after(_tj(), _plan(_after(_tj(), _plan(_tj())), _run(1, "RUNNING")))
    assert kubeflow_results_to_read(running, [_run(1, "SUCCEEDED")]) == ["iris-g1"]
    waiting = _plan(running, _run(1, "SUCCEEDED"))
    assert waiting.status["reason"] == "ReadingResult" and waiting.requeue_after == 5.0
    done = _plan(running, _run(1, "SUCCEEDED"), results={"iris-g1": RESULT})
    assert done.status["phase"] == "Succeeded" and done.requeue_after is None
    assert done.status["model"]["version"] == "3" and done.status["metrics"] == {"accuracy": 0.97}
    assert done.status["runs"][0]["modelVersion"] == "3"


def test_a_spec_change_stops_the_old_run_and_creates_one_for_the_new_generation() -> None:
    running = _after(_tj(), _plan(_after(_tj(), _plan(_tj())), _run(1, "RUNNING", "kfp-1")))
    changed = {**running, "metadata": {**running["metadata"], "generation": 2},
               "spec": {**SPEC, "estimator": {"algorithm": "random_forest"}}}
    plan = _plan(changed, _run(1, "RUNNING", "kfp-1"))
    assert plan.terminate == ["kfp-1"]
    assert plan.create is not None and plan.create.generation == 2
    old = next(r for r in plan.status["runs"] if r["generation"] == 1)
    assert (old["phase"], old["reason"]) == ("Stopped", "Superseded")
    # KFP 2.14 ends the terminated run FAILED: the record stays Stopped, and the new run is not created twice
    again = _plan(_after(changed, plan), _run(1, "FAILED", "kfp-1"), _run(2, "PENDING", "kfp-2"))
    assert again.terminate == [] and again.create is None
    assert next(r for r in again.status["runs"] if r["generation"] == 1)["phase"] == "Stopped"


def test_an_edit_that_trains_the_same_thing_starts_no_run() -> None:
    running = _after(_tj(), _plan(_after(_tj(), _plan(_tj())), _run(1, "RUNNING", "kfp-1")))
    relabelled = {**running, "metadata": {**running["metadata"], "generation": 2}}
    plan = _plan(relabelled, _run(1, "RUNNING", "kfp-1"))
    assert plan.create is None and plan.terminate == [] and plan.status["phase"] == "Running"


def test_an_unreachable_api_is_a_condition_with_backoff_and_no_action() -> None:
    plan = _plan(_tj(), error="listing runs at http://kfp failed: ConnectionRefused", failures=3)
    assert plan.create is None and plan.terminate == []
    assert plan.status["reason"] == "KubeflowUnavailable" and plan.requeue_after == 20.0
    reachable = next(c for c in plan.status["conditions"] if c["type"] == "BackendReachable")
    assert reachable["status"] == "False" and "ConnectionRefused" in reachable["message"]
    assert [backoff_seconds(n) for n in (1, 2, 3, 10)] == [5.0, 10.0, 20.0, 300.0]


def test_the_shipped_pipeline_is_the_compiled_one_with_the_trainer_image(tmp_path: Path) -> None:
    from sextant_pipelines.kfp_pipeline import compile_pipeline

    shipped = (REPO / "operator/src/sextant_operator/kubeflow/training_pipeline.yaml").read_text()
    fresh = Path(compile_pipeline(str(tmp_path / "training_pipeline.yaml"))).read_text()
    assert with_component_image(shipped, "x") == with_component_image(fresh, "x"), (
        "the shipped pipeline is stale: run .venv/bin/python -c \"from sextant_pipelines.kfp_pipeline import "
        "compile_pipeline; compile_pipeline('operator/src/sextant_operator/kubeflow/training_pipeline.yaml')\"")
    package = with_component_image(shipped, "sextant.local/trainer:abc")
    images = {e["container"]["image"] for e in yaml.safe_load(package)["deploymentSpec"]["executors"].values()}
    assert images == {"sextant.local/trainer:abc"}
    assert pipeline_version_name("0.1.0", package) != pipeline_version_name("0.1.0", with_component_image(shipped, "y"))
    with pytest.raises(ValueError, match="deploymentSpec.executors"):
        with_component_image("a: 1", "x")
