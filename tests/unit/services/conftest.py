"""Fixtures for serving tests: a registry with real models, and real `bentoml serve` processes shared per session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support import serving_models
from tests.support.processes import Server, free_port, running, serve_command, serving_env


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    serving_models.register_iris(root, version=1, aliases=("production",))
    serving_models.register_diabetes(root)
    serving_models.register_categorical(root)
    return root


@pytest.fixture(scope="session")
def store_uri(store: Path) -> str:
    return store.as_uri()


@pytest.fixture(scope="session")
def iris_server(store_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The iris classifier by alias, two workers, a 64 KiB body limit."""
    port = free_port()
    env = serving_env(store_uri, "iris", alias="production", SEXTANT_WORKERS="2",
                      SEXTANT_MAX_BODY_BYTES=str(64 * 1024), SEXTANT_VARIANT="blue")
    log = tmp_path_factory.mktemp("iris") / "server.log"
    with running(serve_command(port), port, log, env=env) as server:
        yield server


@pytest.fixture(scope="session")
def variant_servers(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Three iris variants (stable, canary, shadow) started together, for routing tests."""
    logs = tmp_path_factory.mktemp("variants")
    with ExitStack() as stack:
        servers = {}
        for name in ("stable", "canary", "shadow"):
            port = free_port()
            env = serving_env(store.as_uri(), "iris", version=1, SEXTANT_VARIANT=name)
            servers[name] = stack.enter_context(running(serve_command(port), port, logs / f"{name}.log", env=env))
        yield servers
