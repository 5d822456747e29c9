"""Decides a TrainingJob's runs: which Jobs to apply, suspend or delete, its status, and when to look again.

Pure: the handlers observe (the TrainingJob, its Jobs and pods from kopf indexes, result documents from the
store), call `plan_trainingjob`, and act on the plan. Every decision is reproducible from what is observed,
so an operator killed at any moment decides the same thing when it comes back: runs have deterministic names
(one per spec generation, one per cron tick) and a Job is applied under its run's name or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sextant_contracts.resources.trainingjob_status import TrainingJobStatus

from .conditions import ConditionState, merge_conditions
from .dask_job_manifest import dask_job
from .dask_observation import with_runner_pods
from .run_history import DEFAULT_HISTORY as DEFAULT_HISTORY
from .run_history import TERMINAL, history_limits, record_outcome, run_to_start, supersede_older
from .run_history import Run as _Run
from .run_history import history_deletions as _history_deletions
from .run_history import known_runs as _known_runs
from .run_history import run_order as _run_order
from .run_names import ROLE_TRAIN, ROLE_TRIALS, training_fingerprint
from .run_observation import JobView, PodView, RunOutcome, observe_run, result_retry_seconds, result_waited
from .run_schedule import next_tick, parse_time
from .training_job_manifest import RunIdentity, TrainingSettings, train_job, trial_shards, trials_job

BACKEND_NOT_CONFIGURED = "BackendNotConfigured"
#: spec.compute.dask asked of an operator whose Dask support is off (the Dask Kubernetes operator not installed).
DASK_NOT_SUPPORTED = "DaskNotSupported"
DASK_MESSAGE = ("spec.compute.dask needs the operator's Dask support, which is off: install the Dask Kubernetes "
                "operator and set the chart value dask.enabled=true (SEXTANT_DASK_ENABLED). Running the job in one "
                "pod instead could run out of memory on data sized for several workers, so it stays Pending until "
                "then (remove spec.compute.dask to train in one pod now)")
#: The API server refused the run's Job or DaskJob; the operator retries, and the status says why meanwhile.
RUN_NOT_CREATED = "RunNotCreated"
MAX_RECORDS = 10
ACTIVE_RESYNC_SECONDS = 30.0
PROGRESS_SECONDS = 10.0
#: Status fields carried from the run that last succeeded until another one does.
MODEL_FIELDS = ("model", "best", "metrics", "accepted", "dataQualityReport", "trials", "compute")


@dataclass(frozen=True)
class Observed:
    """Everything the planner looks at for one TrainingJob."""

    trainingjob: Mapping[str, Any]
    jobs: Sequence[JobView] = ()
    pods: Sequence[PodView] = ()
    results: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # run name -> result document
    now: str = "1970-01-01T00:00:00Z"
    progress: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # run name -> progress document
    #: Why the API server refused the last apply of a run's Job or DaskJob (run name -> message), if it did.
    create_errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingPlan:
    """What to do: Jobs to server-side apply, Jobs whose suspend flag to set, Jobs to delete, the status."""

    status: TrainingJobStatus
    apply: list[dict[str, Any]] = field(default_factory=list)
    suspend: dict[str, bool] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    requeue_after: float | None = None


def trainingjob_mode(spec: Mapping[str, Any]) -> str:
    """What is trained, for the Mode printer column: the algorithm, tuning(<algorithm>) or automl."""
    if "estimator" in spec:
        return str(spec["estimator"].get("algorithm", ""))
    if "tuning" in spec:
        return f"tuning({spec['tuning'].get('algorithm', '')})"
    return "automl"


def chosen_backend(spec: Mapping[str, Any], settings: TrainingSettings) -> str:
    """The backend the job asks for, or the operator's default."""
    return str((spec.get("runtime") or {}).get("backend") or settings.default_backend)


def results_to_read(trainingjob: Mapping[str, Any], jobs: Sequence[JobView]) -> list[str]:
    """Runs whose train Job completed but whose outcome is not yet in status: read their result documents."""
    recorded = {r["name"]: r.get("phase") for r in (trainingjob.get("status") or {}).get("runs") or []}
    return sorted({j.run for j in jobs if j.role == ROLE_TRAIN and j.complete and recorded.get(j.run) not in TERMINAL})


