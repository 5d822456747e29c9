"""A running search writes its progress to the store for the operator, without slowing trials down."""

from __future__ import annotations

import json
from pathlib import Path

from sextant_contracts.storage import FileStore
from sextant_pipelines.crossval import TrialResult
from sextant_pipelines.progress import progress_key, progress_reporter


def _trial(number: int, score: float, state: str = "complete") -> TrialResult:
    return TrialResult(number, "svm", {"C": 1.0}, state, score, [score], 0.1)


def test_progress_counts_trials_keeps_the_best_and_throttles_writes(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    now = [0.0]
    report = progress_reporter(store, "run-1", clock=lambda: now[0], then=lambda result, total: None)
    report(_trial(0, 0.80), 4)
    first = json.loads(store.read(progress_key("run-1")))
    assert first == {"trialsDone": 1, "trialsTotal": 4, "bestValue": 0.80}
    now[0] = 0.5
    report(_trial(1, 0.90), 4)  # within two seconds of the last write: not written
    assert json.loads(store.read(progress_key("run-1")))["trialsDone"] == 1
    now[0] = 1.0
    report(_trial(2, 0.0, "failed"), 4)
    report(_trial(3, 0.85), 4)  # the last planned trial is always written
    assert json.loads(store.read(progress_key("run-1"))) == {"trialsDone": 4, "trialsTotal": 4, "bestValue": 0.90}
