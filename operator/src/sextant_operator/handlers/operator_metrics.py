"""The operator's own Prometheus metrics: drift scores per feature and finished training runs.

A private registry (not the process-global one) served on its own port, started in the operator's startup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import prometheus_client as prom


class OperatorMetrics:
    """The series the chart's alert rules and dashboard read."""

    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()
        self.drift_score = prom.Gauge(
            "sextant_drift_score", "Per-feature drift effect size (PSI) in the latest check",
            ["namespace", "inferenceservice", "variant", "feature"], registry=self.registry)
        self.drift_detected = prom.Gauge(
            "sextant_drift_detected", "1 when the latest drift check found drift, else 0",
            ["namespace", "inferenceservice", "variant"], registry=self.registry)
        self.runs_finished = prom.Counter(
            "sextant_trainingjob_runs_finished", "Training runs that ended, by phase",
            ["namespace", "trainingjob", "phase"], registry=self.registry)

    def serve(self, port: int) -> None:
        """Serve /metrics on every interface at `port` (a daemon thread)."""
        prom.start_http_server(port, registry=self.registry)

    def record_drift(self, namespace: str, isvc: str, variant: str, features: Iterable[Mapping[str, Any]],
                     drifted: bool) -> None:
        for feature in features:
            if feature.get("psi") is not None:
                self.drift_score.labels(namespace, isvc, variant, str(feature["name"])).set(float(feature["psi"]))
        self.drift_detected.labels(namespace, isvc, variant).set(1.0 if drifted else 0.0)

    def record_run_finished(self, namespace: str, trainingjob: str, phase: str) -> None:
        self.runs_finished.labels(namespace, trainingjob, phase).inc()
