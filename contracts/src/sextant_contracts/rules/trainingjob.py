"""Every rule a TrainingJob spec must meet, in one place: the admission webhook and the trainer both apply it.

`check_trainingjob_spec` fills in the CRD's defaults and applies, in order, the CRD's structural schema (the
one generated from the typed models), the Python twins of its CEL rules, and the rules CEL cannot express:
the algorithm catalogue, scikit-learn's own constraints on hyperparameter values, metrics per task.
A spec it accepts is one the API server admits and the trainer can train.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..catalogue import ALGORITHMS, METRICS, Algorithm, Task, value_type
from ..resources import trainingjob
from ..resources.crd import TRAININGJOB, openapi_schema
from ..resources.fields import Rule
from .hyperparameters import violates
from .structural import Schema, Violation, violations, with_defaults

__all__ = ["CheckedSpec", "Violation", "check_trainingjob_spec", "rules_by_text", "spec_schema", "validate_trainingjob"]


@dataclass(frozen=True)
class CheckedSpec:
    """A spec with the CRD's defaults filled in, and everything wrong with it (empty when it can be trained)."""

    spec: dict[str, Any]
    violations: list[Violation]


@functools.cache
def spec_schema() -> Schema:
    """The OpenAPI schema of TrainingJob.spec, exactly as in the CRD."""
    return openapi_schema(TRAININGJOB)["properties"]["spec"]  # type: ignore[no-any-return]


@functools.cache
def rules_by_text() -> dict[str, Rule]:
    """Every CEL rule of the TrainingJob CRD by its text, with its Python twin."""
    groups = (*trainingjob.CLASS_RULES.values(), trainingjob.TRAININGJOB_SPEC_RULES)
    return {rule.rule: rule for group in groups for rule in group}


def check_trainingjob_spec(spec: Mapping[str, Any]) -> CheckedSpec:
    """The defaulted spec and its violations: schema and CEL rules first, then the catalogue rules."""
    schema = spec_schema()
    defaulted = with_defaults(schema, dict(spec)) if isinstance(spec, Mapping) else spec
    found = list(violations(schema, defaulted, "spec", rules_by_text()))
    if not found:
        found = catalogue_violations(defaulted)
    return CheckedSpec(defaulted, found)


def validate_trainingjob(spec: Mapping[str, Any]) -> list[Violation]:
    """Every violation in a TrainingJob spec (empty when the spec is acceptable)."""
    return check_trainingjob_spec(spec).violations


def catalogue_violations(spec: Mapping[str, Any]) -> list[Violation]:
    """What the catalogue refuses in a well-formed spec: algorithms, hyperparameters, metrics per task."""
    task = spec.get("task")
    if task not in ALGORITHMS:
        return []  # the schema's enum refuses unknown tasks first
    return [*_check_estimator(task, spec), *_check_tuning(task, spec), *_check_automl(task, spec),
            *_check_metrics(task, spec)]


def _lookup(task: Task, name: object, path: str) -> Algorithm | Violation:
    algos = ALGORITHMS[task]
    if isinstance(name, str) and name in algos:
        return algos[name]
    elsewhere = [t for t, table in ALGORITHMS.items() if isinstance(name, str) and name in table]
    hint = f" ({name} is offered for {', '.join(elsewhere)}, not {task})" if elsewhere else _did_you_mean(name, algos)
    return Violation(path, f"unknown algorithm {name!r} for task {task}{hint}; choose one of: {', '.join(algos)}")


def _did_you_mean(name: object, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1) if isinstance(name, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_param(algo: Algorithm, name: str, path: str) -> Violation:
    return Violation(path, f"{algo.name} ({algo.task}) does not accept hyperparameter {name!r}"
                     f"{_did_you_mean(name, algo.params)}; accepted: {', '.join(sorted(algo.params))}")


def _check_params(algo: Algorithm, params: Mapping[str, Any], path: str) -> Iterator[Violation]:
    for name, value in params.items():
        spec = algo.params.get(name)
        if spec is None:
            yield _unknown_param(algo, name, f"{path}[{name}]")
        elif not spec.accepts(value):
            yield Violation(f"{path}[{name}]", f"{algo.name} expects {spec.describe()} for {name}, "
                            f"got {value_type(value)} {value!r}")
        elif (refused := violates(algo.estimator, name, value)) is not None:
            yield Violation(f"{path}[{name}]", refused)


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
        elif (refused := violates(algo.estimator, name, value)) is not None:
            yield Violation(f"{path}.values[{i}]", refused)
    for bound in ("min", "max"):
        if kind in ("int", "float") and bound in dim:
            value = int(dim[bound]) if kind == "int" else float(dim[bound])
            if (refused := violates(algo.estimator, name, value)) is not None:
                yield Violation(f"{path}.{bound}", f"the range reaches {value!r}, outside what scikit-learn "
                                f"accepts: {refused}")


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
