"""A tampered artifact is refused before unpickling: the server stays live but not ready, and says why."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from sextant_services.errors import DigestMismatch
from sextant_services.model_source import ModelRef, load_model
from tests.support import serving_models
from tests.support.processes import free_port, http_status, running, serve_command, serving_env, wait_until


class _Booby:
    """Unpickling this writes a marker file: proof that the pickle was (or was not) executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (self.marker, "unpickled"))  # type: ignore[return-value]


@pytest.fixture
def tampered_store(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "store"
    serving_models.register_iris(root, aliases=("production",))
    marker = tmp_path / "pwned"
    (root / "models/iris/1/model/saved_model.pkl").write_bytes(pickle.dumps(_Booby(marker)))
    return root, marker


def test_load_model_refuses_a_digest_mismatch_before_unpickling(tampered_store: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    root, marker = tampered_store
    with pytest.raises(DigestMismatch, match="digest mismatch, refusing to load it.*will not be loaded"):
        load_model(root.as_uri(), ModelRef("iris", alias="production"), cache_dir=tmp_path / "cache")
    assert not marker.exists()


def test_server_with_tampered_model_is_live_not_ready_and_logs_why(tampered_store: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    root, marker = tampered_store
    port = free_port()
    env = serving_env(root.as_uri(), "iris", version=1)
    with running(serve_command(port), port, tmp_path / "log", env=env, ready_path=None) as server:
        wait_until(lambda: "NOT loaded" in server.log(), 30, "the refusal log line")
        assert http_status(server.url + "/livez") == 200
        assert http_status(server.url + "/readyz") == 503
        assert http_status(server.url + "/v2/health/ready") == 503
        assert "artifact digest mismatch" in server.log()
    assert not marker.exists()


def test_a_digest_other_than_the_pinned_one_is_refused_before_fetching(tmp_path: Path) -> None:
    """The operator pins the digest at rollout (SEXTANT_MODEL_DIGEST): a re-registered manifest is not served."""
    root = tmp_path / "store"
    manifest = serving_models.register_iris(root, aliases=())
    pinned = ModelRef("iris", version=1, digest=f"sha256:{manifest.artifact_sha256}")
    assert load_model(root.as_uri(), pinned, cache_dir=tmp_path / "cache").version == 1
    other = ModelRef("iris", version=1, digest="sha256:" + "0" * 64)
    with pytest.raises(DigestMismatch, match="pinned to sha256:0000.*refusing to load it"):
        load_model(root.as_uri(), other, cache_dir=tmp_path / "cache")
