"""Fixtures for serving tests: a registry with real models, and real `bentoml serve` processes shared per session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import serving_models
from tests.support.processes import Launch, Server, free_port, running, running_many, serve_command, serving_env
from tests.support.s3server import s3_env, s3_server

__all__ = ["s3_env", "s3_server"]


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    serving_models.register_iris(root, aliases=("production",))
    serving_models.register_diabetes(root)
    serving_models.register_categorical(root)
    return root


@pytest.fixture(scope="session")
def store_uri(store: Path) -> str:
    return store.as_uri()


@pytest.fixture(scope="session")
def iris_server(store_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The iris classifier by alias, two workers, a 64 KiB body limit, started with the launcher."""
    port = free_port()
    home = tmp_path_factory.mktemp("iris")
    cmd = [sys.executable, "-m", "sextant_services", "serve", "--store", store_uri, "--model", "iris",
           "--alias", "production", "--variant", "blue", "--workers", "2", "--host", "127.0.0.1",
           "--port", str(port), "--bentoml-home", str(home / "bentoml")]
    env = {"SEXTANT_MAX_BODY_BYTES": str(64 * 1024), "BENTOML_DO_NOT_TRACK": "true"}
    with running(cmd, port, home / "server.log", env=env) as server:  # the launcher execs `bentoml serve`
        yield server


@pytest.fixture(scope="session")
def variant_servers(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Iris variants stable, canary and shadow, plus `broken` (its artifact fails the digest check, so it is
    live but never ready), all started together for the routing tests."""
    logs = tmp_path_factory.mktemp("variants")
    broken_store = logs / "broken-store"
    serving_models.register_iris(broken_store)
    (broken_store / "models/iris/1/model/model.yaml").write_text("tampered: true\n")
    launches = []
    for name in ("stable", "canary", "shadow", "broken"):
        port = free_port()
        root = broken_store if name == "broken" else store
        env = serving_env(root.as_uri(), "iris", version=1, SEXTANT_VARIANT=name)
        launches.append(Launch(serve_command(port), port, logs / f"{name}.log", env,
                               ready_path=None if name == "broken" else "/readyz"))
    with running_many(launches) as servers:
        yield dict(zip(("stable", "canary", "shadow", "broken"), servers, strict=True))
