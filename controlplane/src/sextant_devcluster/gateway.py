"""The Gateway API in the local cluster (optional): its CRDs, a GatewayClass and Gateway, and Traefik serving them.

Traefik Proxy runs as a process on this machine (the node), as its own ServiceAccount with a ClusterRole that
grants what its Kubernetes Gateway provider reads and the status it writes; it reaches backends at their pod
addresses over the node's bridge. `controlplane/build-tools.sh traefik gateway-api-crds` builds both. See
docs/serving.md ("Gateway API in the local cluster") for what it supports.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sextant_devcluster import supervisor
from sextant_devcluster.cluster import LocalCluster
from sextant_devcluster.layout import LOOPBACK, free_port
from sextant_devcluster.readiness import WaitTimeout, http_ok, wait_for

# Traefik's controller name is fixed; a GatewayClass naming it is served by every Traefik watching the cluster.
CONTROLLER_NAME = "traefik.io/gateway-controller"
GATEWAY_CLASS = "sextant-traefik"
GATEWAY_NAMESPACE = "sextant-gateway"
GATEWAY_NAME = "sextant"
LISTENER_NAME = "http"
SERVICE_ACCOUNT = "traefik"
CLUSTER_ROLE = "sextant-gateway-traefik"
PROCESS = "traefik"
GATEWAY_API_CRDS = ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants",
                    "backendtlspolicies", "tlsroutes")
TOKEN_SECONDS = 7 * 24 * 3600
READY_TIMEOUT_S = 60.0


class GatewayError(RuntimeError):
    """The Gateway could not be installed, started or reached; the message says what to do."""


@dataclass(frozen=True)
class GatewayEndpoint:
    """Where a running Gateway is: its objects in the cluster and the address its listener serves on."""

    name: str
    namespace: str
    class_name: str
    listener: str
    host: str
    port: int
    admin_port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


# ---- manifests (pure) --------------------------------------------------------------------------------------
def build_traefik_rbac() -> list[dict[str, Any]]:
    """The namespace, ServiceAccount and ClusterRole(Binding) Traefik's Gateway provider needs, and no more.

    Its informers list and watch every kind below (Secrets for listener certificates, ConfigMaps for
    BackendTLSPolicy CAs); it writes status with update. No TCPRoutes (experimental channel off), no Pods (no
    OpenTelemetry).
    """
    read = ["list", "watch"]
    gateway_kinds = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants",
                     "backendtlspolicies", "tlsroutes"]
    status_kinds = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "backendtlspolicies", "tlsroutes"]
    subject = {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": GATEWAY_NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": SERVICE_ACCOUNT, "namespace": GATEWAY_NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": CLUSTER_ROLE},
         "rules": [
             {"apiGroups": [""], "resources": ["namespaces", "services", "secrets", "configmaps"], "verbs": read},
             {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
             {"apiGroups": ["gateway.networking.k8s.io"], "resources": gateway_kinds, "verbs": read},
             {"apiGroups": ["gateway.networking.k8s.io"], "resources": [f"{k}/status" for k in status_kinds],
              "verbs": ["update"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": CLUSTER_ROLE},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CLUSTER_ROLE},
         "subjects": [subject]},
    ]


def build_gateway_class() -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": GATEWAY_CLASS}, "spec": {"controllerName": CONTROLLER_NAME}}


def build_gateway(port: int) -> dict[str, Any]:
    """One HTTP listener on `port` (Traefik's entry point of the same port) accepting routes from any namespace."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE},
        "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": [{
            "name": LISTENER_NAME, "protocol": "HTTP", "port": port,
            "allowedRoutes": {"namespaces": {"from": "All"}}}]},
    }


def traefik_command(binary: Path, endpoint: GatewayEndpoint) -> list[str]:
    """Traefik with only the Kubernetes Gateway provider: one entry point for the listener, one on loopback for
    /ping; the Gateway's status address is the listener's host."""
    return [
        str(binary),
        f"--entryPoints.web.address={endpoint.host}:{endpoint.port}",
        f"--entryPoints.traefik.address={LOOPBACK}:{endpoint.admin_port}",
        "--ping=true",
        "--providers.kubernetesGateway=true",
        f"--providers.kubernetesGateway.statusAddress.ip={endpoint.host}",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=INFO",
        "--log.noColor=true",
    ]


def condition_status(conditions: list[dict[str, Any]], kind: str) -> str | None:
    """The status ("True", "False", "Unknown") of condition `kind`, None when absent."""
    return next((str(c.get("status")) for c in conditions if c.get("type") == kind), None)


# ---- the cluster side ---------------------------------------------------------------------------------------
def _apply(cluster: LocalCluster, docs: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "--server-side", "--field-manager=sextant-devcluster", "-f", "-",
                    input="\n---\n".join(json.dumps(d) for d in docs))


def crds_file(bin_dir: Path) -> Path:
    """The CRD bundle build-tools.sh assembled; raises GatewayError saying how to build it."""
    path = bin_dir / "gateway-api-crds.yaml"
    if not path.exists():
        raise GatewayError(f"{path} is missing: run `controlplane/build-tools.sh gateway-api-crds`")
    return path


