"""Fixtures of the API tests (CRDs, admission, chart, manifests)."""

from tests.support.sextant_fixtures import crds, sextant  # noqa: F401
