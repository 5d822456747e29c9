"""Integration fixtures: one real local control plane per test session and a fresh namespace per test."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from sextant_devcluster import LocalCluster
from sextant_devcluster.cli import DEFAULT_BIN_DIR, real_node_wanted
from tests.support.external_cluster import ExternalCluster

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_INDEX = REPO_ROOT / "build" / "images.json"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    # Tests that start and stop the machine's one real node themselves run before the session's cluster.
    items.sort(key=lambda item: 0 if item.get_closest_marker("owns_machine") else 1)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster | ExternalCluster]:
    """The session's cluster, with the real node unless SEXTANT_REAL_NODE=0.

    SEXTANT_TEST_CLUSTER_DIR=.cluster reuses a running `make cluster` (and its real node);
    SEXTANT_TEST_KUBECONFIG=<kubeconfig> runs the real-pod tests on another cluster (docs/development.md).
    """
    bin_dir = Path(os.environ.get("SEXTANT_BIN_DIR", DEFAULT_BIN_DIR))
    external = os.environ.get("SEXTANT_TEST_KUBECONFIG")
    if external:  # kind, k3d or a real cluster with the images loaded: run tests/integration/node there
        yield ExternalCluster(kubeconfig=Path(external), bin_dir=bin_dir, image_index=IMAGE_INDEX)
        return
    reuse = os.environ.get("SEXTANT_TEST_CLUSTER_DIR")
    if reuse:
        shared = LocalCluster(state_dir=Path(reuse), bin_dir=bin_dir, image_index=IMAGE_INDEX)
        shared.up()
        yield shared
        return
    own = LocalCluster(state_dir=tmp_path_factory.mktemp("cluster"), bin_dir=bin_dir, die_with_parent=True,
                       real_node=real_node_wanted(os.environ), image_index=IMAGE_INDEX)
    own.up()
    try:
        yield own
    finally:
        own.down()


@pytest.fixture()
def core(cluster: LocalCluster) -> Iterator[client.CoreV1Api]:
    with cluster.api_client() as api:
        yield client.CoreV1Api(api)


@pytest.fixture()
def namespace(cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (its objects go with it)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{slug}-{uuid.uuid4().hex[:6]}"
    with cluster.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
            name=name, labels={"sextant.io/test": "true"})))
        try:
            yield name
        finally:
            core.delete_namespace(name)
