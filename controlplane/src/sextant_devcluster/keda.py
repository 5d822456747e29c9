"""KEDA beside the real node: keda-operator (ScaledObjects to HPAs, the Prometheus scaler) and keda-adapter (the
external metrics API the HPA controller reads), as host processes like metrics-server. Pure builders here; the
test fixture (tests/support/keda.py) starts the processes and applies the objects.

The adapter asks the operator for metric values over gRPC with mutual TLS (both read ca.crt, tls.crt and tls.key
from one directory); the API server calls the adapter at the node's address through the APIService's
EndpointSlice, as it calls metrics-server. One certificate from the cluster CA serves all three ends: the
operator on loopback, the adapter under its Service's name, and each as the other's client.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from sextant_devcluster import aggregated_api, pki
from sextant_devcluster.layout import NODE_IP

API_SERVICE = "v1beta1.external.metrics.k8s.io"
SERVICE = "keda-metrics-apiserver"
FIELD_MANAGER = "sextant-keda"
OPERATOR, ADAPTER = "keda-operator", "keda-adapter"
#: The client identity both processes use (a client certificate, as metrics-server has): bound to exactly the roles
#: KEDA's own manifests grant its ServiceAccount `keda-operator`, which both its Deployments run as.
USER = "system:sextant-keda"
#: KEDA's RBAC, from the pinned module: the operator's ClusterRole and Role and their bindings, the metrics
#: adapter's (auth delegation, the authentication reader, the external metrics reader for the HPA controller).
RBAC_FILES = ("config/rbac/role.yaml", "config/rbac/role_binding.yaml", "config/metrics-server/role.yaml",
              "config/metrics-server/role_binding.yaml")
UPSTREAM_NAMESPACE = "keda"
USER_SUBJECT = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}
#: The module whose config/crd/bases holds the CRDs of the binaries build-tools.sh builds (same pinned version).
MODULE = "github.com/kedacore/keda/v2"
#: All of KEDA's CRDs: the operator waits for a cache of every kind it reconciles (ScaledJobs and CloudEvent sources
#: too, though Sextant uses only ScaledObjects) and exits when one is missing.
CRD_FILES = ("keda.sh_scaledobjects.yaml", "keda.sh_scaledjobs.yaml", "keda.sh_triggerauthentications.yaml",
             "keda.sh_clustertriggerauthentications.yaml", "eventing.keda.sh_cloudeventsources.yaml",
             "eventing.keda.sh_clustercloudeventsources.yaml")
CRD_NAMES = ("scaledobjects.keda.sh", "scaledjobs.keda.sh", "triggerauthentications.keda.sh",
             "clustertriggerauthentications.keda.sh", "cloudeventsources.eventing.keda.sh",
             "clustercloudeventsources.eventing.keda.sh")


def module_dir(tools_dir: Path) -> Path:
    """The Go module cache directory of the KEDA version `tools_dir`/go.mod pins (`go mod download` fetches only
    that module's zip from the module proxy, checked against go.sum, when the cache lacks it)."""
    out = subprocess.run(["go", "mod", "download", "-json", MODULE], cwd=tools_dir, capture_output=True,
                         text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"`go mod download {MODULE}` in {tools_dir} failed: {out.stderr.strip() or out.stdout}")
    return Path(json.loads(out.stdout)["Dir"])


def crd_paths(module: Path) -> list[Path]:
    return [module / "config" / "crd" / "bases" / name for name in CRD_FILES]


def rbac_documents(module: Path) -> list[dict[str, Any]]:
    return [doc for name in RBAC_FILES for doc in yaml.safe_load_all((module / name).read_text()) if doc]


def rbac_objects(documents: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """KEDA's own roles and bindings (`documents`, parsed from RBAC_FILES) with its namespace moved to `namespace`
    and its ServiceAccount `keda-operator` replaced by the USER our client certificate names; other subjects (the
    HPA controller's ServiceAccount) are kept as they are."""
    out = []
    for doc in documents:
        doc = copy.deepcopy(doc)  # the caller's parse stays as read
        meta = doc.setdefault("metadata", {})
        if meta.get("namespace") == UPSTREAM_NAMESPACE:
            meta["namespace"] = namespace
        meta.setdefault("labels", {})["app.kubernetes.io/managed-by"] = FIELD_MANAGER
        if "subjects" in doc:
            doc["subjects"] = [USER_SUBJECT if s.get("kind") == "ServiceAccount" and s.get("name") == OPERATOR
                               else s for s in doc["subjects"]]
        out.append(doc)
    return out


def serving_dns_name(namespace: str) -> str:
    return f"{SERVICE}.{namespace}.svc"


def write_certificates(cert_dir: Path, ca: pki.KeyPair, namespace: str) -> None:
    """ca.crt, tls.crt and tls.key as KEDA reads them from its --cert-dir: one pair for serving (the operator's gRPC
    on loopback, the adapter under its Service's name and the node's address) and for being the other's client."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    (cert_dir / "ca.crt").write_bytes(ca.cert_pem)
    pki.issue_certificate(ca, "keda", dns_names=("localhost", serving_dns_name(namespace),
                                                 f"{serving_dns_name(namespace)}.cluster.local"),
                          ip_addresses=("127.0.0.1", NODE_IP), server=True, client=True).write(
        cert_dir / "tls.crt", cert_dir / "tls.key")


def environment(namespace: str, watch_namespaces: tuple[str, ...]) -> dict[str, str]:
    """Where KEDA keeps its cluster objects (in a pod, its ServiceAccount's namespace) and which namespaces it
    watches: only the test's, so a shared cluster's other ScaledObjects are not its business."""
    return {"WATCH_NAMESPACE": ",".join(watch_namespaces), "POD_NAMESPACE": namespace,
            "KEDA_CLUSTER_OBJECT_NAMESPACE": namespace}


def operator_command(bin_dir: Path, kubeconfig: Path, cert_dir: Path, grpc_port: int, metrics_port: int,
                     health_port: int) -> list[str]:
    """The operator without leader election or certificate rotation (the certificates are ours), every port on
    loopback (its defaults, :8080 and :8081, are anyone's on a shared host)."""
    return [str(bin_dir / OPERATOR), f"--kubeconfig={kubeconfig}", f"--cert-dir={cert_dir}",
            f"--metrics-service-bind-address=127.0.0.1:{grpc_port}",
            f"--metrics-bind-address=127.0.0.1:{metrics_port}",
            f"--health-probe-bind-address=127.0.0.1:{health_port}",
            "--zap-log-level=info", "--zap-encoder=console"]


def adapter_command(bin_dir: Path, kubeconfig: Path, cert_dir: Path, secure_port: int, metrics_port: int,
                    grpc_port: int) -> list[str]:
    """The adapter serving the external metrics API on the node's address (where the API server reaches it),
    asking the operator on loopback."""
    return [str(bin_dir / ADAPTER), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            f"--lister-kubeconfig={kubeconfig}",
            f"--bind-address={NODE_IP}", f"--secure-port={secure_port}", f"--port={metrics_port}",
            f"--cert-dir={cert_dir}", f"--client-ca-file={cert_dir / 'ca.crt'}",
            f"--tls-cert-file={cert_dir / 'tls.crt'}", f"--tls-private-key-file={cert_dir / 'tls.key'}",
            f"--metrics-service-address=127.0.0.1:{grpc_port}", "--zap-log-level=info", "--zap-encoder=console"]


def _meta(name: str, namespace: str | None = None, **extra: dict[str, str]) -> dict[str, Any]:
    return aggregated_api.object_meta(SERVICE, FIELD_MANAGER, name, namespace, **extra)


def serving_objects(namespace: str, ca_pem: bytes, secure_port: int) -> list[dict[str, Any]]:
    """The APIService and where it leads, as for metrics-server: a selector-less Service whose one EndpointSlice
    is the node's address and the adapter's port, its certificate checked against `ca_pem`."""
    return aggregated_api.serving_objects(app=SERVICE, manager=FIELD_MANAGER, service=SERVICE, namespace=namespace,
                                          api_service=API_SERVICE, group="external.metrics.k8s.io",
                                          port=secure_port, ca_pem=ca_pem)
