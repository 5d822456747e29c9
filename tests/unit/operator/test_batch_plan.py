"""The BatchPrediction planner: one Job per run under deterministic names, the model pinned when a run starts,
progress and the scorer's outcome in status (rows done of total, the rejected row), schedules and history."""

from __future__ import annotations

import copy
import json
from typing import Any

from sextant_operator.reconcile.batch_job_manifest import BatchSettings, progress_key
from sextant_operator.reconcile.batchprediction import (
    BatchObserved,
    BatchPlan,
    plan_batchprediction,
    progress_to_read,
    run_starting,
)
from sextant_operator.reconcile.inferenceservice import Unresolved
from sextant_operator.reconcile.run_observation import job_view, pod_view
from sextant_operator.reconcile.transitions import status_changes

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
SETTINGS = BatchSettings(image="sextant.local/server:abc", store_uri="s3://sextant",
                         store_env={"AWS_ENDPOINT_URL": "http://store:7070"}, store_secret="sextant-artifact-store")
SPEC = {"model": {"name": "iris", "alias": "production"}, "input": {"uri": "s3://sextant/data/in.csv"},
        "output": {"uri": "s3://sextant/out/pred.csv"}, "idColumn": "id", "chunkSize": 500}
MODEL = {"name": "iris", "version": "3", "digest": "sha256:ab"}


def _bp(spec: dict[str, Any] | None = None, generation: int = 1, status: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "BatchPrediction",
            "metadata": {"name": "scores", "namespace": "ml", "uid": "u-1", "generation": generation,
                         "creationTimestamp": T0},
            "spec": copy.deepcopy(spec or SPEC), "status": status or {}}


def _after(bp: dict[str, Any], plan: BatchPlan) -> dict[str, Any]:
    """The BatchPrediction after the plan's status is written (what the next reconcile reads)."""
    out = copy.deepcopy(bp)
    out["status"] = {k: v for k, v in {**out["status"], **status_changes(out["status"], plan.status)}.items()
                     if v is not None}
    return out


def _job(manifest: dict[str, Any], **status: Any) -> Any:
    return job_view({**manifest, "status": status})


def _pod(run: str, phase: str, **state: Any) -> Any:
    return pod_view({"metadata": {"name": f"{run}-x1", "creationTimestamp": T0,
                                  "labels": {"ml.sextant.io/run": run, "batch.kubernetes.io/job-name": run}},
                     "status": {"phase": phase, "containerStatuses": [{"state": state}]}})


def _start(bp: dict[str, Any]) -> tuple[BatchPlan, dict[str, Any]]:
    plan = plan_batchprediction(BatchObserved(bp, model=MODEL, now=T0), SETTINGS)
    return plan, plan.apply[0]


def test_a_new_batchprediction_pins_its_model_and_gets_one_restricted_job() -> None:
    bp = _bp()
    assert run_starting(bp, [], T0)
    plan, job = _start(bp)
    assert job["metadata"]["name"] == "scores-g1" and job["metadata"]["ownerReferences"][0]["kind"] == "BatchPrediction"
    assert plan.status["phase"] == "Pending" and plan.status["modelVersion"] == "iris:3"
    assert plan.status["runs"][0]["model"] == MODEL and plan.status["currentRun"] == "scores-g1"
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "sextant_services.batch"]
    args = container["args"]
    assert args[args.index("--version") + 1] == "3" and args[args.index("--digest") + 1] == "sha256:ab"
    assert args[args.index("--progress-key") + 1] == progress_key("ml", "scores-g1") == \
        "batchruns/ml/scores-g1/progress.json"
    assert container["image"] == "sextant.local/server:abc"
    assert container["envFrom"] == [{"secretRef": {"name": "sextant-artifact-store"}}]
    assert all("value" not in e or not e["name"].startswith("AWS_SECRET") for e in container["env"])
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2]
    # The operator restarted before its index saw the Job: the same name again (applying it changes nothing),
    # and the model is not resolved again: the run keeps the version it pinned.
    again = plan_batchprediction(BatchObserved(_after(bp, plan), now=T1), SETTINGS)
    assert [j["metadata"]["name"] for j in again.apply] == ["scores-g1"]
    assert again.apply[0]["spec"]["template"]["spec"]["containers"][0]["args"] == args
    assert not run_starting(_after(bp, plan), [], T1)


def test_an_unresolvable_model_holds_the_run_and_says_why() -> None:
    missing = Unresolved("ModelNotFound", "model iris@production: no such alias")
    plan = plan_batchprediction(BatchObserved(_bp(), model=missing, now=T0), SETTINGS)
    assert plan.apply == [] and plan.status["phase"] == "Pending" and plan.status["reason"] == "ModelNotFound"
    assert "starts once the model resolves" in plan.status["message"] and plan.requeue_after == 30.0


def test_progress_comes_from_the_store_document_while_the_scorer_runs() -> None:
    plan, job = _start(_bp())
    bp = _after(_bp(), plan)
    jobs = [_job(job, active=1, startTime=T0)]
    assert progress_to_read(bp, jobs) == ["scores-g1"]
    running = plan_batchprediction(BatchObserved(bp, jobs, [_pod("scores-g1", "Running", running={})],
                                                 progress={"scores-g1": {"rowsDone": 1500, "rowsTotal": 4000}},
                                                 now=T1), SETTINGS)
    assert running.status["phase"] == "Running" and running.status["reason"] == "Scoring"
    assert running.status["progress"] == {"rowsDone": 1500, "rowsTotal": 4000, "summary": "1500/4000"}
    assert running.requeue_after == 5.0


