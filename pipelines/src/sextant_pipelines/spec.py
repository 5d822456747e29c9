"""The training spec: the TrainingJob `spec` parsed into typed, validated values before any work starts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sextant_contracts.errors import RegistryError
from sextant_contracts.registry import check_model_name
from sextant_pipelines.errors import SpecError

TASKS = ("classification", "regression", "clustering", "anomalyDetection")
Task = Literal["classification", "regression", "clustering", "anomalyDetection"]
FORMATS = ("csv", "parquet")


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
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AutomlSpec:
    time_budget_s: float
    algorithms: list[str] | None = None
    ensemble: Literal["none", "voting", "stacking"] = "none"
    max_trials: int | None = None
    target_score: float | None = None
    patience: int | None = None
    cv_folds: int = 5
    parallel_trials: int = 1


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
    acceptance: list[Criterion] = field(default_factory=list)
    promote: str | None = None
    evaluation_cv_folds: int = 0

    @property
    def mode(self) -> str:
        return "estimator" if self.estimator else "tuning" if self.tuning else "automl"


def _get(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    value = doc.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = "/".join(t.__name__ for t in _as_tuple(kind))
        raise SpecError(f"{where}{key}", f"must be {names}, got {type(value).__name__} {value!r}.",
                        f"set {where}{key} to a {names}.")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _mapping(doc: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    return dict(_get(doc, key, dict, where, {}))


def parse_duration(value: Any, where: str) -> float:
    """Seconds from 90, "90", "90s", "10m" or "1h"; raises SpecError naming `where`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(value))
    if not match or float(match.group(1)) <= 0:
        raise SpecError(where, f"{value!r} is not a positive duration.", 'use seconds or a string like "90s", "10m".')
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _parse_space(name: str, doc: Any, where: str) -> ParamSpace:
    if not isinstance(doc, dict):
        raise SpecError(f"{where}.{name}", "must be a mapping with `type`.", "e.g. {type: int, min: 2, max: 8}.")
    kind = doc.get("type")
    if kind not in ("int", "float", "categorical"):
        raise SpecError(f"{where}.{name}.type", f"{kind!r} is not int, float or categorical.", "set a valid type.")
    values = doc.get("values")
    if kind == "categorical" or values is not None:
        if not isinstance(values, list) or not values:
            raise SpecError(f"{where}.{name}.values", "must be a non-empty list.", "list the values to try.")
        return ParamSpace(name, kind, values=list(values))
    low, high = doc.get("min"), doc.get("max")
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        raise SpecError(f"{where}.{name}", "needs numeric `min` and `max`.", "add min and max, or `values`.")
    if low > high:
        raise SpecError(f"{where}.{name}", f"min {low} is greater than max {high}.", "swap or fix the bounds.")
    log = bool(doc.get("log", False))
    if log and low <= 0:
        raise SpecError(f"{where}.{name}", "a log-scaled range needs min > 0.", "raise min or drop `log`.")
    return ParamSpace(name, kind, low=low, high=high, log=log, step=doc.get("step"))


