"""Fixtures for the training-pipeline tests: a real S3 server on loopback, a store directory, quiet logging."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.s3server import s3_env, s3_server

__all__ = ["s3_env", "s3_server"]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _quiet_matplotlib() -> None:
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
