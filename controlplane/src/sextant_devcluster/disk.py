"""Free disk space, as `df` reports it to this user: what the real node and the image builds check first."""

from __future__ import annotations

import shutil
from pathlib import Path

GIB = 1024**3


def free_bytes(path: Path) -> int:
    """Bytes available at `path` (its nearest existing parent). On a disk with blocks reserved for others this is
    far less than size minus used, and it is what the kubelet's eviction thresholds compare against."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free
