"""Prometheus metrics of predictions, latency and per-feature histograms on the training baseline's bins.

prometheus_client is imported inside the constructor, never at module import: BentoML sets
PROMETHEUS_MULTIPROC_DIR in each worker after importing the service module, and a client imported earlier
would count per process and show only one worker's numbers on /metrics (BentoML#5056).
"""

from __future__ import annotations

from typing import Any

from .drift_bins import DriftHistograms
from .features import Columns
from .model_source import LoadedModel

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The metrics one model variant reports; label children are bound once for speed."""

    def __init__(self, model: LoadedModel, variant: str) -> None:
        import prometheus_client as prom

        labels = ("model", "version", "variant")
        self._base = (model.name, str(model.version), variant)
        self.predictions = prom.Counter(
            "sextant_predictions", "Rows predicted", [*labels, "endpoint"])
        self.requests = prom.Counter(
            "sextant_requests", "Prediction requests by HTTP status", [*labels, "endpoint", "status"])
        self.latency = prom.Histogram(
            "sextant_request_duration_seconds", "Prediction request latency", [*labels, "endpoint"],
            buckets=LATENCY_BUCKETS)
        self.batch_rows = prom.Histogram(
            "sextant_batch_rows", "Rows per model call (adaptive batching)", labels, buckets=BATCH_BUCKETS)
        self.feature_bins = prom.Counter(
            "sextant_feature_bin", "Feature values per training-baseline bin (for drift)", [*labels, "feature", "bin"])
        self._children: dict[tuple[str, ...], Any] = {}
        baseline = (model.manifest.get("baseline") or {}).get("features") or {}
        self.drift = DriftHistograms(self.feature_bins, self._base, baseline)

    def _child(self, metric: Any, *extra: str) -> Any:
        key = (metric._name, *extra)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*self._base, *extra)
            self._children[key] = child
        return child

    def observe_request(self, endpoint: str, status: int, seconds: float, rows: int) -> None:
        self._child(self.requests, endpoint, str(status)).inc()
        if status == 200:
            self._child(self.latency, endpoint).observe(seconds)
            self._child(self.predictions, endpoint).inc(rows)

    def observe_batch(self, cols: Columns, rows: int) -> None:
        self._child(self.batch_rows).observe(rows)
        self.drift.observe(cols)
