"""The Gateway API on the session's cluster: CRDs, a Gateway and Traefik serving it, plus HTTPRoute helpers.

Import the fixture into an area's conftest.py or test module (`from tests.support.gateway_api import gateway`);
it needs `controlplane/build-tools.sh traefik gateway-api-crds` and the local cluster's real node (Traefik
runs on this machine and reaches backends at their pod addresses over the node's bridge).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from sextant_devcluster.gateway import (
    GatewayEndpoint,
    condition_status,
    running_gateway,
    start_gateway,
    stop_gateway,
)
from sextant_devcluster.layout import NODE_IP
from tests.support.external_cluster import runs_real_pods, skip_unless_local
from tests.support.polling import eventually


@pytest.fixture(scope="session")
def gateway(cluster: Any) -> Iterator[GatewayEndpoint]:
    """The cluster's Gateway (Traefik on the node's address), started once per session and stopped after it
    unless it was already running (another session's, or one a person started)."""
    if not runs_real_pods(cluster):
        pytest.skip("the Gateway's backends are pods: the cluster has no real node (SEXTANT_REAL_NODE=0)")
    skip_unless_local(cluster, "running Traefik on the node")
    if not (cluster.bin_dir / "traefik").exists():
        missing = f"{cluster.bin_dir / 'traefik'} is missing: run `controlplane/build-tools.sh traefik " \
                  "gateway-api-crds`"
        if os.environ.get("SEXTANT_REQUIRE_GATEWAY") == "1":
            pytest.fail(missing)
        pytest.skip(f"{missing} (SEXTANT_REQUIRE_GATEWAY=1 makes this a failure)")
    already = running_gateway(cluster)
    endpoint = start_gateway(cluster, NODE_IP, die_with_parent=already is None)
    try:
        yield endpoint
    finally:
        if already is None:
            stop_gateway(cluster)


def build_http_route(name: str, gateway: GatewayEndpoint, hostname: str, backends: dict[str, int], *,
                     port: int = 80, filters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An HTTPRoute for `hostname` on the Gateway's listener, splitting `/` over Services `backends` (name ->
    weight) on `port`."""
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{"name": backend, "port": port, "weight": weight} for backend, weight in backends.items()],
    }
    if filters:
        rule["filters"] = filters
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": gateway.name, "namespace": gateway.namespace, "sectionName": gateway.listener}],
            "hostnames": [hostname],
            "rules": [rule],
        },
    }


def route_parent_conditions(cluster: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    """The conditions the implementation wrote for the route's (first) parent Gateway; empty before it did."""
    body = json.loads(cluster.kubectl("get", "httproute", name, "-n", namespace, "-o", "json").stdout)
    parents = body.get("status", {}).get("parents", [])
    return list(parents[0].get("conditions", [])) if parents else []


def wait_route_accepted(cluster: Any, namespace: str, name: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Wait until the route's parent status says Accepted and ResolvedRefs for its current generation."""
    def accepted() -> list[dict[str, Any]] | None:
        generation = json.loads(cluster.kubectl(
            "get", "httproute", name, "-n", namespace, "-o", "json").stdout)["metadata"]["generation"]
        conditions = route_parent_conditions(cluster, namespace, name)
        current = all(c.get("observedGeneration") == generation for c in conditions)
        ok = condition_status(conditions, "Accepted") == condition_status(conditions, "ResolvedRefs") == "True"
        return conditions if ok and current else None

    return eventually(accepted, timeout=timeout, what=f"HTTPRoute {namespace}/{name} to be Accepted")