def test_success_reports_rows_done_of_total_and_the_published_output() -> None:
    plan, job = _start(_bp())
    bp = _after(_bp(), plan)
    report = {"status": "Succeeded", "rowsDone": 4000, "rowsTotal": 4000, "output": "s3://sextant/out/pred.csv"}
    complete = [{"type": "Complete", "status": "True"}]
    finished = {"exitCode": 0, "reason": "Completed", "message": json.dumps(report)}
    done = plan_batchprediction(BatchObserved(
        bp, [_job(job, succeeded=1, startTime=T0, completionTime=T2, conditions=complete)],
        [_pod("scores-g1", "Succeeded", terminated=finished)], now=T2), SETTINGS)
    status = done.status
    assert status["phase"] == "Succeeded" and status["progress"]["summary"] == "4000/4000"
    assert status["output"] == {"uri": "s3://sextant/out/pred.csv", "rows": 4000, "run": "scores-g1",
                                "publishedAt": T2}
    assert "currentRun" not in status and status["lastRun"] == "scores-g1" and done.requeue_after is None
    assert {c["type"]: c["status"] for c in status["conditions"]}["Succeeded"] == "True"
    assert "4000 rows scored and published to s3://sextant/out/pred.csv" in status["message"]


def test_a_bad_row_fails_the_run_naming_the_row_and_keeps_the_last_output() -> None:
    previous = {"uri": "s3://sextant/out/pred.csv", "rows": 10, "run": "scores-g0", "publishedAt": T0}
    plan, job = _start(_bp(status={"output": previous}))
    bp = _after(_bp(status={"output": previous}), plan)
    report = {"status": "Failed", "reason": "BadRow", "row": 3501, "column": "petal_width", "rowsDone": 3500,
              "rowsTotal": 4000, "message": "column 'petal_width' must be numeric; data row 3501 holds 'broken'",
              "fix": "correct or remove row 3501 of the input (column 'petal_width'), then run again"}
    failed = plan_batchprediction(BatchObserved(
        bp, [_job(job, failed=1, startTime=T0, conditions=[{"type": "Failed", "status": "True",
                                                            "reason": "PodFailurePolicy", "lastTransitionTime": T2}])],
        [_pod("scores-g1", "Failed", terminated={"exitCode": 2, "reason": "Error", "message": json.dumps(report)})],
        now=T2), SETTINGS)
    status = failed.status
    assert status["phase"] == "Failed" and status["reason"] == "BadRow"
    assert "data row 3501 holds 'broken'" in status["message"]
    assert "Fix: correct or remove row 3501" in status["message"]
    assert status["badRow"] == {"row": 3501, "column": "petal_width",
                                "message": "column 'petal_width' must be numeric; data row 3501 holds 'broken'"}
    assert status["progress"]["summary"] == "3500/4000"
    assert status["output"] == previous  # nothing was published: the last output stands


def test_suspend_stops_the_running_jobs_pods_and_a_spec_change_supersedes_the_run() -> None:
    plan, job = _start(_bp())
    bp = _after(_bp(), plan)
    jobs = [_job(job, active=1, startTime=T0)]
    held = plan_batchprediction(BatchObserved(_after({**bp, "spec": {**bp["spec"], "suspend": True}}, plan), jobs,
                                              now=T1), SETTINGS)
    assert held.suspend == {"scores-g1": True} and held.apply == []
    edited = _bp({**SPEC, "chunkSize": 1000}, generation=2, status=bp["status"])
    assert run_starting(edited, jobs, T1)
    moved = plan_batchprediction(BatchObserved(edited, jobs, model=MODEL, now=T1), SETTINGS)
    assert [j["metadata"]["name"] for j in moved.apply] == ["scores-g2"] and moved.delete == ["scores-g1"]
    runs = {r["name"]: r["phase"] for r in moved.status["runs"]}
    assert runs == {"scores-g2": "Pending", "scores-g1": "Stopped"}


def test_a_schedule_starts_one_run_per_tick_and_keeps_the_history_limit() -> None:
    spec = {**SPEC, "schedule": {"cron": "*/1 * * * *", "successfulRunsHistoryLimit": 1}}
    plan, first = _start(_bp(spec))
    assert plan.status["nextScheduleTime"] == T1
    report = json.dumps({"status": "Succeeded", "rowsDone": 5, "rowsTotal": 5, "output": "x"})
    done = [_job(first, succeeded=1, startTime=T0, completionTime=T0,
                 conditions=[{"type": "Complete", "status": "True"}])]
    pods = [_pod("scores-g1", "Succeeded", terminated={"exitCode": 0, "message": report})]
    bp = _after(_bp(spec), plan)
    bp = _after(bp, plan_batchprediction(BatchObserved(bp, done, pods, now=T0), SETTINGS))
    assert run_starting(bp, done, T1)
    tick = plan_batchprediction(BatchObserved(bp, done, pods, model=MODEL, now=T1), SETTINGS)
    assert [j["metadata"]["name"] for j in tick.apply] == [f"scores-s{1767225660 // 60}"]
    assert tick.status["runs"][0]["cause"] == "schedule"
    after_tick = _after(bp, tick)
    second = [*done, _job(tick.apply[0], succeeded=1, startTime=T1, completionTime=T1,
                          conditions=[{"type": "Complete", "status": "True"}])]
    kept = plan_batchprediction(BatchObserved(after_tick, second, now=T1), SETTINGS)
    assert kept.delete == ["scores-g1"]  # one successful run kept: the newest
    assert not run_starting(after_tick, second, T1)  # the same tick never starts twice
