"""Pure checks of a TrainingJob spec against the algorithm and metric catalogue."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sextant_contracts.catalogue import ALGORITHMS, METRICS, Algorithm, Task, value_type


@dataclass(frozen=True)
class Violation:
    """One rejected field: its path and what is wrong with it, with the fix."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def validate_trainingjob(spec: Mapping[str, Any]) -> list[Violation]:
    """Every catalogue violation in a TrainingJob spec (empty when the spec is acceptable)."""
    task = spec.get("task")
    if task not in ALGORITHMS:
        return []  # the CRD enum rejects unknown tasks before the webhook is called
    return [*_check_estimator(task, spec), *_check_tuning(task, spec), *_check_automl(task, spec),
            *_check_metrics(task, spec)]


def _lookup(task: Task, name: object, path: str) -> Algorithm | Violation:
    algos = ALGORITHMS[task]
    if isinstance(name, str) and name in algos:
        return algos[name]
    elsewhere = [t for t, table in ALGORITHMS.items() if isinstance(name, str) and name in table]
    hint = f" ({name} is offered for {', '.join(elsewhere)}, not {task})" if elsewhere else ""
    return Violation(path, f"unknown algorithm {name!r} for task {task}{hint}; choose one of: {', '.join(algos)}")


def _unknown_param(algo: Algorithm, name: str, path: str) -> Violation:
    return Violation(path, f"{algo.name} ({algo.task}) does not accept hyperparameter {name!r}; "
                     f"accepted: {', '.join(sorted(algo.params))}")


def _check_params(algo: Algorithm, params: Mapping[str, Any], path: str) -> Iterator[Violation]:
    for name, value in params.items():
        spec = algo.params.get(name)
        if spec is None:
            yield _unknown_param(algo, name, f"{path}[{name}]")
        elif not spec.accepts(value):
            yield Violation(f"{path}[{name}]", f"{algo.name} expects {spec.describe()} for {name}, "
                            f"got {value_type(value)} {value!r}")


def _check_estimator(task: Task, spec: Mapping[str, Any]) -> Iterator[Violation]:
    estimator = spec.get("estimator")
    if not isinstance(estimator, Mapping):
        return
    algo = _lookup(task, estimator.get("algorithm"), "spec.estimator.algorithm")
    if isinstance(algo, Violation):
        yield algo
        return
    yield from _check_params(algo, estimator.get("params") or {}, "spec.estimator.params")


def _check_dimension(algo: Algorithm, name: str, dim: Mapping[str, Any], path: str) -> Iterator[Violation]:
    param = algo.params.get(name)
    if param is None:
        yield _unknown_param(algo, name, path)
        return
    kind = dim.get("type")
    if kind == "categorical" and not dim.get("values"):
        yield Violation(f"{path}.values", "a categorical dimension needs a non-empty values list")
    if kind != "categorical" and "values" in dim:
        yield Violation(f"{path}.values", f"an {kind} dimension searches between min and max; remove values "
                        f"or use type: categorical")
    if kind in ("int", "float") and kind not in param.types and not (kind == "int" and "float" in param.types):
        yield Violation(f"{path}.type", f"{name} of {algo.name} takes {param.describe()}, "
                        f"so it cannot be searched as {kind}")
    for i, value in enumerate(dim.get("values") or []):
        if not param.accepts(value):
            yield Violation(f"{path}.values[{i}]", f"{algo.name} expects {param.describe()} for {name}, "
                            f"got {value_type(value)} {value!r}")


def _check_tuning(task: Task, spec: Mapping[str, Any]) -> Iterator[Violation]:
    tuning = spec.get("tuning")
    if not isinstance(tuning, Mapping):
        return
    algo = _lookup(task, tuning.get("algorithm"), "spec.tuning.algorithm")
    if isinstance(algo, Violation):
        yield algo
        return
    fixed = tuning.get("params") or {}
    yield from _check_params(algo, fixed, "spec.tuning.params")
    for name, dim in (tuning.get("searchSpace") or {}).items():
        path = f"spec.tuning.searchSpace[{name}]"
        if name in fixed:
            yield Violation(path, f"{name} is both searched and fixed in spec.tuning.params; remove one")
        yield from _check_dimension(algo, name, dim, path)


def _check_automl(task: Task, spec: Mapping[str, Any]) -> Iterator[Violation]:
    automl = spec.get("automl")
    if not isinstance(automl, Mapping):
        return
    for i, name in enumerate(automl.get("algorithms") or []):
        found = _lookup(task, name, f"spec.automl.algorithms[{i}]")
        if isinstance(found, Violation):
            yield found


def _check_metric(task: Task, name: object, path: str, has_target: bool) -> Iterator[Violation]:
    metrics = METRICS[task]
    metric = metrics.get(name) if isinstance(name, str) else None
    if metric is None:
        yield Violation(path, f"metric {name!r} does not fit task {task}; choose one of: {', '.join(metrics)}")
    elif metric.needs_target and not has_target:
        yield Violation(path, f"metric {name!r} compares predictions with labels, but spec.dataset.target is "
                        f"not set; set a target column or use one of: "
                        f"{', '.join(m.name for m in metrics.values() if not m.needs_target)}")


def _check_metrics(task: Task, spec: Mapping[str, Any]) -> Iterator[Violation]:
    has_target = bool((spec.get("dataset") or {}).get("target"))
    objective = spec.get("objective")
    if isinstance(objective, Mapping):
        name = objective.get("metric")
        yield from _check_metric(task, name, "spec.objective.metric", has_target)
        metric = METRICS[task].get(name) if isinstance(name, str) else None
        goal = objective.get("goal")
        if metric is not None and goal is not None and goal != metric.goal:
            yield Violation("spec.objective.goal", f"{metric.name} is better when it is "
                            f"{'larger' if metric.goal == 'maximize' else 'smaller'}: set goal to {metric.goal} "
                            f"or leave it out")
    for i, criterion in enumerate(spec.get("acceptance") or []):
        yield from _check_metric(task, criterion.get("metric"), f"spec.acceptance[{i}].metric", has_target)
