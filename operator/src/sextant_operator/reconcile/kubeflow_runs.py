"""Decides a TrainingJob's Kubeflow Pipelines runs: which run to create or terminate, and the status they give.

Pure: the kubeflow handler observes (the TrainingJob, the KFP runs whose display name carries its UID, result
documents from the store, whether the KFP API answered), calls `plan_kubeflow`, and acts. KFP runs have no
labels and no client-supplied key, so a run's display name carries the TrainingJob's UID and the generation it
trains (`kfp_run_display_name`): after a crash between creating a run and recording it, listing by the UID finds
it again and no second run is made. KFP 2.14 ends a terminated run FAILED, never CANCELED, so a run the operator
asked to stop is recorded Stopped before the request is sent and keeps that phase whatever KFP says later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .conditions import ConditionState, merge_conditions
from .run_history import TERMINAL
from .run_names import spec_run_name, training_fingerprint
from .run_observation import trainer_failure
from .training_job_manifest import spec_document
from .trainingjob import MODEL_FIELDS, model_fields, phase_conditions, trainingjob_mode

BACKEND = "kubeflow"
KUBEFLOW_UNAVAILABLE = "KubeflowUnavailable"
ACTIVE_RESYNC_SECONDS = 10.0
RESULT_RETRY_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 300.0
MAX_RECORDS = 10
#: KFP run states that end a run (CANCELED never happens in 2.14, but later releases set it).
KFP_TERMINAL = frozenset({"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED"})


@dataclass(frozen=True)
class KfpRunView:
    """One KFP run as the API lists it."""

    id: str
    display_name: str
    state: str | None = None  # PENDING, RUNNING, ...; None while its Workflow has no phase
    error: str = ""
    created_at: str | None = None
    finished_at: str | None = None


@dataclass(frozen=True)
class KubeflowObserved:
    """What the planner looks at for one TrainingJob on the kubeflow backend."""

    trainingjob: Mapping[str, Any]
    runs: Sequence[KfpRunView] = ()
    results: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # run name -> result document
    now: str = "1970-01-01T00:00:00Z"
    api_error: str | None = None  # the KFP API did not answer (or answered an error): what it said
    failures: int = 0  # consecutive failed passes, for the backoff
    ui_url: str = ""  # the KFP UI's base URL, for the link in status


@dataclass(frozen=True)
class RunRequest:
    """A KFP run to create: its display name (the key it is found by again) and the pipeline's arguments."""

    name: str  # the run's name in status and its id in the store
    display_name: str
    generation: int
    arguments: dict[str, str]


@dataclass(frozen=True)
class KubeflowPlan:
    status: dict[str, Any]
    create: RunRequest | None = None
    terminate: list[str] = field(default_factory=list)  # KFP run ids
    requeue_after: float | None = None


@dataclass(frozen=True)
class RunOutcome:
    phase: str
    reason: str
    message: str


def uid_marker(uid: str) -> str:
    """The part of every run's display name that names its TrainingJob (list_runs filters on it)."""
    return f"[{uid}]"


def kfp_run_display_name(trainingjob: Mapping[str, Any], generation: int) -> str:
    """`<namespace>/<name> g<generation> [<uid>]`: readable in the KFP UI, unique per TrainingJob generation."""
    meta = trainingjob["metadata"]
    return f"{meta['namespace']}/{meta['name']} g{generation} {uid_marker(meta['uid'])}"


def run_generation(display_name: str, uid: str) -> int | None:
    """The generation a run's display name says it trains, or None when it is not this TrainingJob's run."""
    match = re.fullmatch(r".* g(\d+) " + re.escape(uid_marker(uid)), display_name)
    return int(match.group(1)) if match else None


def kfp_run_url(ui_url: str, run_id: str) -> str:
    """The run's page in the KFP UI."""
    return f"{ui_url.rstrip('/')}/#/runs/details/{run_id}"


def backoff_seconds(failures: int) -> float:
    """5, 10, 20, ... seconds after consecutive failures, at most five minutes."""
    return float(min(5.0 * 2 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS))


