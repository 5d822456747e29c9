"""Rows per second of ingest+profile: the single-process path against a distributed LocalCluster of 1 and 2
workers (issue 14, point 5's first half), on a Parquet file that fits in one process.

Each path reads the same file (file://, SEXTANT_DASK_BENCH_ROWS rows, default 2,000,000) and computes schema,
missing rates and baselines; leakage and ID checks are off for the single-process path since the out-of-core
path has none. Cluster start-up is not timed (a DaskCluster's pods are up before a run starts). Best of
SEXTANT_DASK_BENCH_REPEATS (default 2). Results go to bench-results/dask-profile.{json,md}.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from sextant_pipelines.dask_ingest import ingest_lazy
from sextant_pipelines.dask_profile import profile_lazy
from sextant_pipelines.ingest import ingest
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import DatasetSpec
from tests.bench.pipelines.common import env_int, write_results
from tests.support.wide_data import UNUSED, frame

pytestmark = pytest.mark.bench
WORKER_MEMORY = 1024 * 2**20


def _best(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        run()
        times.append(time.monotonic() - started)
    return min(times)


def test_ingest_and_profile_rows_per_second(tmp_path: Path) -> None:
    rows, repeats = env_int("SEXTANT_DASK_BENCH_ROWS", 2_000_000), env_int("SEXTANT_DASK_BENCH_REPEATS", 2)
    path = tmp_path / "data.parquet"
    frame(rows, noise_columns=4).to_parquet(path, row_group_size=100_000)
    spec = DatasetSpec(uri=path.as_uri(), target="label", exclude=list(UNUSED))

    def single() -> object:
        data = ingest(spec, "classification")
        return profile(data.features, data.target, "classification", suspicious=False)

    def distributed() -> object:
        return profile_lazy(ingest_lazy(spec, "classification"), "classification")

    seconds = {"single process": _best(single, repeats)}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=WORKER_MEMORY,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.wait_for_workers(workers, timeout=120)
            seconds[f"dask, {workers} worker{'s' if workers > 1 else ''}"] = _best(distributed, repeats)
    doc = {"rows": rows, "bytes": path.stat().st_size, "seconds": seconds,
           "rows_per_second": {k: rows / v for k, v in seconds.items()}}
    table = [f"ingest+profile of {rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB Parquet), best of {repeats}",
             "", "| path | seconds | rows/s |", "| --- | --- | --- |"]
    table += [f"| {k} | {v:.1f} | {rows / v:,.0f} |" for k, v in seconds.items()]
    write_results("dask-profile", doc, table)
