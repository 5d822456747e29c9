"""Progress of a search while it runs, written to the store for the operator: `runs/<run>/progress.json`."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable

from sextant_contracts.errors import ContractError
from sextant_contracts.storage import ArtifactStore
from sextant_pipelines.crossval import TrialResult
from sextant_pipelines.tune import TrialLogger, log_trial

log = logging.getLogger("sextant.pipelines.progress")
MIN_INTERVAL_SECONDS = 2.0  # a store write per trial would slow fast searches


def progress_key(run_id: str) -> str:
    return f"runs/{run_id}/progress.json"


def progress_reporter(store: ArtifactStore, run_id: str, clock: Callable[[], float] = time.monotonic,
                      then: TrialLogger = log_trial) -> TrialLogger:
    """A trial callback that logs each trial and writes trials done, total and best score so far to the store
    (at most every two seconds, and always on the last planned trial). Store errors only log: progress is
    for people, the run goes on."""
    state: dict[str, float] = {"done": 0, "best": -math.inf, "written": -math.inf}

    def on_trial(result: TrialResult, total: int) -> None:
        then(result, total)
        state["done"] += 1
        if result.state == "complete" and result.score > state["best"]:
            state["best"] = result.score
        now = clock()
        if now - state["written"] < MIN_INTERVAL_SECONDS and state["done"] != total:
            return
        document: dict[str, float] = {"trialsDone": int(state["done"]), "trialsTotal": int(total)}
        if math.isfinite(state["best"]):
            document["bestValue"] = float(state["best"])
        try:
            store.write(progress_key(run_id), json.dumps(document).encode())
            state["written"] = now
        except ContractError as exc:
            log.warning("progress not written: %s", exc.message)

    return on_trial
