"""metrics-server beside the real node: the resource metrics API (metrics.k8s.io) that CPU HPAs and `kubectl top`
read, scraped from the real node's kubelet. Pure builders here; LocalCluster starts it and applies the objects.

It runs as a host process, like the control plane: the API server (on the host, `--enable-aggregator-routing`)
calls it at the address of its EndpointSlice, the node's bridge address, and checks its serving certificate
against the cluster CA under the Service's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sextant_devcluster import aggregated_api, kubeconfig, pki
from sextant_devcluster.layout import NODE_IP, Layout
from sextant_devcluster.node_config import REAL_NODE_LABELS

NAME = "metrics-server"
NAMESPACE = "kube-system"
API_SERVICE = "v1beta1.metrics.k8s.io"
# The client identity it uses for the API server and the kubelet (a client certificate, as the other host
# components have): bound below to exactly the roles metrics-server's own manifests grant its ServiceAccount.
USER = "system:sextant-metrics-server"
# Fixed, like the kubelet's 10250: one real node per machine, so one metrics-server on the node's address.
PORT = 4443
# Upstream's recommended resolution (its manifests' --metric-resolution=15s): the kubelet's cAdvisor refreshes
# container stats every 10-15 s, so a shorter period mostly reads the same sample twice.
METRIC_RESOLUTION = "15s"
# Only the real node has a kubelet; kwok's fake nodes would fail every scrape and log it forever.
NODE_SELECTOR = f"type={REAL_NODE_LABELS['type']}"
FIELD_MANAGER = "sextant-devcluster"
PID_ANNOTATION = "devcluster.sextant.io/metrics-server-pid"


def serving_dns_name() -> str:
    """The name the API server checks the serving certificate against (the APIService's Service)."""
    return f"{NAME}.{NAMESPACE}.svc"


def write_credentials(layout: Layout, ca: pki.KeyPair, server: str) -> None:
    """Its serving certificate (for the Service's name and the node's address) and its client kubeconfig; each
    written once, so a state directory from before metrics-server gains them on the next start."""
    if not layout.pem("metrics-server").exists():
        pki.issue_certificate(ca, NAME, dns_names=(serving_dns_name(), f"{serving_dns_name()}.cluster.local"),
                              ip_addresses=(NODE_IP,), server=True).write(
            layout.pem("metrics-server"), layout.pem("metrics-server-key"))
    path = layout.kubeconfigs / f"{NAME}.yaml"
    if not path.exists():
        pair = pki.issue_certificate(ca, USER, client=True)
        kubeconfig.write_kubeconfig(path, kubeconfig.build_kubeconfig(
            server, ca.cert_pem, USER, cert_pem=pair.cert_pem, key_pem=pair.key_pem))


def metrics_server_command(bin_dir: Path, layout: Layout) -> list[str]:
    """Serve on the node's address; trust the kubelet's serving certificate through the cluster CA that issued it
    (realnode.py), reach the kubelet at the node's InternalIP, and scrape only the real node."""
    config = layout.kubeconfigs / f"{NAME}.yaml"
    return [
        str(bin_dir / NAME),
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        f"--bind-address={NODE_IP}",
        f"--secure-port={PORT}",
        f"--tls-cert-file={layout.pem('metrics-server')}",
        f"--tls-private-key-file={layout.pem('metrics-server-key')}",
        f"--kubelet-certificate-authority={layout.pem('ca')}",
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-use-node-status-port",
        f"--node-selector={NODE_SELECTOR}",
        f"--metric-resolution={METRIC_RESOLUTION}",
        # Scrape errors show at 0; 1 adds two lines per scrape (every 15 s, forever).
        "--v=0",
    ]


def liveness_url() -> str:
    """metrics-server's liveness endpoint (anonymous is allowed there): it answers once it serves."""
    return f"https://{NODE_IP}:{PORT}/livez"


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    return aggregated_api.object_meta(NAME, FIELD_MANAGER, name, namespace, **extra)


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _user() -> list[dict[str, str]]:
    return [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]


def rbac_objects() -> list[dict[str, Any]]:
    """metrics-server's own manifests (v0.8.0 manifests/base/rbac.yaml), bound to its user instead of a
    ServiceAccount: read pods and nodes and the kubelet's metrics, delegate authentication and authorization,
    read the front-proxy CA; and the metrics API for whoever has view, edit or admin."""
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": _meta("system:metrics-server"), "rules": [
            {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
        ]},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": _meta("system:metrics-server"),
         "roleRef": _ref("ClusterRole", "system:metrics-server"), "subjects": _user()},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": _meta("metrics-server:system:auth-delegator"),
         "roleRef": _ref("ClusterRole", "system:auth-delegator"), "subjects": _user()},
        {"apiVersion": rbac, "kind": "RoleBinding", "metadata": _meta("metrics-server-auth-reader", NAMESPACE),
         "roleRef": _ref("Role", "extension-apiserver-authentication-reader"), "subjects": _user()},
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": _meta("system:aggregated-metrics-reader", labels={
            f"rbac.authorization.k8s.io/aggregate-to-{role}": "true" for role in ("view", "edit", "admin")}),
         "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"]}]},
    ]


def serving_objects(ca_pem: bytes, pid: int) -> list[dict[str, Any]]:
    """The APIService and where it leads: a selector-less Service whose one EndpointSlice is the node's address
    and metrics-server's port (the API server resolves APIServices through EndpointSlices), checked with `ca_pem`.

    The EndpointSlice names the serving process (`pid`): a new process changes it, and that change makes the
    API server check the APIService again at once rather than at its next 30 s resync."""
    return aggregated_api.serving_objects(app=NAME, manager=FIELD_MANAGER, service=NAME, namespace=NAMESPACE,
                                          api_service=API_SERVICE, group="metrics.k8s.io", port=PORT,
                                          ca_pem=ca_pem, endpoint_annotations={PID_ANNOTATION: str(pid)})


def api_service_available(api_service: dict[str, Any]) -> bool:
    """True when the API server reports the APIService Available (it reached metrics-server's discovery)."""
    conditions = api_service.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