def install_crds(cluster: LocalCluster) -> None:
    """Apply the standard-channel Gateway API CRDs (server-side: they are too large for client-side apply) and
    wait until the API server serves them. Raises GatewayError when they do not become Established."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=sextant-devcluster",
                    "-f", str(crds_file(cluster.bin_dir)), timeout=180)
    names = [f"crd/{kind}.gateway.networking.k8s.io" for kind in GATEWAY_API_CRDS]
    result = cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names, check=False,
                             timeout=90)
    if result.returncode != 0:
        raise GatewayError(f"the Gateway API CRDs were not Established: {result.stderr.strip()}")


def gateway_api_installed(cluster: LocalCluster) -> bool:
    result = cluster.kubectl("get", "crd", "httproutes.gateway.networking.k8s.io", check=False)
    return result.returncode == 0


def _state_file(cluster: LocalCluster) -> Path:
    return cluster.layout.root / "gateway.json"


def running_gateway(cluster: LocalCluster) -> GatewayEndpoint | None:
    """The Gateway this cluster's Traefik serves, when its process runs."""
    if supervisor.running_pid(cluster.layout.pidfile(PROCESS)) is None:
        return None
    try:
        return GatewayEndpoint(**json.loads(_state_file(cluster).read_text()))
    except (FileNotFoundError, TypeError, ValueError):
        return None


def start_gateway(cluster: LocalCluster, host: str, *, port: int | None = None, die_with_parent: bool = False,
                  binary: Path | None = None) -> GatewayEndpoint:
    """Install the CRDs, the GatewayClass and Gateway, and start Traefik listening on `host`; return where.

    Reuses a Traefik that already runs for this cluster. `port` defaults to a free one. Raises GatewayError
    when Traefik is not built, exits, or does not program the Gateway within a minute (its log is
    logs/traefik.log under the cluster directory).
    """
    running = running_gateway(cluster)
    if running is not None:
        return running
    binary = binary or cluster.bin_dir / "traefik"
    if not binary.exists():
        raise GatewayError(f"{binary} is missing: run `controlplane/build-tools.sh traefik`")
    endpoint = GatewayEndpoint(name=GATEWAY_NAME, namespace=GATEWAY_NAMESPACE, class_name=GATEWAY_CLASS,
                               listener=LISTENER_NAME, host=host, port=port or free_port(), admin_port=free_port())
    install_crds(cluster)
    _apply(cluster, [*build_traefik_rbac(), build_gateway_class(), build_gateway(endpoint.port)])
    kubeconfig = cluster.service_account_kubeconfig(GATEWAY_NAMESPACE, SERVICE_ACCOUNT,
                                                    expiration_seconds=TOKEN_SECONDS)
    pidfile, log = cluster.layout.pidfile(PROCESS), cluster.layout.log(PROCESS)
    supervisor.start_process(traefik_command(binary, endpoint), log, pidfile, die_with_parent=die_with_parent,
                             env={"KUBECONFIG": str(kubeconfig)})
    _state_file(cluster).write_text(json.dumps(asdict(endpoint)) + "\n")
    try:
        _wait_programmed(cluster, endpoint, pidfile)
    except (WaitTimeout, GatewayError) as exc:
        supervisor.stop_process(pidfile)
        raise GatewayError(f"{exc}; Traefik's log ({log}) ends with:\n{supervisor.log_tail(log)}") from exc
    return endpoint


def _wait_programmed(cluster: LocalCluster, endpoint: GatewayEndpoint, pidfile: Path) -> None:
    def alive() -> None:
        if supervisor.running_pid(pidfile) is None:
            raise GatewayError("traefik exited during start-up")

    wait_for(lambda: http_ok(f"http://{LOOPBACK}:{endpoint.admin_port}/ping"), timeout=READY_TIMEOUT_S,
             what="traefik's /ping", on_poll=alive)
    wait_for(lambda: gateway_programmed(cluster, endpoint), timeout=READY_TIMEOUT_S,
             what=f"Gateway {endpoint.namespace}/{endpoint.name} to be Programmed", on_poll=alive)


def gateway_programmed(cluster: LocalCluster, endpoint: GatewayEndpoint) -> bool:
    result = cluster.kubectl("get", "gateway", endpoint.name, "-n", endpoint.namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return False
    conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
    return condition_status(conditions, "Programmed") == "True"


def stop_gateway(cluster: LocalCluster, *, delete_gateway: bool = True) -> bool:
    """Stop Traefik; with `delete_gateway`, delete the Gateway too (its status would claim it is Programmed).

    Keeps the CRDs, the GatewayClass and the RBAC (additive, reused by the next start). True when Traefik ran.
    """
    stopped = supervisor.stop_process(cluster.layout.pidfile(PROCESS))
    _state_file(cluster).unlink(missing_ok=True)
    if delete_gateway:
        cluster.kubectl("delete", "gateway", GATEWAY_NAME, "-n", GATEWAY_NAMESPACE, "--ignore-not-found",
                        "--wait=false", check=False)
    return stopped