def trainingjob_phase_from_run(run: KfpRunView, result: Mapping[str, Any] | None) -> RunOutcome:
    """A KFP run's state as a TrainingJob run phase, reason and message."""
    state = run.state or "PENDING"
    if state in ("PENDING", "RUNTIME_STATE_UNSPECIFIED"):
        return RunOutcome("Pending", "RunPending", "the Kubeflow run is waiting for its workflow to start")
    if state in ("RUNNING", "CANCELING"):
        return RunOutcome("Running", "RunRunning" if state == "RUNNING" else "RunCanceling",
                          "the Kubeflow run is running" if state == "RUNNING"
                          else "the Kubeflow run is being canceled (someone terminated it in KFP)")
    if state == "PAUSED":
        return RunOutcome("Suspended", "RunPaused", "the Kubeflow run is paused; resume it in the KFP UI")
    if state == "SUCCEEDED":
        if result is None:
            return RunOutcome("Running", "ReadingResult",
                              "the Kubeflow run succeeded; reading its result document from the artifact store")
        return RunOutcome("Succeeded", "Succeeded", "the Kubeflow run succeeded and registered the model")
    if state == "FAILED" and result is not None and result.get("status") == "Failed":
        # The failed step's own document (kfp_steps.failure_recorded): the trainer's reason, message and fix.
        reason, message = trainer_failure(result)
        return RunOutcome("Failed", reason or "RunFailed", f"the Kubeflow run failed: {message}")
    reason = {"FAILED": "RunFailed", "SKIPPED": "RunSkipped", "CANCELED": "RunCanceled"}.get(state, "RunFailed")
    detail = run.error or "KFP gave no reason; the failed step's logs are on the run's page in the KFP UI"
    return RunOutcome("Failed", reason, f"the Kubeflow run ended {state}: {detail}")


def kubeflow_results_to_read(trainingjob: Mapping[str, Any], runs: Sequence[KfpRunView]) -> list[str]:
    """Run names whose KFP run succeeded or failed but whose record is not yet terminal: read their result
    documents (a failed step writes one saying why)."""
    uid = trainingjob["metadata"]["uid"]
    records = {int(r.get("generation", -1)): r for r in (trainingjob.get("status") or {}).get("runs") or []}
    names = []
    for run in runs:
        generation = run_generation(run.display_name, uid)
        record = records.get(generation) if generation is not None else None
        if run.state in ("SUCCEEDED", "FAILED") and record is not None and record.get("phase") not in TERMINAL:
            names.append(str(record["name"]))
    return sorted(names)


def _runs_by_generation(observed: KubeflowObserved) -> dict[int, KfpRunView]:
    """This TrainingJob's KFP runs by generation; of duplicates (none should exist) the oldest counts."""
    uid = observed.trainingjob["metadata"]["uid"]
    found: dict[int, KfpRunView] = {}
    for run in sorted(observed.runs, key=lambda r: (r.created_at or "", r.id)):
        generation = run_generation(run.display_name, uid)
        if generation is not None:
            found.setdefault(generation, run)
    return found


def _run_request(tj: Mapping[str, Any], name: str, generation: int, store_uri: str) -> RunRequest:
    spec = json.dumps(tj["spec"], sort_keys=True, separators=(",", ":"))
    return RunRequest(name, kfp_run_display_name(tj, generation), generation, {
        "spec_json": spec, "store_uri": store_uri, "run_id": name, "training_job_json": spec_document(tj)})


def _record(name: str, generation: int, spec_hash: str, now: str) -> dict[str, Any]:
    return {"name": name, "generation": generation, "cause": "spec", "phase": "Pending", "reason": "RunCreated",
            "message": "the Kubeflow run is being created", "startTime": now, "specHash": spec_hash}


def _apply_outcome(record: dict[str, Any], outcome: RunOutcome, result: Mapping[str, Any] | None, now: str) -> None:
    record.update({"phase": outcome.phase, "reason": outcome.reason, "message": outcome.message})
    if outcome.phase in TERMINAL and not record.get("completionTime"):
        record["completionTime"] = now
    if result and outcome.phase == "Succeeded":
        record["modelVersion"] = str((result.get("model") or {}).get("version", ""))
        record["metrics"] = {k: float(v) for k, v in (result.get("metrics") or {}).items()
                             if isinstance(v, (int, float))}


def _unavailable_status(observed: KubeflowObserved, current: Mapping[str, Any], generation: int) -> dict[str, Any]:
    message = (f"the Kubeflow Pipelines API did not answer ({observed.api_error}); the operator retries with "
               f"backoff (up to {MAX_BACKOFF_SECONDS:.0f} s) and creates the run once it answers")
    spec = observed.trainingjob["spec"]
    phase = str(current.get("phase") or "Pending")
    states = [ConditionState("BackendReachable", "False", KUBEFLOW_UNAVAILABLE, message)]
    if not current.get("conditions"):
        states = phase_conditions(phase, KUBEFLOW_UNAVAILABLE, message) + states
    return {**{k: current[k] for k in MODEL_FIELDS if k in current},
            "phase": phase, "reason": KUBEFLOW_UNAVAILABLE, "message": message, "observedGeneration": generation,
            "mode": trainingjob_mode(spec),
            "conditions": merge_conditions(current.get("conditions", []), states, generation, observed.now)}


