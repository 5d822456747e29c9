"""The operator's own Prometheus metrics: drift scores per feature, finished training runs, and per kind the
reconcile passes run and the server-side applies sent (read from the reconcilers when scraped).

A private registry (not the process-global one) served on its own port, started in the operator's startup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

import prometheus_client as prom
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class Counted(Protocol):
    """What a reconciler counts (handlers/keyed_reconciler.py)."""

    passes: int
    applies: int


class ReconcilerCounters(Collector):
    """sextant_reconcile_passes_total and sextant_child_applies_total by kind, read at scrape time."""

    def __init__(self, reconcilers: Mapping[str, Counted]) -> None:
        self.reconcilers = reconcilers

    def collect(self) -> Iterator[CounterMetricFamily]:
        passes = CounterMetricFamily("sextant_reconcile_passes", "Reconcile passes run (events folded into one "
                                     "pass count once)", labels=["kind"])
        applies = CounterMetricFamily("sextant_child_applies", "Server-side applies of child objects sent "
                                      "(an unchanged child is not applied again)", labels=["kind"])
        for kind, reconciler in self.reconcilers.items():
            passes.add_metric([kind], reconciler.passes)
            applies.add_metric([kind], reconciler.applies)
        yield passes
        yield applies


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

    def count_reconcilers(self, reconcilers: Mapping[str, Counted]) -> None:
        self.registry.register(ReconcilerCounters(reconcilers))

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
