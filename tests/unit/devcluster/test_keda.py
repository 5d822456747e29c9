"""KEDA beside the real node (the test fixture's builders): one certificate from the cluster CA that every end
accepts, every port off the host's shared defaults, only the test's namespaces watched, and an APIService that
leads to the adapter on the node's address."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from sextant_devcluster import keda, pki
from sextant_devcluster.layout import NODE_IP


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in argv[1:] if "=" in arg)


def test_one_certificate_serves_and_authenticates_every_end(tmp_path: Path) -> None:
    ca = pki.create_ca()
    keda.write_certificates(tmp_path, ca, "keda-system")
    assert (tmp_path / "ca.crt").read_bytes() == ca.cert_pem
    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # the API server checks the Service's name; the adapter dials the operator on loopback
    assert "keda-metrics-apiserver.keda-system.svc" in sans.get_values_for_type(x509.DNSName)
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address(NODE_IP)} <= set(
        sans.get_values_for_type(x509.IPAddress))
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= usages


def test_the_operator_listens_on_loopback_only_and_the_adapter_on_the_node_address() -> None:
    operator = _flags(keda.operator_command(Path("/bin"), Path("/k"), Path("/c"), 1, 2, 3))
    assert all(operator[f].startswith("127.0.0.1:") for f in (
        "metrics-service-bind-address", "metrics-bind-address", "health-probe-bind-address"))
    adapter = _flags(keda.adapter_command(Path("/bin"), Path("/k"), Path("/c"), 4, 5, 1))
    assert adapter["bind-address"] == NODE_IP and adapter["secure-port"] == "4"
    assert adapter["metrics-service-address"] == "127.0.0.1:1"
    assert adapter["lister-kubeconfig"] == adapter["kubeconfig"] == "/k"


def test_only_the_given_namespaces_are_watched() -> None:
    env = keda.environment("keda-system", ("a", "b"))
    assert env["WATCH_NAMESPACE"] == "a,b" and env["KEDA_CLUSTER_OBJECT_NAMESPACE"] == "keda-system"


def test_the_api_service_leads_to_the_adapter_on_the_node_address_with_the_cluster_ca() -> None:
    service, slice_, api = keda.serving_objects("keda-system", b"CA", 4443)
    assert api["metadata"]["name"] == keda.API_SERVICE == "v1beta1.external.metrics.k8s.io"
    assert api["spec"]["service"] == {"name": service["metadata"]["name"], "namespace": "keda-system", "port": 443}
    assert base64.b64decode(api["spec"]["caBundle"]) == b"CA" and "insecureSkipTLSVerify" not in api["spec"]
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == service["metadata"]["name"]
    assert slice_["endpoints"][0]["addresses"] == [NODE_IP] and slice_["ports"][0]["port"] == 4443
    assert service["spec"]["ports"][0]["targetPort"] == 4443


#: The shapes of KEDA's own RBAC files (config/rbac, config/metrics-server), trimmed to what the rewrite touches.
UPSTREAM_RBAC = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "keda-operator"},
     "rules": [{"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["get", "list", "watch"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
     "metadata": {"name": "keda-operator", "namespace": "keda"}, "rules": []},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
     "metadata": {"name": "keda-operator", "namespace": "keda"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "keda-operator"},
     "subjects": [{"kind": "ServiceAccount", "name": "keda-operator", "namespace": "keda"}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
     "metadata": {"name": "keda-hpa-controller-external-metrics"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                 "name": "keda-external-metrics-reader"},
     "subjects": [{"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}]},
]


def test_keda_gets_its_own_upstream_roles_bound_to_its_certificates_user_in_its_namespace() -> None:
    objects = keda.rbac_objects(UPSTREAM_RBAC, "keda-system")
    role, binding, hpa = objects[1], objects[2], objects[3]
    assert objects[0]["rules"] == UPSTREAM_RBAC[0]["rules"]  # the grants are upstream's, unchanged
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "keda-system"
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": keda.USER}]
    assert hpa["subjects"] == UPSTREAM_RBAC[3]["subjects"]  # the HPA controller's own grant stays its own
    assert UPSTREAM_RBAC[2]["subjects"][0]["kind"] == "ServiceAccount"  # the parse is not changed in place

