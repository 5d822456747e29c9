"""The operator's reconcile counters, read from the reconcilers when Prometheus scrapes."""

from __future__ import annotations

from dataclasses import dataclass

import prometheus_client as prom

from sextant_operator.handlers.operator_metrics import OperatorMetrics


@dataclass
class FakeCounts:
    passes: int
    applies: int


def test_passes_and_applies_are_exposed_per_kind_and_follow_the_reconcilers() -> None:
    metrics = OperatorMetrics()
    serving = FakeCounts(passes=3, applies=7)
    metrics.count_reconcilers({"InferenceService": serving, "TrainingJob": FakeCounts(0, 0)})
    serving.passes += 2
    text = prom.generate_latest(metrics.registry).decode()
    assert 'sextant_reconcile_passes_total{kind="InferenceService"} 5.0' in text
    assert 'sextant_child_applies_total{kind="InferenceService"} 7.0' in text
    assert 'sextant_reconcile_passes_total{kind="TrainingJob"} 0.0' in text
