"""Register: write the model in BentoML's on-disk format plus its manifest to the artifact store, and promote."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sextant_contracts import registry
from sextant_contracts.manifest import Manifest
from sextant_contracts.storage import ArtifactStore

log = logging.getLogger("sextant.pipelines.register")


def load_writer() -> float:
    """Import BentoML's model writer now and return the seconds it took (1-3 s on a loaded machine): a
    time-budgeted run pays it before its search, which can make room for it, rather than after, where it
    would overrun the budget."""
    started = time.perf_counter()
    from bentoml._internal.models.model import Model  # noqa: F401

    return time.perf_counter() - started


def write_bento_model(model: Any, name: str, version: int, directory: Path, metadata: dict[str, Any]) -> Path:
    """Save model with bentoml.sklearn's layout (model.yaml + saved_model.pkl) into directory/<name>/v<version>.

    Uses a private model store rooted in `directory`, so nothing touches the user's BENTOML_HOME. Calls
    BentoML's Model.create/flush/save, which `bentoml.models.create` wraps: that wrapper also imports BentoML's
    usage analytics and cloud schemas (3-6 s on a loaded machine, each run) only to send an event the trainer
    disables (BENTOML_DO_NOT_TRACK).
    """
    import joblib
    from bentoml._internal.models import ModelContext, ModelStore
    from bentoml._internal.models.model import Model
    from bentoml._internal.types import ModelSignatureDict
    from bentoml._internal.utils.pkg import get_pkg_version

    store = ModelStore(str(directory))
    versions = {"scikit-learn": get_pkg_version("scikit-learn")}
    context = ModelContext(framework_name="sklearn", framework_versions=versions)
    signatures: dict[str, ModelSignatureDict] = {"predict": {"batchable": True}}
    if hasattr(model, "predict_proba"):
        signatures["predict_proba"] = {"batchable": True}
    created = Model.create(f"{name}:v{version}", module="bentoml.sklearn", api_version="v1", signatures=signatures,
                           context=context, metadata=metadata, labels=None, options=None, custom_objects=None)
    joblib.dump(model, created.path_of("saved_model.pkl"))
    created.flush()  # type: ignore[no-untyped-call]
    created.save(store)
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