def _parse_tuning(doc: dict[str, Any]) -> TuningSpec:
    where = "tuning."
    strategy = _get(doc, "strategy", str, where, "bayesian")
    if strategy not in ("grid", "random", "bayesian"):
        raise SpecError("tuning.strategy", f"{strategy!r} is not grid, random or bayesian.", "pick one of those.")
    space_doc = _mapping(doc, "searchSpace", where)
    if not space_doc:
        raise SpecError("tuning.searchSpace", "is empty.", "declare at least one hyperparameter range.")
    space = [_parse_space(k, v, "tuning.searchSpace") for k, v in space_doc.items()]
    if strategy == "grid":
        for p in space:
            if p.type == "float" and p.values is None and p.step is None:
                raise SpecError(f"tuning.searchSpace.{p.name}", "a float range cannot be enumerated by grid search.",
                                "give `values` or `step`, or use strategy random/bayesian.")
    stopping = _mapping(doc, "earlyStopping", where).get("strategy")
    if stopping not in (None, "median", "none"):
        raise SpecError("tuning.earlyStopping.strategy", f"{stopping!r} is not supported.", "use median or none.")
    spec = TuningSpec(
        algorithm=_required_str(doc, "algorithm", "tuning."),
        strategy=strategy, search_space=space,
        max_trials=_positive_int(doc, "maxTrials", where, 20),
        parallel_trials=_positive_int(doc, "parallelTrials", where, 1),
        cv_folds=_positive_int(doc, "cvFolds", where, 5),
        early_stopping=None if stopping in (None, "none") else stopping,
        params=_mapping(doc, "params", where),
    )
    if spec.cv_folds < 2:
        raise SpecError("tuning.cvFolds", "must be at least 2.", "use 3 or 5 folds.")
    if spec.parallel_trials > spec.max_trials:
        raise SpecError("tuning.parallelTrials", f"{spec.parallel_trials} exceeds maxTrials {spec.max_trials}.",
                        "lower parallelTrials or raise maxTrials.")
    return spec


def _positive_int(doc: dict[str, Any], key: str, where: str, default: int) -> int:
    value = _get(doc, key, int, where, default)
    if value < 1:
        raise SpecError(f"{where}{key}", f"must be at least 1, got {value}.", f"set {key} to a positive integer.")
    return int(value)


def _required_str(doc: dict[str, Any], key: str, where: str) -> str:
    value = _get(doc, key, str, where)
    if not value:
        raise SpecError(f"{where}{key}", "is required.", f"set {where}{key}.")
    return str(value)


def _parse_automl(doc: dict[str, Any]) -> AutomlSpec:
    where = "automl."
    if "timeBudget" not in doc:
        raise SpecError("automl.timeBudget", "is required.", 'set a time budget such as "10m".')
    ensemble = _get(doc, "ensemble", str, where, "none")
    if ensemble not in ("none", "voting", "stacking"):
        raise SpecError("automl.ensemble", f"{ensemble!r} is not none, voting or stacking.", "pick one of those.")
    exit_doc = _mapping(doc, "exitCriteria", where)
    algorithms = _get(doc, "algorithms", list, where)
    return AutomlSpec(
        time_budget_s=parse_duration(doc["timeBudget"], "automl.timeBudget"),
        algorithms=[str(a) for a in algorithms] if algorithms else None,
        ensemble=ensemble,
        max_trials=_get(exit_doc, "maxTrials", int, "automl.exitCriteria."),
        target_score=_get(exit_doc, "targetScore", (int, float), "automl.exitCriteria."),
        patience=_get(exit_doc, "patience", int, "automl.exitCriteria."),
        cv_folds=_positive_int(doc, "cvFolds", where, 5),
        parallel_trials=_positive_int(doc, "parallelTrials", where, 1),
    )


def _parse_dataset(doc: dict[str, Any]) -> DatasetSpec:
    where = "dataset."
    fmt = _get(doc, "format", str, where)
    if fmt is not None and fmt not in FORMATS:
        raise SpecError("dataset.format", f"{fmt!r} is not supported.", "use csv or parquet.")
    features = _get(doc, "features", list, where)
    return DatasetSpec(
        uri=_required_str(doc, "uri", where), format=fmt, target=_get(doc, "target", str, where),
        features=[str(f) for f in features] if features is not None else None,
        exclude=[str(e) for e in _get(doc, "exclude", list, where, [])],
    )


def _parse_split(doc: dict[str, Any]) -> SplitSpec:
    fraction = float(_get(doc, "testFraction", (int, float), "split.", 0.2))
    if not 0.05 <= fraction <= 0.5:
        raise SpecError("split.testFraction", f"{fraction} is outside [0.05, 0.5].", "use a value such as 0.2.")
    return SplitSpec(fraction, bool(_get(doc, "stratify", bool, "split.", True)), _get(doc, "seed", int, "split.", 42))


