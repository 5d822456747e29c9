"""Prometheus metrics of predictions, latency and per-feature histograms on the training baseline's bins.

prometheus_client is imported inside the constructor, never at module import: BentoML sets
PROMETHEUS_MULTIPROC_DIR in each worker after importing the service module, and a client imported earlier
would count per process and show only one worker's numbers on /metrics (BentoML#5056).
"""

from __future__ import annotations

import re
from typing import Any

from .drift_bins import DriftHistograms
from .features import Columns
from .model_source import LoadedModel

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

#: Paths of the app to the `route` label; anything else (a scan, a typo) is "other", so the label stays bounded.
ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/predict"), "predict"),
    (re.compile(r"/predict_proba"), "predict_proba"),
    (re.compile(r"/v2/models/[^/]+(/versions/[^/]+)?/infer"), "infer"),
    (re.compile(r"/v2/models/[^/]+(/versions/[^/]+)?/ready"), "model_ready"),
    (re.compile(r"/v2/models/[^/]+(/versions/[^/]+)?"), "model_metadata"),
    (re.compile(r"/v2/health/(live|ready)|/readyz|/livez|/healthz"), "health"),
    (re.compile(r"/metrics"), "metrics"),
    (re.compile(r"/drift"), "drift"),
    (re.compile(r"/v2"), "server_metadata"),
)
#: Statuses counted by their code; any other is counted by its class ("2xx" ... "5xx").
STATUSES = frozenset({200, 400, 404, 405, 413, 422, 500, 503, 504})


def route_label(path: str) -> str:
    """The bounded `route` label of a request path."""
    for pattern, label in ROUTES:
        if pattern.fullmatch(path):
            return label
    return "other"


#: The routes that run the model (their counters start at 0, see RequestMetrics).
PREDICTION_ROUTES = frozenset({"predict", "predict_proba", "infer"})


def status_label(status: int) -> str:
    """The bounded `status` label: the exact code for the ones that mean something to an operator, else its class."""
    return str(status) if status in STATUSES else f"{status // 100}xx"


class RequestMetrics:
    """Every HTTP request the app answers, by bounded route and status, from the worker's start (not only once
    the model is loaded, so 503s while loading are counted)."""

    def __init__(self, model: str, variant: str) -> None:
        import prometheus_client as prom

        self._base = (model, variant)
        self.requests = prom.Counter(
            "sextant_requests", "HTTP requests by route and status (404, 503 and 504 included)",
            ["model", "variant", "route", "status"])
        self._children: dict[tuple[str, str], Any] = {}
        # Every prediction route and meaningful status starts at 0: a counter that appears with its first burst
        # already counted shows no increase to rate(), so a burst of 422s would never reach an error-ratio alert.
        for route in sorted(PREDICTION_ROUTES):
            for status in sorted(STATUSES):
                key = (route, str(status))
                self._children[key] = self.requests.labels(model, variant, *key)

    def observe(self, path: str, status: int) -> None:
        key = (route_label(path), status_label(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(*self._base, *key)
        child.inc()


class ServingMetrics:
    """The metrics one model variant reports; label children are bound once for speed."""

    def __init__(self, model: LoadedModel, variant: str) -> None:
        import prometheus_client as prom

        labels = ("model", "version", "variant")
        self._base = (model.name, str(model.version), variant)
        self.predictions = prom.Counter(
            "sextant_predictions", "Rows predicted", [*labels, "endpoint"])
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
        """Latency and rows of a prediction request (counting requests is RequestMetrics')."""
        if status == 200:
            self._child(self.latency, endpoint).observe(seconds)
            self._child(self.predictions, endpoint).inc(rows)

    def observe_batch(self, cols: Columns, rows: int) -> None:
        self._child(self.batch_rows).observe(rows)
        self.drift.observe(cols)
