"""Deterministic sha256 of a model directory, so serving can verify an artifact before unpickling it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def _feed(hasher: hashlib._Hash, relpath: str, data: bytes) -> None:
    encoded = relpath.encode("utf-8")
    hasher.update(len(encoded).to_bytes(8, "big"))
    hasher.update(encoded)
    hasher.update(len(data).to_bytes(8, "big"))
    hasher.update(data)


def digest_files(files: Mapping[str, bytes]) -> str:
    """Return the hex sha256 over files given as {relative posix path: bytes}, in sorted path order.

    Each file contributes its path and its content, both length-prefixed, so renaming or moving bytes
    between files changes the digest.
    """
    hasher = hashlib.sha256()
    for relpath in sorted(files):
        _feed(hasher, relpath, files[relpath])
    return hasher.hexdigest()


def iter_directory(root: Path) -> Iterable[tuple[str, Path]]:
    """Yield (relative posix path, absolute path) for every regular file under root, sorted by path."""
    found = [(p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file()]
    return sorted(found)


def digest_directory(root: Path) -> str:
    """Return the hex sha256 of every regular file under root (same algorithm as digest_files).

    Raises FileNotFoundError when root does not exist.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"model directory {root} does not exist")
    hasher = hashlib.sha256()
    for relpath, path in iter_directory(root):
        _feed(hasher, relpath, path.read_bytes())
    return hasher.hexdigest()


def digest_bytes(data: bytes) -> str:
    """Return the hex sha256 of one byte string (used for dataset content hashes in lineage)."""
    return hashlib.sha256(data).hexdigest()


def config_digest(config: Mapping[str, Any]) -> str:
    """A short digest of a JSON-shaped configuration, independent of key order and layout: the operator names the
    router configuration it wrote with it, and each router reports the one it routes by, so the two compare."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
