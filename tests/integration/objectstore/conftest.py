"""The embedded artifact store's server on loopback, standing in for moto wherever a test asks for `s3_server`."""

from __future__ import annotations

import pytest

from tests.support.s3server import S3Server, s3_env
from tests.support.versitygw import RunningStore, versitygw

__all__ = ["s3_env", "s3_server", "versitygw"]


@pytest.fixture(scope="session")
def s3_server(versitygw: RunningStore) -> S3Server:
    """The project's S3 tests, re-run here, reach versitygw instead of moto through this one override."""
    return versitygw.s3
