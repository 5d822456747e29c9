"""Crash safety (R2), small: 20 TrainingJobs created, edited, suspended and deleted while the operator is
SIGKILLed 3 times; no run is duplicated, none is lost, no Job is orphaned. SEXTANT_CHAOS_SEED=<n> replays
another random scenario. The full run is tests/bench/operator/test_bench_crash_chaos.py (100 TrainingJobs,
10 kills)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.crash_chaos import ChaosSettings, CrashChaos
from tests.support.sextant_fixtures import start_sextant, stop_sextant


@pytest.mark.timeout(240)
def test_random_sigkills_duplicate_no_run_and_lose_no_trainingjob(cluster: Any, crds: None, namespace: str,
                                                                    tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    # No webhook: with failurePolicy=Fail nothing could be created or edited while the operator is down.
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False,
                                   env={"SEXTANT_STORE_URI": store.as_uri()})
    started = time.monotonic()
    try:
        with cluster.api_client() as api:
            settings = ChaosSettings(trainingjobs=20, kills=3,
                                     seed=int(os.environ.get("SEXTANT_CHAOS_SEED", ChaosSettings.seed)))
            figures = CrashChaos(api, namespace, operator, store, settings).run()
    finally:
        stop_sextant(cluster, namespace, operator, hook)
    print("\n" + "\n".join(figures.table()))
    assert figures.kills == 3 and figures.operations["create"] == 20
    assert figures.duplicated_runs == {}
    assert figures.lost == {}
    assert figures.orphans == [] and figures.stale_jobs == []
    assert time.monotonic() - started < 120
