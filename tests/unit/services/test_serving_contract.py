"""One meaning per setting: `spec.batching` maps to the server's environment through sextant_contracts, with the
CRD's defaults; shutdown and retry settings are validated; metric labels stay bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sextant_contracts.serving_settings import BATCHING_ENV, batching_default, batching_env
from sextant_services.batching import BatchingConfig
from sextant_services.metrics import route_label, status_label
from sextant_services.settings import ServerSettings

BASE = {"SEXTANT_STORE_URI": "file:///x", "SEXTANT_MODEL_NAME": "m", "SEXTANT_MODEL_VERSION": "1"}
CRD = Path(__file__).parents[3] / "manifests/crds/ml.sextant.io_inferenceservices.yaml"


def _batching_schema() -> dict[str, object]:
    doc = yaml.safe_load(CRD.read_text())
    spec = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return dict(spec["properties"]["batching"]["properties"])


@pytest.mark.parametrize(("batching", "expected"), [
    ({"enabled": False, "maxBatchSize": 8, "maxLatencyMs": 250}, BatchingConfig(False, 8, 250.0)),
    ({"maxLatencyMs": 40}, BatchingConfig(True, 64, 40.0)),
    (None, BatchingConfig(True, 64, 1000.0)),
])
def test_crd_batching_maps_to_the_server_setting_with_the_same_meaning(
        batching: dict[str, object] | None, expected: BatchingConfig) -> None:
    env = batching_env(batching)
    assert set(env) == {"SEXTANT_BATCHING", "SEXTANT_MAX_BATCH_SIZE", "SEXTANT_MAX_LATENCY_MS"}
    assert ServerSettings.from_env({**BASE, **env}).batching == expected


def test_the_server_defaults_are_the_crd_defaults() -> None:
    schema = _batching_schema()
    served = ServerSettings.from_env(BASE).batching
    assert batching_default("maxLatencyMs") == schema["maxLatencyMs"]["default"] == served.max_latency_ms == 1000  # type: ignore[index]
    assert batching_default("maxBatchSize") == schema["maxBatchSize"]["default"] == served.max_batch_size  # type: ignore[index]
    assert batching_default("enabled") == schema["enabled"]["default"] == served.enabled  # type: ignore[index]
    assert set(BATCHING_ENV) == set(schema)


def test_the_crd_describes_max_latency_as_the_queue_deadline_the_server_enforces() -> None:
    text = str(_batching_schema()["maxLatencyMs"]["description"])  # type: ignore[index]
    assert "wait in the queue for the model" in text and "503 (Overloaded)" in text
    assert "never held back to fill up" in text


def test_shutdown_and_retry_settings_default_and_validate() -> None:
    s = ServerSettings.from_env(BASE)
    assert (s.shutdown_delay, s.drain, s.load_retry_initial, s.load_retry_max) == (2.0, 20.0, 1.0, 60.0)
    s = ServerSettings.from_env({**BASE, "SEXTANT_DRAIN_SECONDS": "5.5", "SEXTANT_SHUTDOWN_DELAY_SECONDS": "0"})
    assert (s.drain, s.shutdown_delay) == (5.5, 0.0)
    with pytest.raises(ValueError, match="SEXTANT_DRAIN_SECONDS=-1 must be at least 0"):
        ServerSettings.from_env({**BASE, "SEXTANT_DRAIN_SECONDS": "-1"})
    with pytest.raises(ValueError, match="SEXTANT_LOAD_RETRY_MAX_SECONDS='soon' is not a number of seconds"):
        ServerSettings.from_env({**BASE, "SEXTANT_LOAD_RETRY_MAX_SECONDS": "soon"})


@pytest.mark.parametrize(("path", "route"), [
    ("/predict", "predict"), ("/predict_proba", "predict_proba"), ("/v2/models/iris/infer", "infer"),
    ("/v2/models/iris/versions/3/infer", "infer"), ("/v2/models/iris/ready", "model_ready"),
    ("/v2/models/iris", "model_metadata"), ("/v2", "server_metadata"), ("/v2/health/ready", "health"),
    ("/readyz", "health"), ("/metrics", "metrics"), ("/predict/x", "other"), ("/wp-admin/1.php", "other"),
    ("/v2/models/a/b/c/infer", "other"),
])
def test_route_labels_are_a_bounded_set(path: str, route: str) -> None:
    assert route_label(path) == route


def test_status_labels_keep_meaningful_codes_and_fold_the_rest_into_classes() -> None:
    assert [status_label(c) for c in (200, 404, 503, 504, 201, 418, 502)] == [
        "200", "404", "503", "504", "2xx", "4xx", "5xx"]
