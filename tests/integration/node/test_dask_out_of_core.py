"""The difference a user sees on the real node: a dataset four times larger than a Dask worker's memory limit
trains to an accepted model on two worker pods, while the same spec without compute.dask, in one pod with the
memory of both workers, ends OOMKilled with that said in the TrainingJob's status.

The dataset is one Parquet file (row groups of 50,000 rows) in the chart's embedded store, which both paths read:
the Dask run partition by partition, the single pod whole. Each worker pod's memory cgroup is read on the node
(this machine is the node): no process in it was OOM-killed, and its peak usage is reported beside the workers'
own peak resident memory that the TrainingJob's status gives.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.churn_data import churn_part
from tests.support.dask_operator import sextant_with_dask
from tests.support.embedded_store import store_client
from tests.support.polling import eventually

# Not part of `make test`: it writes about 3 GB into the store and reads it twice (tens of minutes on 2 cores).
# Run it with SEXTANT_OUT_OF_CORE=1 (docs/dask.md).
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.environ.get("SEXTANT_OUT_OF_CORE") != "1",
                                 reason="the out-of-core proof runs with SEXTANT_OUT_OF_CORE=1 (docs/dask.md)")]

NAMESPACE = "sx-out-of-core"
MIB = 2**20
WORKER_MEMORY_MIB = 700
#: Stored bytes of the dataset over one worker's memory limit (SEXTANT_OUT_OF_CORE_FACTOR, 4 by default).
FACTOR = float(os.environ.get("SEXTANT_OUT_OF_CORE_FACTOR", "4"))
KEY = "data/churn-large/churn.parquet"
SPEC: dict[str, Any] = {
    "task": "classification", "model": {"name": "churn-large"},
    "dataset": {"uri": f"s3://sextant/{KEY}", "target": "churned"},
    "estimator": {"algorithm": "xgboost", "params": {"n_estimators": 60, "max_depth": 4}},
    "acceptance": [{"metric": "roc_auc", "min": 0.8}],
    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
}
DASK = {"workers": 2, "resources": {"requests": {"cpu": "500m", "memory": f"{WORKER_MEMORY_MIB}Mi"},
                                    "limits": {"cpu": "1", "memory": f"{WORKER_MEMORY_MIB}Mi"}}}
#: The single pod gets what the two workers had together.
ONE_POD = {"requests": {"cpu": "500m", "memory": f"{2 * WORKER_MEMORY_MIB}Mi"},
           "limits": {"memory": f"{2 * WORKER_MEMORY_MIB}Mi"}}


@pytest.fixture(scope="module")
def namespace(cluster: Any, crds: None) -> Iterator[str]:
    with sextant_with_dask(cluster, NAMESPACE) as name:
        yield name


def _write_dataset(path: Path, size: float) -> tuple[int, int]:
    """One Parquet file of generated churn rows, at least `size` bytes; returns (bytes, rows)."""
    rows, part, writer = 0, 0, None
    try:
        while not path.exists() or path.stat().st_size < size:
            table = pa.Table.from_pandas(churn_part(part), preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=50_000)
            rows, part = rows + table.num_rows, part + 1
    finally:
        if writer:
            writer.close()
    return path.stat().st_size, rows


def _trainingjob(name: str, spec: dict[str, Any]) -> str:
    return json.dumps({"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob",
                       "metadata": {"name": name}, "spec": spec})


def _finished(cluster: Any, namespace: str, name: str, timeout: float,
              meanwhile: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """The TrainingJob's status once it ends; `meanwhile` runs at every poll until then."""
    def probe() -> dict[str, Any] | None:
        meanwhile()
        out = cluster.kubectl("get", "trainingjob", name, "-n", namespace, "-o", "json")
        status: dict[str, Any] = json.loads(out.stdout).get("status", {})
        return status if status.get("phase") in ("Succeeded", "Failed") else None
    return eventually(probe, timeout=timeout, interval=5, what=f"TrainingJob {name} to finish")


def _pod_memory_cgroup(uid: str) -> Path:
    """The pod's memory cgroup on this node (cgroup v1, cgroupfs driver: kubepods/<qos>/pod<uid>)."""
    root = Path("/sys/fs/cgroup/memory/kubepods")
    for candidate in (root / f"pod{uid}", root / "burstable" / f"pod{uid}", root / "besteffort" / f"pod{uid}"):
        if candidate.exists():
            return candidate
    raise AssertionError(f"no memory cgroup for pod {uid} under {root}")


def _oom_kills(cgroup: Path) -> int:
    """Processes the kernel killed in this cgroup for memory (memory.oom_control's oom_kill line)."""
    counts = dict(line.split(maxsplit=1) for line in (cgroup / "memory.oom_control").read_text().splitlines())
    return int(counts["oom_kill"])


