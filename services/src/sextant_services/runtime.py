"""The per-worker serving state: loads, verifies and warms up the model (retrying with backoff), and says
whether the worker is ready and, when not, why."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .dataplane import DataPlane, predict_columns
from .errors import ModelLoadError, ModelNotReady
from .metrics import RequestMetrics, ServingMetrics
from .model_source import LoadedModel, ModelRef, load_model
from .settings import ServerSettings
from .warmup import example_columns

log = logging.getLogger("sextant_services")

Loader = Callable[[str, ModelRef], LoadedModel]
MetricsFactory = Callable[[LoadedModel, str], ServingMetrics | None]


def _load_from_store(store_uri: str, ref: ModelRef, cache_dir: Path | None = None) -> LoadedModel:
    return load_model(store_uri, ref, cache_dir)


def retry_delays(initial: float, cap: float) -> Iterator[float]:
    """Capped exponential backoff: initial, 2*initial, 4*initial, ... never more than cap (endless)."""
    delay = initial
    while True:
        yield min(delay, cap)
        delay = min(delay * 2, cap)


def warm_up(model: LoadedModel) -> None:
    """One prediction on an example row from the manifest; raises ModelLoadError saying why it failed."""
    cols = example_columns(model.schema, model.manifest)
    try:
        predict_columns(model, cols, want_proba=model.is_classifier)
    except Exception as exc:
        raise ModelLoadError(f"warm-up prediction on an example row failed: {type(exc).__name__}: {exc}") from exc


class Runtime:
    """Holds the data plane once the model is loaded, verified and warmed up; until then every prediction is 503."""

    def __init__(self, settings: ServerSettings, loader: Loader = _load_from_store,
                 metrics_factory: MetricsFactory = ServingMetrics, requests: RequestMetrics | None = None) -> None:
        self.settings = settings
        self.requests = requests
        self.plane: DataPlane | None = None
        self.failure: str | None = None
        self.attempts = 0
        self.draining = False
        self._loader = loader
        self._metrics_factory = metrics_factory
        self._stop = threading.Event()
        self._retrying: threading.Thread | None = None

    def load(self) -> bool:
        """One attempt: resolve, fetch, verify, load and warm up; on failure log why and stay not ready."""
        s = self.settings
        self.attempts += 1
        try:
            model = self._loader(s.store_uri, s.model)
            warm_up(model)
        except ModelLoadError as exc:
            return self._failed(str(exc))
        except Exception as exc:  # e.g. a manifest without the fields serving needs
            log.debug("model load failed", exc_info=True)
            return self._failed(f"{type(exc).__name__}: {exc}")
        self.plane = DataPlane(model, s.variant, s.batching, self._metrics_factory(model, s.variant))
        self.failure = None
        # Move everything loaded so far (libraries, the model) out of the collector's generations: full
        # collections then stay short instead of walking the whole heap, which shows up as p99 latency.
        gc.collect()
        gc.freeze()
        log.info("serving model %s version %d as variant %r after %d attempt(s), warmed up; ready",
                 model.name, model.version, s.variant, self.attempts)
        return True

    def _failed(self, why: str) -> bool:
        s = self.settings
        self.failure = why
        log.error("model %s from %s was NOT loaded (attempt %d); the server stays not ready: %s",
                  s.model, s.store_uri, self.attempts, why)
        return False

    def load_until_ready(self) -> None:
        """Retry `load` with capped exponential backoff until it succeeds or `stop` is called (blocking)."""
        s = self.settings
        for delay in retry_delays(s.load_retry_initial, s.load_retry_max):
            log.info("loading model %s will be tried again in %.1f seconds", s.model, delay)
            if self._stop.wait(delay) or self.load():
                return

    def start_retrying(self) -> None:
        """Keep trying to load in a background thread (the worker keeps answering probes meanwhile)."""
        if self.plane is None and self._retrying is None:
            self._retrying = threading.Thread(target=self.load_until_ready, name="sextant-model-load", daemon=True)
            self._retrying.start()

    def start_draining(self) -> None:
        """From now on the worker is not ready (it still serves what it gets); stops load retries."""
        self.draining = True
        self._stop.set()

    @property
    def ready(self) -> bool:
        return self.plane is not None and not self.draining

    def not_ready_reason(self) -> str | None:
        """Why the worker is not ready (None when it is): shutting down, the last load failure, or loading."""
        if self.draining:
            return "the server is shutting down: draining in-flight requests"
        if self.plane is None:
            why = self.failure or "the model is still loading"
            return f"model {self.settings.model} is not ready (load attempt {self.attempts}): {why}"
        return None

    def require_plane(self) -> DataPlane:
        """The data plane; raises ModelNotReady (503) while the model is not loaded."""
        if self.plane is None:
            raise ModelNotReady(self.not_ready_reason() or "the model is still loading")
        return self.plane
