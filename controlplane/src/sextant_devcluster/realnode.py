"""The local cluster's one real node: containerd, kubelet and kube-proxy on a CNI bridge of this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sextant_devcluster import (
    cluster_dns,
    disk,
    host_cleanup,
    host_network,
    kubeconfig,
    node_config,
    node_images,
    pki,
    supervisor,
)
from sextant_devcluster.images.index import ImageRef, ImagesError, load_index
from sextant_devcluster.layout import NODE_IP, REAL_NODE_NAME, Layout
from sextant_devcluster.node_lock import NodeRecord, Ownership, check_free, is_live, pid_alive
from sextant_devcluster.readiness import WaitTimeout, wait_for

# Started in this order, stopped in reverse.
NODE_PROCESSES = ("containerd", "coredns", "kubelet", "kube-proxy")
# metrics-server scrapes this node's kubelet (metrics_server.py); without a node it has nothing to read.
NODE_BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr", "coredns", "kubelet", "kube-proxy", "metrics-server")
# The Debian packages the node needs (installed by `make deps`), by a file each one provides.
DEBIAN_NEEDS = {
    "runc": node_config.RUNC,
    "containernetworking-plugins": node_config.CNI_BIN_DIR / "bridge",
    "iptables": Path("/usr/sbin/iptables"),
    "conntrack": Path("/usr/sbin/conntrack"),
    "iproute2": Path("/usr/sbin/ip"),
}
# The ClusterRole that lets the API server use the kubelet's API (logs, exec, port-forward).
KUBELET_API_ADMIN = "system:kubelet-api-admin"
APISERVER_KUBELET_CLIENT = "kube-apiserver-kubelet-client"
COREDNS_USER = "system:sextant-coredns"


def _binding(name: str, role: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def node_rbac() -> list[dict[str, Any]]:
    """Least privilege for the node's parts: the API server may use the kubelet API (logs, exec,
    port-forward); CoreDNS may read what names resolve to."""
    coredns_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "sextant:coredns"},
        "rules": [
            {"apiGroups": [""], "resources": ["services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ],
    }
    return [
        _binding("sextant:apiserver-kubelet-client", KUBELET_API_ADMIN, APISERVER_KUBELET_CLIENT),
        coredns_role,
        _binding("sextant:coredns", "sextant:coredns", COREDNS_USER),
    ]


def default_containerd_root() -> Path:
    """The machine's containerd root (imported images), beside the other caches: $SEXTANT_CACHE/containerd."""
    return Path(os.environ.get("SEXTANT_CACHE", Path.home() / ".cache" / "sextant")) / "containerd"


class NodeError(RuntimeError):
    """The real node could not be started or stopped; the message says what to do."""


def load_node_images(path: Path) -> dict[str, ImageRef]:
    """`make images`' index (through the image builder's one reader), which must hold the pod sandbox image.

    Raises NodeError naming the fix.
    """
    try:
        index = load_index(path)
    except ImagesError as exc:
        raise NodeError(str(exc)) from exc
    if "pause" not in index:
        raise NodeError(f"{path} has no pause image (the pod sandbox): run `make images`")
    return index


