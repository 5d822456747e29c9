"""Command lines of the control-plane components, built as pure functions of the layout and ports."""

from __future__ import annotations

from pathlib import Path

from sextant_devcluster.layout import LOOPBACK, NODE_IP, SERVICE_CLUSTER_IP_RANGE, Layout, Ports
from sextant_devcluster.profiles import DEFAULT, ClusterProfile, controller_manager_flags

# The order components start in; they stop in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

# The HorizontalPodAutoscaler controller, quicker than a production cluster's defaults (15 s, 5 min) so scaling
# shows within a minute of load starting or ending: it reads the metrics API every 5 s (metrics-server refreshes
# it every 15 s), and scales down on the highest recommendation of the last minute. An HPA's own
# `behavior.scaleDown.stabilizationWindowSeconds` overrides the latter (docs/development.md, "Autoscaling").
HPA_FLAGS = (
    "--horizontal-pod-autoscaler-sync-period=5s",
    "--horizontal-pod-autoscaler-downscale-stabilization=1m",
)

# Annotation that makes kwok manage a Node (see nodes.py).
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"


def etcd_command(bin_dir: Path, layout: Layout, ports: Ports, real_node: bool = False) -> list[str]:
    client = f"http://{LOOPBACK}:{ports.etcd_client}"
    peer = f"http://{LOOPBACK}:{ports.etcd_peer}"
    return [
        str(bin_dir / "etcd"),
        "--name=sextant",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sextant={peer}",
        # A throw-away test store: durability is not worth the fsync latency.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_command(bin_dir: Path, layout: Layout, ports: Ports, real_node: bool = False) -> list[str]:
    """With a real node the API server listens on the node's bridge address (pods reach it through the
    `kubernetes` Service), authorizes kubelets with the Node authorizer and calls them with a client cert."""
    host = NODE_IP if real_node else LOOPBACK
    return [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
        f"--bind-address={host}",
        f"--advertise-address={host}",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={layout.pki}",
        f"--tls-cert-file={layout.pem('apiserver')}",
        f"--tls-private-key-file={layout.pem('apiserver-key')}",
        f"--client-ca-file={layout.pem('ca')}",
        f"--authorization-mode={'Node,RBAC' if real_node else 'RBAC'}",
        # Added to the default plugins: a missing `finalizers` grant fails here as on a real cluster.
        f"--enable-admission-plugins={'NodeRestriction,' if real_node else ''}OwnerReferencesPermissionEnforcement",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={layout.pem('sa-pub')}",
        f"--service-account-signing-key-file={layout.pem('sa-key')}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        *_aggregation_flags(layout),
        *(_real_node_apiserver_flags(layout) if real_node else
          # A loopback address is not a valid Endpoints address: without a node nothing in-cluster needs it.
          ["--endpoint-reconciler-type=none"]),
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
    ]


def _aggregation_flags(layout: Layout) -> list[str]:
    """The aggregation layer, as kubeadm configures it: extension API servers such as metrics-server (which HPAs
    read) trust the front-proxy client certificate the API server presents when it forwards a request."""
    return [
        f"--requestheader-client-ca-file={layout.pem('front-proxy-ca')}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={layout.pem('front-proxy-client')}",
        f"--proxy-client-key-file={layout.pem('front-proxy-client-key')}",
        # Call an extension API server at its endpoints, not its ClusterIP (the API server runs on the host).
        "--enable-aggregator-routing=true",
    ]


def _real_node_apiserver_flags(layout: Layout) -> list[str]:
    return [
        f"--kubelet-client-certificate={layout.pem('apiserver-kubelet-client')}",
        f"--kubelet-client-key={layout.pem('apiserver-kubelet-client-key')}",
        f"--kubelet-certificate-authority={layout.pem('ca')}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
    ]


def _component_auth_flags(layout: Layout, component: str, port: int) -> list[str]:
    kubeconfig = layout.kubeconfigs / f"{component}.yaml"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        f"--cert-dir={layout.root / 'serving' / component}",
        "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
        "--leader-elect=false",
        "--v=1",
    ]


def controller_manager_command(
    bin_dir: Path, layout: Layout, ports: Ports, real_node: bool = False, profile: ClusterProfile = DEFAULT,
) -> list[str]:
    return [
        str(bin_dir / "kube-controller-manager"),
        *_component_auth_flags(layout, "kube-controller-manager", ports.controller_manager),
        f"--root-ca-file={layout.pem('ca')}",
        f"--service-account-private-key-file={layout.pem('sa-key')}",
        f"--cluster-signing-cert-file={layout.pem('ca')}",
        f"--cluster-signing-key-file={layout.pem('ca-key')}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        # No cloud, no node IPAM: kwok owns the fake nodes.
        "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
        *HPA_FLAGS,
        *controller_manager_flags(profile),
    ]


def scheduler_command(bin_dir: Path, layout: Layout, ports: Ports, real_node: bool = False) -> list[str]:
    return [str(bin_dir / "kube-scheduler"), *_component_auth_flags(layout, "kube-scheduler", ports.scheduler)]


def kwok_command(bin_dir: Path, layout: Layout, ports: Ports, real_node: bool = False) -> list[str]:
    return [
        str(bin_dir / "kwok"),
        f"--kubeconfig={layout.kubeconfigs / 'kwok.yaml'}",
        # kwok's own stages (assembled by build-tools.sh): nodes Ready, pods Running, Job pods Succeeded.
        f"--config={bin_dir / 'kwok-stages.yaml'}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.96.0.1",
        f"--server-address={LOOPBACK}:{ports.kwok}",
    ]


def component_command(
    component: str, bin_dir: Path, layout: Layout, ports: Ports, real_node: bool = False,
    profile: ClusterProfile = DEFAULT,
) -> list[str]:
    """The argv that starts `component`; raises KeyError for an unknown component."""
    if component == "kube-controller-manager":
        return controller_manager_command(bin_dir, layout, ports, real_node, profile)
    builders = {
        "etcd": etcd_command,
        "kube-apiserver": apiserver_command,
        "kube-scheduler": scheduler_command,
        "kwok": kwok_command,
    }
    return builders[component](bin_dir, layout, ports, real_node)