def _parse_preprocessing(doc: dict[str, Any]) -> PreprocessingSpec:
    spec = PreprocessingSpec(
        impute=_get(doc, "impute", str, "preprocessing.", "auto"),
        scale=_get(doc, "scale", str, "preprocessing.", "standard"),
        encode_categorical=_get(doc, "encodeCategorical", str, "preprocessing.", "onehot"),
    )
    choices = {"impute": ("auto", "mean", "median", "most_frequent", "none"),
               "scale": ("standard", "minmax", "robust", "none"), "encodeCategorical": ("onehot", "ordinal")}
    for key, allowed in choices.items():
        value = doc.get(key)
        if value is not None and value not in allowed:
            raise SpecError(f"preprocessing.{key}", f"{value!r} is not supported.", f"use one of {', '.join(allowed)}.")
    return spec


def parse_spec(doc: dict[str, Any]) -> TrainingSpec:
    """Parse and validate a TrainingJob spec mapping; raises SpecError naming the first wrong field."""
    if not isinstance(doc, dict):
        raise SpecError("", "the spec must be a mapping.", "pass the TrainingJob `spec` object.")
    task = doc.get("task")
    if task not in TASKS:
        raise SpecError("task", f"{task!r} is not a task.", f"use one of {', '.join(TASKS)}.")
    modes = [k for k in ("estimator", "tuning", "automl") if doc.get(k)]
    if len(modes) != 1:
        raise SpecError("estimator", f"exactly one of estimator, tuning or automl must be set, found {modes}.",
                        "keep exactly one of them.")
    model = _mapping(doc, "model")
    name = _required_str(model, "name", "model.")
    try:
        check_model_name(name)
    except RegistryError as exc:
        raise SpecError("model.name", exc.message, exc.fix) from None
    promote = model.get("promote")
    if promote not in (None, "staging", "production"):
        raise SpecError("model.promote", f"{promote!r} is not an alias.", "use staging or production.")
    objective = _mapping(doc, "objective")
    goal = objective.get("goal")
    if goal not in (None, "maximize", "minimize"):
        raise SpecError("objective.goal", f"{goal!r} is not maximize or minimize.", "pick one of those.")
    est = _mapping(doc, "estimator")
    return TrainingSpec(
        task=task, dataset=_parse_dataset(_mapping(doc, "dataset")), model_name=name,
        split=_parse_split(_mapping(doc, "split")), preprocessing=_parse_preprocessing(_mapping(doc, "preprocessing")),
        estimator=EstimatorSpec(_required_str(est, "algorithm", "estimator."), _mapping(est, "params", "estimator."))
        if est else None,
        tuning=_parse_tuning(_mapping(doc, "tuning")) if doc.get("tuning") else None,
        automl=_parse_automl(_mapping(doc, "automl")) if doc.get("automl") else None,
        objective_metric=objective.get("metric"), objective_goal=goal,
        acceptance=[_parse_criterion(i, c) for i, c in enumerate(_get(doc, "acceptance", list, "", []))],
        promote=promote,
        evaluation_cv_folds=int(_get(_mapping(doc, "evaluation"), "cvFolds", int, "evaluation.", 0)),
    )


def _parse_criterion(index: int, doc: Any) -> Criterion:
    where = f"acceptance[{index}]"
    if not isinstance(doc, dict) or not isinstance(doc.get("metric"), str):
        raise SpecError(where, "needs a `metric` name.", "e.g. {metric: roc_auc, min: 0.85}.")
    low, high = doc.get("min"), doc.get("max")
    if low is None and high is None:
        raise SpecError(where, "sets neither min nor max.", "add min or max.")
    for key, value in (("min", low), ("max", high)):
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise SpecError(f"{where}.{key}", f"must be a number, got {value!r}.", f"set {key} to a number.")
    return Criterion(doc["metric"], low, high)
