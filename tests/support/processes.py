"""Start real server processes on loopback for tests and benchmarks, and poll them until they answer."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENTOML = str(Path(sys.executable).with_name("bentoml"))


#: Ports this process has handed out: the kernel's own choice (bind to port 0) can give the same port twice in a row
#: once the probe socket is closed, and two servers of one test then collide (CI failed so on 2026-12-06).
_HANDED_OUT: set[int] = set()
#: Loopback ports handed out lie in [20000, 30000): below Kubernetes' NodePort range (30000-32767) and the kernel's
#: ephemeral range (from 32768 by default), so neither a Service nor an outgoing connection takes one meanwhile.
_PORTS = range(20000, 30000)


def free_port() -> int:
    """A loopback port nothing listens on and not handed out before by this process (see _PORTS for the range)."""
    candidates = [port for port in _PORTS if port not in _HANDED_OUT]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port left in {_PORTS}")


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - http:// URLs built by tests
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (OSError, urllib.error.URLError):
        return None


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `predicate` until it holds; raise TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass(frozen=True)
class Launch:
    """One process to start: command, the port it listens on, its log, env and the path that says ready."""

    cmd: Sequence[str]
    port: int
    log_path: Path
    env: Mapping[str, str] | None = None
    ready_path: str | None = "/readyz"


@contextmanager
def running_many(launches: Sequence[Launch], timeout: float = 120.0) -> Iterator[list[Server]]:
    """Start all processes at once (start-ups overlap), then wait for each; stop them all on exit."""
    started: list[Server] = []
    try:
        for launch in launches:
            with open(launch.log_path, "wb") as log:
                proc = subprocess.Popen(list(launch.cmd), stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(launch.env or {})}, start_new_session=True)
            started.append(Server(f"http://127.0.0.1:{launch.port}", launch.port, proc, launch.log_path))
        for launch, server in zip(launches, started, strict=True):
            path = launch.ready_path or "/livez"
            wait_until(lambda s=server, p=path: _answers(s, p), timeout,  # type: ignore[misc]
                       f"{launch.cmd[0]} answering 200 on {path}")
        yield started
    finally:
        for server in started:
            stop(server.process)


def _answers(server: Server, path: str) -> bool:
    if server.process.poll() is not None:
        raise RuntimeError(f"process exited with {server.process.returncode}; log:\n{server.log()[-3000:]}")
    return http_status(server.url + path) == 200


@contextmanager
def running(cmd: Sequence[str], port: int, log_path: Path, env: Mapping[str, str] | None = None,
            ready_path: str | None = "/readyz", live_path: str = "/livez", timeout: float = 90.0,
            cwd: str | None = None) -> Iterator[Server]:
    """Run `cmd` (which must listen on 127.0.0.1:`port`), wait until `ready_path` (or `live_path`) is 200."""
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        path = ready_path or live_path

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}; log:\n{server.log()[-3000:]}")
            return http_status(server.url + path) == 200

        wait_until(up, timeout, f"{' '.join(cmd[:3])} answering 200 on {path}")
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop the process group we started: SIGTERM, then SIGKILL after `timeout`."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def serve_command(port: int) -> list[str]:
    """`bentoml serve` of the Sextant service (serving_env gives it its own BENTOML_HOME)."""
    return [BENTOML, "serve", "sextant_services.server:Sextant", "--host", "127.0.0.1", "--port", str(port)]


def _private_home() -> str:
    home = tempfile.mkdtemp(prefix="sextant-test-bentoml-")
    atexit.register(shutil.rmtree, home, True)
    return home


def serving_env(store_uri: str, name: str, version: int | None = None, alias: str | None = None,
                **extra: str) -> dict[str, str]:
    """SEXTANT_* settings plus a private BENTOML_HOME: BentoML wipes $BENTOML_HOME/prometheus_multiproc_dir
    at start-up, so servers sharing one would erase and mix each other's metrics."""
    env = {"SEXTANT_STORE_URI": store_uri, "SEXTANT_MODEL_NAME": name, "BENTOML_DO_NOT_TRACK": "true",
           "BENTOML_HOME": _private_home()}
    if version is not None:
        env["SEXTANT_MODEL_VERSION"] = str(version)
    if alias is not None:
        env["SEXTANT_MODEL_ALIAS"] = alias
    env.update(extra)
    return env


def process_figures(pid: int) -> dict[str, float]:
    """Resident and peak memory (MiB) and CPU seconds of a live process, from /proc."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"rss_mib": int(status["VmRSS"].split()[0]) / 1024, "peak_rss_mib": int(status["VmHWM"].split()[0]) / 1024,
            "cpu_seconds": (int(fields[11]) + int(fields[12])) / ticks}
