"""What the operator sees of a scoring run: its Job and pods, and the scorer's outcome from the pod's termination
message (rows scored, or the rejected row and column) — counts and reasons only, never the data."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .run_observation import JobView, PodView, RunOutcome, observe_run


@dataclass(frozen=True)
class ScoringOutcome:
    """A run's phase as observed, and the scorer's outcome document when a pod left one."""

    outcome: RunOutcome
    report: Mapping[str, Any] = field(default_factory=dict)


def scorer_report(pod: PodView) -> dict[str, Any]:
    """The scorer's JSON outcome from a finished pod's termination message ({} when it left none)."""
    try:
        doc = json.loads(pod.termination_message or "")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _rows(report: Mapping[str, Any]) -> str:
    done, total = report.get("rowsDone"), report.get("rowsTotal")
    return f"{done} rows" if total in (None, done) else f"{done} of {total} rows"


def _succeeded(job: JobView, pods: Sequence[PodView]) -> ScoringOutcome:
    finished = [p for p in pods if p.job == job.name and p.exit_code == 0]
    report = next((r for r in map(scorer_report, finished) if r.get("status") == "Succeeded"), {})
    if not report:  # the pod is gone (ttl) or wrote nothing: the Job's own verdict stands
        return ScoringOutcome(RunOutcome("Succeeded", "Scored", "the scorer finished and published the output"))
    return ScoringOutcome(RunOutcome("Succeeded", "Scored", f"{_rows(report)} scored and published to "
                                     f"{report.get('output', 'the output')}"), report)


def observe_scoring_run(jobs: Sequence[JobView], pods: Sequence[PodView], now: str) -> ScoringOutcome:
    """The phase of one run from its Job and pods; failures keep the scorer's reason (BadRow names the row)."""
    job = next(iter(jobs), None)
    if job is not None and job.complete:
        return _succeeded(job, pods)
    outcome = observe_run(jobs, pods, None, now)  # the shared reading of Jobs and pods: stalls, OOM, deadlines
    if outcome.phase == "Running":
        return ScoringOutcome(RunOutcome("Running", "Scoring", "the scorer is running"))
    if outcome.phase != "Failed":
        return ScoringOutcome(outcome)
    failed = [p for p in pods if p.exit_code not in (None, 0)]
    report = next((r for r in map(scorer_report, failed) if r.get("status") == "Failed"), {})
    return ScoringOutcome(outcome, report)
