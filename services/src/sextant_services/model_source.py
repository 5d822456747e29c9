"""Load a registered model by reference: resolve, fetch, verify the sha256 digest, and only then unpickle."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import registry_access
from .errors import DigestMismatch, ModelLoadError
from .features import FeatureSchema

log = logging.getLogger(__name__)

MODEL_FILENAME = "saved_model.pkl"  # BentoML's sklearn on-disk format


@dataclass(frozen=True)
class ModelRef:
    """A model reference: a name plus exactly one of version or alias."""

    name: str
    version: int | None = None
    alias: str | None = None
    #: The artifact's sha256 the operator pinned at rollout: a manifest naming another digest is refused.
    digest: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("model reference: name is required")
        if (self.version is None) == (self.alias is None):
            raise ValueError(f"model reference {self.name!r}: give exactly one of version or alias")

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" if self.version is not None else f"{self.name}@{self.alias}"


@dataclass(frozen=True)
class LoadedModel:
    """A verified, loaded model with what serving needs from its manifest."""

    name: str
    version: int
    task: str
    manifest: dict[str, Any]
    estimator: Any
    schema: FeatureSchema
    classes: list[Any] | None
    as_frame: bool

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification" and hasattr(self.estimator, "predict_proba")


def _unpickle(local: Path, ref: ModelRef, version: int) -> Any:
    import joblib

    try:
        return joblib.load(local / MODEL_FILENAME)
    except Exception as exc:  # a broken pickle is a load failure, not a crash
        raise ModelLoadError(f"model {ref} version {version}: cannot unpickle {MODEL_FILENAME}: {exc}") from exc


def load_model(store_uri: str, ref: ModelRef, cache_dir: Path | None = None) -> LoadedModel:
    """Resolve `ref` in the store, fetch the artifact and verify its sha256, and only then unpickle it.

    Raises ModelLoadError (DigestMismatch for a tampered artifact) with a message saying what to fix.
    """
    manifest = registry_access.resolve_manifest(store_uri, ref.name, ref.version, ref.alias)
    version = int(manifest["version"])
    registered = str((manifest.get("artifact") or {}).get("sha256", ""))
    if ref.digest and registered.removeprefix("sha256:") != ref.digest.removeprefix("sha256:"):
        raise DigestMismatch(
            f"model {ref} version {version}: the registry names artifact digest sha256:{registered}, but this "
            f"server was pinned to sha256:{ref.digest.removeprefix('sha256:')} at rollout; refusing to load it "
            f"(the model was re-registered or tampered with: roll out again to pin the current digest)")
    root = cache_dir or registry_access.cache_dir_default()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f"{ref.name}-{version}-") as tmp:
        local = registry_access.fetch_verified_model_dir(store_uri, manifest, Path(tmp) / "model")
        estimator = _unpickle(local, ref, version)
    target = manifest.get("target") or {}
    classes = target.get("classes")
    if classes is None and hasattr(estimator, "classes_"):
        classes = [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
    log.info("model %s resolved to version %d, digest verified, loaded", ref, version)
    return LoadedModel(
        name=ref.name,
        version=version,
        task=str(manifest.get("task", "")),
        manifest=manifest,
        estimator=estimator,
        schema=FeatureSchema.from_manifest(manifest["featureSchema"]),
        classes=list(classes) if classes is not None else None,
        as_frame=hasattr(estimator, "feature_names_in_"),
    )
