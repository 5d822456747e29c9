"""Benchmark (R2, full): 100 TrainingJobs created, edited, suspended and deleted while the operator is SIGKILLed
10 times, once per seed in SEXTANT_BENCH_CHAOS_SEEDS (default 1,2,3). Counts duplicated runs, lost
TrainingJobs, orphaned and stale Jobs (tests/support/crash_chaos.py says what each means); results in
bench-results/operator-crash-chaos.{json,md}. The small variant runs in `make test`
(tests/integration/operator/test_crash_chaos.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.bench.pipelines.common import env_int, write_results
from tests.support.crash_chaos import ChaosFigures, ChaosSettings, CrashChaos
from tests.support.sextant_fixtures import start_sextant, stop_sextant

SEEDS = [int(s) for s in os.environ.get("SEXTANT_BENCH_CHAOS_SEEDS", "1,2,3").split(",") if s.strip()]
RESULTS: dict[int, ChaosFigures] = {}


@pytest.mark.bench
@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", SEEDS)
def test_bench_sigkills_during_100_trainingjobs(cluster: Any, crds: None, namespace: str, tmp_path: Path,
                                                seed: int) -> None:
    settings = ChaosSettings(trainingjobs=env_int("SEXTANT_BENCH_CHAOS_TRAININGJOBS", 100),
                             kills=env_int("SEXTANT_BENCH_CHAOS_KILLS", 10), seed=seed, think_seconds=0.05,
                             converge_seconds=240.0)
    store = tmp_path / "store"
    store.mkdir()
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False,
                                   env={"SEXTANT_STORE_URI": store.as_uri()})
    try:
        with cluster.api_client() as api:
            figures = CrashChaos(api, namespace, operator, store, settings).run()
    finally:
        stop_sextant(cluster, namespace, operator, hook)
    RESULTS[seed] = figures
    _write()
    assert figures.kills == settings.kills
    assert figures.ok, (figures.duplicated_runs, figures.lost, figures.orphans, figures.stale_jobs)


def _write() -> None:
    table = ["| seed | TrainingJobs (surviving) | operations | SIGKILLs | Jobs created | duplicated runs | lost | "
             "orphaned Jobs | stale Jobs | seconds operating | seconds to converge | operator ERROR lines |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for seed, f in sorted(RESULTS.items()):
        ops = ", ".join(f"{k} {v}" for k, v in f.operations.items())
        table.append(f"| {seed} | {f.settings['trainingjobs']} ({f.surviving}) | {ops} | {f.kills} | "
                     f"{f.jobs_created} | {len(f.duplicated_runs)} | {len(f.lost)} | {len(f.orphans)} | "
                     f"{len(f.stale_jobs)} | {f.seconds_operating:.1f} | {f.seconds_to_converge:.1f} | "
                     f"{f.operator_error_lines} |")
    doc = {str(seed): {**vars(f)} for seed, f in RESULTS.items()}
    write_results("operator-crash-chaos", doc, table)
