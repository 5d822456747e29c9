"""Benchmark: time from applying a TrainingJob to its Job being created, for 1, 10 and 100 TrainingJobs applied
at once (SEXTANT_BENCH_LATENCY_ROUNDS scales the rounds: 10 of 1, 3 of 10, 1 of 100 by default).

The operator runs as in the integration tests (a local process as the chart's ServiceAccount, with its admission
webhook registered, so an apply includes admission). Pods go to kwok's fake nodes. Each TrainingJob's latency is
from the moment its create request is sent to the moment a watch on Jobs (tests/support/job_watch.py) delivers
its run's Job; the API server runs on this machine, so both times come from one clock. The Jobs'
creationTimestamp minus the TrainingJobs' (one-second resolution, the API server's clock) is reported beside it.
Between rounds every TrainingJob of the round reaches Succeeded (the harness writes result documents as kwok
"runs" them), so rounds do not overlap. Results in bench-results/operator-apply-latency.{json,md}.
"""

from __future__ import annotations

import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sextant_contracts.storage import FileStore
from sextant_operator.reconcile.run_names import spec_run_name
from tests.bench.pipelines.common import env_int, write_results
from tests.support.crash_chaos import GROUP, PLURAL, VERSION, kwok_trainingjob, write_result
from tests.support.job_watch import JobRecorder
from tests.support.polling import eventually
from tests.support.sextant_fixtures import start_sextant, stop_sextant

LEVELS = ((1, 10), (10, 3), (100, 1))  # TrainingJobs applied at once, rounds


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 10 values is the largest)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.mark.bench
@pytest.mark.timeout(1200)
def test_bench_apply_to_job_created(cluster: Any, crds: None, namespace: str, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    store = FileStore(store_dir)
    operator, hook = start_sextant(cluster, namespace, tmp_path, env={"SEXTANT_STORE_URI": store_dir.as_uri()})
    scale = env_int("SEXTANT_BENCH_LATENCY_ROUNDS", 1)
    doc: dict[str, Any] = {}
    try:
        with cluster.api_client() as api:
            custom = client.CustomObjectsApi(api)
            recorder = JobRecorder(api, namespace).start()
            try:
                for k, rounds in LEVELS:
                    watched: list[float] = []
                    server: list[float] = []
                    for r in range(rounds * scale):
                        names = [f"lat-{k}-{r}-{i}" for i in range(k)]
                        a, b = _apply_at_once(custom, namespace, store, recorder, names)
                        watched += a
                        server += b
                    doc[str(k)] = {"samples": len(watched), "watch": watched, "server": server}
            finally:
                recorder.stop()
    finally:
        stop_sextant(cluster, namespace, operator, hook)
    table = ["| TrainingJobs applied at once | samples | median s | p99 s | max s | server-side median s (1 s "
             "resolution) |", "|---:|---:|---:|---:|---:|---:|"]
    for k, entry in doc.items():
        w = entry["watch"]
        entry.update({"median": statistics.median(w), "p99": percentile(w, 99), "max": max(w),
                      "server_median": statistics.median(entry["server"])})
        table.append(f"| {k} | {entry['samples']} | {entry['median']:.3f} | {entry['p99']:.3f} | "
                     f"{entry['max']:.3f} | {entry['server_median']:.1f} |")
    write_results("operator-apply-latency", doc, table)


def _apply_at_once(custom: client.CustomObjectsApi, namespace: str, store: FileStore, recorder: JobRecorder,
                   names: list[str]) -> tuple[list[float], list[float]]:
    """Create the TrainingJobs from parallel threads; return per-TrainingJob watch and server latencies."""
    sent: dict[str, float] = {}
    created: dict[str, str] = {}
    for name in names:
        write_result(store, name, spec_run_name(name, 1), 1)

    def create(name: str) -> None:
        sent[name] = time.time()
        body = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                      kwok_trainingjob(name, 100, False))
        created[name] = body["metadata"]["creationTimestamp"]

    with ThreadPoolExecutor(max_workers=min(len(names), 10)) as pool:
        list(pool.map(create, names))
    seen = eventually(lambda: _all_seen(recorder, names), timeout=120, what=f"Jobs of {len(names)} TrainingJobs")
    eventually(lambda: _all_succeeded(custom, namespace, names), timeout=180, what="the round to finish")
    return ([seen[n].seen_at - sent[n] for n in names],
            [_seconds(seen[n].created) - _seconds(created[n]) for n in names])


def _all_seen(recorder: JobRecorder, names: list[str]) -> dict[str, Any] | None:
    seen = {n: recorder.first_seen(spec_run_name(n, 1)) for n in names}
    return seen if all(seen.values()) else None


def _all_succeeded(custom: client.CustomObjectsApi, namespace: str, names: list[str]) -> bool:
    items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    phases = {tj["metadata"]["name"]: (tj.get("status") or {}).get("phase") for tj in items}
    return all(phases.get(n) == "Succeeded" for n in names)
