"""Decides a BatchPrediction's runs: which Job to apply, suspend or delete, its status, and when to look again.

Pure: the handlers observe (the BatchPrediction, its Jobs and pods from kopf indexes, the model reference
resolved in the registry when a run is about to start, progress documents from the store), call
`plan_batchprediction`, and act. Runs share TrainingJob's bookkeeping (run_history): one per spec generation and
one per cron tick, deterministic names, concurrency policy, history limits, so a restarted operator finds its
runs again and never starts one twice. A run pins its model version when it starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sextant_contracts.resources.inferenceservice import ResolvedModel

from .batch_job_manifest import BatchSettings, ScoringRun, scoring_job
from .batch_run_observation import ScoringOutcome, observe_scoring_run
from .conditions import ConditionState, merge_conditions
from .inferenceservice import Unresolved
from .run_history import (
    TERMINAL,
    Run,
    history_deletions,
    history_limits,
    known_runs,
    record_outcome,
    run_order,
    run_to_start,
    supersede_older,
)
from .run_names import training_fingerprint
from .run_observation import JobView, PodView
from .run_schedule import next_tick, parse_time

MAX_RECORDS = 10
ACTIVE_RESYNC_SECONDS = 30.0
PROGRESS_SECONDS = 5.0
MODEL_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class BatchObserved:
    """Everything the planner looks at for one BatchPrediction."""

    batchprediction: Mapping[str, Any]
    jobs: Sequence[JobView] = ()
    pods: Sequence[PodView] = ()
    #: spec.model resolved now; only needed (and only read) when `run_starting` says a run starts.
    model: ResolvedModel | Unresolved | None = None
    progress: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # run name -> progress document
    now: str = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class BatchPlan:
    """What to do: the Job to server-side apply, Jobs whose suspend flag to set, Jobs to delete, the status."""

    status: dict[str, Any]
    apply: list[dict[str, Any]] = field(default_factory=list)
    suspend: dict[str, bool] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    requeue_after: float | None = None


def run_starting(bp: Mapping[str, Any], jobs: Sequence[JobView], now: str) -> bool:
    """Whether a run starts now (a new spec or a due tick): only then is the model reference resolved."""
    runs = known_runs(bp.get("status") or {}, jobs, now)
    return run_to_start(bp, runs, training_fingerprint(bp["spec"]), now) is not None


def progress_to_read(bp: Mapping[str, Any], jobs: Sequence[JobView]) -> list[str]:
    """Runs whose Job is scoring now: read their progress documents."""
    return sorted({j.run for j in jobs if j.active and not j.complete and not j.failed_reason})


def _summary(done: int, total: int | None) -> dict[str, Any]:
    progress: dict[str, Any] = {"rowsDone": done, "summary": f"{done}/{total}" if total is not None else str(done)}
    if total is not None:
        progress["rowsTotal"] = total
    return progress


def _record(run: Run, seen: ScoringOutcome, now: str) -> None:
    record_outcome(run, seen.outcome, now)
    report = seen.report
    for key in ("rowsDone", "rowsTotal"):
        if isinstance(report.get(key), int):
            run.record[key] = report[key]
    if isinstance(report.get("row"), int):
        run.record["badRow"] = {"row": report["row"], "column": str(report.get("column", "")),
                                "message": str(report.get("message", ""))}


def _conditions(phase: str, reason: str, message: str) -> list[ConditionState]:
    return [
        ConditionState("Running", "True" if phase == "Running" else "False", reason, message),
        ConditionState("Suspended", "True" if phase == "Suspended" else "False", reason, message),
        ConditionState("Succeeded", "True" if phase == "Succeeded" else "False" if phase == "Failed" else "Unknown",
                       reason, message),
        ConditionState("Failed", "True" if phase == "Failed" else "False", reason, message),
    ]


def _act_on_run(bp: Mapping[str, Any], run: Run, pods: Sequence[PodView], settings: BatchSettings, now: str,
                plan: BatchPlan) -> None:
    """Apply the run's Job when it has none, read its phase, and release or suspend its pods."""
    suspend = bool(bp["spec"].get("suspend"))
    if not run.jobs and run.record.get("model"):
        identity = ScoringRun(bp, run.name, run.cause, run.generation, run.spec_hash, run.record["model"])
        plan.apply.append(scoring_job(identity, settings, suspend))
    seen = observe_scoring_run(run.jobs, pods, now)
    if run.jobs or seen.outcome.phase != "Pending":
        _record(run, seen, now)
    if seen.outcome.phase == "Failed":  # a run that cannot go on releases its pods
        plan.delete.extend(j.name for j in run.jobs if j.active and not j.deleting)
    elif seen.outcome.phase != "Succeeded":
        plan.suspend.update({j.name: suspend for j in run.jobs if j.suspended != suspend and not j.complete})


