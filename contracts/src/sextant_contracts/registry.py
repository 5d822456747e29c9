"""The model registry on an artifact store: atomic version allocation, publication, aliases, resolution.

Layout under the store root:
  models/<name>/claims/<version>           claim object, created exclusively (O_EXCL / If-None-Match: *)
  models/<name>/<version>/model/...        the BentoML model directory
  models/<name>/<version>/manifest.json    written last: its presence means the version is complete
  models/<name>/aliases/<alias>.json       {"version": N, "updatedAt": ...}
A claim whose manifest never appears is a burned number: versions stay distinct and increasing.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sextant_contracts.digest import digest_directory, digest_files, iter_directory
from sextant_contracts.errors import DigestMismatch, ObjectNotFound, RegistryError
from sextant_contracts.manifest import Manifest, manifest_from_json
from sextant_contracts.resources.common import MODEL_ALIASES
from sextant_contracts.storage import ArtifactStore

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$")
ALIASES = MODEL_ALIASES  # the aliases the CRDs accept (model.promote, a model reference's alias)
MAX_CLAIM_ATTEMPTS = 200


def check_model_name(name: str) -> None:
    """Raise RegistryError unless name is a lowercase DNS-label-like model name."""
    if not NAME_PATTERN.match(name):
        raise RegistryError(
            f"model name {name!r} is not valid.",
            "use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit.",
        )


def _claims_prefix(name: str) -> str:
    return f"models/{name}/claims"


def _known_versions(store: ArtifactStore, name: str) -> list[int]:
    prefix = _claims_prefix(name)
    found = [key.rsplit("/", 1)[-1] for key in store.list(prefix)]
    return sorted(int(v) for v in found if v.isdigit())


def allocate_version(store: ArtifactStore, name: str, owner: str = "") -> int:
    """Claim the next version number atomically; raises RegistryError after too many lost races."""
    check_model_name(name)
    candidate = max(_known_versions(store, name), default=0) + 1
    claim = json.dumps({"owner": owner, "claimedAt": _now()}).encode()
    for _ in range(MAX_CLAIM_ATTEMPTS):
        if store.create_exclusive(f"{_claims_prefix(name)}/{candidate}", claim):
            return candidate
        candidate = max(candidate + 1, max(_known_versions(store, name), default=0) + 1)
    raise RegistryError(
        f"could not claim a version of model {name!r} after {MAX_CLAIM_ATTEMPTS} attempts.",
        "too many concurrent registrations; retry the job.",
    )


def version_prefix(name: str, version: int) -> str:
    """The store prefix holding one version's model directory and manifest."""
    return f"models/{name}/{version}"


def publish_version(
    store: ArtifactStore, name: str, version: int, model_dir: Path, manifest_for: Callable[[str], Manifest]
) -> Manifest:
    """Upload model_dir, then the manifest built from its digest (last); on failure remove what was written."""
    prefix = version_prefix(name, version)
    written: list[str] = []
    try:
        digest = digest_directory(model_dir)
        for relpath, path in iter_directory(model_dir):
            key = f"{prefix}/model/{relpath}"
            store.write(key, path.read_bytes())
            written.append(key)
        manifest = manifest_for(digest)
        if manifest.version != version or manifest.name != name or manifest.artifact_sha256 != digest:
            raise RegistryError(f"manifest for {name} v{version} does not match the upload.", "report a bug.")
        store.write(f"{prefix}/manifest.json", manifest.to_json())
        return manifest
    except BaseException:
        for key in reversed(written):
            store.delete(key)
        raise


def set_alias(store: ArtifactStore, name: str, alias: str, version: int) -> None:
    """Point alias at version (an atomic put); raises RegistryError for unknown aliases or versions."""
    if alias not in ALIASES:
        raise RegistryError(f"alias {alias!r} is not supported.", f"use one of {', '.join(ALIASES)}.")
    if not store.exists(f"{version_prefix(name, version)}/manifest.json"):
        raise RegistryError(f"model {name!r} has no complete version {version}.", "register it first.")
    doc = {"version": version, "updatedAt": _now()}
    store.write(f"models/{name}/aliases/{alias}.json", json.dumps(doc).encode())


def read_alias(store: ArtifactStore, name: str, alias: str) -> int:
    """Return the version an alias points at; raises RegistryError when the alias is not set."""
    try:
        doc = json.loads(store.read(f"models/{name}/aliases/{alias}.json"))
    except ObjectNotFound:
        raise RegistryError(
            f"model {name!r} has no alias {alias!r}.", "promote an accepted version or reference a version."
        ) from None
    return int(doc["version"])


def list_versions(store: ArtifactStore, name: str) -> list[int]:
    """Complete versions (those with a manifest), ascending."""
    keys = store.list(f"models/{name}")
    found = {k.split("/")[2] for k in keys if k.endswith("/manifest.json") and k.count("/") == 3}
    return sorted(int(v) for v in found if v.isdigit())


def resolve(store: ArtifactStore, name: str, *, version: int | None = None, alias: str | None = None) -> Manifest:
    """Return the manifest for name + version or name + alias; raises RegistryError when absent."""
    check_model_name(name)
    if (version is None) == (alias is None):
        raise RegistryError("a model reference needs exactly one of version or alias.", "set one of them.")
    number = version if version is not None else read_alias(store, name, str(alias))
    try:
        return manifest_from_json(store.read(f"{version_prefix(name, number)}/manifest.json"))
    except ObjectNotFound:
        raise RegistryError(f"model {name!r} has no complete version {number}.", "check `version`.") from None


def download_model(store: ArtifactStore, manifest: Manifest, dest: Path) -> Path:
    """Fetch a version's model directory into dest and verify its sha256 BEFORE anything unpickles it.

    Raises DigestMismatch (and removes dest) when the bytes differ from the manifest.
    """
    prefix = f"{version_prefix(manifest.name, manifest.version)}/{manifest.artifact_path}/"
    keys = [k for k in store.list(prefix.rstrip("/")) if k.startswith(prefix)]
    files = {key[len(prefix):]: store.read(key) for key in keys}
    actual = digest_files(files)
    if actual != manifest.artifact_sha256:
        raise DigestMismatch(
            f"model {manifest.name} v{manifest.version} has sha256 {actual}, manifest says "
            f"{manifest.artifact_sha256}; it will not be loaded.",
            "the artifact was altered or truncated; re-register the model.",
        )
    if dest.exists():
        shutil.rmtree(dest)
    for relpath, data in files.items():
        target = dest / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