def progress_to_read(trainingjob: Mapping[str, Any], jobs: Sequence[JobView]) -> list[str]:
    """Runs whose search is going (an active train Job of a tuning or AutoML spec): read their progress."""
    spec = trainingjob.get("spec") or {}
    if not (spec.get("tuning") or spec.get("automl")):
        return []
    return sorted({j.run for j in jobs if j.role == ROLE_TRAIN and j.active and not j.complete})


def _progress(document: Mapping[str, Any]) -> dict[str, Any]:
    done, total = int(document.get("trialsDone", 0)), int(document.get("trialsTotal", 0))
    progress: dict[str, Any] = {"trialsDone": done, "trialsTotal": total,
                                "summary": f"{done}/{total}" if total else str(done)}
    if isinstance(document.get("bestValue"), (int, float)):
        progress["bestValue"] = float(document["bestValue"])
    return progress


def _backend_message(backend: str) -> str:
    if backend == "kubeflow":
        message = ("the 'kubeflow' training backend is not configured in this operator: set the chart value "
                   "kubeflow.endpoint (SEXTANT_KFP_ENDPOINT) to the Kubeflow Pipelines API; the job stays Pending "
                   "and starts once an operator with that backend reconciles it")
    else:
        message = (f"the {backend!r} training backend is not available in this operator version; the job stays "
                   f"Pending and starts once an operator with that backend reconciles it")
    return message


def _held(spec: Mapping[str, Any], generation: int, current: Mapping[str, Any], reason: str, message: str,
          now: str) -> TrainingJobStatus:
    """Pending without a run: the operator cannot run what the spec asks for (yet)."""
    states = [
        ConditionState("Accepted", "True", "SpecValid", "the spec passed schema and catalogue validation"),
        ConditionState("Running", "False", reason, message),
        ConditionState("Succeeded", "Unknown", reason, "training has not started"),
        ConditionState("Failed", "False", reason, "training has not started"),
    ]
    return {"phase": "Pending", "reason": reason, "message": message,
            "observedGeneration": generation, "mode": trainingjob_mode(spec),
            "conditions": merge_conditions(current.get("conditions", []), states, generation, now)}


def _manifests(tj: Mapping[str, Any], run: _Run, settings: TrainingSettings) -> list[dict[str, Any]]:
    """The Jobs the run needs now: the trials Job first when sharded, the train Job once the trials are done."""
    identity = RunIdentity(tj, run.name, run.cause, run.generation, run.spec_hash)
    suspend = bool(tj["spec"].get("suspend"))
    have = {j.role: j for j in run.jobs}
    if "dask" in (tj["spec"].get("compute") or {}):
        return [] if ROLE_TRAIN in have else [dask_job(identity, settings)]
    if trial_shards(tj["spec"]):
        trials = have.get(ROLE_TRIALS)
        if trials is None:
            return [trials_job(identity, settings, suspend)]
        if not trials.complete or ROLE_TRAIN in have:
            return []
    return [] if ROLE_TRAIN in have else [train_job(identity, settings, suspend)]


def _cost(jobs: Sequence[JobView]) -> dict[str, float]:
    """Requested compute of the run's finished Jobs (a running Job is counted when it ends: a value that
    changed on every reconcile would patch the status, wake the operator and patch it again, forever)."""
    cpu = gpu = 0.0
    for job in jobs:
        if not job.start_time or not job.completion_time:
            continue
        seconds = (parse_time(job.completion_time) - parse_time(job.start_time)).total_seconds()
        cpu += job.cpu_request * job.pods * max(seconds, 0.0)
        gpu += job.gpu_request * job.pods * max(seconds, 0.0)
    return {"cpuSeconds": round(cpu, 1), "gpuSeconds": round(gpu, 1)}


def _record_outcome(run: _Run, outcome: RunOutcome, now: str) -> None:
    record_outcome(run, outcome, now)
    result = outcome.trainer_result
    if result:
        run.record["modelVersion"] = str(result.get("model", {}).get("version", ""))
        run.record["metrics"] = {k: float(v) for k, v in (result.get("metrics") or {}).items()
                                 if isinstance(v, (int, float))}


