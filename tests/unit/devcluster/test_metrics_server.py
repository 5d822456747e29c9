"""metrics-server beside the real node: on the node's address, scraping only the real node with verified TLS,
with the upstream least-privilege roles, and reachable by the API server through its APIService."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography import x509

from sextant_devcluster import metrics_server, pki
from sextant_devcluster.commands import component_command
from sextant_devcluster.layout import NODE_IP, Layout, Ports
from sextant_devcluster.node_config import REAL_NODE_LABELS
from sextant_devcluster.nodes import default_fake_nodes

LAYOUT = Layout(Path("/state"))


def _flags() -> dict[str, str]:
    argv = metrics_server.metrics_server_command(Path("/bin"), LAYOUT)
    return dict(arg[2:].split("=", 1) for arg in argv[1:] if "=" in arg)


def _selects(selector: str, labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in (term.split("=") for term in selector.split(",")))


def test_it_serves_on_the_node_address_and_verifies_the_kubelet_with_the_cluster_ca() -> None:
    flags = _flags()
    assert flags["bind-address"] == NODE_IP
    assert flags["kubelet-certificate-authority"] == "/state/pki/ca.pem"
    assert "kubelet-insecure-tls" not in flags
    assert flags["kubelet-preferred-address-types"] == "InternalIP"
    assert flags["kubeconfig"] == flags["authentication-kubeconfig"] == flags["authorization-kubeconfig"]


def test_it_scrapes_the_real_node_and_none_of_the_kwok_nodes() -> None:
    selector = _flags()["node-selector"]
    assert _selects(selector, REAL_NODE_LABELS)
    assert not any(_selects(selector, node["metadata"]["labels"]) for node in default_fake_nodes())


def test_its_roles_are_the_upstream_least_privilege_ones() -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in metrics_server.rbac_objects()}
    rules = objects[("ClusterRole", "system:metrics-server")]["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
    ]
    bound = {o["roleRef"]["name"] for o in objects.values() if "roleRef" in o}
    assert bound == {"system:metrics-server", "system:auth-delegator", "extension-apiserver-authentication-reader"}
    assert all(o["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                  "name": metrics_server.USER}] for o in objects.values() if "subjects" in o)


def test_the_api_service_leads_to_the_node_address_and_port() -> None:
    ca = pki.create_ca()
    service, endpoints, api_service = metrics_server.serving_objects(ca.cert_pem, 42)
    assert "selector" not in service["spec"]
    assert endpoints["metadata"]["labels"]["kubernetes.io/service-name"] == service["metadata"]["name"]
    assert endpoints["endpoints"][0]["addresses"] == [NODE_IP]
    assert endpoints["ports"] == [{"name": service["spec"]["ports"][0]["name"], "port": metrics_server.PORT,
                                   "protocol": "TCP"}]
    assert api_service["spec"]["service"]["name"] == service["metadata"]["name"]
    assert base64.b64decode(api_service["spec"]["caBundle"]) == ca.cert_pem
    assert "insecureSkipTLSVerify" not in api_service["spec"]


def test_its_serving_certificate_names_the_service_the_api_server_checks(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.create_dirs()
    metrics_server.write_credentials(layout, pki.create_ca(), "https://10.85.0.1:6443")
    cert = x509.load_pem_x509_certificate(layout.pem("metrics-server").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert metrics_server.serving_dns_name() in names.get_values_for_type(x509.DNSName)
    assert (layout.kubeconfigs / "metrics-server.yaml").stat().st_mode & 0o077 == 0


def test_the_hpa_controller_reacts_within_seconds_on_the_dev_cluster() -> None:
    ports = Ports(etcd_client=1, etcd_peer=2, apiserver=3, controller_manager=4, scheduler=5, kwok=6)
    argv = component_command("kube-controller-manager", Path("/bin"), LAYOUT, ports)
    assert "--horizontal-pod-autoscaler-sync-period=5s" in argv
    assert "--horizontal-pod-autoscaler-downscale-stabilization=1m" in argv


def test_availability_is_read_from_the_api_service_conditions() -> None:
    assert metrics_server.api_service_available({"status": {"conditions": [{"type": "Available", "status": "True"}]}})
    assert not metrics_server.api_service_available(
        {"status": {"conditions": [{"type": "Available", "status": "False", "reason": "FailedDiscoveryCheck"}]}})
    assert not metrics_server.api_service_available({})
