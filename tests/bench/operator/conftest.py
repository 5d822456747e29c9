"""Operator benchmarks (run by `make bench`, never by `make test`): the integration session's cluster fixtures.

SEXTANT_REAL_NODE=0 starts a cluster without the real node (enough for everything but the overhead benchmark);
SEXTANT_TEST_CLUSTER_DIR=.cluster reuses a running `make cluster` (tests/integration/conftest.py).
"""

from tests.integration.conftest import cluster, namespace  # noqa: F401
from tests.support.sextant_fixtures import crds  # noqa: F401
