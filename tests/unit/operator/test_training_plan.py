"""The TrainingJob planner: one run per spec generation and cron tick, decided again identically after a crash."""

from __future__ import annotations

import copy
import json
from typing import Any

from sextant_operator.reconcile.run_observation import job_view, pod_view
from sextant_operator.reconcile.training_job_manifest import TrainingSettings
from sextant_operator.reconcile.trainingjob import (
    Observed,
    TrainingPlan,
    plan_trainingjob,
    progress_to_read,
    results_to_read,
)
from sextant_operator.reconcile.transitions import status_changes, transition_events

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
SETTINGS = TrainingSettings(image="sextant.local/trainer:abc", store_uri="s3://sextant",
                            store_env={"AWS_ENDPOINT_URL": "http://store:7070"}, store_secret="sextant-artifact-store")
SPEC = {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
        "estimator": {"algorithm": "logistic_regression"}, "model": {"name": "iris"}}


def _tj(spec: dict[str, Any] | None = None, generation: int = 1,
        status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": "iris", "namespace": "ml", "uid": "u-1", "generation": generation,
                         "creationTimestamp": T0},
            "spec": copy.deepcopy(spec or SPEC), "status": status or {}}


def _applied(tj: dict[str, Any], plan: TrainingPlan) -> dict[str, Any]:
    """The TrainingJob after the plan's status is written (what the next reconcile reads)."""
    after = copy.deepcopy(tj)
    after["status"] = {**after["status"], **status_changes(after["status"], plan.status)}
    return after


