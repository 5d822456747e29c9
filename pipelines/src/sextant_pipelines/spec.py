"""The training spec: the TrainingJob `spec` parsed into typed, validated values before any work starts.

Parsing goes through the contracts' rules (`sextant_contracts.rules.trainingjob`), the very ones the admission
webhook applies with the CRD's own defaults, so the trainer accepts exactly what the API server admits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from sextant_contracts.durations import parse_duration as parse_go_duration
from sextant_contracts.quantities import parse_quantity
from sextant_contracts.rules.structural import with_defaults
from sextant_contracts.rules.trainingjob import check_trainingjob_spec, spec_schema
from sextant_pipelines.errors import SpecError

TASKS = ("classification", "regression", "clustering", "anomalyDetection")
Task = Literal["classification", "regression", "clustering", "anomalyDetection"]


@dataclass(frozen=True)
class DatasetSpec:
    uri: str
    format: str | None = None
    target: str | None = None
    features: list[str] | None = None
    exclude: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SplitSpec:
    test_fraction: float = 0.2
    stratify: bool = True
    seed: int = 42


@dataclass(frozen=True)
class PreprocessingSpec:
    impute: str = "auto"
    scale: str = "standard"
    encode_categorical: str = "onehot"
    text_topics: int = 0


@dataclass(frozen=True)
class EstimatorSpec:
    algorithm: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParamSpace:
    name: str
    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    values: list[Any] | None = None


@dataclass(frozen=True)
class TuningSpec:
    algorithm: str
    strategy: Literal["grid", "random", "bayesian"]
    search_space: list[ParamSpace]
    max_trials: int = 20
    parallel_trials: int = 1
    cv_folds: int = 5
    early_stopping: str | None = None
    early_stopping_min_trials: int = 5
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AutomlSpec:
    time_budget_s: float
    algorithms: list[str] | None = None
    ensemble: Literal["auto", "none", "voting", "stacking"] = "auto"
    max_trials: int | None = None
    target_score: float | None = None
    patience: int | None = None
    cv_folds: int = 5
    parallel_trials: int = 1


@dataclass(frozen=True)
class DaskSpec:
    """spec.compute.dask: how many worker processes, and each one's threads and memory limit (bytes)."""

    workers: int
    threads: int = 1
    memory_limit: int | None = None
    image: str | None = None


@dataclass(frozen=True)
class Criterion:
    metric: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class TrainingSpec:
    task: Task
    dataset: DatasetSpec
    model_name: str
    split: SplitSpec = SplitSpec()
    preprocessing: PreprocessingSpec = PreprocessingSpec()
    estimator: EstimatorSpec | None = None
    tuning: TuningSpec | None = None
    automl: AutomlSpec | None = None
    objective_metric: str | None = None
    objective_goal: Literal["maximize", "minimize"] | None = None
    objective_positive: str | None = None
    acceptance: list[Criterion] = field(default_factory=list)
    promote: str | None = None
    evaluation_cv_folds: int = 0
    dask: DaskSpec | None = None

    @property
    def mode(self) -> str:
        return "estimator" if self.estimator else "tuning" if self.tuning else "automl"


def parse_duration(value: Any, where: str) -> float:
    """Seconds in a duration such as 90s, 10m or 1h30m (the CRD's format); raises SpecError naming `where`."""
    try:
        seconds = parse_go_duration(value)
    except ValueError as exc:
        raise SpecError(where, f"{exc}.", 'use a duration such as "90s", "10m" or "1h30m".') from None
    if seconds <= 0:
        raise SpecError(where, f"{value!r} is not a positive duration.", 'use a duration such as "10m".')
    return seconds


def parse_spec(doc: dict[str, Any]) -> TrainingSpec:
    """Check a TrainingJob spec with the admission rules, fill in the CRD's defaults and type it.

    Raises SpecError naming the first wrong field (and counting the others).
    """
    if not isinstance(doc, dict):
        raise SpecError("", "the spec must be a mapping.", "pass the TrainingJob `spec` object.")
    checked = check_trainingjob_spec(doc)
    if checked.violations:
        first, *others = checked.violations
        more = f" ({len(others)} more: {'; '.join(map(str, others))})" if others else ""
        raise SpecError(first.field.removeprefix("spec").removeprefix("."), first.message + more,
                        "fix the field as the message says; the API server admits a TrainingJob by the same "
                        "rules (docs/api.md).")
    return _typed(checked.spec)


