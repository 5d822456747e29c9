"""Benchmark (issue 16, P2 and the TrainingJob half of P1): the operator's resident memory with N TrainingJobs and
N InferenceServices (and their children) under watch, against a kopf operator that watches the same and does
nothing (tests/support/idle_kopf_operator.py), and whether it grows with the number of reconciles.

One fresh kwok-only cluster with the `scale` profile; Sextant's CRDs and chart RBAC; both operators started at
once in one namespace with the same ServiceAccount token (the idle one writes nothing, so they do not interfere).
Then, from 10 threads:

1. N TrainingJobs (SEXTANT_BENCH_MEMORY_N, default 1,000): time from the first create request until every one has
   its Job (watch streams, tests/support/scale_watch.py), and no Job created twice;
2. N InferenceServices: time until every child exists and until every one is Ready (its pods on the fake nodes);
3. SEXTANT_BENCH_MEMORY_CHANGES (default 10) rounds of one spec change to every InferenceService
   (`scaling.maxReplicas` 4, 5, ...), each round waited for until every HPA carries the new value;
4. SEXTANT_BENCH_MEMORY_REST seconds (default 300, 0 skips it) with all 2N objects at rest (P4): the writes the
   API server counted to TrainingJobs, InferenceServices and their children's specs, and both operators' CPU.
   kwok completes the Jobs' pods without running a trainer, so no result document is ever written: each
   TrainingJob fails as ResultMissing RESULT_WAIT_SECONDS after its Job completed (1 status write each), and the
   window starts once every TrainingJob is Succeeded or Failed (the time it took is reported).

After each step, once the operator's CPU has been quiet for 10 s (at most SETTLE_TIMEOUT), both processes'
resident memory is read from /proc. Results in bench-results/operator-memory.{json,md}. KServe's controller has
no TrainingJobs; its figure with 1,000 InferenceServices comes from the side-by-side benchmark (docs/scale.md).
"""

from __future__ import annotations

import os
import shutil
import signal
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

from sextant_devcluster import LocalCluster
from sextant_operator.handlers import inferenceservice as serving_handlers
from sextant_operator.reconcile.run_names import LABEL_TRAININGJOB
from sextant_operator.reconcile.run_observation import RESULT_WAIT_SECONDS
from sextant_operator.reconcile.serving_manifests import LABEL_ISVC
from tests.bench.pipelines.common import RESULTS, env_int, write_results
from tests.support import idle_kopf_operator
from tests.support.polling import eventually
from tests.support.processes import free_port, http_status, process_figures
from tests.support.scale_watch import (
    CHILD_RESOURCES,
    CONTROLLER_RESOURCES,
    TRAINING_CHILD_RESOURCES,
    TRAINING_RESOURCES,
    ScaleRecorder,
    controller_writes,
)
from tests.support.serving_models import register_iris
from tests.support.sextant_operator import (
    SERVICE_ACCOUNT,
    OperatorProcess,
    apply_docs,
    chart_rbac,
    install_crds,
    operator_image_python,
)

N = env_int("SEXTANT_BENCH_MEMORY_N", 1000)
CHANGES = env_int("SEXTANT_BENCH_MEMORY_CHANGES", 10)
REST_SECONDS = env_int("SEXTANT_BENCH_MEMORY_REST", 300)
STEP_TIMEOUT = env_int("SEXTANT_BENCH_MEMORY_TIMEOUT", 300 + N)  # per step: a miss fails the run after recording
SETTLE_TIMEOUT = 120.0
#: 1: run the operator under tracemalloc (tests/support/traced_operator.py) and keep its largest allocation sites at
#: each step in bench-results/operator-memory-tracemalloc.<n>.txt (the RSS figures are then not the operator's own).
TRACE = os.environ.get("SEXTANT_BENCH_MEMORY_TRACE") == "1"
NAMESPACE = "scale-memory"
GROUP, VERSION = "ml.sextant.io", "v1alpha1"
ISVC_LABEL = LABEL_ISVC
SMALL = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
REPO = Path(__file__).resolve().parents[3]


def trainingjob(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
                     "estimator": {"algorithm": "logistic_regression"}, "model": {"name": name},
                     "resources": SMALL}}


def inferenceservice(name: str, max_replicas: int = 3) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"model": {"name": "iris", "version": "1"}, "resources": SMALL,
                     "scaling": {"minReplicas": 1, "maxReplicas": max_replicas}}}


class IdleKopf:
    """The baseline operator as a host process, started like Sextant's (same kubeconfig, namespace, Python)."""

    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        cmd = [operator_image_python(), "-m", "tests.support.idle_kopf_operator", "--namespace", NAMESPACE,
               "--liveness", f"http://127.0.0.1:{self.port}/healthz"]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        eventually(lambda: http_status(f"http://127.0.0.1:{self.port}/healthz") == 200, timeout=120,
                   what=f"the idle kopf operator to answer (log: {log})")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _create_all(custom: client.CustomObjectsApi, plural: str, bodies: list[dict[str, Any]]) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda b: custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, b), bodies))


