"""The runs of a kind that runs Jobs (TrainingJob, BatchPrediction): which runs exist, which one starts now (a
new spec generation or a due cron tick, under the schedule's concurrency policy), which are superseded, and
which finished runs' Jobs the history limits delete.

Pure and shared: every run has a deterministic name (one per spec generation, one per cron tick), so an
operator restarted at any moment finds its runs again from status and from the Jobs' labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .run_names import scheduled_run_name, spec_run_name
from .run_observation import JobView, RunOutcome
from .run_schedule import due_tick

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
DEFAULT_HISTORY = {"Succeeded": 3, "Failed": 1}


@dataclass
class Run:
    """A run the planner knows of, from its status record, its Jobs, or because it starts now."""

    name: str
    cause: str
    generation: int
    spec_hash: str
    record: dict[str, Any]
    jobs: list[JobView] = field(default_factory=list)

    @property
    def phase(self) -> str:
        return str(self.record.get("phase", "Pending"))


def known_runs(status: Mapping[str, Any], jobs: Sequence[JobView], now: str) -> dict[str, Run]:
    """The runs in status.runs, plus any whose Job exists but whose record was lost (a crash before the patch)."""
    runs: dict[str, Run] = {}
    for record in status.get("runs") or []:
        runs[record["name"]] = Run(record["name"], record.get("cause", "spec"), int(record.get("generation", 0)),
                                   str(record.get("specHash", "")), dict(record))
    for job in jobs:
        run = runs.get(job.run)
        if run is None:  # a Job created just before the operator died, before its run reached status
            run = runs[job.run] = Run(job.run, job.cause, job.generation, job.spec_hash, {
                "name": job.run, "generation": job.generation, "cause": job.cause,
                "phase": "Pending", "startTime": job.created or job.start_time or now, "specHash": job.spec_hash})
        run.jobs.append(job)
    return runs


def run_order(run: Run) -> tuple[str, int, str]:
    """Sorts runs oldest first: by start, then generation (two runs can start within one second), then name."""
    return str(run.record.get("startTime", "")), run.generation, run.name


def latest_run(runs: Sequence[Run], cause: str) -> Run | None:
    """The newest run started for this cause (spec or schedule)."""
    candidates = [r for r in runs if r.cause == cause]
    return max(candidates, key=lambda r: (r.generation, r.record.get("startTime", ""), r.name), default=None)


def new_run(name: str, cause: str, generation: int, spec_hash: str, now: str) -> Run:
    """A run that starts now: recorded Pending before its Job exists."""
    record = {"name": name, "generation": generation, "cause": cause, "phase": "Pending", "reason": "RunCreated",
              "message": "the run's Job is being created", "startTime": now, "specHash": spec_hash}
    return Run(name, cause, generation, spec_hash, record)


def due_scheduled_run(obj: Mapping[str, Any], runs: Sequence[Run], generation: int, spec_hash: str,
                      now: str) -> Run | None:
    """The run of the latest due cron tick, unless it exists already, the object is suspended or has no schedule."""
    schedule = obj["spec"].get("schedule")
    if not schedule or obj["spec"].get("suspend"):
        return None
    latest = latest_run(runs, "schedule")
    since = str(latest.record.get("startTime") if latest else obj["metadata"].get("creationTimestamp", now))
    tick = due_tick(schedule["cron"], since, now)
    if tick is None:
        return None
    name = scheduled_run_name(obj["metadata"]["name"], int(tick.timestamp()))
    if any(r.name == name for r in runs):
        return None
    return new_run(name, "schedule", generation, spec_hash, now)


def run_to_start(obj: Mapping[str, Any], runs: Mapping[str, Run], spec_hash: str, now: str) -> Run | None:
    """The run that starts now: one for a spec whose fingerprint no spec run has yet, else a due cron tick's run
    (skipped under concurrencyPolicy Forbid while a run is going)."""
    spec, meta = obj["spec"], obj["metadata"]
    generation = int(meta.get("generation", 0))
    latest_spec_run = latest_run(list(runs.values()), "spec")
    if latest_spec_run is None or latest_spec_run.spec_hash != spec_hash:
        spec_run = new_run(spec_run_name(meta["name"], generation), "spec", generation, spec_hash, now)
        if spec_run.name not in runs:  # the same generation seen again (status lost) is the same run
            return spec_run
    starting = due_scheduled_run(obj, list(runs.values()), generation, spec_hash, now)
    active = [r for r in runs.values() if r.phase not in TERMINAL]
    policy = (spec.get("schedule") or {}).get("concurrencyPolicy", "Forbid")
    if starting is not None and active and policy == "Forbid":
        return None
    return starting


def record_outcome(run: Run, outcome: RunOutcome, now: str) -> None:
    """Write an observed phase into the run's record, with its completion time once it ends."""
    run.record.update({"phase": outcome.phase, "reason": outcome.reason, "message": outcome.message})
    if outcome.phase in TERMINAL and not run.record.get("completionTime"):
        run.record["completionTime"] = now


def supersede_older(runs: Mapping[str, Run], newest: Run | None, now: str,
                    record: Callable[[Run, RunOutcome, str], None] = record_outcome) -> None:
    """One run at a time: the newest stops every other run still going. Also when it started before a crash that
    lost the status patch recording this (its Job exists, the older run is still going in status): the older run
    is stopped, never given a Job again."""
    for run in runs.values():
        if run is not newest and newest is not None and run.phase not in TERMINAL:
            record(run, RunOutcome("Stopped", "Superseded", f"run {newest.name} replaced it"), now)


def history_limits(spec: Mapping[str, Any]) -> dict[str, int]:
    """Finished runs kept per phase: the schedule's limits, or the defaults."""
    schedule = spec.get("schedule") or {}
    return {"Succeeded": int(schedule.get("successfulRunsHistoryLimit", DEFAULT_HISTORY["Succeeded"])),
            "Failed": int(schedule.get("failedRunsHistoryLimit", DEFAULT_HISTORY["Failed"]))}


def history_deletions(runs: Sequence[Run], limits: Mapping[str, int]) -> list[str]:
    """Jobs of finished runs beyond the history limits (newest kept), every Job of a stopped run, and the Jobs of a
    failed run that still hold pods (a failed run releases them)."""
    doomed: list[str] = []
    kept = {"Succeeded": 0, "Failed": 0}
    for run in sorted(runs, key=lambda r: (r.record.get("startTime", ""), r.name), reverse=True):
        live = [j.name for j in run.jobs if not j.deleting]
        if not live or run.phase not in TERMINAL:
            continue
        if run.phase == "Stopped":
            doomed += live
            continue
        if run.phase == "Failed":
            doomed += [j.name for j in run.jobs if j.active and not j.deleting]
        kept[run.phase] += 1
        if kept[run.phase] > limits[run.phase]:
            doomed += live
    return list(dict.fromkeys(doomed))
