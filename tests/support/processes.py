"""Start real server processes on loopback for tests and benchmarks, and poll them until they answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENTOML = str(Path(sys.executable).with_name("bentoml"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
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
    return [BENTOML, "serve", "sextant_services.server:Sextant", "--host", "127.0.0.1", "--port", str(port)]


def serving_env(store_uri: str, name: str, version: int | None = None, alias: str | None = None,
                **extra: str) -> dict[str, str]:
    env = {"SEXTANT_STORE_URI": store_uri, "SEXTANT_MODEL_NAME": name, "BENTOML_DO_NOT_TRACK": "true"}
    if version is not None:
        env["SEXTANT_MODEL_VERSION"] = str(version)
    if alias is not None:
        env["SEXTANT_MODEL_ALIAS"] = alias
    env.update(extra)
    return env
