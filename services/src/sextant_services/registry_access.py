"""The only module that reads the model registry: resolve a reference, fetch the model directory, digest it.

Everything registry-specific sits here so that moving to `sextant_contracts.registry` is a one-file change.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .errors import ModelLoadError


def _local_root(store_uri: str) -> Path:
    parsed = urlparse(store_uri)
    if parsed.scheme != "file":
        raise ModelLoadError(f"artifact store {store_uri!r}: only file:// is readable here until the registry lands")
    return Path(unquote(parsed.path))


def resolve_manifest(store_uri: str, name: str, version: int | None, alias: str | None) -> dict[str, Any]:
    """Return the manifest of `name` at `version`, or at the version `alias` points to.

    Raises ModelLoadError when the alias, version or manifest does not exist.
    """
    base = _local_root(store_uri) / "models" / name
    if version is None:
        alias_file = base / "aliases" / f"{alias}.json"
        if not alias_file.is_file():
            raise ModelLoadError(f"model {name!r} has no alias {alias!r} in {store_uri}")
        version = int(json.loads(alias_file.read_text())["version"])
    manifest_file = base / str(version) / "manifest.json"
    if not manifest_file.is_file():
        raise ModelLoadError(f"model {name!r} version {version} has no manifest in {store_uri} (not registered "
                             "or not complete)")
    manifest: dict[str, Any] = json.loads(manifest_file.read_text())
    return manifest


def fetch_model_dir(store_uri: str, manifest: dict[str, Any], dest: Path) -> Path:
    """Copy the model directory named by the manifest into `dest` and return its path."""
    src = _local_root(store_uri) / "models" / manifest["name"] / str(manifest["version"])
    src = src / manifest["artifact"]["path"]
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    return dest


def artifact_digest(path: Path) -> str:
    """sha256 over sorted relative paths and file bytes of a directory."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        rel = p.relative_to(path).as_posix()
        h.update(rel.encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def cache_dir_default() -> Path:
    return Path(os.environ.get("SEXTANT_MODEL_CACHE", Path.home() / ".cache" / "sextant" / "models"))