@dataclass
class RealNode:
    """One node of real pods beside the kwok nodes. All its state lives in the cluster's state directory;
    what it changes on the machine (bridge, iptables chains, sysctls) is recorded and undone by `stop`."""

    layout: Layout
    bin_dir: Path
    image_index: Path
    die_with_parent: bool = False
    record: NodeRecord = field(default_factory=NodeRecord)
    startup_timeout: float = 90.0
    containerd_root: Path = field(default_factory=default_containerd_root)

    # ---- checks ----------------------------------------------------------------------------------------
    def check_host(self) -> None:
        """Raise NodeError naming what is missing: root, the built binaries, the Debian packages."""
        if os.geteuid() != 0:
            raise NodeError("the real node needs root (containerd, kubelet and iptables); run as root, or start "
                            "the cluster without a real node: SEXTANT_REAL_NODE=0")
        missing = [b for b in NODE_BINARIES if not (self.bin_dir / b).exists()]
        if missing:
            raise NodeError(f"missing node binaries in {self.bin_dir}: {', '.join(missing)}; build them with "
                            "`make tools`")
        packages = [name for name, path in DEBIAN_NEEDS.items() if not path.exists()]
        if packages:
            raise NodeError(f"missing Debian packages for the real node: {' '.join(packages)}; `make deps` "
                            f"installs them (apt-get install {' '.join(packages)})")
        load_node_images(self.image_index)

    def running(self) -> dict[str, int | None]:
        return {name: supervisor.running_pid(self.layout.pidfile(name)) for name in NODE_PROCESSES}

    # ---- start -----------------------------------------------------------------------------------------
    def prepare_host(self) -> None:
        """Claim the machine's node, clear what a crashed run left, save the sysctls, make the bridge.

        Runs before the API server starts: it listens on the bridge's address. Raises NodeTaken when another
        cluster's node is live.
        """
        with self.record.locked():
            current = self.record.read()
            check_free(current, self.layout.root)
            if all(pid is not None for pid in self.running().values()):
                return  # this cluster's node already runs
            if current is not None:
                self._clean_machine(current)
            self.record.write(Ownership(state_dir=str(self.layout.root), sysctls=host_network.read_sysctls()))
        host_network.ensure_bridge()
        host_network.install_guard()

    def write_credentials(self, ca: pki.KeyPair, server: str) -> None:
        """Kubelet (Node authorizer identity and serving cert), kube-proxy, CoreDNS and the API server's kubelet
        client; each written once, so a state directory from before a new part gains only that part's."""
        if not self.layout.pem("kubelet-serving").exists():
            pki.issue_certificate(ca, REAL_NODE_NAME, dns_names=(REAL_NODE_NAME,), ip_addresses=(NODE_IP,),
                                  server=True).write(self.layout.pem("kubelet-serving"),
                                                     self.layout.pem("kubelet-serving-key"))
        if not self.layout.pem("apiserver-kubelet-client").exists():
            pki.issue_certificate(ca, APISERVER_KUBELET_CLIENT, client=True).write(
                self.layout.pem("apiserver-kubelet-client"), self.layout.pem("apiserver-kubelet-client-key"))
        identities = {"kubelet": (f"system:node:{REAL_NODE_NAME}", ("system:nodes",)),
                      "kube-proxy": ("system:kube-proxy", ()), "coredns": (COREDNS_USER, ())}
        for name, (user, groups) in identities.items():
            path = self.layout.kubeconfigs / f"{name}.yaml"
            if path.exists():
                continue
            pair = pki.issue_certificate(ca, user, organizations=groups, client=True)
            config = kubeconfig.build_kubeconfig(server, ca.cert_pem, user, cert_pem=pair.cert_pem,
                                                 key_pem=pair.key_pem)
            kubeconfig.write_kubeconfig(path, config)

    def start(self) -> None:
        """Start containerd, import the images, then kubelet and kube-proxy (each once)."""
        index = load_node_images(self.image_index)
        for directory in (self.layout.node, self.layout.cni_conf_dir, self.layout.pod_logs):
            directory.mkdir(parents=True, exist_ok=True)
        for name in NODE_PROCESSES:  # a crash leaves pidfiles of dead processes: they are not ours to watch
            if supervisor.running_pid(self.layout.pidfile(name)) is None:
                self.layout.pidfile(name).unlink(missing_ok=True)
        files = node_config.node_files(self.layout, index["pause"].ref, self.containerd_root)
        for path, content in files.items():
            # Unchanged files are left alone: kube-proxy exits when its configuration file is written.
            if not path.exists() or path.read_text() != content:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
        self._start("containerd", node_config.containerd_command(self.bin_dir, self.layout))
        self._wait("containerd", lambda: self._ctr("version", check=False).returncode == 0,
                   f"containerd to answer on {self.layout.containerd_socket}")
        self.import_images(index)
        self._start("coredns", node_config.coredns_command(self.bin_dir, self.layout))
        self._wait("coredns", lambda: cluster_dns.resolves(cluster_dns.API_SERVICE_NAME, NODE_IP),
                   f"CoreDNS on {NODE_IP}:53 to resolve {cluster_dns.API_SERVICE_NAME}")
        self._start("kubelet", node_config.kubelet_command(self.bin_dir, self.layout))
        self._start("kube-proxy", node_config.kube_proxy_command(self.bin_dir, self.layout))
        self._record_pids()

    def import_images(self, index: dict[str, ImageRef]) -> list[str]:
        """Make containerd hold exactly the indexed images of the project, pinned; return the refs imported.

        Earlier builds go first (pinned images are never garbage-collected, so nothing else removes them); then
        the space check, so a short disk fails here, by name, rather than as pods that never start.
        Raises NodeError when the disk is too full.
        """
        listing = node_images.parse_listing(self._ctr("-n", "k8s.io", "images", "ls").stdout)
        for ref in node_images.stale_refs(listing, (image.ref for image in index.values())):
            self._ctr("-n", "k8s.io", "images", "rm", "--sync", ref, timeout=120)
        present = {ref for ref, _ in listing}
        missing = [image for image in index.values() if image.ref not in present]
        shortfall = node_images.space_shortfall(disk.free_bytes(self.containerd_root),
                                                [image.archive.stat().st_size for image in missing],
                                                self.containerd_root)
        if shortfall:
            raise NodeError(shortfall)
        for image in missing:
            self._ctr("-n", "k8s.io", "images", "import", str(image.archive), timeout=600)
        for image in index.values():
            self._ctr("-n", "k8s.io", "images", "label", image.ref, node_images.PINNED_LABEL)
        return [image.ref for image in missing]

    def wait_ready(self, core: Any) -> None:
        """Wait until the node is registered and Ready (kubelet and the CNI network up)."""
        def ready() -> bool:
            try:
                node = core.read_node(REAL_NODE_NAME)
            except Exception:  # noqa: BLE001 - not registered yet (404) is the common case
                return False
            return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])

        self._wait("kubelet", ready, f"node {REAL_NODE_NAME} to be Ready")

    def uncordon(self, core: Any) -> None:
        """Accept pods again (`down` cordons the node; its Node object outlives a restart)."""
        core.patch_node(REAL_NODE_NAME, {"spec": {"unschedulable": None}})

    # ---- stop ------------------------------------------------------------------------------------------
    def drain(self, core: Any, timeout: float = 30.0) -> None:
        """Cordon the node and delete its pods through the kubelet, so containers and networks end cleanly."""
        if self.running()["kubelet"] is None:
            return
        try:
            core.patch_node(REAL_NODE_NAME, {"spec": {"unschedulable": True}})
            selector = f"spec.nodeName={REAL_NODE_NAME}"
            for pod in core.list_pod_for_all_namespaces(field_selector=selector).items:
                core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=1)
            wait_for(lambda: not core.list_pod_for_all_namespaces(field_selector=selector).items,
                     timeout=timeout, what=f"the pods on {REAL_NODE_NAME} to stop")
        except Exception:  # noqa: BLE001 - a timeout or an API already gone: clean_machine kills what is left
            return

    def stop_processes(self) -> list[str]:
        """Stop kube-proxy, kubelet and containerd (reverse start order); return those that were running."""
        return [name for name in reversed(NODE_PROCESSES) if supervisor.stop_process(self.layout.pidfile(name))]

    def clean_machine(self) -> None:
        """Undo everything the node did to the machine and give up the machine's node (idempotent)."""
        with self.record.locked():
            current = self.record.read()
            if current is not None and current.state_dir != str(self.layout.root):
                return  # another cluster owns the node now: nothing of ours is left to clean
            self._clean_machine(current or Ownership(state_dir=str(self.layout.root)))
            self.record.clear()

    def forget_images(self) -> None:
        """Delete the machine's containerd root (every imported image) unless a live node uses it."""
        with self.record.locked():
            current = self.record.read()
            if current is not None and is_live(current):
                raise NodeError(f"the real node of {current.state_dir} runs: its images stay")
            host_cleanup.unmount_all([self.containerd_root])
            shutil.rmtree(self.containerd_root, ignore_errors=True)

    def _clean_machine(self, owner: Ownership) -> None:
        roots = [Path(owner.state_dir) / "node", self.layout.node]
        host_cleanup.kill_all(host_cleanup.processes_mentioning(roots))
        host_cleanup.kill_all(host_cleanup.pod_processes())
        host_cleanup.unmount_all(roots)
        host_cleanup.remove_pod_cgroups()
        host_cleanup.remove_fixed_path_leftovers(roots)
        host_network.purge_chains()
        host_network.delete_bridge()
        host_network.write_sysctls(owner.sysctls)
        for root in roots:
            for volatile in (root / "containerd-state", root / "kubelet" / "pods"):
                shutil.rmtree(volatile, ignore_errors=True)

    # ---- internals -------------------------------------------------------------------------------------
    def _ctr(self, *args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bin_dir / "ctr"), f"--address={self.layout.containerd_socket}", *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise NodeError(f"ctr {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def _start(self, name: str, argv: list[str]) -> None:
        if supervisor.running_pid(self.layout.pidfile(name)) is not None:
            return
        # containerd finds its shim on PATH: the one built beside it, not another on the machine.
        env = {"PATH": f"{self.bin_dir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"}
        supervisor.start_process(argv, self.layout.log(name), self.layout.pidfile(name),
                                 die_with_parent=self.die_with_parent, env=env)

    def _record_pids(self) -> None:
        with self.record.locked():
            owner = self.record.read() or Ownership(state_dir=str(self.layout.root))
            owner.pids = [pid for pid in self.running().values() if pid is not None]
            self.record.write(owner)

    def _wait(self, name: str, condition: Any, what: str) -> None:
        def alive() -> None:
            # By pid, not command line: containerd re-executes itself while it starts.
            for process in NODE_PROCESSES:
                pidfile = self.layout.pidfile(process)
                if pidfile.exists() and not pid_alive(int(pidfile.read_text().split()[0])):
                    raise NodeError(f"{process} exited during start-up; the end of {self.layout.log(process)}:\n"
                                    f"{supervisor.log_tail(self.layout.log(process))}")

        try:
            wait_for(condition, timeout=self.startup_timeout, what=what, on_poll=alive)
        except WaitTimeout as exc:
            log = self.layout.log(name)
            raise NodeError(f"{exc}; see {log}:\n{supervisor.log_tail(log)}") from exc
