"""Run on Dask workers by `Client.run`: importable by the worker processes (a test module is not)."""

from __future__ import annotations

import os

from sextant_pipelines.dask_flow import peak_resident_bytes


def worker_memory() -> dict[str, int]:
    """This process's pid and peak resident set size in bytes (the figure a Dask run reports per worker)."""
    return {"pid": os.getpid(), "peak_rss": peak_resident_bytes()}
