"""The embedded artifact store's server (versitygw) as a loopback process, started the way the chart starts it.

The chart's Deployment (charts/sextant/templates/objectstore.yaml) runs the same binary with the same layout:
buckets, sidecar metadata and IAM state under one data directory, the bucket made as a directory before the
server starts, and the root key pair passed as environment variables (never on the command line).
`controlplane/build-tools.sh versitygw` builds the binary; `make tools` does too.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import Server, free_port, running
from tests.support.s3server import S3Server

BUCKET = "sextant"
HEALTH_PATH = "/healthz"
READY_TIMEOUT_S = 30.0


def versitygw_binary() -> Path:
    """The binary build-tools.sh made; raises FileNotFoundError saying how to build it."""
    cache = Path(os.environ.get("SEXTANT_CACHE", Path.home() / ".cache" / "sextant"))
    binary = Path(os.environ.get("SEXTANT_BIN_DIR", cache / "bin")) / "versitygw"
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: build it with `controlplane/build-tools.sh versitygw`")
    return binary


@dataclass(frozen=True)
class DataLayout:
    """Where the gateway keeps things under its one data directory (an emptyDir in the cluster)."""

    root: Path

    @property
    def buckets(self) -> Path:
        return self.root / "buckets"

    @property
    def meta(self) -> Path:
        return self.root / "meta"

    @property
    def iam(self) -> Path:
        return self.root / "iam"

    def prepare(self, bucket: str) -> None:
        """What the chart's init container does: the directories, and the bucket as a directory."""
        for path in (self.buckets / bucket, self.meta, self.iam):
            path.mkdir(parents=True, exist_ok=True)


def versitygw_command(binary: Path, port: int, layout: DataLayout) -> list[str]:
    """The gateway's argv: internal IAM (unknown keys get 403 InvalidAccessKeyId), sidecar metadata (no xattrs)."""
    return [str(binary), "--port", f"127.0.0.1:{port}", "--health", HEALTH_PATH, "--quiet",
            "--iam-dir", str(layout.iam), "posix", "--sidecar", str(layout.meta), str(layout.buckets)]


@dataclass(frozen=True)
class RunningStore:
    """A started gateway: how to reach it (S3Server), its bucket, its data directory and its process."""

    s3: S3Server
    bucket: str
    layout: DataLayout
    server: Server


@contextmanager
def running_versitygw(data_dir: Path, bucket: str = BUCKET) -> Iterator[RunningStore]:
    """Start versitygw on a free loopback port with fresh keys; yield it once /healthz answers; stop it after."""
    layout = DataLayout(data_dir)
    layout.prepare(bucket)
    access_key, secret_key = secrets.token_hex(10).upper(), secrets.token_urlsafe(30)
    port = free_port()
    env = {"ROOT_ACCESS_KEY_ID": access_key, "ROOT_SECRET_ACCESS_KEY": secret_key}
    with running(versitygw_command(versitygw_binary(), port, layout), port, data_dir / "versitygw.log", env=env,
                 ready_path=HEALTH_PATH, timeout=READY_TIMEOUT_S) as server:
        yield RunningStore(S3Server(server.url, access_key, secret_key), bucket, layout, server)


# pytest fixtures: import them into an area's conftest.py (`from tests.support.versitygw import versitygw`)


@pytest.fixture(scope="session")
def versitygw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStore]:
    """One gateway per test session, its bucket made at start as in the cluster."""
    with running_versitygw(tmp_path_factory.mktemp("versitygw")) as store:
        yield store
