"""Where a local cluster keeps its state (certificates, etcd data, logs, kubeconfigs) and which ports it uses."""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"
LOOPBACK = "127.0.0.1"

# The real node's network lives on one bridge of this machine: its gateway address is the node's address, the
# address the API server listens on (pods reach it through the `kubernetes` Service) and the kubelet's.
NODE_BRIDGE = "sextant0"
NODE_IP = "10.85.0.1"
POD_CIDR = "10.85.0.0/16"
REAL_NODE_NAME = "sextant-node-0"
# Addresses kwok gives fake pods and fake nodes: nothing answers there, so the node's guard rejects them.
FAKE_POD_CIDR = "10.244.0.0/16"
FAKE_NODE_IP = "10.96.0.1"


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one cluster; picked free at creation and kept in cluster.json."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def pick_ports() -> Ports:
    chosen: set[int] = set()
    while len(chosen) < 6:
        chosen.add(free_port())
    return Ports(*sorted(chosen))


@dataclass(frozen=True)
class Layout:
    """Paths inside one cluster's state directory."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def kubeconfigs(self) -> Path:
        return self.root / "kubeconfigs"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    def pidfile(self, component: str) -> Path:
        return self.root / "run" / f"{component}.pid"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pem(self, name: str) -> Path:
        return self.pki / f"{name}.pem"

    # ---- the real node (containerd, kubelet, kube-proxy, CNI) -------------------------------------------
    @property
    def node(self) -> Path:
        return self.root / "node"

    @property
    def containerd_state(self) -> Path:
        return self.node / "containerd-state"

    @property
    def containerd_socket(self) -> Path:
        return self.node / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.node / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.node / "pod-logs"

    @property
    def cni_conf_dir(self) -> Path:
        return self.node / "cni"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.node / "cni-ipam"

    def node_file(self, name: str) -> Path:
        return self.node / name

    def create_dirs(self) -> None:
        for path in (self.pki, self.etcd_data, self.logs, self.kubeconfigs, self.root / "run"):
            path.mkdir(parents=True, exist_ok=True)


def save_ports(layout: Layout, ports: Ports, real_node: bool = False) -> None:
    layout.state_file.write_text(json.dumps({"ports": asdict(ports), "realNode": real_node}, indent=2) + "\n")


def load_real_node(layout: Layout) -> bool | None:
    """Whether this state directory's cluster was created with a real node; None when it was never created."""
    if not layout.state_file.exists():
        return None
    return bool(json.loads(layout.state_file.read_text()).get("realNode", False))


def load_ports(layout: Layout) -> Ports | None:
    """The ports recorded for this state directory, or None when no cluster was ever created there."""
    if not layout.state_file.exists():
        return None
    return Ports(**json.loads(layout.state_file.read_text())["ports"])
