"""KEDA scales model servers on the real node: an InferenceService with `scaling.metric: rps` scales out under a
bounded load and back when it ends; one with `scaling.metric: concurrency` scales out when a slow model keeps
requests in flight; one with `minReplicas: 0` scales to zero when idle, and a request then brings it back (held by
the router while KEDA starts a replica).

KEDA (operator and metrics adapter, built from the Go module proxy) runs beside the cluster as host processes
(tests/support/keda.py); Prometheus runs on the host with the chart's scrape config, every 2 s; the operator is
installed by its chart after KEDA's CRDs, so it detects KEDA at its start, with `serving.prometheusUrl` pointing
at that Prometheus (KEDA's scaler runs on the host too). Skips without the KEDA binaries unless
SEXTANT_REQUIRE_KEDA=1.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pytest
import yaml

from sextant_operator.reconcile.serving_manifests import LABEL_ISVC
from tests.support.embedded_store import BUCKET, store_client
from tests.support.external_cluster import skip_unless_local
from tests.support.keda import keda_binaries, running_keda
from tests.support.monitoring import PrometheusServer, monitoring_tool, running_prometheus, with_kubeconfig
from tests.support.polling import eventually
from tests.support.processes import http_status
from tests.support.real_pods import (
    helm,
    image_refs,
    install_chart,
    restricted_namespace,
)
from tests.support.request_load import RequestLoad
from tests.support.serving_models import register, register_breast_cancer

# The module fixture (KEDA, the chart, a model server starting on 2 shared cores) counts towards the first test.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

NAMESPACE = "keda-scaling"
SMALL = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
#: Requests/s per replica the rps variant aims at: the bounded load below sends far more, so it wants them all.
RPS_TARGET = 5
#: How long the routers hold a request while the variant at zero starts (the chart's serving.activationTimeoutSeconds).
ACTIVATION_TIMEOUT_S = 300


class Versions(NamedTuple):
    quick: str
    slow: str


def _apply(cluster: Any, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))


def _get(cluster: Any, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json").stdout))


def _records() -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer

    return {"records": [{f"f{i}": float(v) for i, v in enumerate(row)} for row in load_breast_cancer().data[:2]]}


def _publish_models(cluster: Any, root: Path) -> Versions:
    """Two versions of `cancer` in the in-cluster store: a quick one, and a slow one (a forest of 1,500 trees)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    quick = register_breast_cancer(root)
    data = load_breast_cancer()
    frame = pd.DataFrame(data.data, columns=[f"f{i}" for i in range(data.data.shape[1])])
    forest = RandomForestClassifier(n_estimators=1500, n_jobs=1, random_state=0).fit(frame, data.target)
    slow = register(root, "cancer", forest, frame, "classification", {"name": "malignant", "classes": [0, 1]})
    store = store_client(cluster, NAMESPACE)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        store.put_object(Bucket=BUCKET, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
    return Versions(quick=str(quick.version), slow=str(slow.version))


@pytest.fixture(scope="module")
def stack(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, Versions]]:
    """KEDA, the chart (operator, embedded store) in NAMESPACE, Prometheus scraping it; yields Prometheus and the
    model's version. KEDA comes first: the operator looks for its CRDs when it starts."""
    image_refs(cluster)  # skips without a real node
    skip_unless_local(cluster, "KEDA and Prometheus on the host")
    keda_binaries()
    monitoring_tool("prometheus")
    with running_keda(cluster, tmp_path_factory.mktemp("keda"), (NAMESPACE,)):
        restricted_namespace(cluster, NAMESPACE)
        try:
            yield from _with_chart(cluster, tmp_path_factory)
        finally:
            cluster.kubectl("delete", "inferenceservices", "--all", "-n", NAMESPACE, "--wait=true",
                            "--timeout=90s", check=False)
            helm(cluster, "uninstall", "sx", "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
            cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _with_chart(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, Versions]]:
    """Prometheus's port is chosen before the chart, whose serving.prometheusUrl names it."""
    from tests.support.processes import free_port

    port = free_port()
    install = install_chart(cluster, NAMESPACE, "serving.routing=router", "monitoring.scrapeConfig.enabled=true",
                            f"serving.prometheusUrl=http://127.0.0.1:{port}",
                            f"serving.activationTimeoutSeconds={ACTIVATION_TIMEOUT_S}")
    assert install.returncode == 0, install.stdout + install.stderr
    jobs = yaml.safe_load(_get(cluster, "configmap", "sx-sextant-scrape-config")["data"]["scrape-configs.yaml"])
    for job in jobs:
        job["scrape_interval"] = "2s"
    config = {"global": {"scrape_interval": "2s"}, "scrape_configs": with_kubeconfig(jobs, Path(cluster.kubeconfig))}
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), config, port=port) as prometheus:
        yield prometheus, _publish_models(cluster, tmp_path_factory.mktemp("store"))