def _section(spec: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional section with the CRD's defaults, also when it is omitted (the API server fills in the
    defaults of the objects that are present only)."""
    return with_defaults(spec_schema()["properties"][key], spec.get(key, {}))  # type: ignore[no-any-return]


def _typed(spec: dict[str, Any]) -> TrainingSpec:
    """The typed spec from a checked one with its defaults filled in (so every key used here is present)."""
    task: Task = spec["task"]
    objective = spec.get("objective", {})
    model = spec["model"]
    return TrainingSpec(
        task=task, dataset=_dataset(spec["dataset"]), model_name=model["name"],
        split=_split(task, _section(spec, "split")), preprocessing=_preprocessing(_section(spec, "preprocessing")),
        estimator=EstimatorSpec(spec["estimator"]["algorithm"], dict(spec["estimator"].get("params", {})))
        if "estimator" in spec else None,
        tuning=_tuning(spec["tuning"]) if "tuning" in spec else None,
        automl=_automl(spec["automl"]) if "automl" in spec else None,
        objective_metric=objective.get("metric"), objective_goal=objective.get("goal"),
        objective_positive=objective.get("positiveClass"),
        acceptance=[Criterion(c["metric"], c.get("min"), c.get("max")) for c in spec.get("acceptance", [])],
        promote=model.get("promote"),
        evaluation_cv_folds=_section(spec, "evaluation")["cvFolds"],
        dask=_dask(spec["compute"]["dask"]) if "dask" in spec.get("compute", {}) else None,
    )


def _dataset(doc: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec(uri=doc["uri"], format=doc.get("format"), target=doc.get("target"),
                       features=list(doc["features"]) if "features" in doc else None,
                       exclude=list(doc.get("exclude", [])))


def _split(task: Task, split: dict[str, Any]) -> SplitSpec:
    # As the CRD says: stratified for classification when omitted; stratify needs class labels.
    stratify = bool(split.get("stratify", task == "classification"))
    return SplitSpec(float(split["testFraction"]), stratify, int(split["seed"]))


def _preprocessing(doc: dict[str, Any]) -> PreprocessingSpec:
    return PreprocessingSpec(impute=doc["impute"], scale=doc["scale"], encode_categorical=doc["encodeCategorical"],
                             text_topics=doc["textTopics"])


def _space(name: str, doc: dict[str, Any]) -> ParamSpace:
    if doc["type"] == "categorical":
        return ParamSpace(name, "categorical", values=list(doc["values"]))
    return ParamSpace(name, doc["type"], low=doc["min"], high=doc["max"], log=bool(doc.get("log", False)),
                      step=doc.get("step"))


def _tuning(doc: dict[str, Any]) -> TuningSpec:
    early_stopping = doc.get("earlyStopping", {})
    stopping = early_stopping.get("strategy", "none")
    return TuningSpec(
        algorithm=doc["algorithm"], strategy=doc["strategy"],
        search_space=[_space(name, dim) for name, dim in doc["searchSpace"].items()],
        max_trials=doc["maxTrials"], parallel_trials=doc["parallelTrials"], cv_folds=doc["cvFolds"],
        early_stopping=None if stopping == "none" else stopping,
        early_stopping_min_trials=int(early_stopping.get("minTrials", 5)), params=dict(doc.get("params", {})))


def _dask(doc: dict[str, Any]) -> DaskSpec:
    """Threads from the worker's CPU (limit, else request; rounded up, at least 1), memory from its limit."""
    resources = doc.get("resources", {})
    limits, requests = resources.get("limits", {}), resources.get("requests", {})
    cpu = limits.get("cpu", requests.get("cpu"))
    memory = limits.get("memory")
    return DaskSpec(workers=int(doc["workers"]), threads=max(1, math.ceil(parse_quantity(cpu))) if cpu else 1,
                    memory_limit=int(parse_quantity(memory)) if memory else None, image=doc.get("image"))


def _automl(doc: dict[str, Any]) -> AutomlSpec:
    exit_criteria = doc.get("exitCriteria", {})
    return AutomlSpec(
        time_budget_s=parse_duration(doc["timeBudget"], "automl.timeBudget"),
        algorithms=list(doc["algorithms"]) if "algorithms" in doc else None, ensemble=doc["ensemble"],
        max_trials=exit_criteria.get("maxTrials"), target_score=exit_criteria.get("targetScore"),
        patience=exit_criteria.get("patience"), cv_folds=doc["cvFolds"], parallel_trials=doc["parallelTrials"])
