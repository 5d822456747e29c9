"""Kubeflow Pipelines' real API server and persistence agent on loopback, for the kubeflow backend's tests.

Built by `make kfp-tools` (controlplane/build-tools.sh kfp: KFP 2.14.3 from the Go module proxy). Around them:
MariaDB from Debian in a temporary directory (loopback port, no grant tables: nothing else can reach it), the
S3-compatible versitygw as KFP's object store, and Argo's Workflow CRD (with KFP's ScheduledWorkflow CRD) in the
test cluster, where the API server creates one Workflow per run in its namespace. Nothing executes those
Workflows here (no Argo controller): a test drives a Workflow's `status.phase` through the real Kubernetes API as
the stand-in for Argo's controller, and the real persistence agent carries it into the run's state, as it would
in a Kubeflow installation.

Two quirks of that release (../shared/notes/kubeflow.md): its gRPC port is given as `:PORT` (its HTTP gateway
dials "localhost"+flag), so gRPC listens on every interface; and the persistence agent reads a token from a
fixed path, /var/run/secrets/kubeflow/tokens/persistenceagent-sa-token (unchecked in single-user mode).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sextant_devcluster.cli import DEFAULT_BIN_DIR
from tests.support.processes import free_port, http_status, wait_until
from tests.support.s3server import S3Server

BIN_DIR = Path(os.environ.get("SEXTANT_BIN_DIR", DEFAULT_BIN_DIR))
AGENT_TOKEN = Path("/var/run/secrets/kubeflow/tokens/persistenceagent-sa-token")
HEALTH_PATH = "/apis/v2beta1/healthz"
KFP_CRDS = "kfp-crds.yaml"
START_TIMEOUT_S = 120.0


def kfp_binaries() -> tuple[Path, Path]:
    """The API server and persistence agent; skips the test with the fix when they are not built."""
    server, agent = BIN_DIR / "kfp-apiserver", BIN_DIR / "kfp-persistence-agent"
    if not (server.exists() and agent.exists() and (BIN_DIR / KFP_CRDS).exists()):
        pytest.skip(f"the KFP API server is not built in {BIN_DIR}: run `make kfp-tools` (5-10 minutes once)")
    if not shutil.which("mariadbd") and not Path("/usr/sbin/mariadbd").exists():
        pytest.skip("MariaDB is not installed: run `make deps` (Debian package mariadb-server-core)")
    return server, agent


def _start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM twice (the API server ignores the first), SIGKILL when that does not end it."""
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            continue


def _alive(proc: subprocess.Popen[bytes], log: Path) -> bool:
    """True while the process runs; raises with its log's tail when it exited."""
    if proc.poll() is not None:
        raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}")
    return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_mariadb(workdir: Path) -> Iterator[int]:
    """MariaDB with a fresh data directory on a loopback port; yields the port."""
    data, port = workdir / "mariadb", free_port()
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True)
    log = workdir / "mariadb.log"
    proc = _start(["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
                   f"--socket={workdir / 'mariadb.sock'}", f"--pid-file={workdir / 'mariadb.pid'}",
                   f"--port={port}", "--bind-address=127.0.0.1", "--skip-grant-tables", "--skip-name-resolve",
                   "--innodb-buffer-pool-size=64M", "--max-connections=200"], log)
    try:
        wait_until(lambda: _alive(proc, log) and _listening(port), 60, "MariaDB listening")
        yield port
    finally:
        _stop(proc)


@dataclass(frozen=True)
class KfpBackend:
    """A running KFP API server (and persistence agent) whose Workflows go to `namespace`."""

    endpoint: str
    namespace: str
    workdir: Path

    def client(self) -> Any:
        import kfp

        return kfp.Client(host=self.endpoint, namespace=self.namespace)

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.workdir.glob("*.log")))


