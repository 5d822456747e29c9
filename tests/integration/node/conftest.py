"""Fixtures of the real-node tests (the operator installed by its chart needs the CRDs; HPAs need the metrics API)."""

from tests.support.autoscaling import metrics_api  # noqa: F401
from tests.support.sextant_fixtures import crds  # noqa: F401
