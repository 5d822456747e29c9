"""Profiling data several times larger than a Dask worker's memory, on a real distributed LocalCluster.

The big dataset is the small one's rows repeated (one object per copy) in the store, so the single-process
profile of the small one, which fits, says exactly what the big one's must be: the same schema, missing rates,
histogram edges and category frequencies, and bin and class counts times the number of copies. The workers are
separate processes with a memory limit each (the nanny restarts a worker that goes over 95% of it); the test
asks each worker for its peak RSS (getrusage) and its pid, before and after, so a restarted worker fails it.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from sextant_pipelines.dask_ingest import ingest_lazy
from sextant_pipelines.dask_profile import profile_lazy
from sextant_pipelines.ingest import ingest
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import DatasetSpec
from tests.support.dask_workers import worker_memory
from tests.support.versitygw import RunningStore
from tests.support.wide_data import UNUSED, frame

# Not part of `make test`: it writes about 2.8 GB of Parquet and as much CSV into the store and profiles each
# (minutes on 2 cores). Run it with SEXTANT_OUT_OF_CORE=1 (docs/dask.md).
pytestmark = pytest.mark.skipif(os.environ.get("SEXTANT_OUT_OF_CORE") != "1",
                                reason="the out-of-core proof runs with SEXTANT_OUT_OF_CORE=1 (docs/dask.md)")

MIB = 2**20
# As the training proof's workers. 384 MiB was measured too tight (workers paused at 80%, one was restarted); 512
# MiB ran past 30 minutes on the loaded machine, pausing again and again.
WORKER_MEMORY = 700 * MIB
WORKERS = 2
CHUNK_ROWS = 500_000
NOISE_COLUMNS = 12
FACTOR = 4  # stored bytes of the big dataset over one worker's memory limit


@dataclass(frozen=True)
class Uploaded:
    small: DatasetSpec
    big: DatasetSpec
    copies: int
    big_bytes: int


def _encode(data: pd.DataFrame, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "parquet":
        data.to_parquet(buffer, row_group_size=50_000)
    else:
        data.to_csv(buffer, index=False)
    return buffer.getvalue()


def _upload(store: RunningStore, fmt: str) -> Uploaded:
    body = _encode(frame(CHUNK_ROWS, seed=7, noise_columns=NOISE_COLUMNS), fmt)
    client, prefix, copies = store.s3.client(), f"out-of-core-{fmt}", -(-FACTOR * WORKER_MEMORY // len(body))
    client.put_object(Bucket=store.bucket, Key=f"{prefix}/small.{fmt}", Body=body)
    for i in range(copies):
        client.put_object(Bucket=store.bucket, Key=f"{prefix}/big/part-{i:03d}.{fmt}", Body=body)
    spec = {"target": "label", "exclude": list(UNUSED)}
    return Uploaded(DatasetSpec(uri=f"s3://{store.bucket}/{prefix}/small.{fmt}", **spec),  # type: ignore[arg-type]
                    DatasetSpec(uri=f"s3://{store.bucket}/{prefix}/big/part-*.{fmt}", **spec),  # type: ignore[arg-type]
                    copies, copies * len(body))


@pytest.fixture
def dask_client(versitygw: RunningStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """Worker processes started with the store's endpoint and keys in their environment, as pods get them."""
    for key, value in versitygw.s3.env().items():
        monkeypatch.setenv(key, value)
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, memory_limit=WORKER_MEMORY,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(WORKERS, timeout=60)
        yield client


def _expected_big(small: dict[str, Any], copies: int) -> dict[str, Any]:
    """The small profile scaled: counts times the copies, everything else (shares, edges, schema) the same."""
    big = {**small, "baseline": {"rows": small["baseline"]["rows"] * copies, "features": {}}}
    for name, base in small["baseline"]["features"].items():
        scaled = {**base, "counts": [c * copies for c in base["counts"]]} if base["type"] == "numeric" else base
        big["baseline"]["features"][name] = scaled
    big["target"] = {**small["target"], "counts": {k: v * copies for k, v in small["target"]["counts"].items()}}
    return big


@pytest.mark.timeout(2400)
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_data_four_times_a_workers_memory_profiles_as_the_single_process_path_says(
        versitygw: RunningStore, dask_client: Client, fmt: str) -> None:
    data = _upload(versitygw, fmt)
    assert data.big_bytes >= FACTOR * WORKER_MEMORY

    single = ingest(data.small, "classification")  # the single-process path, on the subset that fits
    expected = _expected_big(profile(single.features, single.target, "classification", suspicious=False).to_dict(),
                             data.copies)
    before = dask_client.run(worker_memory)

    started = time.monotonic()
    lazy = ingest_lazy(data.big, "classification")
    found = profile_lazy(lazy, "classification").to_dict()
    seconds = time.monotonic() - started

    after = dask_client.run(worker_memory)
    peaks = sorted(m["peak_rss"] for m in after.values())
    rows = found["baseline"]["rows"]
    print(f"\n{fmt}: {data.big_bytes / MIB:.0f} MiB stored ({data.big_bytes / WORKER_MEMORY:.1f}x a worker's "
          f"{WORKER_MEMORY // MIB} MiB limit), {rows} rows in {lazy.frame.npartitions} partitions, {seconds:.1f} s "
          f"({rows / seconds:,.0f} rows/s); peak RSS per worker {[f'{p / MIB:.0f} MiB' for p in peaks]}")
    assert {w: m["pid"] for w, m in after.items()} == {w: m["pid"] for w, m in before.items()}, "a worker restarted"
    assert max(peaks) < WORKER_MEMORY
    for key in expected:
        assert found[key] == expected[key], key
