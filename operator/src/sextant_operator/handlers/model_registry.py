"""Resolves InferenceService model references in the registry with the operator's own store access.

The operator reads only manifests and aliases (never a tenant's Secret); the model servers fetch and verify the
artifact themselves with the namespace's store Secret, by reference.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sextant_contracts.registry as registry
from sextant_contracts.errors import ContractError, RegistryError, StorageError
from sextant_contracts.resources.inferenceservice import ResolvedModel
from sextant_contracts.storage import ArtifactStore, open_store

from ..reconcile.inferenceservice import Unresolved, describe_reference, no_registry

log = logging.getLogger("sextant.operator.registry")


class RegistryResolver:
    """name + version, name + alias, or name alone (its latest complete version) -> version and digest."""

    def __init__(self, store_uri: str | None) -> None:
        self.store_uri = store_uri
        self._store: ArtifactStore | None = None

    def __call__(self, ref: Mapping[str, Any]) -> ResolvedModel | Unresolved:
        if not self.store_uri:
            return no_registry(ref)
        name = str(ref.get("name", ""))
        try:
            if self._store is None:
                self._store = open_store(self.store_uri)
            version = int(ref["version"]) if ref.get("version") else None
            alias = ref.get("alias")
            if version is None and alias is None:
                versions = registry.list_versions(self._store, name)
                if not versions:
                    return Unresolved("ModelNotFound", f"model {name!r} has no registered version in the "
                                      f"registry yet: train it with a TrainingJob first")
                version = versions[-1]
            manifest = registry.resolve(self._store, name, version=version, alias=alias)
        except RegistryError as exc:
            return Unresolved("ModelNotFound", f"model {describe_reference(ref)}: {exc}")
        except (StorageError, ContractError, OSError) as exc:
            log.warning("cannot read the registry for %s: %s", describe_reference(ref), exc)
            return Unresolved("RegistryUnavailable", f"model {describe_reference(ref)}: the artifact store cannot "
                              f"be read now ({exc}); retrying")
        return {"name": manifest.name, "version": str(manifest.version), "digest": f"sha256:{manifest.artifact_sha256}"}
