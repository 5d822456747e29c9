"""Benchmarks on the real node (run by hand or `make bench`, never by `make test`): the integration session's
cluster fixtures. SEXTANT_TEST_CLUSTER_DIR=.cluster reuses a running `make cluster` (tests/integration/conftest.py).
"""

from tests.integration.conftest import cluster  # noqa: F401
from tests.support.sextant_fixtures import crds  # noqa: F401
