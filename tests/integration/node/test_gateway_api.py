"""An HTTPRoute served by a real Gateway API implementation (Traefik) on the real node: weights, hostnames,
weight changes under load, and what happens to a RequestMirror filter."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from sextant_devcluster.gateway import GatewayEndpoint, condition_status
from tests.support.gateway_api import (  # noqa: F401 - the fixture
    build_http_route,
    gateway,
    wait_route_accepted,
)
from tests.support.polling import eventually
from tests.support.real_pods import apply, image_refs, python_pod, restricted_namespace, wait_ready

pytestmark = pytest.mark.integration

BACKENDS = ("variant-a", "variant-b", "shadow")
HOSTNAME = "model.example.test"
# Answers every GET with the pod's name (keep-alive, HTTP/1.1), and /requests with how many requests it served.
BACKEND_SCRIPT = """
import http.server, os, threading
name, lock, served = os.environ["NAME"].encode(), threading.Lock(), [0]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/requests":
            body = str(served[0]).encode()
        else:
            with lock:
                served[0] += 1
            body = name
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("serving", name, flush=True)
http.server.ThreadingHTTPServer(("", 8000), Handler).serve_forever()
"""


def _backend(name: str, image: str) -> list[dict[str, Any]]:
    pod = python_pod(name, image, BACKEND_SCRIPT, env=[{"name": "NAME", "value": name}],
                     ports=[{"containerPort": 8000}],
                     # lenient: on this busy machine a probe timing out would take the pod out of the route (503)
                     readinessProbe={"httpGet": {"path": "/requests", "port": 8000}, "periodSeconds": 1,
                                     "timeoutSeconds": 5, "failureThreshold": 30})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8000}]}}
    return [pod, service]


@pytest.fixture(scope="module")
def backends(cluster: Any, gateway: GatewayEndpoint) -> Iterator[str]:  # noqa: F811 - the fixture
    """A restricted namespace with three backends (Pod + Service each) answering their own name."""
    namespace = f"t-gateway-api-{uuid.uuid4().hex[:6]}"
    restricted_namespace(cluster, namespace)
    cluster.kubectl("label", "namespace", namespace, "sextant.io/test=true")
    try:
        image = image_refs(cluster)["operator"]  # the smallest of the project's images with Python
        apply(cluster, namespace, *[doc for name in BACKENDS for doc in _backend(name, image)])
        for name in BACKENDS:
            wait_ready(cluster, namespace, name)
        yield namespace
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@dataclass
class Client:
    """Sends GETs to the Gateway with the route's Host header over one keep-alive connection per thread."""

    gateway: GatewayEndpoint
    hostname: str = HOSTNAME
    local: threading.local = field(default_factory=threading.local)
    errors: list[str] = field(default_factory=list)

    def get(self, path: str = "/") -> tuple[int, str]:
        """(status, body); (0, error) when the request failed without an HTTP answer."""
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.gateway.host, self.gateway.port, timeout=15)
        try:
            conn.request("GET", path, headers={"Host": self.hostname})
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self.local.conn = None
            return 0, repr(exc)

    def answers(self, count: int) -> Counter[str]:
        """Who answered `count` sequential requests (status 200), or `<status>` for the others."""
        tally: Counter[str] = Counter()
        for _ in range(count):
            status, body = self.get()
            tally[body if status == 200 else f"<{status}>"] += 1
            if status != 200:
                self.errors.append(body[:200])
        return tally


def _apply_route(cluster: Any, namespace: str, route: dict[str, Any]) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=test", "-n", namespace,
                    "-f", "-", input=json.dumps(route))


def _requests_served(cluster: Any, namespace: str, pod: str) -> int:
    """How many requests a backend pod served, asked at its pod address (the host reaches it on the bridge)."""
    ip = cluster.kubectl("get", "pod", pod, "-n", namespace, "-o", "jsonpath={.status.podIP}").stdout
    connection = http.client.HTTPConnection(ip, 8000, timeout=5)
    try:
        connection.request("GET", "/requests")
        return int(connection.getresponse().read())
    finally:
        connection.close()


def _serving(client: Client, expected: set[str], probes: int = 20) -> bool:
    """True once `probes` requests in a row are answered by the `expected` backends only."""
    return set(client.answers(probes)) <= expected


