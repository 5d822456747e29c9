"""Settings from the environment, and the data plane on a regressor and a categorical pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sextant_services.batching import BatchingConfig
from sextant_services.dataplane import DataPlane
from sextant_services.errors import UnsupportedOperation
from sextant_services.features import validate_body
from sextant_services.model_source import ModelRef, load_model
from sextant_services.settings import ServerSettings


def test_settings_need_exactly_one_of_version_or_alias() -> None:
    base = {"SEXTANT_STORE_URI": "file:///x", "SEXTANT_MODEL_NAME": "m"}
    with pytest.raises(ValueError, match="exactly one of SEXTANT_MODEL_VERSION or SEXTANT_MODEL_ALIAS"):
        ServerSettings.from_env(base)
    s = ServerSettings.from_env({**base, "SEXTANT_MODEL_ALIAS": "staging", "SEXTANT_BATCHING": "off"})
    assert s.model == ModelRef("m", alias="staging") and s.batching.enabled is False
    with pytest.raises(ValueError, match="SEXTANT_MAX_BATCH_SIZE='many'"):
        ServerSettings.from_env({**base, "SEXTANT_MODEL_VERSION": "2", "SEXTANT_MAX_BATCH_SIZE": "many"})



def test_keepalive_requests_defaults_to_100_allows_0_and_rejects_negatives() -> None:
    base = {"SEXTANT_STORE_URI": "file:///x", "SEXTANT_MODEL_NAME": "m", "SEXTANT_MODEL_VERSION": "1"}
    assert ServerSettings.from_env(base).keepalive_requests == 100
    assert ServerSettings.from_env({**base, "SEXTANT_KEEPALIVE_REQUESTS": "0"}).keepalive_requests == 0
    with pytest.raises(ValueError, match="SEXTANT_KEEPALIVE_REQUESTS=-1 must be at least 0"):
        ServerSettings.from_env({**base, "SEXTANT_KEEPALIVE_REQUESTS": "-1"})


def _plane(store: Path, tmp_path: Path, name: str) -> DataPlane:
    model = load_model(store.as_uri(), ModelRef(name, version=1), cache_dir=tmp_path)
    return DataPlane(model, "v", BatchingConfig(), metrics=None)


def test_regressor_predicts_and_refuses_predict_proba(store: Path, tmp_path: Path) -> None:
    plane = _plane(store, tmp_path, "diabetes")
    row = {f.name: 0.01 for f in plane.model.schema.features}
    cols = validate_body({"records": [row]}, plane.model.schema, 10)
    assert asyncio.run(plane.predict(cols, False)).predictions.shape == (1,)
    with pytest.raises(UnsupportedOperation, match="only available for classifiers"):
        asyncio.run(plane.predict(cols, True))


def test_categorical_pipeline_takes_a_frame(store: Path, tmp_path: Path) -> None:
    plane = _plane(store, tmp_path, "shapes")
    cols = validate_body({"records": [{"colour": "red", "size": 8.0}, {"colour": "mauve", "size": 9.0}]},
                         plane.model.schema, 10)
    result = asyncio.run(plane.predict(cols, True))
    assert result.predictions.tolist() == [1, 0]
    assert result.probabilities is not None and result.probabilities.shape == (2, 2)


def test_a_model_registered_by_the_training_pipeline_writer_loads_and_predicts(tmp_path: Path) -> None:
    """The pipelines' register step (bentoml.models.create layout) and serving agree on the format."""
    from sklearn.linear_model import LogisticRegression

    from sextant_contracts.manifest import API_VERSION, manifest_from_dict
    from sextant_contracts.storage import open_store
    from sextant_pipelines.register import promote, register
    from tests.support.serving_models import _baseline, _schema, iris_frame

    x, y = iris_frame()
    store = open_store((tmp_path / "store").as_uri())

    def manifest_for(version: int, sha: str):  # type: ignore[no-untyped-def]
        return manifest_from_dict({
            "apiVersion": API_VERSION, "name": "flowers", "version": version, "task": "classification",
            "algorithm": "logistic_regression", "params": {}, "featureSchema": _schema(x),
            "target": {"name": "species", "classes": [0, 1, 2]}, "metrics": {"accuracy": 0.97},
            "baseline": _baseline(x), "artifact": {"path": "model", "format": "bentoml-sklearn", "sha256": sha},
            "accepted": True, "acceptance": [], "lineage": {"runId": "t"}})

    manifest = register(store, "flowers", LogisticRegression(max_iter=500).fit(x, y), manifest_for, "tests", {})
    promote(store, manifest, "production")
    model = load_model((tmp_path / "store").as_uri(), ModelRef("flowers", alias="production"), tmp_path / "c")
    plane = DataPlane(model, "v", BatchingConfig(), metrics=None)
    cols = validate_body({"records": [x.iloc[0].to_dict(), x.iloc[-1].to_dict()]}, model.schema, 10)
    assert asyncio.run(plane.predict(cols, False)).predictions.tolist() == [0, 2]
