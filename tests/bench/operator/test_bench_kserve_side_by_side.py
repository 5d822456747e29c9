"""Benchmark (issue 16, P1 foundations): N InferenceServices through KServe's controller and through Sextant's
operator, side by side on one fresh kwok-only cluster per run (no real node; this machine's cluster untouched).

Per run (SEXTANT_BENCH_SCALE_RUNS, default 3): a cluster with the `scale` profile (large kwok nodes, a /16
ServiceCIDR, controller-manager at 200/400 QPS); KServe's CRDs, RBAC, Standard-mode ConfigMap and sklearn
runtime and Sextant's CRDs and chart RBAC installed; then each controller in turn (order alternating between runs):
start it, wait until it answers its health probe, create N InferenceServices (SEXTANT_BENCH_SCALE_N, default 100)
from 10 threads, in waves of SEXTANT_BENCH_SCALE_WAVE (default N: all at once; a wave starts when the previous
one is Ready), and time from watch streams until every child (Deployment, Service, HPA) exists and until every
InferenceService is Ready. Then its resident memory and CPU seconds are read from /proc; it is left at rest for
SEXTANT_BENCH_SCALE_REST seconds (default 300, 0 skips it: P4) while the API server counts its writes (to
InferenceServices and to their children's specs, from `apiserver_request_total`) and /proc its CPU; then the
namespace is deleted (while it runs, so finalizers go) and it is stopped before the other starts.

Equal footing: both are host processes started the same way, each authenticated by a ServiceAccount token with
its own project's RBAC (KServe's ClusterRole, Sextant's chart Role), no CPU limit for either, webhooks out for
both. Each InferenceService asks 1 CPU / 2 Gi per pod and an HPA from 1 to 3 replicas. Sextant's serves a model
pinned by version from a local file store. Results in bench-results/operator-kserve-side-by-side.{json,md}.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sextant_devcluster import LocalCluster, supervisor
from tests.bench.pipelines.common import env_int, write_results
from tests.support import kserve_anchor
from tests.support.polling import eventually
from tests.support.processes import process_figures
from tests.support.scale_watch import ScaleRecorder, child_counts, controller_writes, request_counts
from tests.support.serving_models import register_iris
from tests.support.sextant_operator import (
    SERVICE_ACCOUNT,
    OperatorProcess,
    apply_docs,
    chart_rbac,
    install_crds,
    operator_image_python,
)

N = env_int("SEXTANT_BENCH_SCALE_N", 100)
RUNS = env_int("SEXTANT_BENCH_SCALE_RUNS", 3)
WAVE = env_int("SEXTANT_BENCH_SCALE_WAVE", N)
START_TIMEOUT = 120.0  # either controller to answer its health probe on a loaded machine
REST_SECONDS = env_int("SEXTANT_BENCH_SCALE_REST", 300)
#: Which controllers run (comma-separated): one alone is for profiling a change, never for a ratio.
CONTROLLERS = [c for c in os.environ.get("SEXTANT_BENCH_SCALE_CONTROLLERS", "kserve,sextant").split(",") if c]
READY_TIMEOUT = env_int("SEXTANT_BENCH_SCALE_READY_TIMEOUT", 120 + 2 * N)  # per wave; a miss is a figure too
RESULTS: dict[str, list[dict[str, Any]]] = {"kserve": [], "sextant": []}
SEXTANT_GROUP = ("ml.sextant.io", "v1alpha1", "inferenceservices")
SEXTANT_LABEL = "ml.sextant.io/inferenceservice"
#: The shared control plane's processes: their CPU while a controller works is the cost it puts on the cluster.
CONTROL_PLANE = ("kube-apiserver", "etcd", "kube-controller-manager", "kwok")
POD_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}


def sextant_inferenceservice(name: str) -> dict[str, Any]:
    """The Sextant equivalent of kserve_anchor.kserve_inferenceservice: one model version, 1 CPU / 2 Gi, HPA 1-3."""
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"model": {"name": "iris", "version": "1"}, "resources": POD_RESOURCES,
                     "scaling": {"minReplicas": 1, "maxReplicas": 3}}}


def control_plane_cpu(cluster: LocalCluster) -> dict[str, float]:
    """CPU seconds each control-plane process has used since it started."""
    pids = {name: supervisor.running_pid(cluster.layout.pidfile(name)) for name in CONTROL_PLANE}
    return {name: process_figures(pid)["cpu_seconds"] for name, pid in pids.items() if pid is not None}


def _cluster_cost(requests: Counter[str], cpu: dict[str, float], cluster: LocalCluster) -> dict[str, Any]:
    """What one controller's run cost the shared cluster: the API server's requests (every client's, by verb and
    resource; the 12 most frequent) and each control-plane process's CPU seconds, since `requests` and `cpu`."""
    spent = request_counts(cluster) - requests
    return {"requests": sum(spent.values()), "requests_top": dict(spent.most_common(12)),
            "control_plane_cpu_s": {k: round(v - cpu.get(k, 0.0), 1) for k, v in control_plane_cpu(cluster).items()}}


