"""Operator benchmarks (run by `make bench`, never by `make test`): the integration session's cluster fixtures.

SEXTANT_REAL_NODE=0 starts a cluster without the real node (enough for everything but the overhead benchmark);
SEXTANT_TEST_CLUSTER_DIR=.cluster reuses a running `make cluster` (tests/integration/conftest.py).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sextant_devcluster import LocalCluster
from sextant_devcluster.cli import DEFAULT_BIN_DIR
from sextant_devcluster.profiles import SCALE
from tests.integration.conftest import cluster, namespace  # noqa: F401
from tests.support.sextant_fixtures import crds  # noqa: F401


@pytest.fixture()
def scale_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A fresh kwok-only cluster with the scale profile, for one run; stopped afterwards."""
    own = LocalCluster(state_dir=tmp_path / "cluster", bin_dir=Path(os.environ.get("SEXTANT_BIN_DIR", DEFAULT_BIN_DIR)),
                       die_with_parent=True, real_node=False, profile=SCALE)
    own.up()
    try:
        yield own
    finally:
        own.down()
