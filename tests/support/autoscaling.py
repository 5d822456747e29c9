"""Autoscaling on the real node: the metrics API fixture, CPU HPAs, a bounded HTTP load and replica waits."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest

from tests.support.external_cluster import runs_real_pods
from tests.support.polling import eventually

METRICS_API = "v1beta1.metrics.k8s.io"


def metrics_api_available(cluster: Any) -> bool:
    """True when the API server reports the resource metrics API (metrics-server) Available."""
    result = cluster.kubectl("get", "apiservice", METRICS_API, "-o", "json", check=False)
    if result.returncode != 0:
        return False
    conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


@pytest.fixture()
def metrics_api(cluster: Any) -> None:
    """The resource metrics API answers (the local cluster starts metrics-server with its real node).

    Skips without a real node (nothing to scrape) and on an external cluster that has no metrics-server.
    """
    if not runs_real_pods(cluster):
        pytest.skip("the cluster has no real node (SEXTANT_REAL_NODE=0): no kubelet to read metrics from")
    if getattr(cluster, "node", None) is None and not metrics_api_available(cluster):
        pytest.skip(f"the cluster has no {METRICS_API} APIService: install metrics-server")
    eventually(lambda: metrics_api_available(cluster), timeout=60, what=f"the APIService {METRICS_API}")


def pod_cpu_millicores(cluster: Any, namespace: str, selector: str) -> dict[str, int]:
    """Pod name -> CPU use in millicores, as the metrics API reports it (empty until it has two samples)."""
    body = json.loads(cluster.kubectl(
        "get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods?labelSelector={selector}").stdout)
    return {item["metadata"]["name"]: sum(_millicores(c["usage"]["cpu"]) for c in item["containers"])
            for item in body["items"]}


def _millicores(quantity: str) -> int:
    units = {"n": 1e-6, "u": 1e-3, "m": 1.0}
    if quantity[-1] in units:
        return round(float(quantity[:-1]) * units[quantity[-1]])
    return round(float(quantity) * 1000)


def cpu_hpa(name: str, *, utilization: int, min_replicas: int = 1, max_replicas: int = 3,
            window_seconds: int = 0) -> dict[str, Any]:
    """An autoscaling/v2 HPA on a Deployment's average CPU utilization (% of the pods' CPU request), with
    stabilization windows of `window_seconds` both ways so a test sees scaling within a scrape or two."""
    def direction(percent: int) -> dict[str, Any]:
        return {"stabilizationWindowSeconds": window_seconds,
                "policies": [{"type": "Percent", "value": percent, "periodSeconds": 15}]}

    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min_replicas, "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": utilization}}}],
            "behavior": {"scaleUp": direction(200), "scaleDown": direction(100)},
        },
    }


def describe_autoscaling(cluster: Any, namespace: str) -> str:
    """What a person would look at when scaling did not happen: the HPAs, their events and `kubectl top`."""
    parts = [cluster.kubectl("describe", "hpa", "-n", namespace, check=False).stdout,
             cluster.kubectl("top", "pods", "-n", namespace, check=False).stdout,
             cluster.kubectl("top", "pods", "-n", namespace, check=False).stderr]
    return "\n".join(p.strip() for p in parts if p.strip())


def wait_for_replicas(cluster: Any, namespace: str, deployment: str, *, at_least: int | None = None,
                      at_most: int | None = None, timeout: float = 120.0) -> int:
    """Wait until the autoscaler has set `deployment` to at least `at_least` replicas and that many are Ready, or
    to at most `at_most` and the others' pods are gone; return the replica count. Fails with the HPA's story."""
    if (at_least is None) == (at_most is None):
        raise ValueError("wait_for_replicas needs exactly one of at_least and at_most")

    def reached() -> int | None:
        body = json.loads(cluster.kubectl("get", "deployment", deployment, "-n", namespace, "-o", "json").stdout)
        wanted, status = int(body["spec"].get("replicas", 1)), body.get("status", {})
        if at_least is not None and wanted >= at_least and status.get("readyReplicas", 0) >= at_least:
            return wanted
        if at_most is not None and wanted <= at_most and status.get("replicas", 0) <= at_most:
            return wanted
        return None

    what = f"{namespace}/{deployment} to have {'>=' if at_least else '<='} {at_least or at_most} replicas"
    try:
        return eventually(reached, timeout=timeout, interval=1.0, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{describe_autoscaling(cluster, namespace)}") from None


@dataclass
class BoundedLoad:
    """GET `url` from `workers` threads until `max_requests` were sent, `max_seconds` passed or the `with`
    block ends, whichever comes first. Counts answers by status (0 = no answer)."""

    url: str
    workers: int = 2
    max_requests: int = 50_000
    max_seconds: float = 180.0
    request_timeout: float = 10.0
    statuses: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def sent(self) -> int:
        with self._lock:
            return sum(self.statuses.values())

    def __enter__(self) -> BoundedLoad:
        deadline = time.monotonic() + self.max_seconds
        self._threads = [threading.Thread(target=self._run, args=(deadline,), daemon=True)
                         for _ in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.request_timeout + 1)

    def _run(self, deadline: float) -> None:
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if sum(self.statuses.values()) >= self.max_requests:
                    return
            status = self._get()
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 0:  # refused or timed out: back off instead of spinning on the host's CPU
                self._stop.wait(0.2)

    def _get(self) -> int:
        try:
            with urllib.request.urlopen(self.url, timeout=self.request_timeout) as response:  # noqa: S310
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0
