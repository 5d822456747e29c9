"""LocalCluster: bring the local control plane up and down, and hand out credentials for it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sextant_devcluster import kubeconfig, metrics_server, pki, supervisor
from sextant_devcluster.commands import COMPONENTS, component_command
from sextant_devcluster.layout import (
    KUBERNETES_SERVICE_IP,
    LOOPBACK,
    NODE_IP,
    REAL_NODE_NAME,
    Layout,
    Ports,
    load_ports,
    load_real_node,
    pick_ports,
    save_ports,
)
from sextant_devcluster.node_lock import NodeTaken, pid_alive
from sextant_devcluster.nodes import default_fake_nodes, large_fake_nodes
from sextant_devcluster.profiles import DEFAULT, ClusterProfile, service_cidr
from sextant_devcluster.readiness import WaitTimeout, client_tls_context, http_ok, wait_for
from sextant_devcluster.realnode import NODE_PROCESSES, NodeError, RealNode, node_rbac

REQUIRED_BINARIES = (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml", "kubectl")

# Identities of the components (CN = user, O = groups), bound by the API server's bootstrap RBAC policy.
_CLIENT_IDENTITIES = {
    "admin": ("sextant-admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    "kwok": ("system:kwok", ("system:masters",)),
}


class ClusterError(RuntimeError):
    """The local control plane could not be started, reached or stopped; the message says what to do."""


def run_kubectl(
    bin_dir: Path, kubeconfig_path: Path, *args: str, check: bool = True, input: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """kubectl from `bin_dir` with `kubeconfig_path`; raises ClusterError (with stderr) when `check` and it fails."""
    argv = [str(bin_dir / "kubectl"), f"--kubeconfig={kubeconfig_path}", *args]
    result = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def new_api_client(kubeconfig_path: Path) -> Any:
    """A kubernetes.client.ApiClient for the user of `kubeconfig_path`."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig_path))