def test_a_route_at_100_0_sends_everything_to_a_and_reports_accepted(
        cluster: Any, gateway: GatewayEndpoint, backends: str) -> None:  # noqa: F811
    _apply_route(cluster, backends, build_http_route("split", gateway, HOSTNAME, {"variant-a": 100, "variant-b": 0}))
    conditions = wait_route_accepted(cluster, backends, "split")
    client = Client(gateway)
    eventually(lambda: _serving(client, {"variant-a"}), timeout=30, what="the route to serve variant-a")

    assert client.answers(200) == Counter({"variant-a": 200})
    assert {c["type"] for c in conditions} >= {"Accepted", "ResolvedRefs"}
    # Another hostname is not routed (Traefik answers 404 itself).
    assert Client(gateway, hostname="other.example.test").get()[0] == 404


def test_85_15_weights_split_2000_requests_within_3_points(
        cluster: Any, gateway: GatewayEndpoint, backends: str) -> None:  # noqa: F811
    _apply_route(cluster, backends, build_http_route("split", gateway, HOSTNAME, {"variant-a": 85, "variant-b": 15}))
    wait_route_accepted(cluster, backends, "split")
    client = Client(gateway)
    eventually(lambda: "variant-b" in client.answers(40), timeout=30, what="the 85/15 weights to apply")

    tally = client.answers(2000)

    assert sum(tally.values()) == tally["variant-a"] + tally["variant-b"] == 2000, (tally, client.errors[:5])
    assert abs(tally["variant-b"] / 2000 - 0.15) <= 0.03, tally


def test_moving_all_weight_to_b_under_load_loses_no_request(
        cluster: Any, gateway: GatewayEndpoint, backends: str) -> None:  # noqa: F811
    _apply_route(cluster, backends, build_http_route("split", gateway, HOSTNAME, {"variant-a": 85, "variant-b": 15}))
    wait_route_accepted(cluster, backends, "split")
    client = Client(gateway)
    eventually(lambda: "variant-b" in client.answers(40), timeout=30, what="the 85/15 weights to apply")
    results: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def load() -> None:  # bounded: stops when told, after 20 s, or after 3,000 requests per thread
        deadline = time.monotonic() + 20
        for _ in range(3000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            status, body = client.get()
            results.append((time.monotonic(), status, body))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(results) > 200, timeout=10, what="the load to start")
        changed_at = time.monotonic()
        _apply_route(cluster, backends, build_http_route("split", gateway, HOSTNAME,
                                                         {"variant-a": 0, "variant-b": 100}))
        eventually(lambda: sum(1 for t, _, body in results[-100:] if t > changed_at and body == "variant-b") == 100,
                   timeout=15, what="the load to be answered by variant-b only")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    failed = [(status, body) for _, status, body in results if status != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    after = [body for t, _, body in results if t > changed_at]
    assert after[-100:] == ["variant-b"] * 100
    assert wait_route_accepted(cluster, backends, "split")


def test_a_request_mirror_filter_is_accepted_but_its_rule_answers_500(
        cluster: Any, gateway: GatewayEndpoint, backends: str) -> None:  # noqa: F811
    """Traefik 3.7 does not implement RequestMirror: it still reports the route Accepted and ResolvedRefs, and the
    rule with the filter answers 500 to every request, so the operator must not put a mirror into a route served
    by Traefik (the GatewayClass's supportedFeatures lists no HTTPRouteRequestMirror)."""
    mirror = {"type": "RequestMirror", "requestMirror": {
        "backendRef": {"name": "shadow", "port": 80}, "percent": 50}}
    shadow_before = _requests_served(cluster, backends, "shadow")
    _apply_route(cluster, backends, build_http_route("mirrored", gateway, "mirror.example.test",
                                                     {"variant-a": 100}, filters=[mirror]))
    conditions = wait_route_accepted(cluster, backends, "mirrored")
    client = Client(gateway, hostname="mirror.example.test")

    def loaded() -> Counter[str] | None:  # before Traefik loads the route its hostname is unknown (404)
        tally = client.answers(20)
        return tally if "<404>" not in tally else None

    answers = eventually(loaded, timeout=30, what="Traefik to load the mirrored route")

    assert answers == Counter({"<500>": 20})
    assert condition_status(conditions, "Accepted") == "True"
    features = json.loads(cluster.kubectl("get", "gatewayclass", gateway.class_name, "-o", "json").stdout)
    names = {f["name"] for f in features.get("status", {}).get("supportedFeatures", [])}
    assert "HTTPRoute" in names and "HTTPRouteRequestMirror" not in names
    assert _requests_served(cluster, backends, "shadow") == shadow_before  # no copies either
