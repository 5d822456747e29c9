"""The only module that reads the model registry, through the shared contract (sextant_contracts.registry)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sextant_contracts.registry as registry
from sextant_contracts.errors import ContractError
from sextant_contracts.errors import DigestMismatch as ContractDigestMismatch
from sextant_contracts.manifest import manifest_from_dict
from sextant_contracts.storage import open_store

from .errors import DigestMismatch, ModelLoadError


def resolve_manifest(store_uri: str, name: str, version: int | None, alias: str | None) -> dict[str, Any]:
    """The manifest (camelCase document) of `name` at `version`, or at the version `alias` points to.

    Raises ModelLoadError naming what is missing and how to fix it.
    """
    try:
        return registry.resolve(open_store(store_uri), name, version=version, alias=alias).to_dict()
    except ContractError as exc:
        raise ModelLoadError(f"cannot resolve model {name!r} in {store_uri}: {exc}") from exc


def fetch_verified_model_dir(store_uri: str, manifest: dict[str, Any], dest: Path) -> Path:
    """Download the model directory into `dest` after checking its sha256 against the manifest.

    Raises DigestMismatch (nothing is written) or ModelLoadError.
    """
    try:
        return registry.download_model(open_store(store_uri), manifest_from_dict(manifest), dest)
    except ContractDigestMismatch as exc:
        raise DigestMismatch(f"artifact digest mismatch, refusing to load it: {exc}") from exc
    except ContractError as exc:
        raise ModelLoadError(f"cannot fetch model {manifest.get('name')!r}: {exc}") from exc


def cache_dir_default() -> Path:
    return Path(os.environ.get("SEXTANT_MODEL_CACHE", Path.home() / ".cache" / "sextant" / "models"))
