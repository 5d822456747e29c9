"""A real S3-compatible server (moto's) on 127.0.0.1 for tests, with signature checking switched on.

The server runs as a separate process; the first few requests (creating an IAM user, its key and policy)
are unauthenticated, every later request must be signed with that user's key, so wrong credentials fail
the way they would against AWS or MinIO.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import free_port

SETUP_REQUESTS = 3
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        """Environment variables as a credentials Secret mounted with envFrom would set them."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region}

    def client(self, **overrides: Any) -> Any:
        import boto3

        kwargs = {"endpoint_url": self.endpoint, "region_name": self.region, "aws_access_key_id": self.access_key,
                  "aws_secret_access_key": self.secret_key, **overrides}
        return boto3.client("s3", **kwargs)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with code {process.returncode} before it was ready")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()  # noqa: S310 - our own http URL
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"moto_server at {url} was not ready within {READY_TIMEOUT_S} s")


def _create_user(endpoint: str) -> tuple[str, str]:
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
                       aws_secret_access_key="setup")
    iam.create_user(UserName="sextant")
    key = iam.create_access_key(UserName="sextant")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="sextant", PolicyName="s3", PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]


@contextmanager
def running_s3_server(log_dir: Path) -> Iterator[S3Server]:
    """Start moto_server on a free loopback port, yield its endpoint and a valid key, stop it afterwards."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_REQUESTS)}
    log = (log_dir / "moto-server.log").open("wb")
    process = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(endpoint, process)
        access_key, secret_key = _create_user(endpoint)
        yield S3Server(endpoint, access_key, secret_key)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# pytest fixtures: import them into an area's conftest.py (`from tests.support.s3server import s3_env, s3_server`)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3 server per test session."""
    with running_s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Credentials and endpoint in the environment, as a job's credentials Secret would provide them."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server