def _patch(custom: client.CustomObjectsApi, patch: dict[str, Any], name: str) -> None:
    custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "inferenceservices", name, patch)


def _settled(pid: int) -> None:
    """Wait until the process used under 0.2 CPU-seconds in 10 s (its reconciles done), at most SETTLE_TIMEOUT."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    before = process_figures(pid)["cpu_seconds"]
    while time.monotonic() < deadline:
        time.sleep(10)  # a measuring window, not a wait for a condition
        now = process_figures(pid)["cpu_seconds"]
        if now - before < 0.2:
            return
        before = now


def _timed(what: str, started: float, done: Callable[[], float | None]) -> float:
    finished = eventually(done, timeout=STEP_TIMEOUT, interval=0.5, what=what)
    return finished - started


def _hpas_at(autoscaling: client.AutoscalingV2Api, value: int) -> bool:
    hpas = autoscaling.list_namespaced_horizontal_pod_autoscaler(NAMESPACE, label_selector=ISVC_LABEL).items
    return len(hpas) >= N and all(h.spec.max_replicas == value for h in hpas)


@pytest.mark.bench
@pytest.mark.timeout(7200)
def test_bench_operator_memory_against_an_idle_kopf_operator(scale_cluster: LocalCluster, tmp_path: Path) -> None:
    # The baseline watches what the operator watches (it spells the names out to stay free of the operator's imports).
    assert idle_kopf_operator.WATCHED_CHILDREN == serving_handlers.WATCHED_CHILDREN
    assert (idle_kopf_operator.LABEL_ISVC, idle_kopf_operator.LABEL_TRAININGJOB) == (ISVC_LABEL, LABEL_TRAININGJOB)
    install_crds(scale_cluster)
    scale_cluster.kubectl("create", "namespace", NAMESPACE)
    store = tmp_path / "store"
    register_iris(store, aliases=())
    apply_docs(scale_cluster, chart_rbac(scale_cluster, NAMESPACE))
    kubeconfig = scale_cluster.service_account_kubeconfig(NAMESPACE, SERVICE_ACCOUNT)
    idle = IdleKopf(kubeconfig, tmp_path / "idle-kopf.log")
    trace_out = tmp_path / "tracemalloc"
    operator = OperatorProcess(kubeconfig=kubeconfig, namespaces=(NAMESPACE,), workdir=tmp_path,
                               env={"SEXTANT_STORE_URI": store.as_uri(), "SEXTANT_TRACEMALLOC_OUT": str(trace_out)},
                               start_timeout=120, python=operator_image_python(),
                               module="tests.support.traced_operator" if TRACE else "sextant_operator")
    figures: dict[str, Any] = {"n": N, "changes": CHANGES, "memory": []}

    def record(step: str) -> None:
        assert operator.proc is not None
        _settled(operator.proc.pid)
        sextant, baseline = process_figures(operator.proc.pid), process_figures(idle.proc.pid)
        figures["memory"].append({"step": step, "sextant": sextant, "idle_kopf": baseline,
                                  "load_avg_1m": os.getloadavg()[0]})
        print(f"{step}: Sextant {sextant['rss_mib']:.0f} MiB (peak {sextant['peak_rss_mib']:.0f}), idle kopf "
              f"{baseline['rss_mib']:.0f} MiB, ratio {sextant['rss_mib'] / baseline['rss_mib']:.2f}")
        _write(figures)
        if TRACE:  # a dump per step: the last ones show what grew with the spec changes
            dumps = len(list(tmp_path.glob("tracemalloc.*.txt")))
            operator.proc.send_signal(signal.SIGUSR2)
            eventually(lambda: len(list(tmp_path.glob("tracemalloc.*.txt"))) > dumps, timeout=120,
                       what="the operator's tracemalloc dump")

    try:
        operator.start()
        assert operator.proc is not None
        record("started, no objects")
        tjs = [f"tj-{i:04d}" for i in range(N)]
        isvcs = [f"isvc-{i:04d}" for i in range(N)]
        with scale_cluster.api_client() as api:
            custom, autoscaling = client.CustomObjectsApi(api), client.AutoscalingV2Api(api)
            recorder = ScaleRecorder(api, NAMESPACE, ISVC_LABEL, GROUP, VERSION, "inferenceservices",
                                     jobs_label=LABEL_TRAININGJOB).start()
            try:
                started = time.time()
                _create_all(custom, "trainingjobs", [trainingjob(n) for n in tjs])
                figures["trainingjobs_to_jobs_s"] = _timed(f"a Job for each of {N} TrainingJobs", started,
                                                           partial(recorder.jobs_done, tjs))
                record(f"{N} TrainingJobs")
                started = time.time()
                _create_all(custom, "inferenceservices", [inferenceservice(n) for n in isvcs])
                figures["isvc_children_s"] = _timed(f"the children of {N} InferenceServices", started,
                                                    partial(recorder.children_done, isvcs))
                figures["isvc_ready_s"] = _timed(f"{N} InferenceServices Ready", started,
                                                 partial(recorder.ready_done, isvcs))
                record(f"+ {N} InferenceServices")
                for change in range(1, CHANGES + 1):
                    value = 3 + change
                    patch = {"spec": {"scaling": {"maxReplicas": value}}}
                    with ThreadPoolExecutor(max_workers=10) as pool:
                        list(pool.map(partial(_patch, custom, patch), isvcs))
                    eventually(partial(_hpas_at, autoscaling, value), timeout=STEP_TIMEOUT, interval=2,
                               what=f"every HPA at maxReplicas {value}")
                    record(f"after spec change {change} of every InferenceService")
                figures["duplicates"] = recorder.duplicates()
            finally:
                recorder.stop()
        if REST_SECONDS:
            started = time.time()
            with scale_cluster.api_client() as api:
                eventually(partial(_all_terminal, client.CustomObjectsApi(api), N), interval=5,
                           timeout=RESULT_WAIT_SECONDS + STEP_TIMEOUT, what=f"{N} TrainingJobs Succeeded or Failed")
                figures["trainingjobs_terminal_s"] = time.time() - started
                figures["trainingjob_reasons"] = dict(_phase_reasons(client.CustomObjectsApi(api)))
            record(f"{N} TrainingJobs Succeeded or Failed")
            figures["rest"] = _at_rest(scale_cluster, operator.proc.pid, idle.proc.pid)
            print(f"at rest {REST_SECONDS} s: {figures['rest']}")
        if TRACE:
            RESULTS.mkdir(parents=True, exist_ok=True)
            for dump in tmp_path.glob("tracemalloc.*.txt"):
                shutil.copy(dump, RESULTS / f"operator-memory-{dump.name}")
        _write(figures)
        assert not figures["duplicates"], figures["duplicates"]
    finally:
        operator.stop()
        idle.stop()


def _phase_reasons(custom: client.CustomObjectsApi) -> Counter[str]:
    """How many TrainingJobs are in each phase/reason (on kwok's nodes they end Failed/ResultMissing)."""
    items = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "trainingjobs")["items"]
    return Counter(f"{(t.get('status') or {}).get('phase')}/{(t.get('status') or {}).get('reason')}" for t in items)


