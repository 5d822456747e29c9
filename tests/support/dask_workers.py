"""Run on Dask workers by `Client.run`: importable by the worker processes (a test module is not)."""

from __future__ import annotations

import os
import resource


def worker_memory() -> dict[str, int]:
    """This process's pid and peak resident set size in bytes (Linux reports ru_maxrss in KiB)."""
    return {"pid": os.getpid(), "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