LEADERBOARD_KEYS = ("rank", "algorithm", "params", "score", "seconds")


def dask_compute(compute: Mapping[str, Any]) -> dict[str, Any]:
    """status.compute of a Dask run: its workers, partitions and the highest worker's peak memory in MiB."""
    fields: dict[str, Any] = {k: int(compute[k]) for k in ("workers", "partitions") if isinstance(compute.get(k), int)}
    peaks = [p for p in compute.get("workerPeakMemoryBytes") or [] if isinstance(p, int)]
    if peaks:
        fields["workerPeakMemory"] = f"{-(-max(peaks) // 2**20)}Mi"
    return {"engine": "dask", **fields}


def model_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    """Status fields copied from a successful run's result document."""
    model = result.get("model") or {}
    best = result.get("best") or {}
    objective = result.get("objective") or {}
    metric = objective.get("metric") if isinstance(objective, Mapping) else objective
    metrics = {k: float(v) for k, v in (result.get("metrics") or {}).items() if isinstance(v, (int, float))}
    fields: dict[str, Any] = {
        "model": {k: str(model[k]) for k in ("name", "version", "uri", "digest") if model.get(k) is not None},
        "best": {"algorithm": best.get("algorithm", ""), "params": best.get("params") or {}, "metrics": metrics},
        "metrics": metrics, "accepted": bool(result.get("accepted")),
    }
    if metric:
        fields["best"].update({"metric": str(metric), "value": metrics.get(str(metric), 0.0)})
    if result.get("positiveClass") is not None:
        fields["best"]["positiveClass"] = str(result["positiveClass"])
    decision = (result.get("search") or {}).get("decisionThreshold") or {}
    if isinstance(decision.get("threshold"), (int, float)):
        fields["best"]["decisionThreshold"] = float(decision["threshold"])
    report = (result.get("artifacts") or {}).get("report") or (result.get("artifacts") or {}).get("profile")
    if report:
        fields["dataQualityReport"] = str(report)
    if (result.get("trials") or {}).get("total"):  # a single estimator has no trials to count
        fields["trials"] = {k: int(v) for k, v in result["trials"].items() if isinstance(v, int)}
    compute = result.get("compute") or {}
    if compute.get("engine") == "dask":
        fields["compute"] = dask_compute(compute)
    if result.get("leaderboard"):
        fields["leaderboard"] = [{k: v for k, v in row.items() if k in LEADERBOARD_KEYS and v is not None}
                                 for row in result["leaderboard"][:5]]
    return fields


def phase_conditions(phase: str, reason: str, message: str) -> list[ConditionState]:
    return [
        ConditionState("Accepted", "True", "SpecValid", "the spec passed schema and catalogue validation"),
        ConditionState("Running", "True" if phase == "Running" else "False", reason, message),
        ConditionState("Suspended", "True" if phase == "Suspended" else "False", reason, message),
        ConditionState("Succeeded", "True" if phase == "Succeeded" else "False" if phase == "Failed" else "Unknown",
                       reason, message),
        ConditionState("Failed", "True" if phase == "Failed" else "False", reason, message),
    ]