def _job_body(manifest: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {**manifest, "status": status}


def _complete(manifest: dict[str, Any]) -> dict[str, Any]:
    return _job_body(manifest, succeeded=1, startTime=T0, completionTime=T2,
                     conditions=[{"type": "Complete", "status": "True"}])


def _pod(job: str, run: str, **state: Any) -> dict[str, Any]:
    return {"metadata": {"name": f"{job}-x1", "creationTimestamp": T0,
                         "labels": {"ml.sextant.io/run": run, "batch.kubernetes.io/job-name": job}},
            "status": {"phase": state.pop("phase", "Failed"), "containerStatuses": [{"state": state}],
                       "conditions": state.pop("conditions", [])}}


RESULT = {"status": "Succeeded", "runId": "iris-g1", "objective": "accuracy", "accepted": True,
          "best": {"algorithm": "logistic_regression", "params": {}},
          "metrics": {"accuracy": 0.97, "f1_macro": 0.96},
          "model": {"name": "iris", "version": 1, "digest": "sha256:ab", "uri": "s3://sextant/models/iris/1"},
          "artifacts": {"report": "s3://sextant/runs/iris-g1/report.html"}, "trials": {"total": 0}}


def test_a_new_trainingjob_gets_one_job_under_a_deterministic_name_and_is_pending() -> None:
    plan = plan_trainingjob(Observed(_tj(), now=T0), SETTINGS)
    (job,) = plan.apply
    assert job["metadata"]["name"] == "iris-g1" and job["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert plan.status["phase"] == "Pending" and plan.status["runs"][0]["name"] == "iris-g1"
    again = plan_trainingjob(Observed(_applied(_tj(), plan), now=T1), SETTINGS)  # crash before the index saw it
    assert [j["metadata"]["name"] for j in again.apply] == ["iris-g1"]  # the same name: applying it is a no-op
    seen = plan_trainingjob(Observed(_applied(_tj(), plan), jobs=[job_view(_job_body(job, active=1))], now=T1),
                            SETTINGS)
    assert seen.apply == [] and seen.status["phase"] == "Pending" and seen.status["reason"] == "PodsStarting"
    running = pod_view(_pod("iris-g1", "iris-g1", phase="Running", running={}))
    busy = plan_trainingjob(Observed(_applied(_tj(), plan), jobs=[job_view(_job_body(job, active=1))],
                                     pods=[running], now=T1), SETTINGS)
    assert busy.status["phase"] == "Running"


def test_the_training_pod_is_restricted_and_gets_credentials_only_by_reference() -> None:
    (job,) = plan_trainingjob(Observed(_tj(), now=T0), SETTINGS).apply
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
    assert pod["securityContext"]["runAsNonRoot"]
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["envFrom"] == [{"secretRef": {"name": "sextant-artifact-store"}}]
    assert not any("SECRET" in e["name"] or "KEY" in e["name"] for e in container["env"])
    spec_doc = json.loads(next(e["value"] for e in container["env"] if e["name"] == "SEXTANT_TRAININGJOB"))
    assert spec_doc["spec"] == SPEC and spec_doc["metadata"]["uid"] == "u-1"
    assert job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2]


def test_scheduling_account_and_image_reach_the_pod() -> None:
    spec = {**SPEC, "image": "registry.example/trainer:2", "serviceAccountName": "trainer",
            "scheduling": {"nodeSelector": {"pool": "gpu"}, "priorityClassName": "batch"},
            "resources": {"limits": {"nvidia.com/gpu": 1}}}
    (job,) = plan_trainingjob(Observed(_tj(spec), now=T0), SETTINGS).apply
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example/trainer:2"
    assert pod["serviceAccountName"] == "trainer" and pod["automountServiceAccountToken"] is True
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["priorityClassName"] == "batch"
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def _running(spec: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    tj = _tj(spec)
    plan = plan_trainingjob(Observed(tj, now=T0), SETTINGS)
    return _applied(tj, plan), plan.apply[0]


def test_a_spec_change_during_a_run_stops_it_and_starts_the_new_generation() -> None:
    tj, job = _running()
    tj["metadata"]["generation"] = 2
    tj["spec"]["estimator"] = {"algorithm": "random_forest"}
    plan = plan_trainingjob(Observed(tj, jobs=[job_view(_job_body(job, active=1))], now=T1), SETTINGS)
    assert [j["metadata"]["name"] for j in plan.apply] == ["iris-g2"] and plan.delete == ["iris-g1"]
    runs = {r["name"]: r for r in plan.status["runs"]}
    assert runs["iris-g1"]["phase"] == "Stopped" and runs["iris-g2"]["phase"] == "Pending"


def test_suspend_pauses_the_run_without_starting_another() -> None:
    tj, job = _running()
    tj["metadata"]["generation"] = 2
    tj["spec"]["suspend"] = True
    plan = plan_trainingjob(Observed(tj, jobs=[job_view(_job_body(job, active=1))], now=T1), SETTINGS)
    assert plan.apply == [] and plan.suspend == {"iris-g1": True}
    suspended = {**job, "spec": {**job["spec"], "suspend": True}}
    later = plan_trainingjob(Observed(_applied(tj, plan), jobs=[job_view(_job_body(suspended))], now=T2), SETTINGS)
    assert later.status["phase"] == "Suspended" and later.suspend == {}
    tj["spec"]["suspend"] = False
    resumed = plan_trainingjob(Observed(tj, jobs=[job_view(_job_body(suspended))], now=T2), SETTINGS)
    assert resumed.suspend == {"iris-g1": False} and resumed.apply == []


def test_a_changed_trigger_starts_a_new_run_of_the_same_spec() -> None:
    tj, job = _running()
    done = [job_view(_complete(job))]
    tj = _applied(tj, plan_trainingjob(Observed(tj, jobs=done, results={"iris-g1": RESULT}, now=T2), SETTINGS))
    tj["metadata"]["generation"], tj["spec"]["trigger"] = 2, "retrain-1"
    plan = plan_trainingjob(Observed(tj, jobs=done, now=T2), SETTINGS)
    assert [j["metadata"]["name"] for j in plan.apply] == ["iris-g2"]


def test_success_comes_from_the_result_document() -> None:
    tj, job = _running()
    done = [job_view(_complete(job))]
    assert results_to_read(tj, done) == ["iris-g1"]
    waiting = plan_trainingjob(Observed(tj, jobs=done, now=T2), SETTINGS)
    assert waiting.status["phase"] == "Running" and waiting.status["reason"] == "ReadingResult"
    plan = plan_trainingjob(Observed(tj, jobs=done, results={"iris-g1": RESULT}, now=T2), SETTINGS)
    status = plan.status
    assert status["phase"] == "Succeeded" and status["model"]["version"] == "1"
    assert status["best"]["metric"] == "accuracy" and status["best"]["value"] == 0.97
    assert status["runs"][0]["modelVersion"] == "1" and status["runs"][0]["completionTime"] == T2
    assert status["dataQualityReport"].endswith("report.html") and status["cost"]["cpuSeconds"] == 60.0
    after = _applied(tj, plan)
    assert results_to_read(after, done) == []
    steady = plan_trainingjob(Observed(after, jobs=done, now=T2), SETTINGS)
    assert status_changes(after["status"], steady.status) == {} and steady.requeue_after is None
    (event,) = transition_events(tj["status"], status)
    assert event.type == "Normal" and "Succeeded" in event.message


def test_a_completed_job_without_a_result_is_read_less_often_then_fails_saying_where_to_look() -> None:
    """On fake nodes 1,000 Jobs complete without a trainer: read every 5 s for ever, they cost a fifth of a core."""
    tj, job = _running()
    done = [job_view(_complete(job))]  # completed at T2
    first = plan_trainingjob(Observed(tj, jobs=done, now=T2), SETTINGS)
    assert first.status["reason"] == "ReadingResult" and first.requeue_after == 5.0
    two_minutes = plan_trainingjob(Observed(tj, jobs=done, now="2026-01-01T00:04:00Z"), SETTINGS)
    assert two_minutes.status["reason"] == "ReadingResult" and two_minutes.requeue_after == 30.0
    tj = _applied(tj, two_minutes)
    failed = plan_trainingjob(Observed(tj, jobs=done, now="2026-01-01T00:07:00Z"), SETTINGS)
    assert failed.status["phase"] == "Failed" and failed.status["reason"] == "ResultMissing"
    assert "kubectl logs job/iris-g1" in failed.status["message"]
    assert "artifactStore.uri" in failed.status["message"] and failed.requeue_after is None
    assert failed.apply == [] and failed.delete == []
    arrived = plan_trainingjob(Observed(tj, jobs=done, results={"iris-g1": RESULT}, now="2026-01-01T00:06:00Z"),
                               SETTINGS)
    assert arrived.status["phase"] == "Succeeded"


def _failed(job: dict[str, Any], reason: str = "BackoffLimitExceeded") -> dict[str, Any]:
    return _job_body(job, failed=1, startTime=T0, conditions=[
        {"type": "Failed", "status": "True", "reason": reason, "message": "Job has reached the specified limit"}])


def test_oomkilled_names_the_memory_limit() -> None:
    tj, job = _running()
    pod = pod_view(_pod("iris-g1", "iris-g1", terminated={"reason": "OOMKilled", "exitCode": 137}))
    plan = plan_trainingjob(Observed(tj, jobs=[job_view(_failed(job))], pods=[pod], now=T1), SETTINGS)
    assert plan.status["phase"] == "Failed" and plan.status["reason"] == "OOMKilled"
    assert "limits.memory" in plan.status["message"] and "spec.compute.dask" in plan.status["message"]
    (event,) = transition_events(tj["status"], plan.status)
    assert event.type == "Warning"


def test_a_data_error_carries_the_trainers_own_message() -> None:
    tj, job = _running()
    message = json.dumps({"status": "Failed", "reason": "DataError", "message": "target column 'label' is missing",
                          "fix": "set dataset.target to one of: a, b"})
    pod = pod_view(_pod("iris-g1", "iris-g1", terminated={"reason": "Error", "exitCode": 2, "message": message}))
    plan = plan_trainingjob(Observed(tj, jobs=[job_view(_failed(job, "PodFailurePolicy"))], pods=[pod], now=T1),
                            SETTINGS)
    assert plan.status["reason"] == "DataError"
    assert "target column 'label' is missing" in plan.status["message"] and "dataset.target" in plan.status["message"]


def test_deadline_and_unschedulable_and_bad_image() -> None:
    tj, job = _running()
    deadline = plan_trainingjob(Observed(tj, jobs=[job_view(_failed(job, "DeadlineExceeded"))], now=T1), SETTINGS)
    assert deadline.status["reason"] == "DeadlineExceeded"
    pending = pod_view(_pod("iris-g1", "iris-g1", phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/5 nodes are available: 5 Insufficient nvidia.com/gpu."}]))
    stuck = plan_trainingjob(Observed(tj, jobs=[job_view(_job_body(job, active=1))], pods=[pending], now=T1), SETTINGS)
    assert stuck.status["phase"] == "Pending" and stuck.status["reason"] == "Unschedulable"
    assert "nvidia.com/gpu" in stuck.status["message"]
    bad = pod_view(_pod("iris-g1", "iris-g1", phase="Pending",
                        waiting={"reason": "ErrImageNeverPull", "message": "image not present"}))
    failed = plan_trainingjob(Observed(tj, jobs=[job_view(_job_body(job, active=1))], pods=[bad], now=T1), SETTINGS)
    assert failed.status["reason"] == "ImagePullFailed" and failed.delete == ["iris-g1"]


def test_sharded_tuning_runs_an_indexed_job_then_the_train_job() -> None:
    spec = {**SPEC, "estimator": None, "tuning": {"algorithm": "svm", "strategy": "random", "maxTrials": 6,
                                                  "parallelTrials": 3, "searchSpace": {
                                                      "C": {"type": "float", "min": 0.1, "max": 10}}}}
    del spec["estimator"]
    tj, trials = _running(spec)
    assert trials["metadata"]["name"] == "iris-g1-trials"
    assert trials["spec"]["completionMode"] == "Indexed" and trials["spec"]["completions"] == 3
    assert trials["spec"]["template"]["spec"]["containers"][0]["args"][:1] == ["trials"]
    shard = pod_view(_pod("iris-g1-trials", "iris-g1", phase="Running", running={}))
    busy = plan_trainingjob(Observed(tj, jobs=[job_view(_job_body(trials, active=3))], pods=[shard], now=T1),
                            SETTINGS)
    assert busy.apply == [] and busy.status["phase"] == "Running"
    done = plan_trainingjob(Observed(tj, jobs=[job_view(_complete(trials))], now=T1), SETTINGS)
    (train,) = done.apply
    assert train["metadata"]["name"] == "iris-g1" and "--trials-from-store" in \
        train["spec"]["template"]["spec"]["containers"][0]["args"]


def test_cron_ticks_start_runs_forbid_skips_and_history_is_bounded() -> None:
    spec = {**SPEC, "schedule": {"cron": "*/5 * * * *", "successfulRunsHistoryLimit": 1}}
    tj, job = _running(spec)
    done = [job_view(_complete(job))]
    tj = _applied(tj, plan_trainingjob(Observed(tj, jobs=done, results={"iris-g1": RESULT}, now=T2), SETTINGS))
    quiet = plan_trainingjob(Observed(tj, jobs=done, now="2026-01-01T00:04:00Z"), SETTINGS)
    assert quiet.apply == [] and quiet.status["nextScheduleTime"] == "2026-01-01T00:05:00Z"
    assert quiet.requeue_after == 60.0
    tick = plan_trainingjob(Observed(tj, jobs=done, now="2026-01-01T00:05:10Z"), SETTINGS)
    (scheduled,) = tick.apply
    assert scheduled["metadata"]["labels"]["ml.sextant.io/cause"] == "schedule"
    name = scheduled["metadata"]["name"]
    tj = _applied(tj, tick)
    running = [*done, job_view(_job_body(scheduled, active=1, startTime="2026-01-01T00:05:10Z"))]
    skipped = plan_trainingjob(Observed(tj, jobs=running, now="2026-01-01T00:10:05Z"), SETTINGS)
    assert skipped.apply == []  # Forbid: the 00:10 tick finds a run still going
    finished = [done[0], job_view(_complete(scheduled))]
    result = {**RESULT, "runId": name, "model": {**RESULT["model"], "version": 2}}
    pruned = plan_trainingjob(Observed(tj, jobs=finished, results={name: result}, now="2026-01-01T00:09:00Z"),
                              SETTINGS)
    assert pruned.delete == ["iris-g1"] and pruned.status["model"]["version"] == "2"


def test_the_kubeflow_backend_is_reported_unavailable() -> None:
    plan = plan_trainingjob(Observed(_tj({**SPEC, "runtime": {"backend": "kubeflow"}}), now=T0), SETTINGS)
    assert plan.apply == [] and plan.status["reason"] == "BackendNotConfigured"


def test_a_crash_after_the_new_generations_job_before_the_status_patch_never_revives_the_old_run() -> None:
    # The operator applied iris-g2 and deleted iris-g1, then died before patching status: the status still says
    # iris-g1 is going and only iris-g2's Job is left. iris-g1 must end Stopped, never get a Job again.
    tj, _ = _running()
    tj["metadata"]["generation"] = 2
    tj["spec"]["estimator"] = {"algorithm": "random_forest"}
    started = plan_trainingjob(Observed(tj, now=T1), SETTINGS)
    g2 = next(j for j in started.apply if j["metadata"]["name"] == "iris-g2")
    g1 = _running()[1]
    for g1_jobs in ([], [job_view(_job_body(g1, active=1))]):  # iris-g1 deleted, or the crash came before that
        after = plan_trainingjob(Observed(tj, jobs=[*g1_jobs, job_view(_job_body(g2))], now=T2), SETTINGS)
        assert [j["metadata"]["name"] for j in after.apply] == []
        runs = {r["name"]: r for r in after.status["runs"]}
        assert runs["iris-g1"]["phase"] == "Stopped" and runs["iris-g2"]["phase"] != "Stopped"
        assert after.status["run"]["id"] == "iris-g2"
        assert after.delete == [j.name for j in g1_jobs]


def test_a_failed_run_recorded_before_a_crash_still_releases_its_pods() -> None:
    # The run failed on its image; the operator recorded Failed, then died before deleting the Job.
    tj, job = _running()
    bad = pod_view(_pod("iris-g1", "iris-g1", phase="Pending",
                        waiting={"reason": "ErrImageNeverPull", "message": "image not present"}))
    failed = plan_trainingjob(Observed(tj, jobs=[job_view(_job_body(job, active=1))], pods=[bad], now=T1), SETTINGS)
    assert failed.status["phase"] == "Failed" and failed.delete == ["iris-g1"]
    after = plan_trainingjob(Observed(_applied(tj, failed), jobs=[job_view(_job_body(job, active=1))], pods=[bad],
                                      now=T2), SETTINGS)
    assert after.apply == [] and after.delete == ["iris-g1"] and after.status["phase"] == "Failed"


def test_progress_of_a_running_search_is_shown_until_the_run_ends() -> None:
    spec = {**SPEC, "tuning": {"algorithm": "svm", "maxTrials": 20, "searchSpace": {
        "C": {"type": "float", "min": 0.1, "max": 10}}}}
    del spec["estimator"]
    tj, job = _running(spec)
    jobs = [job_view(_job_body(job, active=1, startTime=T0))]
    assert results_to_read(tj, jobs) == [] and progress_to_read(tj, jobs) == ["iris-g1"]
    running = [pod_view(_pod("iris-g1", "iris-g1", phase="Running", running={}))]
    plan = plan_trainingjob(Observed(tj, jobs=jobs, pods=running, now=T1, progress={"iris-g1": {
        "trialsDone": 7, "trialsTotal": 20, "bestValue": 0.93}}), SETTINGS)
    assert plan.status["progress"] == {"trialsDone": 7, "trialsTotal": 20, "summary": "7/20", "bestValue": 0.93}
    assert plan.requeue_after == 10.0
    done = plan_trainingjob(Observed(_applied(tj, plan), jobs=[job_view(_complete(job))],
                                     results={"iris-g1": RESULT}, now=T2), SETTINGS)
    assert "progress" not in done.status
    assert status_changes(_applied(tj, plan)["status"], done.status).get("progress", 1) is None


def test_a_cron_the_pattern_lets_through_is_refused_at_admission() -> None:
    from sextant_operator.admission.webhook import schedule_violations

    assert schedule_violations({"schedule": {"cron": "61 * * * *"}}) == [
        "spec.schedule.cron: '61 * * * *' is not a cron expression: use five fields (minute hour day-of-month "
        "month day-of-week), e.g. \"0 3 * * 1\", or @hourly, @daily, @weekly, @monthly"]
    assert schedule_violations({"schedule": {"cron": "0 3 * * 1"}}) == [] and schedule_violations({}) == []


def test_a_running_run_reconciled_later_changes_nothing() -> None:
    """No field may depend on the clock while nothing happens: each status patch wakes the operator again."""
    tj, job = _running()
    jobs = [job_view(_job_body(job, active=1, startTime=T0))]
    first = plan_trainingjob(Observed(tj, jobs=jobs, now=T1), SETTINGS)
    after = _applied(tj, first)
    later = plan_trainingjob(Observed(after, jobs=jobs, now="2026-01-01T00:30:00Z"), SETTINGS)
    assert status_changes(after["status"], later.status) == {}
    failed = [job_view(_failed(job))]
    ended = _applied(after, plan_trainingjob(Observed(after, jobs=failed, now=T2), SETTINGS))
    again = plan_trainingjob(Observed(ended, jobs=failed, now="2026-01-01T01:00:00Z"), SETTINGS)
    assert status_changes(ended["status"], again.status) == {}


def test_an_acceptance_failure_fails_the_run_with_the_trainers_criteria() -> None:
    tj, job = _running()
    missed = {**RESULT, "accepted": False, "failedCriteria": ["accuracy 0.8000 is below the minimum 0.95"],
              "model": {**RESULT["model"], "promotedTo": None}}
    plan = plan_trainingjob(Observed(tj, jobs=[job_view(_complete(job))], results={"iris-g1": missed}, now=T2),
                            SETTINGS)
    assert plan.status["phase"] == "Failed" and plan.status["reason"] == "AcceptanceFailed"
    assert "accuracy 0.8000 is below the minimum 0.95" in plan.status["message"]
    assert plan.status["accepted"] is False and plan.status["model"]["version"] == "1"


def test_the_status_writer_leaves_fields_it_does_not_own() -> None:
    current = {"phase": "Running", "progress": {"trialsDone": 1}, "drift": {"score": 0.3}}
    desired = {"phase": "Succeeded"}
    assert status_changes(current, desired, frozenset({"phase", "progress"})) == {"phase": "Succeeded",
                                                                                  "progress": None}


def test_a_running_job_is_not_polled_its_job_and_pods_events_drive_it() -> None:
    """P4: no timer per Running TrainingJob; what changes it comes as events of its Job and pods."""
    tj, job = _running(SPEC)
    jobs = [job_view(_job_body(job, active=1, startTime=T0))]
    running = [pod_view(_pod("iris-g1", "iris-g1", phase="Running", running={}))]
    plan = plan_trainingjob(Observed(tj, jobs=jobs, pods=running, now=T1), SETTINGS)
    assert plan.status["phase"] == "Running" and plan.apply == []
    assert plan.requeue_after is None
