"""Accept: compare metrics with the spec's acceptance criteria; say exactly which criterion failed."""

from __future__ import annotations

from sextant_contracts.manifest import AcceptanceResult
from sextant_pipelines.metrics import metric_for
from sextant_pipelines.spec import Criterion


def check_criteria(task: str, criteria: list[Criterion]) -> None:
    """Fail before training when a criterion names a metric the task does not produce (raises SpecError)."""
    for i, criterion in enumerate(criteria):
        metric_for(task, criterion.metric, f"acceptance[{i}].metric")


def judge(criteria: list[Criterion], values: dict[str, float]) -> list[AcceptanceResult]:
    """One result per criterion; a metric that could not be computed fails its criterion."""
    results = []
    for c in criteria:
        value = values.get(c.metric)
        passed = value is not None and (c.min is None or value >= c.min) and (c.max is None or value <= c.max)
        results.append(AcceptanceResult(c.metric, value, passed, c.min, c.max))
    return results


def describe_failures(results: list[AcceptanceResult]) -> list[str]:
    """Human sentences for failed criteria, e.g. 'roc_auc 0.8123 is below the minimum 0.85'."""
    out = []
    for r in results:
        if r.passed:
            continue
        if r.value is None:
            out.append(f"{r.metric} could not be computed")
        elif r.min is not None and r.value < r.min:
            out.append(f"{r.metric} {r.value:.4f} is below the minimum {r.min}")
        else:
            out.append(f"{r.metric} {r.value:.4f} is above the maximum {r.max}")
    return out