def _apply_isvc(cluster: Any, name: str, version: str, scaling: dict[str, Any]) -> tuple[str, str]:
    """Apply an InferenceService with `scaling`; returns its address and the name of its backend (the Deployment
    and the ScaledObject share it) once KEDA owns the backend."""
    _apply(cluster, {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": name},
                     "spec": {"model": {"name": "cancer", "version": version}, "resources": SMALL,
                              "scaling": scaling}})
    backend = eventually(lambda: json.loads(cluster.kubectl(
        "get", "scaledobjects.keda.sh", "-n", NAMESPACE, "-l", f"{LABEL_ISVC}={name}", "-o",
        "json").stdout)["items"], timeout=120, interval=1, what=f"{name}'s ScaledObject")[0]["metadata"]["name"]
    address = eventually(lambda: cluster.kubectl("get", "service", name, "-n", NAMESPACE, "-o",
                                                 "jsonpath={.spec.clusterIP}", check=False).stdout,
                         timeout=60, interval=1, what=f"{name}'s Service")
    return address, backend


def _predict(address: str) -> int:
    """The status of one prediction through the address (0: no answer)."""
    result = RequestLoad(address, _records(), concurrency=1, max_requests=1, max_seconds=30).run()
    return next(iter(result.statuses), 0)


def _replicas(cluster: Any, deployment: str) -> tuple[int, int]:
    """(wanted, ready) replicas of a Deployment."""
    body = _get(cluster, "deployment", deployment)
    return int(body["spec"].get("replicas", 1)), int(body.get("status", {}).get("readyReplicas", 0))


def _story(cluster: Any, backend: str) -> str:
    """What a person looks at when scaling did not happen: the ScaledObject's conditions, the HPA KEDA made."""
    parts = [cluster.kubectl("get", "scaledobject", backend, "-n", NAMESPACE, "-o",
                             "jsonpath={.status.conditions}", check=False).stdout,
             cluster.kubectl("describe", "hpa", "-n", NAMESPACE, check=False).stdout,
             cluster.kubectl("get", "pods", "-n", NAMESPACE, check=False).stdout]
    return "\n".join(parts)


