"""Register: write the model in BentoML's on-disk format plus its manifest to the artifact store, and promote."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sextant_contracts import registry
from sextant_contracts.manifest import Manifest
from sextant_contracts.storage import ArtifactStore

log = logging.getLogger("sextant.pipelines.register")


def write_bento_model(model: Any, name: str, version: int, directory: Path, metadata: dict[str, Any]) -> Path:
    """Save model with bentoml.sklearn's layout (model.yaml + saved_model.pkl) into directory/<name>/v<version>.

    Uses a private model store rooted in `directory`, so nothing touches the user's BENTOML_HOME.
    """
    import bentoml
    import joblib
    from bentoml._internal.models import ModelContext, ModelStore
    from bentoml._internal.types import ModelSignatureDict
    from bentoml._internal.utils.pkg import get_pkg_version

    store = ModelStore(str(directory))
    versions = {"scikit-learn": get_pkg_version("scikit-learn")}
    context = ModelContext(framework_name="sklearn", framework_versions=versions)
    signatures: dict[str, ModelSignatureDict] = {"predict": {"batchable": True}}
    if hasattr(model, "predict_proba"):
        signatures["predict_proba"] = {"batchable": True}
    with bentoml.models.create(f"{name}:v{version}", module="bentoml.sklearn", api_version="v1",
                               signatures=signatures, context=context, metadata=metadata,
                               _model_store=store) as created:
        joblib.dump(model, created.path_of("saved_model.pkl"))
    return Path(store.get(f"{name}:v{version}").path)


def register(store: ArtifactStore, name: str, model: Any, manifest_for: Callable[[int, str], Manifest],
             owner: str, bento_metadata: dict[str, Any]) -> Manifest:
    """Step 8: claim a version, upload the BentoML model, write the manifest last. Raises StorageError and
    RegistryError; on failure nothing but the burned version claim remains."""
    version = registry.allocate_version(store, name, owner)
    with tempfile.TemporaryDirectory(prefix="sextant-model-") as tmp:
        model_dir = write_bento_model(model, name, version, Path(tmp), bento_metadata)
        manifest = registry.publish_version(store, name, version, model_dir, lambda sha: manifest_for(version, sha))
    log.info("registered model %s version %d (sha256 %s, accepted=%s)", name, version, manifest.artifact_sha256[:12],
             manifest.accepted)
    return manifest


def promote(store: ArtifactStore, manifest: Manifest, alias: str | None) -> str | None:
    """Point the alias at the version only when it was accepted; returns the alias moved, if any."""
    if alias is None:
        return None
    if not manifest.accepted:
        log.info("model %s version %d was not accepted; alias %s stays where it was", manifest.name,
                 manifest.version, alias)
        return None
    registry.set_alias(store, manifest.name, alias, manifest.version)
    log.info("alias %s of model %s now points at version %d", alias, manifest.name, manifest.version)
    return alias
