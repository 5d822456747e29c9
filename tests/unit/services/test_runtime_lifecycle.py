"""The worker's model lifecycle in-process: load retried with capped backoff, warm-up before ready, one model
call for predict_proba, and not ready once draining."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sextant_services.batching import BatchingConfig
from sextant_services.dataplane import DataPlane
from sextant_services.errors import ModelLoadError, ModelNotReady
from sextant_services.features import validate_body
from sextant_services.model_source import LoadedModel, ModelRef, load_model
from sextant_services.runtime import Runtime, retry_delays
from sextant_services.settings import ServerSettings
from sextant_services.warmup import example_columns
from tests.support import serving_models
from tests.support.observable_estimators import BrokenClassifier, CountingClassifier

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def _settings(store_uri: str, **overrides: Any) -> ServerSettings:
    return ServerSettings(store_uri=store_uri, model=ModelRef("iris", version=1), **overrides)


def _store_with(tmp_path: Path, wrap: Callable[[Any], Any]) -> str:
    root = tmp_path / "store"
    serving_models.register_iris_wrapped(root, wrap)
    return root.as_uri()


def _loader(cache: Path) -> Callable[[str, ModelRef], LoadedModel]:
    return lambda store_uri, ref: load_model(store_uri, ref, cache_dir=cache)


def _runtime(settings: ServerSettings, cache: Path) -> Runtime:
    return Runtime(settings, loader=_loader(cache), metrics_factory=lambda model, variant: None)


def test_backoff_doubles_from_the_initial_delay_up_to_the_cap() -> None:
    delays = retry_delays(0.5, 4.0)
    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_a_failed_load_is_retried_until_the_model_appears(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "sextant_services")
    root = tmp_path / "store"  # empty: the model is registered only after a few failed attempts
    rt = _runtime(_settings(root.as_uri(), load_retry_initial=0.01, load_retry_max=0.05), tmp_path / "cache")
    assert not rt.load()
    assert not rt.ready and "load attempt 1" in (rt.not_ready_reason() or "")
    with pytest.raises(ModelNotReady, match="cannot resolve model 'iris'"):
        rt.require_plane()
    rt.start_retrying()
    try:
        _wait(lambda: rt.attempts >= 3, "three load attempts")
        serving_models.register_iris(root)
        _wait(lambda: rt.ready, "the runtime ready after the model was registered")
    finally:
        rt.start_draining()  # stops the retry thread
    assert rt.not_ready_reason() == "the server is shutting down: draining in-flight requests"
    assert "will be tried again in" in caplog.text and "NOT loaded (attempt 2)" in caplog.text


def test_warm_up_predicts_once_before_the_runtime_is_ready(tmp_path: Path) -> None:
    rt = _runtime(_settings(_store_with(tmp_path, CountingClassifier)), tmp_path / "cache")
    assert rt.load() and rt.ready
    assert rt.plane is not None
    assert rt.plane.model.estimator.calls == ["predict_proba"]


def test_a_failing_warm_up_keeps_the_runtime_not_ready_with_the_reason(tmp_path: Path) -> None:
    rt = _runtime(_settings(_store_with(tmp_path, BrokenClassifier)), tmp_path / "cache")
    assert not rt.load() and not rt.ready
    assert "warm-up prediction on an example row failed: RuntimeError: this model cannot predict" in (
        rt.not_ready_reason() or "")


def test_the_warm_up_row_passes_the_request_validation(tmp_path: Path) -> None:
    root = tmp_path / "store"
    serving_models.register_categorical(root)
    model = load_model(root.as_uri(), ModelRef("shapes", version=1), cache_dir=tmp_path / "cache")
    cols = example_columns(model.schema, model.manifest)
    assert validate_body({"columns": cols}, model.schema, 1) == cols
    assert cols["colour"][0] in ("red", "green", "blue")


def test_predict_proba_runs_the_model_once_for_labels_and_probabilities(tmp_path: Path) -> None:
    model = load_model(_store_with(tmp_path, CountingClassifier), ModelRef("iris", version=1),
                       cache_dir=tmp_path / "cache")
    plane = DataPlane(model, "v", BatchingConfig(), metrics=None)
    estimator = model.estimator
    cols = validate_body({"records": [ROW, ROW]}, model.schema, 10)

    async def both() -> tuple[Any, Any]:
        return await asyncio.gather(plane.predict(cols, True), plane.predict(cols, False))

    estimator.calls.clear()
    with_proba, labels_only = asyncio.run(both())
    # Two requests, one asking for probabilities: every model call is predict_proba, none is predict as well.
    assert estimator.calls and set(estimator.calls) == {"predict_proba"}
    expected = estimator.inner.predict(model_input(model, cols))
    assert with_proba.predictions.tolist() == expected.tolist() == labels_only.predictions.tolist()
    assert with_proba.probabilities.shape == (2, 3)


def model_input(model: LoadedModel, cols: dict[str, list[Any]]) -> Any:
    from sextant_services.features import to_model_input

    return to_model_input(cols, model.schema, model.as_frame)


def test_a_load_error_from_the_loader_is_reported_not_raised(tmp_path: Path) -> None:
    def failing(store_uri: str, ref: ModelRef) -> LoadedModel:
        raise ModelLoadError("store unreachable: connection refused")

    rt = Runtime(_settings("file:///nowhere"), loader=failing, metrics_factory=lambda m, v: None)
    assert not rt.load()
    assert rt.not_ready_reason() == ("model iris:1 is not ready (load attempt 1): "
                                     "store unreachable: connection refused")


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        done.wait(0.01)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