def _measure(cluster: LocalCluster, namespace: str, group: tuple[str, str, str], label: str, pid: int,
             body: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    names = [f"isvc-{i:04d}" for i in range(N)]
    with cluster.api_client() as api:
        custom = client.CustomObjectsApi(api)
        recorder = ScaleRecorder(api, namespace, label, *group).start()
        try:
            requests, cpu = request_counts(cluster), control_plane_cpu(cluster)
            started = time.time()
            created, timed_out = started, ""
            for w in range(0, N, WAVE):
                wave = names[w:w + WAVE]
                with ThreadPoolExecutor(max_workers=10) as pool:
                    list(pool.map(lambda n: custom.create_namespaced_custom_object(*group[:2], namespace, group[2],
                                                                                   body(n)), wave))
                created = time.time()  # the last create answered: the children cannot all exist before
                applied = names[:w + WAVE]
                try:
                    eventually(partial(recorder.ready_done, applied), timeout=READY_TIMEOUT, interval=0.5,
                               what=f"{len(applied)} InferenceServices Ready in {namespace}")
                except AssertionError as exc:  # recorded as a figure too: how far it got in the time
                    timed_out = f"{exc}: {recorder.progress(applied)}"
                    break
            children = recorder.children_done(names)
            ready = recorder.ready_done(names)
            ready_count = sum(1 for n in names if n in recorder.ready_at)
            duplicates = recorder.duplicates()
            cost = _cluster_cost(requests, cpu, cluster)
        finally:
            recorder.stop()
    counts = child_counts(cluster, namespace, label)
    figures = {"created_s": created - started, "children_s": None if children is None else children - started,
               "ready_s": None if ready is None else ready - started, "ready_count": ready_count,
               "timed_out": timed_out, "counts": counts, "duplicates": len(duplicates), **cost, **process_figures(pid)}
    return {**figures, **(_at_rest(cluster, pid) if REST_SECONDS and not timed_out else {})}


def _at_rest(cluster: LocalCluster, pid: int) -> dict[str, Any]:
    """Writes and CPU seconds of the controller over REST_SECONDS with nothing changing (a fixed window: the
    figure is a rate)."""
    writes, cpu = controller_writes(cluster), process_figures(pid)["cpu_seconds"]
    time.sleep(REST_SECONDS)
    return {"rest_s": REST_SECONDS, "rest_writes": controller_writes(cluster) - writes,
            "rest_cpu_seconds": process_figures(pid)["cpu_seconds"] - cpu}


def _delete_namespace(cluster: LocalCluster, namespace: str) -> None:
    """Delete while the controller runs (its finalizers go); a slow deletion is reported, not fatal: the figures
    are taken already and the next controller's namespace is another."""
    try:
        cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=120s", check=False, timeout=150)
    except subprocess.TimeoutExpired:
        print(f"namespace {namespace} was still being deleted after 150 s")


def _run_kserve(cluster: LocalCluster, workdir: Path) -> dict[str, Any]:
    namespace = "scale-kserve"
    cluster.kubectl("create", "namespace", namespace)
    kubeconfig = cluster.service_account_kubeconfig(kserve_anchor.NAMESPACE, kserve_anchor.SERVICE_ACCOUNT)
    manager = kserve_anchor.KServeManager(cluster.bin_dir, kubeconfig, workdir)
    try:
        manager.start()
        assert manager.proc is not None
        figures = _measure(cluster, namespace, (kserve_anchor.GROUP, kserve_anchor.VERSION, kserve_anchor.PLURAL),
                           kserve_anchor.LABEL, manager.proc.pid, kserve_anchor.kserve_inferenceservice)
        _delete_namespace(cluster, namespace)
    finally:
        manager.stop()
    return figures


def _run_sextant(cluster: LocalCluster, workdir: Path) -> dict[str, Any]:
    namespace = "scale-sextant"
    cluster.kubectl("create", "namespace", namespace)
    store = workdir / "store"
    register_iris(store, aliases=())
    apply_docs(cluster, chart_rbac(cluster, namespace))
    kubeconfig = cluster.service_account_kubeconfig(namespace, SERVICE_ACCOUNT)
    operator = OperatorProcess(kubeconfig=kubeconfig, namespaces=(namespace,), workdir=workdir,
                               env={"SEXTANT_STORE_URI": store.as_uri()}, start_timeout=START_TIMEOUT,
                               python=operator_image_python())  # the image's packages, as a user's pod has
    try:
        operator.start()  # as start_sextant does without the webhook; stopped even when its start times out
        assert operator.proc is not None
        figures = _measure(cluster, namespace, SEXTANT_GROUP, SEXTANT_LABEL, operator.proc.pid,
                           sextant_inferenceservice)
        _delete_namespace(cluster, namespace)
    finally:
        operator.stop()
    return figures


@pytest.mark.bench
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("run", range(RUNS))
def test_bench_inferenceservices_kserve_and_sextant(scale_cluster: LocalCluster, tmp_path: Path, run: int) -> None:
    kserve_anchor.install_kserve(scale_cluster)
    install_crds(scale_cluster)
    order = [(name, measure) for name, measure in (("kserve", _run_kserve), ("sextant", _run_sextant))
             if name in CONTROLLERS]
    for name, measure in order if run % 2 == 0 else reversed(order):
        workdir = tmp_path / name
        workdir.mkdir()
        figures = measure(scale_cluster, workdir)
        figures["load_avg_1m"] = os.getloadavg()[0]
        RESULTS[name].append(figures)
        _write()
        assert not figures["timed_out"], figures["timed_out"]
        assert figures["duplicates"] == 0, figures
        assert all(count >= N for count in figures["counts"].values()), (name, figures["counts"])


def _write() -> None:
    table = ["| controller | N | wave | runs | all children exist, s (median; runs) | all Ready, s (median; runs) "
             f"| RSS MiB (peak) | CPU s | at rest {REST_SECONDS} s: writes; CPU s (runs) | load (1 min) at the end |",
             "|---|---:|---:|---:|---|---|---|---|---|---|"]
    medians: dict[str, dict[str, float]] = {}
    for name, runs in RESULTS.items():
        if not runs:
            continue
        done = [r for r in runs if r["ready_s"] is not None and r["children_s"] is not None]
        missed = [f"{r['ready_count']}/{N} Ready at {READY_TIMEOUT} s" for r in runs if r not in done]
        if not done:
            table.append(f"| {name} | {N} | {WAVE} | {len(runs)} | {'; '.join(missed)} | | "
                         f"{_each(runs, 'rss_mib')} | {_each(runs, 'cpu_seconds')} | {_rest(runs)} "
                         f"| {_each(runs, 'load_avg_1m')} |")
            continue
        med = {k: statistics.median(r[k] for r in done) for k in ("children_s", "ready_s", "rss_mib", "cpu_seconds")}
        medians[name] = med
        table.append(f"| {name} | {N} | {WAVE} | {len(runs)} | {med['children_s']:.1f} ({_each(done, 'children_s')}) "
                     f"| {med['ready_s']:.1f} ({_each(done, 'ready_s')}{'; ' if missed else ''}{'; '.join(missed)}) "
                     f"| {med['rss_mib']:.0f} ({max(r['peak_rss_mib'] for r in runs):.0f}) "
                     f"| {med['cpu_seconds']:.1f} | {_rest(runs)} | {_each(runs, 'load_avg_1m')} |")
    if len(medians) == 2:
        s, k = medians["sextant"], medians["kserve"]
        table.append(f"| ratio Sextant / KServe | | | | {s['children_s'] / k['children_s']:.2f} | "
                     f"{s['ready_s'] / k['ready_s']:.2f} | {s['rss_mib'] / k['rss_mib']:.2f} | "
                     f"{s['cpu_seconds'] / k['cpu_seconds']:.2f} | | |")
    table += ["", "What each run cost the shared cluster while its InferenceServices were created (every client's "
              "requests; the control plane's CPU seconds):", "",
              "| controller | last InferenceService created, s (runs) | API requests (runs) | "
              + " | ".join(f"{c} CPU s" for c in CONTROL_PLANE) + " |",
              "|---|---|---|" + "---:|" * len(CONTROL_PLANE)]
    for name, runs in RESULTS.items():
        costed = [r for r in runs if "requests" in r]
        if costed:
            cpu = [statistics.median(r["control_plane_cpu_s"].get(c, 0.0) for r in costed) for c in CONTROL_PLANE]
            table.append(f"| {name} | {_each(costed, 'created_s')} | {', '.join(str(r['requests']) for r in costed)} | "
                         + " | ".join(f"{v:.1f}" for v in cpu) + " |")
    write_results("operator-kserve-side-by-side", {"n": N, "wave": WAVE, "runs": RESULTS}, table)


def _each(runs: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{r[key]:.1f}" for r in runs)


def _rest(runs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['rest_writes']}; {r['rest_cpu_seconds']:.1f}" for r in runs if "rest_writes" in r)
