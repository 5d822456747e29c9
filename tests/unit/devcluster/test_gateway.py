"""The Gateway's manifests and Traefik's command line: least privilege, one port for listener and entry point."""

from __future__ import annotations

from pathlib import Path

from sextant_devcluster.gateway import (
    GATEWAY_CLASS,
    GatewayEndpoint,
    build_gateway,
    build_traefik_rbac,
    condition_status,
    traefik_command,
)

ENDPOINT = GatewayEndpoint(name="sextant", namespace="sextant-gateway", class_name=GATEWAY_CLASS, listener="http",
                           host="10.85.0.1", port=31080, admin_port=31081)


def test_traefik_may_only_read_what_it_watches_and_update_status() -> None:
    role = next(doc for doc in build_traefik_rbac() if doc["kind"] == "ClusterRole")
    verbs = {(group, resource): set(rule["verbs"]) for rule in role["rules"]
             for group in rule["apiGroups"] for resource in rule["resources"]}

    assert all(v in ({"list", "watch"}, {"update"}) for v in verbs.values()), verbs
    assert {r for (_, r), v in verbs.items() if v == {"update"}} == {
        f"{kind}/status" for kind in ("gatewayclasses", "gateways", "httproutes", "grpcroutes",
                                      "backendtlspolicies", "tlsroutes")}
    assert ("", "pods") not in verbs and ("gateway.networking.k8s.io", "tcproutes") not in verbs


def test_the_listener_port_is_traefiks_entry_point_and_nothing_listens_beyond_host_and_loopback() -> None:
    gateway = build_gateway(ENDPOINT.port)
    argv = traefik_command(Path("/bin/traefik"), ENDPOINT)

    assert gateway["spec"]["listeners"][0]["port"] == 31080
    assert gateway["spec"]["gatewayClassName"] == GATEWAY_CLASS
    addresses = [arg.split("=", 1)[1] for arg in argv if ".address=" in arg]
    assert addresses == ["10.85.0.1:31080", "127.0.0.1:31081"]


def test_condition_status_reads_metav1_conditions() -> None:
    conditions = [{"type": "Accepted", "status": "True"}, {"type": "ResolvedRefs", "status": "False"}]
    assert condition_status(conditions, "Accepted") == "True"
    assert condition_status(conditions, "ResolvedRefs") == "False"
    assert condition_status(conditions, "Programmed") is None
