"""A CPU HorizontalPodAutoscaler really scales on the real node: load raises the replicas, its end lowers them.

metrics-server (started with the local cluster) scrapes the kubelet; the HPA controller reads the metrics API.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import pytest

from tests.support.autoscaling import BoundedLoad, cpu_hpa, pod_cpu_millicores, wait_for_replicas
from tests.support.external_cluster import skip_unless_local
from tests.support.polling import eventually
from tests.support.real_pods import apply, image_refs, restricted_container, restricted_namespace

pytestmark = pytest.mark.integration

PORT = 8000
# Each GET /burn spins one thread on the CPU for this long: with two clients the pods ask for far more CPU
# than their limit, so utilization stays far above the target while the load lasts.
BURN_SECONDS = 0.05
BURNER = f"""
import http.server, time
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith('/burn'):
            end = time.thread_time() + {BURN_SECONDS}
            while time.thread_time() < end:
                pass
        self.send_response(200)
        self.send_header('Content-Length', '6')
        self.end_headers()
        self.wfile.write(b'burner')
    def log_message(self, *args):
        pass
print('burning on {PORT}', flush=True)
http.server.ThreadingHTTPServer(('', {PORT}), Handler).serve_forever()
"""


def burner_deployment(name: str, image: str) -> dict[str, Any]:
    """One replica of a CPU-burning HTTP server: requests 50m, limited to 200m (400% of its request)."""
    container = restricted_container(
        "main", image, ["python", "-u", "-c", BURNER], ports=[{"containerPort": PORT}],
        resources={"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        readinessProbe={"httpGet": {"path": "/", "port": PORT}, "periodSeconds": 1})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [container], "terminationGracePeriodSeconds": 1}},
        },
    }


def _answer(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a ClusterIP of this cluster
            return bytes(response.read())
    except OSError:
        return None


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": PORT}]}}


def test_cpu_load_scales_a_deployment_up_and_its_end_scales_it_back_down(
        cluster: Any, namespace: str, metrics_api: None) -> None:
    skip_unless_local(cluster, "sending load to a ClusterIP from the host")
    image = image_refs(cluster)["operator"]
    restricted_namespace(cluster, namespace)
    apply(cluster, namespace, burner_deployment("burner", image), service("burner"),
          cpu_hpa("burner", utilization=50, max_replicas=3))
    wait_for_replicas(cluster, namespace, "burner", at_least=1)
    ip = cluster.kubectl("get", "service", "burner", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    # kube-proxy programs the new ClusterIP about a second after the pod is ready (the address may have served a
    # deleted Service just before): load starts once the burner itself answers there.
    eventually(lambda: _answer(f"http://{ip}/") == b"burner", timeout=30, what=f"the burner to answer on {ip}")
    started = time.monotonic()
    with BoundedLoad(f"http://{ip}/burn", workers=2, max_requests=20_000, max_seconds=150) as load:
        # What a person sees meanwhile: the metrics API (`kubectl top`) reports a pod above its 50m request.
        usage = eventually(lambda: (u := pod_cpu_millicores(cluster, namespace, "app=burner"))
                           and max(u.values()) > 50 and u, timeout=90, interval=1,
                           what="the metrics API to report a burner pod above its CPU request")
        top = cluster.kubectl("top", "pods", "-n", namespace).stdout
        raised = wait_for_replicas(cluster, namespace, "burner", at_least=2, timeout=150)
    up_seconds = time.monotonic() - started
    assert raised >= 2
    assert load.statuses.get(200, 0) > 0, f"the load got no answer: {load.statuses}"
    assert "burner-" in top and "CPU(cores)" in top, top

    # The load has ended: usage falls to nothing and the HPA returns to its minimum.
    started = time.monotonic()
    assert wait_for_replicas(cluster, namespace, "burner", at_most=1, timeout=120) == 1
    print(f"scaled 1 -> {raised} in {up_seconds:.0f} s under load ({load.sent} requests, {load.statuses}); "
          f"back to 1 in {time.monotonic() - started:.0f} s after it ended; usage under load {usage}")
