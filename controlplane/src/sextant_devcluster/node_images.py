"""What the real node's containerd holds: this checkout's images, pinned, nothing older, and room to run pods.

Pure decisions over `ctr images ls` output and sizes; realnode.py runs the `ctr` commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from sextant_devcluster.disk import GIB

#: Every image `make images` builds is named under this registry (and none other is).
PROJECT_REGISTRY = "sextant.local/"
#: The CRI plugin reports an image carrying this label as pinned, and the kubelet never garbage-collects a pinned
#: image. Ours are imported, never pulled: one collected under disk pressure stays gone until the node restarts,
#: and every pod that needs it fails with ErrImageNeverPull.
PINNED_LABEL = "io.cri-containerd.pinned=pinned"

#: containerd keeps an imported archive's layers (content) and unpacks them (snapshots): about twice the archive.
UNPACK_FACTOR = 2
#: Room beyond the images for a test session's pods: their logs and emptyDirs, the object store, etcd.
WORKING_SPACE = 4 * GIB


def parse_listing(text: str) -> list[tuple[str, str]]:
    """`ctr images ls` output (REF TYPE DIGEST SIZE PLATFORMS LABELS) -> (ref, manifest digest) pairs."""
    pairs = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3:
            pairs.append((fields[0], fields[2]))
    return pairs


def stale_refs(listing: Sequence[tuple[str, str]], wanted: Iterable[str]) -> list[str]:
    """The refs to delete: the project's images the index no longer names (earlier builds), with the image-ID
    refs (`sha256:...`) the CRI plugin added for them. An image also named by a wanted ref is kept."""
    wanted = set(wanted)
    kept = {digest for ref, digest in listing if ref in wanted}
    stale = {digest for ref, digest in listing if ref.startswith(PROJECT_REGISTRY) and ref not in wanted} - kept
    return sorted(ref for ref, digest in listing if digest in stale)


def space_needed(archive_sizes: Iterable[int]) -> int:
    """Bytes the node needs free before importing archives of these sizes and running a session's pods."""
    return UNPACK_FACTOR * sum(archive_sizes) + WORKING_SPACE


def space_shortfall(free: int, archive_sizes: Sequence[int], root: Path) -> str | None:
    """None when `free` bytes are enough; otherwise the error: what is needed, for what, and how to free it."""
    needed = space_needed(archive_sizes)
    if free >= needed:
        return None
    images = needed - WORKING_SPACE
    return (f"only {free / GIB:.1f} GiB free on the file system of {root}; the real node needs "
            f"{needed / GIB:.1f} GiB: {images / GIB:.1f} to import {len(archive_sizes)} image(s) and "
            f"{WORKING_SPACE / GIB:.0f} for pods' logs and volumes, the object store and etcd. With less, a test "
            "session's pods can fill the disk, and below 1 GiB the kubelet stops starting pods. Free space and start "
            "again: `du -sh ~/.cache/sextant/* /tmp/pytest-of-$USER` shows what the caches and earlier test "
            "sessions hold; see \"Disk space\" in docs/development.md")