def _waiting_for_model(bp: Mapping[str, Any], status: Mapping[str, Any], unresolved: Unresolved,
                       now: str) -> dict[str, Any]:
    """The status while a new run cannot start because its model cannot be resolved (it starts once it can);
    the older runs' records and published output stay."""
    current = bp.get("status") or {}
    generation = int(bp["metadata"].get("generation", 0))
    message = f"{unresolved.message}; the next run starts once the model resolves"
    return {**status, "phase": "Pending", "reason": unresolved.reason, "message": message,
            "observedGeneration": generation,
            "conditions": merge_conditions(current.get("conditions", []),
                                           _conditions("Pending", unresolved.reason, message), generation, now)}


def _status(bp: Mapping[str, Any], runs: dict[str, Run], observed: BatchObserved) -> dict[str, Any]:
    current: Mapping[str, Any] = bp.get("status") or {}
    spec, generation, now = bp["spec"], int(bp["metadata"].get("generation", 0)), observed.now
    ordered = sorted(runs.values(), key=run_order, reverse=True)
    latest = ordered[0]
    record = latest.record
    phase, reason, message = latest.phase, str(record.get("reason", "")), str(record.get("message", ""))
    status: dict[str, Any] = {k: current[k] for k in ("output",) if k in current}
    published = next((r for r in ordered if r.phase == "Succeeded" and r.record.get("completionTime")), None)
    if published is not None:
        before = current.get("output") or {}
        uri = before["uri"] if before.get("run") == published.name else spec["output"]["uri"]
        status["output"] = {"uri": uri, "run": published.name, "publishedAt": published.record["completionTime"]}
        if isinstance(published.record.get("rowsDone"), int):
            status["output"]["rows"] = published.record["rowsDone"]
    status.update({
        "phase": phase, "reason": reason, "message": f"run {latest.name}: {message}",
        "observedGeneration": generation, "lastRun": latest.name, "startTime": record.get("startTime", now),
        "runs": [r.record for r in ordered[:MAX_RECORDS]],
        "conditions": merge_conditions(current.get("conditions", []), _conditions(phase, reason or phase, message),
                                       generation, now),
    })
    if phase not in TERMINAL:
        status["currentRun"] = latest.name
    for key in ("completionTime", "badRow"):
        if record.get(key):
            status[key] = record[key]
    if record.get("model"):
        status["model"] = record["model"]
        status["modelVersion"] = f"{record['model']['name']}:{record['model']['version']}"
    if "rowsDone" in record:
        status["progress"] = _summary(int(record["rowsDone"]), record.get("rowsTotal"))
    elif latest.name in observed.progress:
        document = observed.progress[latest.name]
        total = document.get("rowsTotal")
        status["progress"] = _summary(int(document.get("rowsDone", 0)), int(total) if total is not None else None)
    elif current.get("progress") and current.get("lastRun") == latest.name:
        status["progress"] = current["progress"]
    return status


def plan_batchprediction(observed: BatchObserved, settings: BatchSettings) -> BatchPlan:
    """The plan for one BatchPrediction: see the module docstring."""
    bp, now = observed.batchprediction, observed.now
    spec = bp["spec"]
    current: Mapping[str, Any] = bp.get("status") or {}
    runs = known_runs(current, observed.jobs, now)
    starting = run_to_start(bp, runs, training_fingerprint(spec), now)
    plan = BatchPlan(status={})
    waiting: Unresolved | None = None
    if starting is not None and not isinstance(observed.model, Mapping):
        waiting = observed.model or Unresolved("ModelNotResolved", "the model reference was not resolved yet")
        starting = None
        if not runs:
            return BatchPlan(_waiting_for_model(bp, {}, waiting, now), requeue_after=MODEL_RETRY_SECONDS)
    if starting is not None:
        starting.record["model"] = dict(observed.model)  # type: ignore[arg-type]
        runs[starting.name] = starting
    supersede_older(runs, starting or max(runs.values(), key=run_order, default=None), now)

    pods_by_run: dict[str, list[PodView]] = {}
    for pod in observed.pods:
        pods_by_run.setdefault(pod.run, []).append(pod)
    for run in runs.values():
        if run.phase not in TERMINAL:
            _act_on_run(bp, run, pods_by_run.get(run.name, []), settings, now, plan)
    plan.delete.extend(n for n in history_deletions(list(runs.values()), history_limits(spec)) if n not in plan.delete)

    status = _status(bp, runs, observed)
    waits: list[float] = []
    if status["phase"] not in TERMINAL:
        waits.append(PROGRESS_SECONDS if status["phase"] == "Running" else ACTIVE_RESYNC_SECONDS)
    if waiting is not None and status["phase"] in TERMINAL:
        status = _waiting_for_model(bp, status, waiting, now)
        waits.append(MODEL_RETRY_SECONDS)
    if spec.get("schedule") and not spec.get("suspend"):
        tick = next_tick(spec["schedule"]["cron"], now)
        status["nextScheduleTime"] = tick.strftime("%Y-%m-%dT%H:%M:%SZ")
        waits.append(max((tick - parse_time(now)).total_seconds(), 1.0))
    return BatchPlan(status=status, apply=plan.apply, suspend=plan.suspend, delete=plan.delete,
                     requeue_after=min(waits) if waits else None)