def plan_kubeflow(observed: KubeflowObserved, store_uri: str) -> KubeflowPlan:
    """The plan for one TrainingJob on the kubeflow backend: see the module docstring."""
    tj, now = observed.trainingjob, observed.now
    meta, spec = tj["metadata"], tj["spec"]
    current: Mapping[str, Any] = tj.get("status") or {}
    generation = int(meta.get("generation", 0))
    if observed.api_error is not None:
        return KubeflowPlan(_unavailable_status(observed, current, generation),
                            requeue_after=backoff_seconds(observed.failures))

    spec_hash = training_fingerprint(spec)
    kfp_runs = _runs_by_generation(observed)
    records = [dict(r) for r in current.get("runs") or []]
    latest = max(records, key=lambda r: int(r.get("generation", 0)), default=None)
    create: RunRequest | None = None
    if latest is None or latest.get("specHash") != spec_hash:
        name = spec_run_name(meta["name"], generation)
        latest = _record(name, generation, spec_hash, now)
        records.append(latest)
    # Status is written before the run is created: a recorded run KFP does not have is created now (also after
    # a crash between the two), a run KFP has is never created twice.
    if latest.get("phase") not in TERMINAL and int(latest["generation"]) not in kfp_runs:
        create = _run_request(tj, str(latest["name"]), int(latest["generation"]), store_uri)
    # Runs of KFP that status does not hold (created just before a crash, then superseded): record them too,
    # so they are terminated and shown.
    known = {int(r.get("generation", 0)) for r in records}
    for gen, found in kfp_runs.items():
        if gen not in known:
            records.append(_record(spec_run_name(meta["name"], gen), gen, "", found.created_at or now))

    terminate: list[str] = []
    for record in records:
        run = kfp_runs.get(int(record.get("generation", 0)))
        if record is not latest and record.get("phase") not in TERMINAL:
            _apply_outcome(record, RunOutcome("Stopped", "Superseded",
                                              f"generation {generation} changed the spec; its run replaced this one"),
                           None, now)
            if run is not None and run.state not in KFP_TERMINAL:
                terminate.append(run.id)
        elif record is latest and run is not None and record.get("phase") not in TERMINAL:
            result = observed.results.get(str(record["name"]))
            _apply_outcome(record, trainingjob_phase_from_run(run, result), result, now)

    ordered = sorted(records, key=lambda r: int(r.get("generation", 0)), reverse=True)[:MAX_RECORDS]
    status: dict[str, Any] = {k: current[k] for k in MODEL_FIELDS if k in current}
    result = observed.results.get(str(latest["name"]))
    if latest.get("phase") == "Succeeded" and result:
        status.update(model_fields(result))
    phase, reason, message = str(latest["phase"]), str(latest.get("reason", "")), str(latest.get("message", ""))
    latest_run = kfp_runs.get(int(latest["generation"]))
    run_ref: dict[str, Any] = {"backend": BACKEND}
    if latest_run is not None:
        run_ref.update({"id": latest_run.id, "url": kfp_run_url(observed.ui_url, latest_run.id)})
    states = [*phase_conditions(phase, reason or phase, message),
              ConditionState("BackendReachable", "True", "KubeflowAnswered", "the Kubeflow Pipelines API answers")]
    status.update({
        "phase": phase, "reason": reason, "message": f"run {latest['name']}: {message}",
        "observedGeneration": generation, "mode": trainingjob_mode(spec), "run": run_ref,
        "startTime": latest.get("startTime", now), "runs": ordered,
        "conditions": merge_conditions(current.get("conditions", []), states, generation, now),
    })
    if latest.get("completionTime"):
        status["completionTime"] = latest["completionTime"]
    waits = []
    if phase not in TERMINAL:
        waits.append(RESULT_RETRY_SECONDS if reason == "ReadingResult" else ACTIVE_RESYNC_SECONDS)
    if create is not None:
        waits.append(1.0)  # look again right after creating: the new run's id goes into status
    return KubeflowPlan(status, create, terminate, min(waits) if waits else None)
