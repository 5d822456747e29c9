"""Training on data four times larger than a Dask worker's memory limit, on a real distributed LocalCluster.

The run goes the way a DaskJob's runner pod runs it: `flow.run_training` with spec.compute.dask and
DASK_SCHEDULER_ADDRESS naming the cluster, reading from the embedded store's S3 server (versitygw) on loopback.
The workers are separate processes with the spec's memory limit (the nanny restarts a worker over 95% of it); the
test asks each worker for its peak RSS and pid before and after, so a restarted worker fails it.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator

import pytest
from distributed import Client, LocalCluster

from sextant_pipelines import flow
from sextant_pipelines.dask_flow import SCHEDULER_ENV
from tests.support.churn_data import churn_part
from tests.support.dask_workers import worker_memory
from tests.support.versitygw import RunningStore

# Not part of `make test`: it writes and reads about 3 GB several times (tens of minutes on 2 cores). Run it with
# SEXTANT_OUT_OF_CORE=1 (docs/dask.md).
pytestmark = pytest.mark.skipif(os.environ.get("SEXTANT_OUT_OF_CORE") != "1",
                                reason="the out-of-core proof runs with SEXTANT_OUT_OF_CORE=1 (docs/dask.md)")

MIB = 2**20
WORKERS = 2
WORKER_MEMORY = 700 * MIB
#: Stored bytes of the dataset over one worker's memory limit (SEXTANT_OUT_OF_CORE_FACTOR, 4 by default).
FACTOR = float(os.environ.get("SEXTANT_OUT_OF_CORE_FACTOR", "4"))


@pytest.fixture
def cluster(versitygw: RunningStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """Worker processes with the store's endpoint and keys in their environment, as the pods get them; the run
    finds the scheduler as a DaskJob's runner pod does."""
    for key, value in versitygw.s3.env().items():
        monkeypatch.setenv(key, value)
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, memory_limit=WORKER_MEMORY,
                      dashboard_address=None) as local, Client(local) as client:
        client.wait_for_workers(WORKERS, timeout=60)
        monkeypatch.setenv(SCHEDULER_ENV, local.scheduler_address)
        yield client


@pytest.mark.timeout(5400)
def test_data_four_times_a_workers_memory_trains_an_accepted_model_on_two_workers(
        versitygw: RunningStore, cluster: Client) -> None:
    s3, stored, part = versitygw.s3.client(), 0, 0
    started = time.monotonic()
    while stored < FACTOR * WORKER_MEMORY:
        buffer = io.BytesIO()
        churn_part(part).to_parquet(buffer, row_group_size=50_000)
        s3.put_object(Bucket=versitygw.bucket, Key=f"churn/part-{part:03d}.parquet", Body=buffer.getvalue())
        stored, part = stored + buffer.tell(), part + 1
    print(f"\nwrote {part} parts, {stored / MIB:.0f} MiB ({stored / WORKER_MEMORY:.1f}x a worker's limit) in "
          f"{time.monotonic() - started:.0f} s")
    spec = {"task": "classification", "model": {"name": "churn"},
            "dataset": {"uri": f"s3://{versitygw.bucket}/churn/part-*.parquet", "target": "churned"},
            "estimator": {"algorithm": "xgboost", "params": {"n_estimators": 60, "max_depth": 4}},
            "acceptance": [{"metric": "roc_auc", "min": 0.8}],
            "compute": {"dask": {"workers": WORKERS, "resources": {"limits": {"cpu": "1", "memory": "700Mi"}}}}}
    before = cluster.run(worker_memory)

    started = time.monotonic()
    result = flow.run_training(spec, flow.RunContext(f"s3://{versitygw.bucket}/registry"))
    seconds = time.monotonic() - started

    after = cluster.run(worker_memory)
    peaks = sorted(m["peak_rss"] for m in after.values())
    print(f"trained in {seconds:.0f} s: {json.dumps({k: result.get(k) for k in ('metrics', 'holdout', 'compute')})}"
          f"; peak RSS per worker {[f'{p / MIB:.0f} MiB' for p in peaks]} (limit {WORKER_MEMORY // MIB} MiB)")
    assert {w: m["pid"] for w, m in after.items()} == {w: m["pid"] for w, m in before.items()}, "a worker restarted"
    assert max(peaks) < WORKER_MEMORY
    assert result["status"] == "Succeeded" and result["accepted"], result["failedCriteria"]
    assert result["compute"]["workers"] == WORKERS and result["holdout"]["by"] == "partitions"