def plan_trainingjob(observed: Observed, settings: TrainingSettings) -> TrainingPlan:
    """The plan for one TrainingJob: see the module docstring."""
    tj, now = observed.trainingjob, observed.now
    spec, meta = tj["spec"], tj["metadata"]
    current: Mapping[str, Any] = tj.get("status") or {}
    generation = int(meta.get("generation", 0))
    backend = chosen_backend(spec, settings)
    if backend != "job":
        return TrainingPlan(_held(spec, generation, current, BACKEND_NOT_CONFIGURED, _backend_message(backend), now))
    if "dask" in (spec.get("compute") or {}) and not settings.dask_enabled:
        return TrainingPlan(_held(spec, generation, current, DASK_NOT_SUPPORTED, DASK_MESSAGE, now))

    spec_hash = training_fingerprint(spec)
    jobs = with_runner_pods(observed.jobs, observed.pods)
    runs = _known_runs(current, jobs, now)
    pods_by_run: dict[str, list[PodView]] = {}
    for pod in observed.pods:
        pods_by_run.setdefault(pod.run, []).append(pod)

    starting = run_to_start(tj, runs, spec_hash, now)
    plan = TrainingPlan(status={})
    if starting is not None:
        runs[starting.name] = starting
    newest = starting or max(runs.values(), key=_run_order, default=None)
    supersede_older(runs, newest, now, _record_outcome)

    for run in runs.values():
        if run.phase in TERMINAL:
            continue
        plan.apply.extend(_manifests(tj, run, settings))
        outcome = observe_run(run.jobs, pods_by_run.get(run.name, []), observed.results.get(run.name), now)
        if not run.jobs and run.name in observed.create_errors:  # said in status, not only in the operator's log
            outcome = RunOutcome("Pending", RUN_NOT_CREATED, observed.create_errors[run.name])
        if run.jobs or outcome.phase != "Pending" or run is not starting:
            _record_outcome(run, outcome, now)
        if outcome.phase == "Failed":  # a run that cannot go on (e.g. a bad image) releases its pods
            plan.delete.extend(j.name for j in run.jobs if j.active and not j.deleting)
        elif outcome.phase != "Succeeded":
            for job in run.jobs:  # a DaskJob has no suspend: admission refuses spec.suspend with compute.dask
                if job.kind == "Job" and job.suspended != bool(spec.get("suspend")) and not job.complete:
                    plan.suspend[job.name] = bool(spec.get("suspend"))

    limits = history_limits(spec)
    plan.delete.extend(name for name in _history_deletions(list(runs.values()), limits) if name not in plan.delete)

    ordered = sorted(runs.values(), key=_run_order, reverse=True)
    latest = ordered[0]
    status: dict[str, Any] = {k: current[k] for k in MODEL_FIELDS if k in current}
    for run in reversed(ordered):  # the newest success wins
        result = observed.results.get(run.name)
        if run.phase in ("Succeeded", "Failed") and result:
            status.update(model_fields(result))
    phase = latest.phase
    reason, message = str(latest.record.get("reason", "")), str(latest.record.get("message", ""))
    status.update({
        "phase": phase, "reason": reason, "message": f"run {latest.name}: {message}",
        "observedGeneration": generation, "mode": trainingjob_mode(spec),
        "run": {"backend": "dask" if "dask" in (spec.get("compute") or {}) else "job", "id": latest.name},
        "startTime": latest.record.get("startTime", now),
        "runs": [r.record for r in ordered[:MAX_RECORDS]],
        "cost": _cost(latest.jobs),
        "conditions": merge_conditions(current.get("conditions", []), phase_conditions(phase, reason or phase, message),
                                       generation, now),
    })
    if latest.record.get("completionTime"):
        status["completionTime"] = latest.record["completionTime"]
    if phase not in TERMINAL:
        if latest.name in observed.progress:
            status["progress"] = _progress(observed.progress[latest.name])
        elif current.get("progress") and current.get("run", {}).get("id") == latest.name:
            status["progress"] = current["progress"]
    # A running Job's changes arrive as events of the Job and its pods, so a Running TrainingJob is not polled
    # (one read each every 30 s saved; the operator's CPU at rest did not change with it: docs/scale.md, P4).
    waits = [ACTIVE_RESYNC_SECONDS] if phase not in TERMINAL and phase != "Running" else []
    if phase == "Running" and (spec.get("tuning") or spec.get("automl")):
        waits.append(PROGRESS_SECONDS)
    if phase == "Running" and reason == "ReadingResult":
        waits.append(result_retry_seconds(result_waited(latest.jobs, now)))
    if spec.get("schedule") and not spec.get("suspend"):
        tick = next_tick(spec["schedule"]["cron"], now)
        status["nextScheduleTime"] = tick.strftime("%Y-%m-%dT%H:%M:%SZ")
        waits.append(max((tick - parse_time(now)).total_seconds(), 1.0))
    return TrainingPlan(status=status, apply=plan.apply, suspend=plan.suspend, delete=plan.delete,  # type: ignore[arg-type]
                        requeue_after=min(waits) if waits else None)