@dataclass
class LocalCluster:
    """A control plane whose state (certs, etcd data, logs, kubeconfig) lives in `state_dir`.

    `die_with_parent` ties the components' lifetime to this Python process (the pytest fixture);
    `make cluster` leaves it False so the cluster outlives the command that started it. `real_node` adds one
    node that runs pods for real (root only; images from `image_index`, written by `make images`); it is
    fixed when the state directory is created. `profile` adds headroom (profiles.py); a cluster restarted with
    the default profile keeps the nodes and Service range it got but not the controller-manager's flags.
    """

    state_dir: Path
    bin_dir: Path
    die_with_parent: bool = False
    startup_timeout: float = 90.0
    real_node: bool = True
    image_index: Path = Path("build/images.json")
    profile: ClusterProfile = DEFAULT
    layout: Layout = field(init=False)
    node: RealNode | None = field(init=False)

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir.resolve()
        self.layout = Layout(self.state_dir)
        recorded = load_real_node(self.layout)
        if recorded is not None:
            self.real_node = recorded
        self.node = (RealNode(self.layout, self.bin_dir, self.image_index.resolve(),
                              die_with_parent=self.die_with_parent, startup_timeout=self.startup_timeout)
                     if self.real_node else None)

    # ---- properties people and tests use -------------------------------------------------------------
    @property
    def ports(self) -> Ports:
        ports = load_ports(self.layout)
        if ports is None:
            raise ClusterError(f"no cluster has been created in {self.state_dir}: run `make cluster` first")
        return ports

    @property
    def api_host(self) -> str:
        """Where the API server listens: the real node's bridge address, or loopback without a real node."""
        return NODE_IP if self.real_node else LOOPBACK

    @property
    def server(self) -> str:
        return f"https://{self.api_host}:{self.ports.apiserver}"

    @property
    def kubeconfig(self) -> Path:
        return self.layout.admin_kubeconfig

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def up(self) -> float:
        """Start every component not already running and wait until the cluster is usable; return seconds."""
        from kubernetes import client

        started = time.monotonic()
        self._check_binaries()
        self.layout.create_dirs()
        ports = load_ports(self.layout)
        if ports is None:
            ports = pick_ports()
            save_ports(self.layout, ports, self.real_node)
        try:
            if self.node is not None:
                self.node.check_host()
                self.node.prepare_host()
            self._ensure_credentials(ports)
            for component in COMPONENTS:
                self._start(component, ports)
                self._wait_component(component, ports)
            self._create_fake_nodes()
            if self.node is not None:
                self._apply_node_rbac()
                self.node.start()
                with self.api_client() as api:
                    self.node.wait_ready(client.CoreV1Api(api))
                    self.node.uncordon(client.CoreV1Api(api))
                self.start_metrics_server()
        except (NodeError, NodeTaken) as exc:
            raise ClusterError(str(exc)) from exc
        self._wait_usable()
        return time.monotonic() - started

    def down(self) -> list[str]:
        """Stop the processes run beside the cluster (metrics-server, spawned ones), the real node (its pods
        first), then every component.

        Returns the names of those that were running. Leaves nothing behind on the machine: the node's
        processes, mounts, pod cgroups, iptables chains, bridge and sysctls are cleaned up or restored.
        """
        from kubernetes import client

        extras = sorted(p.stem for p in self.layout.pidfile("x").parent.glob("*.pid")
                        if p.stem not in COMPONENTS and p.stem not in NODE_PROCESSES)
        stopped = [name for name in extras if supervisor.stop_process(self.layout.pidfile(name))]
        if self.node is not None:
            if supervisor.running_pid(self.layout.pidfile("kube-apiserver")) is not None:
                with self.api_client() as api:
                    self.node.drain(client.CoreV1Api(api))
            stopped += self.node.stop_processes()
        stopped += [name for name in reversed(COMPONENTS) if supervisor.stop_process(self.layout.pidfile(name))]
        if self.node is not None:
            self.node.clean_machine()
        return stopped

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Run `argv` beside the cluster (e.g. the operator in the demo), stopped by `down()`; return its pid.

        Its log is logs/<name>.log. Raises ClusterError when `name` is a component or already runs.
        """
        if name in COMPONENTS or supervisor.running_pid(self.layout.pidfile(name)) is not None:
            raise ClusterError(f"{name} is a component or already running; stop it with `make cluster-down`")
        return supervisor.start_process(argv, self.layout.log(name), self.layout.pidfile(name),
                                        die_with_parent=self.die_with_parent, env=env)

    def reset(self) -> None:
        """Stop the cluster and delete its state (etcd data, certificates, kubeconfig, the kubelet's state) and
        the real node's containerd root (the next start imports the images again)."""
        self.down()
        if self.node is not None:
            try:
                self.node.forget_images()
            except NodeError as exc:
                raise ClusterError(str(exc)) from exc
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def status(self) -> dict[str, int | None]:
        """Component (or spawned process) name -> pid while running, None when stopped."""
        node = list(NODE_PROCESSES) if self.node is not None else []
        names = [*COMPONENTS, *node, *sorted(p.stem for p in self.layout.pidfile("x").parent.glob("*.pid")
                                             if p.stem not in COMPONENTS and p.stem not in node)]
        return {name: supervisor.running_pid(self.layout.pidfile(name)) for name in names}

    # ---- clients -------------------------------------------------------------------------------------------
    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, kubeconfig_path: Path | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the cluster's kubectl; raises ClusterError (with stderr) when `check` and it fails."""
        return run_kubectl(self.bin_dir, kubeconfig_path or self.kubeconfig, *args, check=check, input=input,
                           timeout=timeout)

    def api_client(self, kubeconfig_path: Path | None = None) -> Any:
        """A kubernetes.client.ApiClient for the admin (or for the user of `kubeconfig_path`)."""
        return new_api_client(kubeconfig_path or self.kubeconfig)

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig for `user` in `groups`, authenticated by a client certificate (no rights by default)."""
        ca = self._ca()
        pair = pki.issue_certificate(ca, user, organizations=tuple(groups), client=True)
        config = kubeconfig.build_kubeconfig(
            self.server, ca.cert_pem, user, cert_pem=pair.cert_pem, key_pem=pair.key_pem)
        return kubeconfig.write_kubeconfig(self.layout.kubeconfigs / f"user-{user}.yaml", config)

    def service_account_kubeconfig(self, namespace: str, name: str, expiration_seconds: int = 3600) -> Path:
        """A kubeconfig that authenticates as ServiceAccount `namespace/name` with a TokenRequest token."""
        from kubernetes import client

        with self.api_client() as api:
            request = client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds))
            token = client.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, request)
        config = kubeconfig.build_kubeconfig(
            self.server, self._ca().cert_pem, f"system:serviceaccount:{namespace}:{name}",
            token=token.status.token, namespace=namespace)
        return kubeconfig.write_kubeconfig(self.layout.kubeconfigs / f"sa-{namespace}-{name}.yaml", config)

    # ---- internals -------------------------------------------------------------------------------------
    def _check_binaries(self) -> None:
        missing = [b for b in REQUIRED_BINARIES if not (self.bin_dir / b).exists()]
        if missing:
            raise ClusterError(
                f"missing control-plane binaries in {self.bin_dir}: {', '.join(missing)}; "
                "build them with `make tools` (controlplane/build-tools.sh)")

    def _ca(self) -> pki.KeyPair:
        return pki.KeyPair(self.layout.pem("ca").read_bytes(), self.layout.pem("ca-key").read_bytes())

    def _ensure_credentials(self, ports: Ports) -> None:
        """Create the CA, serving certs, SA key and component kubeconfigs once; later starts reuse them."""
        if not self.layout.pem("ca").exists():
            pki.create_ca().write(self.layout.pem("ca"), self.layout.pem("ca-key"))
            serving = pki.issue_certificate(
                self._ca(), "kube-apiserver",
                dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                           "kubernetes.default.svc.cluster.local"),
                ip_addresses=(LOOPBACK, NODE_IP, KUBERNETES_SERVICE_IP), server=True)
            serving.write(self.layout.pem("apiserver"), self.layout.pem("apiserver-key"))
            private, public = pki.create_service_account_signing_key()
            self.layout.pem("sa-key").write_bytes(private)
            self.layout.pem("sa-key").chmod(0o600)
            self.layout.pem("sa-pub").write_bytes(public)
        if not self.layout.pem("front-proxy-ca").exists():  # also for state made before aggregation was enabled
            front_proxy = pki.create_ca("sextant-devcluster-front-proxy-ca")
            pki.issue_certificate(front_proxy, "front-proxy-client", client=True).write(
                self.layout.pem("front-proxy-client"), self.layout.pem("front-proxy-client-key"))
            front_proxy.write(self.layout.pem("front-proxy-ca"), self.layout.pem("front-proxy-ca-key"))
        for name, (user, groups) in _CLIENT_IDENTITIES.items():
            path = self.layout.admin_kubeconfig if name == "admin" else self.layout.kubeconfigs / f"{name}.yaml"
            if path.exists():
                continue
            pair = pki.issue_certificate(self._ca(), user, organizations=groups, client=True)
            if name == "admin":
                pair.write(self.layout.pem("admin"), self.layout.pem("admin-key"))
            config = kubeconfig.build_kubeconfig(
                f"https://{self.api_host}:{ports.apiserver}", self._ca().cert_pem, user,
                cert_pem=pair.cert_pem, key_pem=pair.key_pem)
            kubeconfig.write_kubeconfig(path, config)
        if self.node is not None:
            self.node.write_credentials(self._ca(), f"https://{self.api_host}:{ports.apiserver}")

    def _start(self, component: str, ports: Ports) -> None:
        if supervisor.running_pid(self.layout.pidfile(component)) is not None:
            return
        argv = component_command(component, self.bin_dir, self.layout, ports, self.real_node, self.profile)
        supervisor.start_process(
            argv, self.layout.log(component), self.layout.pidfile(component),
            die_with_parent=self.die_with_parent)

    def _ensure_alive(self, component: str) -> None:
        if supervisor.running_pid(self.layout.pidfile(component)) is None:
            raise ClusterError(
                f"{component} exited during start-up; the end of {self.layout.log(component)}:\n"
                f"{supervisor.log_tail(self.layout.log(component))}\n"
                "If a port is taken or the state is corrupt, `make cluster-reset` starts afresh.")

    def _wait_component(self, component: str, ports: Ports) -> None:
        admin_tls = client_tls_context(self.layout.pem("ca"), self.layout.pem("admin"), self.layout.pem("admin-key"))
        insecure = client_tls_context(None)
        probes = {
            "etcd": (f"http://{LOOPBACK}:{ports.etcd_client}/health", None),
            "kube-apiserver": (f"https://{self.api_host}:{ports.apiserver}/readyz", admin_tls),
            "kube-controller-manager": (f"https://{LOOPBACK}:{ports.controller_manager}/healthz", insecure),
            "kube-scheduler": (f"https://{LOOPBACK}:{ports.scheduler}/healthz", insecure),
            "kwok": (f"http://{LOOPBACK}:{ports.kwok}/healthz", None),
        }
        url, context = probes[component]
        self._wait(lambda: http_ok(url, context), f"{component} to answer {url}", component)

    def _wait(self, condition: Any, what: str, component: str | None = None) -> None:
        components = [component] if component else list(COMPONENTS)

        def all_alive() -> None:
            for name in components:
                self._ensure_alive(name)

        try:
            wait_for(condition, timeout=self.startup_timeout, what=what, on_poll=all_alive)
        except WaitTimeout as exc:
            logs = ", ".join(str(self.layout.log(c)) for c in components)
            raise ClusterError(f"{exc}; see {logs}") from exc

    def _create_fake_nodes(self) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self.api_client() as api:
            core = client.CoreV1Api(api)
            for node in self._fake_nodes(tainted=self.real_node):
                try:
                    core.create_node(node)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                # Status is a subresource: capacity (and the GPU) must be written through it.
                core.patch_node_status(node["metadata"]["name"], {"status": node["status"]})
        extra_range = service_cidr(self.profile)
        if extra_range is not None:
            self.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(extra_range))

    def _fake_nodes(self, tainted: bool = True) -> list[dict[str, Any]]:
        return default_fake_nodes(tainted=tainted) + large_fake_nodes(self.profile, tainted=tainted)

    def _apply_node_rbac(self) -> None:
        """Bindings the node's parts need: the API server's kubelet client, CoreDNS's reads."""
        self.kubectl("apply", "--server-side", "-f", "-", input="\n---\n".join(json.dumps(d) for d in node_rbac()))

    def start_metrics_server(self) -> None:
        """Run metrics-server on the node's address (once) and register it as the metrics.k8s.io APIService;
        return when the API server reports the metrics API available and it answers.

        Its first node figures follow one scrape interval later (metrics_server.METRIC_RESOLUTION): a CPU rate
        needs two samples. Raises ClusterError when it exits or does not answer within the start-up timeout.
        """
        name = metrics_server.NAME
        metrics_server.write_credentials(self.layout, self._ca(), self.server)
        # Its permissions first: at start it reads the front-proxy CA from kube-system's
        # extension-apiserver-authentication ConfigMap and exits when it may not (a fresh cluster).
        self._apply_metrics_server_objects(metrics_server.rbac_objects())
        pid = supervisor.running_pid(self.layout.pidfile(name))
        if pid is None:
            pid = supervisor.start_process(metrics_server.metrics_server_command(self.bin_dir, self.layout),
                                           self.layout.log(name), self.layout.pidfile(name),
                                           die_with_parent=self.die_with_parent)
        # Registered once it serves: the API server's first check of the APIService then succeeds.
        context = client_tls_context(self.layout.pem("ca"))
        self._wait_metrics_server(pid, lambda: http_ok(metrics_server.liveness_url(), context), f"{name} to serve")
        self._apply_metrics_server_objects(metrics_server.serving_objects(self._ca().cert_pem, pid))
        self._wait_metrics_server(pid, self._metrics_api_answers,
                                  f"the metrics API ({metrics_server.API_SERVICE}) to answer")

    def _apply_metrics_server_objects(self, objects: list[dict[str, Any]]) -> None:
        self.kubectl("apply", "--server-side", f"--field-manager={metrics_server.FIELD_MANAGER}", "-f", "-",
                     input="\n---\n".join(json.dumps(d) for d in objects))

    def _wait_metrics_server(self, pid: int, condition: Any, what: str) -> None:
        log = self.layout.log(metrics_server.NAME)

        def alive() -> None:
            # By pid: right after the fork its command line is still Python's, not metrics-server's.
            if not pid_alive(pid):
                raise ClusterError(f"metrics-server exited during start-up; the end of {log}:\n"
                                   f"{supervisor.log_tail(log)}")

        try:
            wait_for(condition, timeout=self.startup_timeout, what=what, on_poll=alive)
        except WaitTimeout as exc:
            raise ClusterError(f"{exc}; see {log}") from exc

    def _metrics_api_answers(self) -> bool:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self.api_client() as api:
            try:
                service = client.ApiregistrationV1Api(api).read_api_service(metrics_server.API_SERVICE)
                return (metrics_server.api_service_available(api.sanitize_for_serialization(service))
                        and client.CustomObjectsApi(api).list_cluster_custom_object(
                            "metrics.k8s.io", "v1beta1", "nodes") is not None)
            except ApiException:
                return False

    def _wait_usable(self) -> None:
        """Usable = every fake node Ready with its capacity, and the default ServiceAccount created."""
        from kubernetes import client

        expected = {n["metadata"]["name"]: n["status"]["allocatable"] for n in self._fake_nodes()}
        real = {REAL_NODE_NAME} if self.node is not None else set()
        with self.api_client() as api:
            core = client.CoreV1Api(api)

            def nodes_ready() -> bool:
                ready = {
                    n.metadata.name for n in core.list_node().items
                    if (n.metadata.name in expected or n.metadata.name in real)
                    and any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
                    and all((n.status.allocatable or {}).get(k) == v
                            for k, v in expected.get(n.metadata.name, {}).items())
                }
                return ready == set(expected) | real

            def default_service_account() -> bool:
                return any(sa.metadata.name == "default"
                           for sa in core.list_namespaced_service_account("default").items)

            self._wait(nodes_ready, f"nodes {sorted(set(expected) | real)} to be Ready")
            self._wait(default_service_account, "the controller-manager to create the default ServiceAccount")