def install_kfp_crds(cluster: Any) -> None:
    """Argo's Workflow and KFP's ScheduledWorkflow CRDs (build-tools.sh kfp), applied; waits until served."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(BIN_DIR / KFP_CRDS))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/workflows.argoproj.io",
                    "crd/scheduledworkflows.kubeflow.org")


def _write_agent_token() -> None:
    if not AGENT_TOKEN.exists():
        AGENT_TOKEN.parent.mkdir(parents=True, exist_ok=True)
        AGENT_TOKEN.write_text("single-user")  # no trailing newline: it goes into an HTTP header


def _config(mysql_port: int, store: S3Server) -> dict[str, Any]:
    host, _, port = store.endpoint.removeprefix("http://").partition(":")
    return {
        "DBDriverName": "mysql",
        "DBConfig": {"MySQLConfig": {"Host": "127.0.0.1", "Port": str(mysql_port), "User": "root", "Password": "",
                                     "DBName": "mlpipeline", "GroupConcatMaxLen": "4194304"},
                     "ConMaxLifeTime": "120s"},
        "ObjectStoreConfig": {"Host": host, "Port": port, "Secure": False, "Region": store.region,
                              "AccessKey": store.access_key, "SecretAccessKey": store.secret_key,
                              "BucketName": "mlpipeline", "PipelinePath": "pipelines"},
        "InitConnectionTimeout": "60s", "DEFAULTPIPELINERUNNERSERVICEACCOUNT": "default", "CacheEnabled": "false",
        "CRON_SCHEDULE_TIMEZONE": "UTC", "ARCHIVE_CONFIG_LOG_FILE_NAME": "main.log",
        "ARCHIVE_CONFIG_LOG_PATH_PREFIX": "/artifacts",
    }


@contextmanager
def running_kfp(cluster: Any, store: S3Server, namespace: str, workdir: Path,
                server_env: dict[str, str] | None = None, http_host: str = "127.0.0.1") -> Iterator[KfpBackend]:
    """MariaDB, the API server (Workflows in `namespace`) and the persistence agent; stopped on exit.

    `server_env` adds to the API server's environment (V2_DRIVER_IMAGE and V2_LAUNCHER_IMAGE, which its Workflow
    compiler puts into the Workflows). `http_host` is the address its HTTP API listens on: the real node's address
    lets pods (the operator installed by its chart) reach it."""
    server_bin, agent_bin = kfp_binaries()
    install_kfp_crds(cluster)
    _write_agent_token()
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig = str(cluster.kubeconfig)
    with ExitStack() as stack:
        mysql_port = stack.enter_context(running_mariadb(workdir))
        config_dir = workdir / "config"
        config_dir.mkdir(exist_ok=True)
        (config_dir / "config.json").write_text(json.dumps(_config(mysql_port, store), indent=2))
        http_port, grpc_port = free_port(), free_port()
        env = {"KUBECONFIG": kubeconfig, "POD_NAMESPACE": namespace,
               "ML_PIPELINE_VISUALIZATIONSERVER_SERVICE_HOST": "127.0.0.1",
               "ML_PIPELINE_VISUALIZATIONSERVER_SERVICE_PORT": "1"}
        server_log = workdir / "apiserver.log"
        server = _start([str(server_bin), f"--config={config_dir}", f"--httpPortFlag={http_host}:{http_port}",
                         f"--rpcPortFlag=:{grpc_port}", "--logtostderr", "--collectMetricsFlag=false"],
                        server_log, {**env, **(server_env or {})})
        stack.callback(_stop, server)
        endpoint = f"http://{http_host}:{http_port}"
        wait_until(lambda: _alive(server, server_log) and http_status(endpoint + HEALTH_PATH) == 200,
                   START_TIMEOUT_S, "the KFP API server answering its health check")
        agent = _start([str(agent_bin), f"--kubeconfig={kubeconfig}", f"--namespace={namespace}",
                        f"--mlPipelineAPIServerName={http_host}", f"--mlPipelineServiceHttpPort={http_port}",
                        f"--mlPipelineServiceGRPCPort={grpc_port}", "--logtostderr", "--numWorker=2",
                        "--ttlSecondsAfterWorkflowFinish=86400"], workdir / "persistence-agent.log", env)
        stack.callback(_stop, agent)
        yield KfpBackend(endpoint, namespace, workdir)


class SwitchableProxy:
    """A loopback TCP forwarder to the KFP API that a test switches off (connections refused) and on again."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self) -> None:
        """Accept connections (again); nothing changes when it already does."""
        import threading

        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def off(self) -> None:
        """Refuse new connections and cut the open ones (a client's kept-alive connection must fail too)."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        for conn in self._open:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return  # switched off
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