class WorkerWatch:
    """What the worker pods' memory cgroups and container statuses said, read at every poll while they exist (the
    Dask operator deletes them as soon as the runner ends). Peak usage and OOM kills only grow, so the last
    reading holds."""

    def __init__(self, cluster: Any, namespace: str, run: str, pods: list[dict[str, Any]]) -> None:
        self.cluster, self.namespace, self.run = cluster, namespace, run
        self.cgroups = {p["metadata"]["name"]: _pod_memory_cgroup(p["metadata"]["uid"]) for p in pods}
        self.peak: dict[str, int] = {}
        self.oom_kills: dict[str, int] = {}
        self.restarts: dict[str, int] = {}

    def read(self) -> None:
        for name, path in self.cgroups.items():
            try:
                peak, kills = int((path / "memory.max_usage_in_bytes").read_text()), _oom_kills(path)
            except (FileNotFoundError, ProcessLookupError):  # the pod is gone
                continue
            self.peak[name], self.oom_kills[name] = peak, kills
        for pod in _worker_pods(self.cluster, self.namespace, self.run):
            statuses = pod["status"].get("containerStatuses") or []
            self.restarts[pod["metadata"]["name"]] = sum(c.get("restartCount", 0) for c in statuses)


def _worker_pods(cluster: Any, namespace: str, run: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "pods", "-n", namespace, "-l", f"ml.sextant.io/run={run}", "-o", "json")
    return [p for p in json.loads(out.stdout)["items"]
            if p["metadata"]["labels"].get("dask.org/component") == "worker"]


@pytest.mark.timeout(7200)
def test_data_four_times_a_workers_memory_trains_on_dask_and_ooms_in_one_pod(
        cluster: Any, namespace: str, tmp_path: Path) -> None:
    started = time.monotonic()
    size, rows = _write_dataset(tmp_path / "churn.parquet", FACTOR * WORKER_MEMORY_MIB * MIB)
    store_client(cluster, namespace).upload_file(str(tmp_path / "churn.parquet"), "sextant", KEY)
    (tmp_path / "churn.parquet").unlink()
    print(f"\nwrote {rows:,} rows, {size / MIB:,.0f} MiB of Parquet ({size / (WORKER_MEMORY_MIB * MIB):.1f}x a "
          f"worker's {WORKER_MEMORY_MIB} MiB) into the store in {time.monotonic() - started:.0f} s")

    started = time.monotonic()
    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    input=_trainingjob("churn-dask", {**SPEC, "compute": {"dask": DASK}}))
    def running_workers() -> list[dict[str, Any]] | None:
        pods = _worker_pods(cluster, namespace, "churn-dask-g1")
        return pods if len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods) else None

    workers = WorkerWatch(cluster, namespace, "churn-dask-g1",
                          eventually(running_workers, timeout=600, interval=3, what="two running worker pods"))
    dask = _finished(cluster, namespace, "churn-dask", timeout=5400, meanwhile=workers.read)
    seconds = time.monotonic() - started
    print(json.dumps({k: dask.get(k) for k in ("phase", "reason", "message", "metrics", "compute", "model")}))
    print(f"Dask run: {seconds:.0f} s; worker peak RSS (status) {dask.get('compute', {}).get('workerPeakMemory')}; "
          f"pod memory cgroup peak incl. page cache {[f'{v / MIB:.0f} MiB' for v in workers.peak.values()]}; "
          f"OOM kills {workers.oom_kills}; restarts {workers.restarts}")
    assert dask["phase"] == "Succeeded" and dask["accepted"], dask
    assert dask["compute"]["workers"] == 2
    assert int(dask["compute"]["workerPeakMemory"].removesuffix("Mi")) < WORKER_MEMORY_MIB
    assert len(workers.oom_kills) == 2 and not any(workers.oom_kills.values())
    assert len(workers.restarts) == 2 and not any(workers.restarts.values())

    started = time.monotonic()
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_trainingjob("churn-one-pod",
                                                                            {**SPEC, "resources": ONE_POD}))
    one_pod = _finished(cluster, namespace, "churn-one-pod", timeout=1800)
    print(f"single pod ({2 * WORKER_MEMORY_MIB} MiB) after {time.monotonic() - started:.0f} s: "
          + json.dumps({k: one_pod.get(k) for k in ("phase", "reason", "message")}))
    assert one_pod["phase"] == "Failed" and one_pod["reason"] == "OOMKilled", one_pod
    assert "ran out of memory" in one_pod["message"] and "spec.compute.dask" in one_pod["message"]
