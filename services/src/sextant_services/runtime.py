"""The per-worker serving state: loads and verifies the model once, and says whether the worker is ready."""

from __future__ import annotations

import gc
import logging

from .dataplane import DataPlane
from .errors import ModelLoadError, ModelNotReady
from .metrics import ServingMetrics
from .model_source import load_model
from .settings import ServerSettings

log = logging.getLogger("sextant_services")


class Runtime:
    """Holds the data plane once the model is loaded and verified; until then every prediction is 503."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.plane: DataPlane | None = None
        self.failure: str | None = None

    def load(self) -> None:
        """Resolve, fetch, verify and load; on failure log why and stay not ready (never raise)."""
        s = self.settings
        try:
            model = load_model(s.store_uri, s.model)
        except ModelLoadError as exc:
            self.failure = str(exc)
            log.error("model %s from %s was NOT loaded; the server stays not ready: %s", s.model, s.store_uri, exc)
            return
        except Exception as exc:  # e.g. a manifest without the fields serving needs
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("model %s from %s failed to load; the server stays not ready", s.model, s.store_uri)
            return
        self.plane = DataPlane(model, s.variant, s.batching, ServingMetrics(model, s.variant))
        # Move everything loaded so far (libraries, the model) out of the collector's generations: full
        # collections then stay short instead of walking the whole heap, which shows up as p99 latency.
        gc.collect()
        gc.freeze()
        log.info("serving model %s version %d as variant %r; ready", model.name, model.version, s.variant)

    @property
    def ready(self) -> bool:
        return self.plane is not None

    def require_plane(self) -> DataPlane:
        if self.plane is None:
            why = self.failure or "the model is still loading"
            raise ModelNotReady(f"model {self.settings.model} is not ready: {why}")
        return self.plane
