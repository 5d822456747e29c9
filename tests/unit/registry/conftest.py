"""Fixtures for the registry contract tests: a real S3 server on loopback."""

from tests.support.s3server import s3_env, s3_server

__all__ = ["s3_env", "s3_server"]
