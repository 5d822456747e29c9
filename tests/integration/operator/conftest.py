"""Fixtures of the operator tests (status, events, restarts, RBAC)."""

from tests.support.sextant_fixtures import crds, sextant  # noqa: F401