def _wait_replicas(cluster: Any, backend: str, check: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    try:
        eventually(lambda: check(*_replicas(cluster, backend)), timeout=timeout, interval=1, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_story(cluster, backend)}") from None
    return time.monotonic() - started


def test_request_rate_scales_out_under_load_and_back_when_it_ends(
        cluster: Any, stack: tuple[PrometheusServer, Versions]) -> None:
    prometheus, versions = stack
    address, backend = _apply_isvc(cluster, "rps", versions.quick, {
        "metric": "rps", "target": RPS_TARGET, "minReplicas": 1, "maxReplicas": 3, "scaleDownDelaySeconds": 15})
    eventually(lambda: _get(cluster, "inferenceservice", "rps").get("status", {}).get("phase") == "Ready",
               timeout=300, interval=2, what="InferenceService rps to be Ready")
    eventually(lambda: _predict(address) == 200, timeout=120, interval=1, what="a prediction through rps")
    trigger = _get(cluster, "scaledobject", backend)["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus", trigger
    assert _get(cluster, "inferenceservice", "rps")["status"]["variants"][0]["autoscaler"] == "KEDA"
    load = RequestLoad(address, _records(), concurrency=4, max_requests=100_000, max_seconds=120).start()
    try:
        # KEDA's decision: the HPA it owns sets 3 replicas and their pods are created, within the load. How soon
        # the new pods are Ready is the model server's start-up (a minute, over 100 s on 2 cores shared with other
        # tests), not KEDA's: recorded, and asserted only as far as the load lasts.
        decided = _wait_replicas(cluster, backend, lambda wanted, ready: wanted == 3, 100,
                                 f"{backend} to be scaled out to 3 replicas under load")
        eventually(lambda: _get(cluster, "deployment", backend).get("status", {}).get("replicas", 0) == 3,
                   timeout=30, interval=1, what=f"the 3 pods of {backend} to be created")
        try:
            ready_more: float | None = decided + _wait_replicas(
                cluster, backend, lambda wanted, ready: ready >= 2, max(110 - decided, 1),
                f"a second replica of {backend} Ready while the load lasts")
        except AssertionError:
            ready_more = None
        rate = sum(float(s["value"][1]) for s in prometheus.series(trigger["metadata"]["query"]))
    finally:
        sent = load.stop()
    assert sent.statuses[200] > 0 and sent.lost <= sent.sent * 0.01, (sent.statuses, sent.errors[:3])
    back = _wait_replicas(cluster, backend, lambda wanted, ready: wanted == 1, 240,
                          f"{backend} to scale back to 1 replica when the load ended")
    second = "only after the load" if ready_more is None else f"{ready_more:.0f} s after"
    print(f"rps: {rate:.1f} requests/s in KEDA's query under load; 3 replicas wanted {decided:.0f} s after the load "
          f"began, a second Ready {second}; back to 1 wanted {back:.0f} s after it ended; "
          f"{sent.statuses[200]} answered 200, {sent.lost} not")


def test_concurrency_scales_out_when_a_slow_model_keeps_requests_in_flight(
        cluster: Any, stack: tuple[PrometheusServer, Versions]) -> None:
    prometheus, versions = stack
    address, backend = _apply_isvc(cluster, "inflight", versions.slow, {
        "metric": "concurrency", "target": 1, "minReplicas": 1, "maxReplicas": 3, "scaleDownDelaySeconds": 15})
    try:
        eventually(lambda: _get(cluster, "inferenceservice", "inflight").get("status", {}).get("phase") == "Ready",
                   timeout=300, interval=2, what="InferenceService inflight to be Ready")
        eventually(lambda: _predict(address) == 200, timeout=120, interval=1, what="a prediction through inflight")
        trigger = _get(cluster, "scaledobject", backend)["spec"]["triggers"][0]
        assert "sextant_request_duration_seconds_sum" in trigger["metadata"]["query"], trigger
        # 4 clients on a model that takes a tenth of a second: about 4 requests in flight on one replica, with a
        # target of 1 per replica, so KEDA's HPA wants all 3.
        load = RequestLoad(address, _records(), concurrency=4, max_requests=100_000, max_seconds=120).start()
        try:
            decided = _wait_replicas(cluster, backend, lambda wanted, ready: wanted == 3, 100,
                                     f"{backend} to be scaled out to 3 replicas by requests in flight")
            in_flight = sum(float(s["value"][1]) for s in prometheus.series(trigger["metadata"]["query"]))
        finally:
            sent = load.stop()
        assert sent.statuses[200] > 0, (sent.statuses, sent.errors[:3])
        assert in_flight > 1, in_flight
        print(f"concurrency: {in_flight:.2f} requests in flight in KEDA's query under load; 3 replicas wanted "
              f"{decided:.0f} s after the load began; {sent.statuses[200]} answered 200")
    finally:
        cluster.kubectl("delete", "inferenceservice", "inflight", "-n", NAMESPACE, "--wait=false")


def _held_prediction(address: str, timeout_s: float) -> tuple[int, float]:
    """One prediction through the address on its own connection, waiting as long as the router may hold it:
    (status, seconds)."""
    conn = http.client.HTTPConnection(address, 80, timeout=timeout_s)
    began = time.monotonic()
    try:
        conn.request("POST", "/predict", body=json.dumps(_records()), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - began
    finally:
        conn.close()


def test_min_replicas_zero_scales_to_zero_when_idle_and_a_request_brings_it_back(
        cluster: Any, stack: tuple[PrometheusServer, Versions]) -> None:
    prometheus, versions = stack
    created = time.monotonic()
    address, backend = _apply_isvc(cluster, "idle", versions.quick, {
        "metric": "rps", "target": RPS_TARGET, "minReplicas": 0, "maxReplicas": 2, "scaleDownDelaySeconds": 15})
    # No request yet: KEDA finds the rate at 0 and sets the Deployment to zero replicas.
    _wait_replicas(cluster, backend, lambda wanted, ready: wanted == 0 and ready == 0, 120,
                   f"{backend} to be at zero replicas while nobody calls it")
    print(f"idle: zero replicas {time.monotonic() - created:.0f} s after the InferenceService was applied")
    def at_zero() -> dict[str, Any] | None:
        variant = (_get(cluster, "inferenceservice", "idle").get("status", {}).get("variants") or [{}])[0]
        return variant if variant.get("reason") == "ScaledToZero" else None

    print(f"idle: status says {eventually(at_zero, timeout=60, interval=1, what='ScaledToZero')['message']!r}")
    # The router's Service answers a moment after the Deployment counts a ready router (EndpointSlice, kube-proxy).
    eventually(lambda: http_status(f"http://{address}/router/status", timeout=5) == 200, timeout=120, interval=1,
               what="idle's router to answer")
    # One request at zero: the router holds it, KEDA sees it held (Prometheus, every 2 s here) and starts a
    # replica, and the request is answered by it. A model server's start (17-94 s measured on 2 shared cores)
    # bounds the wait, within the chart's activation timeout.
    try:
        answer, took = _held_prediction(address, ACTIVATION_TIMEOUT_S + 30)
    except OSError as exc:
        raise AssertionError(f"the held request got no answer: {exc}\n{_story(cluster, backend)}") from None
    assert answer == 200, f"the request held at zero got {answer} after {took:.0f} s\n{_story(cluster, backend)}"
    print(f"idle: a request at zero was held and answered 200 after {took:.1f} s (KEDA woke the variant)")
    assert _replicas(cluster, backend)[0] >= 1
    forwarded = 'sum(sextant_router_held_requests_total{namespace="keda-scaling",inferenceservice="idle",' \
                'outcome="forwarded"})'
    eventually(lambda: any(float(s["value"][1]) >= 1 for s in prometheus.series(forwarded)), timeout=30,
               interval=1, what="Prometheus to count the held request as forwarded")
    # Idle again, it goes back to zero after scaleDownDelaySeconds (and KEDA's cooldown).
    back = _wait_replicas(cluster, backend, lambda wanted, ready: wanted == 0 and ready == 0, 180,
                          f"{backend} to go back to zero replicas once idle again")
    print(f"idle: back at zero replicas {back:.0f} s after the answer")