def _all_terminal(custom: client.CustomObjectsApi, count: int) -> bool:
    counts = _phase_reasons(custom)
    return sum(n for key, n in counts.items() if key.split("/")[0] in ("Succeeded", "Failed")) >= count


def _writes(cluster: LocalCluster) -> int:
    return controller_writes(cluster, CONTROLLER_RESOURCES | TRAINING_RESOURCES,
                             CHILD_RESOURCES | TRAINING_CHILD_RESOURCES)


def _at_rest(cluster: LocalCluster, pid: int, idle_pid: int) -> dict[str, Any]:
    """Writes and both operators' CPU seconds over REST_SECONDS with nothing changing (a fixed window: the
    figure is a rate)."""
    writes, cpu, idle_cpu = _writes(cluster), process_figures(pid)["cpu_seconds"], \
        process_figures(idle_pid)["cpu_seconds"]
    time.sleep(REST_SECONDS)
    return {"seconds": REST_SECONDS, "writes": _writes(cluster) - writes,
            "cpu_seconds": process_figures(pid)["cpu_seconds"] - cpu,
            "idle_kopf_cpu_seconds": process_figures(idle_pid)["cpu_seconds"] - idle_cpu}


def _write(figures: dict[str, Any]) -> None:
    table = [f"N = {figures['n']}: TrainingJobs to Jobs {figures.get('trainingjobs_to_jobs_s', 0):.1f} s; "
             f"InferenceServices to every child {figures.get('isvc_children_s', 0):.1f} s, to all Ready "
             f"{figures.get('isvc_ready_s', 0):.1f} s", "",
             "| step | Sextant RSS MiB (peak) | idle kopf RSS MiB | ratio | Sextant CPU s | load (1 min) |",
             "|---|---:|---:|---:|---:|---:|"]
    for m in figures["memory"]:
        s, k = m["sextant"], m["idle_kopf"]
        table.append(f"| {m['step']} | {s['rss_mib']:.0f} ({s['peak_rss_mib']:.0f}) | {k['rss_mib']:.0f} | "
                     f"{s['rss_mib'] / k['rss_mib']:.2f} | {s['cpu_seconds']:.1f} | {m['load_avg_1m']:.1f} |")
    if "rest" in figures:
        rest = figures["rest"]
        table += ["", f"Every TrainingJob Succeeded or Failed {figures.get('trainingjobs_terminal_s', 0):.0f} s after "
                  f"the steps above: {figures.get('trainingjob_reasons', {})} (on kwok no trainer writes a result)",
                  "", f"At rest {rest['seconds']} s with all {2 * figures['n']} objects: {rest['writes']} writes to "
                  f"TrainingJobs, InferenceServices and their children's specs; CPU {rest['cpu_seconds']:.1f} s "
                  f"(idle kopf operator {rest['idle_kopf_cpu_seconds']:.1f} s)"]
    write_results("operator-memory", {k: v for k, v in figures.items() if k != "duplicates"}, table)
