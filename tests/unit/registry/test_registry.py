"""The registry contract on file:// and s3:// stores: versions, publication, aliases, digests, concurrency."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from sextant_contracts import registry
from sextant_contracts.digest import digest_directory, digest_files
from sextant_contracts.errors import DigestMismatch, ObjectNotFound, RegistryError
from sextant_contracts.manifest import FeatureSpec, Manifest, manifest_from_json
from sextant_contracts.storage import ArtifactStore, open_store
from tests.support.s3server import S3Server


def make_manifest(name: str, version: int, sha: str, accepted: bool = True) -> Manifest:
    return Manifest(name=name, version=version, task="classification", algorithm="logistic_regression",
                    params={"C": 1.0}, feature_schema=[FeatureSpec("x", "numeric", "float64", False)],
                    target={"name": "y", "classes": [0, 1]}, metrics={"accuracy": 0.9},
                    baseline={"features": {"x": {"type": "numeric", "bins": [0, 1], "counts": [3]}}, "rows": 3},
                    artifact_sha256=sha, accepted=accepted, acceptance=[], lineage={"runId": "r"})


def model_dir(tmp_path: Path, payload: bytes = b"weights") -> Path:
    directory = tmp_path / "model"
    (directory / "sub").mkdir(parents=True, exist_ok=True)
    (directory / "model.yaml").write_text("name: m\n")
    (directory / "sub" / "saved_model.pkl").write_bytes(payload)
    return directory


def publish(store: ArtifactStore, name: str, directory: Path) -> Manifest:
    version = registry.allocate_version(store, name, "test")
    return registry.publish_version(store, name, version, directory, lambda sha: make_manifest(name, version, sha))


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "file":
        return open_store((tmp_path / "store").as_uri())
    server: S3Server = request.getfixturevalue("s3_env")
    bucket = server.create_bucket(f"registry-{abs(hash(str(tmp_path))) % 10**8}")
    return open_store(f"s3://{bucket}/prefix")


def test_digest_is_the_same_from_disk_and_from_bytes(tmp_path: Path) -> None:
    directory = model_dir(tmp_path)
    files = {"model.yaml": b"name: m\n", "sub/saved_model.pkl": b"weights"}
    assert digest_directory(directory) == digest_files(files)
    assert digest_files({"a": b"bc"}) != digest_files({"ab": b"c"})


def test_versions_are_increasing_and_aliases_resolve(store: ArtifactStore, tmp_path: Path) -> None:
    first = publish(store, "churn", model_dir(tmp_path))
    second = publish(store, "churn", model_dir(tmp_path, b"other"))
    assert (first.version, second.version) == (1, 2)
    registry.set_alias(store, "churn", "staging", 2)
    assert registry.resolve(store, "churn", alias="staging").artifact_sha256 == second.artifact_sha256
    assert registry.resolve(store, "churn", version=1) == first
    assert registry.list_versions(store, "churn") == [1, 2]


def test_download_verifies_the_digest_before_returning(store: ArtifactStore, tmp_path: Path) -> None:
    manifest = publish(store, "fraud", model_dir(tmp_path))
    out = registry.download_model(store, manifest, tmp_path / "download")
    assert (out / "sub" / "saved_model.pkl").read_bytes() == b"weights"
    store.write("models/fraud/1/model/sub/saved_model.pkl", b"tampered")
    with pytest.raises(DigestMismatch, match="will not be loaded"):
        registry.download_model(store, manifest, tmp_path / "download2")
    assert not (tmp_path / "download2").exists()


def test_unknown_alias_and_version_name_the_fix(store: ArtifactStore, tmp_path: Path) -> None:
    publish(store, "m", model_dir(tmp_path))
    with pytest.raises(RegistryError, match="has no alias 'production'"):
        registry.resolve(store, "m", alias="production")
    with pytest.raises(RegistryError, match="no complete version 7"):
        registry.resolve(store, "m", version=7)
    with pytest.raises(RegistryError, match="not valid"):
        registry.allocate_version(store, "Bad Name")


def test_failed_publication_leaves_no_version_behind(store: ArtifactStore, tmp_path: Path) -> None:
    version = registry.allocate_version(store, "broken", "test")

    def explode(sha: str) -> Manifest:
        raise RuntimeError("manifest builder failed")

    with pytest.raises(RuntimeError):
        registry.publish_version(store, "broken", version, model_dir(tmp_path), explode)
    assert [k for k in store.list("models/broken") if "/claims/" not in k] == []
    assert registry.list_versions(store, "broken") == []
    assert publish(store, "broken", model_dir(tmp_path)).version == version + 1


def test_twenty_concurrent_registrations_get_twenty_versions(store: ArtifactStore, tmp_path: Path) -> None:
    directory = model_dir(tmp_path)
    with ThreadPoolExecutor(max_workers=20) as pool:
        manifests = list(pool.map(lambda _: publish(open_store(store.uri), "hot", directory), range(20)))
    assert sorted(m.version for m in manifests) == list(range(1, 21))
    for version in range(1, 21):
        parsed = manifest_from_json(store.read(f"models/hot/{version}/manifest.json"))
        assert parsed.version == version and parsed.artifact_sha256 == manifests[0].artifact_sha256


def _publish_in_process(args: tuple[str, str]) -> int:
    uri, directory = args
    return publish(open_store(uri), "proc", Path(directory)).version


def test_twenty_concurrent_processes_get_twenty_versions(tmp_path: Path) -> None:
    uri, directory = (tmp_path / "store").as_uri(), model_dir(tmp_path)
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("fork")) as pool:
        versions = list(pool.map(_publish_in_process, [(uri, str(directory))] * 20))
    assert sorted(versions) == list(range(1, 21))
    store = open_store(uri)
    assert registry.list_versions(store, "proc") == list(range(1, 21))


def test_missing_object_is_reported_as_not_found(store: ArtifactStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.read("models/none/1/manifest.json")


def test_manifest_round_trips_and_rejects_bad_documents() -> None:
    manifest = make_manifest("m", 3, "a" * 64)
    assert manifest_from_json(manifest.to_json()) == manifest
    doc = json.loads(manifest.to_json())
    doc["version"] = "3"
    with pytest.raises(Exception, match="version"):
        manifest_from_json(json.dumps(doc).encode())
