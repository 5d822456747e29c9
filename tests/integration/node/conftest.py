"""Fixtures of the real-node tests (the operator installed by its chart needs the CRDs)."""

from tests.support.sextant_fixtures import crds  # noqa: F401
