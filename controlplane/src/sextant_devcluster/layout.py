"""Where a local cluster keeps its state (certificates, etcd data, logs, kubeconfigs) and which ports it uses."""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"
LOOPBACK = "127.0.0.1"


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

    def create_dirs(self) -> None:
        for path in (self.pki, self.etcd_data, self.logs, self.kubeconfigs, self.root / "run"):
            path.mkdir(parents=True, exist_ok=True)


def save_ports(layout: Layout, ports: Ports) -> None:
    layout.state_file.write_text(json.dumps({"ports": asdict(ports)}, indent=2) + "\n")


def load_ports(layout: Layout) -> Ports | None:
    """The ports recorded for this state directory, or None when no cluster was ever created there."""
    if not layout.state_file.exists():
        return None
    return Ports(**json.loads(layout.state_file.read_text())["ports"])
