"""The TrainingJob resource as typed models: the single definition its CRD schema is generated from."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Required, TypedDict

from ..catalogue import BUILTIN_DATASETS, FORMAT_BY_SUFFIX, format_from_uri
from ..durations import is_positive_duration
from .common import (
    COMPUTE_RESOURCES_RULES,
    DURATION_PATTERN,
    ENV_FROM_RULES,
    ENV_SOURCE_RULES,
    ENV_VAR_RULES,
    NAME_PATTERN,
    ComputeResources,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    ModelAlias,
    Scheduling,
)
from .compute import DASK_RULE, Compute
from .fields import Field, JsonValue, Rule
from .training_evaluation import (
    ACCEPTANCE_RULES,
    EVALUATION_RULES,
    AcceptanceCriterion,
    Evaluation,
    Objective,
)
from .trainingjob_status import TrainingJobStatus

Task = Literal["classification", "regression", "clustering", "anomalyDetection"]
ALGORITHM_PATTERN = r"^[a-z][a-z0-9_]*$"
PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: A URI that names one object: s3://bucket/key, file:///absolute/path (not a directory) or a bundled dataset.
DATASET_URI_PATTERN = (
    r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^?#]*[^/?#]|file:///[^?#]*[^/?#]|builtin:("
    + "|".join(BUILTIN_DATASETS) + r"))$")
_FORMAT_SUFFIX_REGEX = "[.](" + "|".join(s.removeprefix(".").replace(".", "[.]") for s in FORMAT_BY_SUFFIX) + ")$"


class Dataset(TypedDict, total=False):
    """Where the training data is and how to read it."""

    uri: Required[Annotated[str, Field(
        "Location of one data file: s3://bucket/key, file:///absolute/path, or builtin:<name> for a dataset "
        f"bundled with scikit-learn ({', '.join(BUILTIN_DATASETS)}).",
        pattern=DATASET_URI_PATTERN, max_length=2048)]]
    format: Annotated[Literal["csv", "parquet"], Field(
        "File format of the data; read from the file name when omitted "
        f"({', '.join(FORMAT_BY_SUFFIX)}), so required for other names.")]
    target: Annotated[str, Field(
        "Column to predict. Required for classification and regression; optional for anomalyDetection and "
        "clustering, where it is used for evaluation only (labelled metrics, adjusted Rand index) and never as a "
        "feature.", min_length=1, max_length=256)]
    features: Annotated[list[Annotated[str, Field("A column name.", max_length=256)]], Field(
        "Columns used as features; every column but the target and the excluded ones when omitted.",
        max_items=4096)]
    exclude: Annotated[list[Annotated[str, Field("A column name.", max_length=256)]], Field(
        "Columns left out of the features, such as identifiers.", max_items=256)]
    credentialsSecret: Annotated[str, Field(
        "Name of a Secret in the same namespace holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for s3:// "
        "URIs.", pattern=NAME_PATTERN, max_length=253)]


DATASET_RULES = (
    Rule("has(self.format) || self.uri.startsWith('builtin:') || self.uri.lowerAscii().matches('"
         + _FORMAT_SUFFIX_REGEX + "')",
         "the format cannot be read from the file name: set format to csv or parquet", field_path=".format",
         check=lambda s: "format" in s or s["uri"].startswith("builtin:") or format_from_uri(s["uri"]) is not None),
)


class Split(TypedDict, total=False):
    """How the data is split into training and holdout sets."""

    testFraction: Annotated[float, Field(
        "Fraction of rows kept as a holdout for evaluation.", default=0.2, minimum=0.05, maximum=0.5)]
    stratify: Annotated[bool, Field(
        "Keep class proportions equal in both sets (classification and labelled anomalyDetection); true "
        "for classification when omitted.")]
    seed: Annotated[int, Field("Random seed of the split, for reproducible runs.", default=42, minimum=0)]


SPLIT_RULES = (
    # The OpenAPI minimum alone is not enough: the API server compares an integer value (0) with the
    # minimum truncated to an integer (0), so testFraction: 0 would pass it.
    Rule("!has(self.testFraction) || (double(self.testFraction) >= 0.05 && double(self.testFraction) <= 0.5)",
         "testFraction must be between 0.05 and 0.5", field_path=".testFraction",
         check=lambda s: "testFraction" not in s or 0.05 <= s["testFraction"] <= 0.5),
)


class Preprocessing(TypedDict, total=False):
    """How features are prepared before training."""

    impute: Annotated[Literal["auto", "mean", "median", "most_frequent", "none"], Field(
        "How missing values are filled; auto uses the median for numbers and the most frequent value "
        "otherwise.", default="auto")]
    scale: Annotated[Literal["standard", "minmax", "robust", "none"], Field(
        "How numeric features are scaled.", default="standard")]
    encodeCategorical: Annotated[Literal["onehot", "ordinal"], Field(
        "How categorical features are encoded.", default="onehot")]
    textTopics: Annotated[int, Field(
        "Free-text columns also become this many topic features (scikit-learn's LatentDirichletAllocation over "
        "their word counts) beside their TF-IDF features; 0 keeps TF-IDF only.", default=0, minimum=0,
        maximum=100)]


class Estimator(TypedDict, total=False):
    """Train one algorithm with fixed hyperparameters."""

    algorithm: Required[Annotated[str, Field(
        "Algorithm from the Sextant catalogue for the task, e.g. gradient_boosting (see docs/api.md).",
        pattern=ALGORITHM_PATTERN, max_length=64)]]
    params: Annotated[dict[str, JsonValue], Field(
        "Hyperparameters by their scikit-learn names, e.g. {max_depth: 3}; checked against the catalogue.",
        preserve_unknown=True, max_properties=64)]


class SearchDimension(TypedDict, total=False):
    """The range searched for one hyperparameter."""

    type: Required[Annotated[Literal["int", "float", "categorical"], Field(
        "int and float search between min and max; categorical picks from values.")]]
    min: Annotated[float, Field("Lower bound (int and float).")]
    max: Annotated[float, Field("Upper bound (int and float), greater than min.")]
    log: Annotated[bool, Field("Search on a logarithmic scale (requires min > 0).", default=False)]
    step: Annotated[float, Field("Grid step for int and float dimensions in grid search.", minimum=0,
                                 exclusive_minimum=True)]
    values: Annotated[list[JsonValue], Field(
        "Choices for a categorical dimension (required for categorical, not allowed otherwise).",
        min_items=1, max_items=64, preserve_unknown=True)]


def _whole(dim: dict[str, Any], key: str) -> bool:
    return key not in dim or float(dim[key]).is_integer()


SEARCH_DIMENSION_RULES = (
    Rule("self.type == 'categorical' ? (!has(self.min) && !has(self.max)) : true",
         "a categorical dimension takes values, not min/max",
         check=lambda s: s["type"] != "categorical" or ("min" not in s and "max" not in s)),
    Rule("self.type != 'categorical' ? has(self.min) && has(self.max) : true",
         "an int or float dimension needs both min and max",
         check=lambda s: s["type"] == "categorical" or ("min" in s and "max" in s)),
    Rule("has(self.min) && has(self.max) ? self.min < self.max : true",
         "min must be less than max", field_path=".min",
         check=lambda s: not ("min" in s and "max" in s) or s["min"] < s["max"]),
    Rule("has(self.log) && self.log ? has(self.min) && self.min > 0.0 : true",
         "a log-scale dimension needs min > 0", field_path=".min",
         check=lambda s: not s.get("log") or ("min" in s and s["min"] > 0)),
    Rule("self.type != 'int' || ((!has(self.min) || self.min == double(int(self.min))) && "
         "(!has(self.max) || self.max == double(int(self.max))) && "
         "(!has(self.step) || self.step == double(int(self.step))))",
         "an int dimension needs whole-number min, max and step; use type: float for fractions",
         check=lambda s: s["type"] != "int" or all(_whole(s, k) for k in ("min", "max", "step"))),
)


class EarlyStopping(TypedDict, total=False):
    """When unpromising trials are stopped before they finish."""

    strategy: Annotated[Literal["none", "median"], Field(
        "median stops a trial below the median of earlier trials at the same step.", default="none")]
    minTrials: Annotated[int, Field("Trials completed before any is stopped early.", default=5, minimum=1)]


class Tuning(TypedDict, total=False):
    """Search hyperparameters of one algorithm."""

    algorithm: Required[Annotated[str, Field(
        "Algorithm from the Sextant catalogue for the task.", pattern=ALGORITHM_PATTERN, max_length=64)]]
    strategy: Annotated[Literal["grid", "random", "bayesian"], Field("Search strategy.", default="random")]
    maxTrials: Annotated[int, Field("Most trials run in total.", default=20, minimum=1, maximum=1000)]
    parallelTrials: Annotated[int, Field(
        "Trials run at once; at most maxTrials.", default=1, minimum=1, maximum=64)]
    cvFolds: Annotated[int, Field(
        "Cross-validation folds scoring each trial.", default=5, minimum=2, maximum=20)]
    earlyStopping: Annotated[EarlyStopping, Field("Stopping rule for unpromising trials.")]
    searchSpace: Required[Annotated[dict[str, SearchDimension], Field(
        "Hyperparameters searched, by their scikit-learn names, each with its range.",
        max_properties=32)]]
    params: Annotated[dict[str, JsonValue], Field(
        "Hyperparameters held fixed during the search.", preserve_unknown=True, max_properties=64)]


def _grid_can_enumerate(tuning: dict[str, Any]) -> bool:
    return tuning.get("strategy") != "grid" or all(
        d.get("type") != "float" or "step" in d for d in tuning["searchSpace"].values())


TUNING_RULES = (
    Rule("!has(self.parallelTrials) || !has(self.maxTrials) || self.parallelTrials <= self.maxTrials",
         "parallelTrials must not exceed maxTrials", field_path=".parallelTrials",
         check=lambda s: s.get("parallelTrials", 1) <= s.get("maxTrials", 20)),
    Rule("size(self.searchSpace) > 0", "searchSpace needs at least one hyperparameter",
         field_path=".searchSpace", check=lambda s: len(s["searchSpace"]) > 0),
    Rule("!has(self.strategy) || self.strategy != 'grid' || "
         "self.searchSpace.all(k, self.searchSpace[k].type != 'float' || has(self.searchSpace[k].step))",
         "grid search cannot enumerate a float range: give each float dimension a step, use type: categorical "
         "or strategy: random", field_path=".searchSpace", check=_grid_can_enumerate),
)


class AutoMLExitCriteria(TypedDict, total=False):
    """Conditions that end an AutoML search before its time budget."""

    maxTrials: Annotated[int, Field("Most trials across all algorithms.", minimum=1, maximum=5000)]
    targetScore: Annotated[float, Field("Stop once the objective reaches this score.")]
    patience: Annotated[int, Field("Stop after this many trials without improvement.", minimum=1, maximum=5000)]


class AutoML(TypedDict, total=False):
    """Try many algorithms within a time budget and keep the best, or an ensemble."""

    timeBudget: Required[Annotated[str, Field(
        "Wall-clock budget such as 10m or 1h30m.", pattern=DURATION_PATTERN, max_length=32)]]
    algorithms: Annotated[list[Annotated[str, Field("An algorithm name.", pattern=ALGORITHM_PATTERN,
                                                    max_length=64)]], Field(
        "Algorithms to try; all of the task's catalogue when omitted.", min_items=1, max_items=32,
        extra={"x-kubernetes-list-type": "set"})]
    ensemble: Annotated[Literal["auto", "none", "voting", "stacking"], Field(
        "Combine the best model per algorithm into an ensemble when its cross-validated score (out-of-fold "
        "predictions scored per fold, as trials are) beats the best single model's (voting: a weighted average, "
        "members and weights chosen by ensemble selection; stacking: a linear meta-model; auto: whichever of the "
        "two scores best; none: always the best single model).",
        default="auto")]
    exitCriteria: Annotated[AutoMLExitCriteria, Field("Stop before the time budget when one of these holds.")]
    parallelTrials: Annotated[int, Field("Trials run at once.", default=1, minimum=1, maximum=64)]
    cvFolds: Annotated[int, Field("Cross-validation folds per trial.", default=5, minimum=2, maximum=20)]


AUTOML_RULES = (
    Rule("duration(self.timeBudget) > duration('0s')", "timeBudget must be longer than 0s",
         field_path=".timeBudget", check=lambda s: is_positive_duration(s["timeBudget"])),
)


class ModelOutput(TypedDict, total=False):
    """How the trained model is registered."""

    name: Required[Annotated[str, Field("Registry name of the model; each run adds a version.",
                                        pattern=NAME_PATTERN, max_length=63)]]
    promote: Annotated[ModelAlias, Field(
        "Alias (staging or production, the registry's aliases) moved to the new version when every "
        "acceptance criterion is met.")]


class Runtime(TypedDict, total=False):
    """Where the training pipeline runs."""

    backend: Annotated[Literal["job", "kubeflow"], Field(
        "job (Kubernetes Jobs in the TrainingJob's namespace) or kubeflow (a Kubeflow Pipelines run); the "
        "operator's default when omitted. To train on your own machine, run sextant-train instead.")]


CRON_PATTERN = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$"


class Schedule(TypedDict, total=False):
    """Retrain on a cron schedule: each tick starts a run of the current spec."""

    cron: Required[Annotated[str, Field(
        "Five-field cron expression in UTC, e.g. \"0 3 * * 1\" (Mondays 03:00), or @daily, @weekly, @hourly.",
        pattern=CRON_PATTERN, max_length=128)]]
    concurrencyPolicy: Annotated[Literal["Forbid", "Replace"], Field(
        "When a tick comes while a run is still going: Forbid skips the tick, Replace stops the running run "
        "and starts a new one.", default="Forbid")]
    successfulRunsHistoryLimit: Annotated[int, Field(
        "Finished successful runs whose Job and pods are kept (for kubectl logs).", default=3, minimum=0,
        maximum=100)]
    failedRunsHistoryLimit: Annotated[int, Field(
        "Failed runs whose Job and pods are kept.", default=1, minimum=0, maximum=100)]


class TrainingJobSpec(TypedDict, total=False):
    """Desired training: data, algorithm choice, evaluation and registration."""

    task: Required[Annotated[Task, Field("Kind of learning problem.")]]
    dataset: Required[Annotated[Dataset, Field("Training data.")]]
    split: Annotated[Split, Field("Holdout split.")]
    preprocessing: Annotated[Preprocessing, Field("Feature preparation.")]
    estimator: Annotated[Estimator, Field("Train one algorithm (exclusive with tuning and automl).")]
    tuning: Annotated[Tuning, Field("Hyperparameter search (exclusive with estimator and automl).")]
    automl: Annotated[AutoML, Field("AutoML search (exclusive with estimator and tuning).")]
    objective: Annotated[Objective, Field("Metric that ranks trials; the task's default when omitted.")]
    evaluation: Annotated[Evaluation, Field("Evaluation beyond the holdout metrics.")]
    acceptance: Annotated[list[AcceptanceCriterion], Field(
        "Criteria for promotion; a model that misses one is registered but not promoted.", max_items=16)]
    model: Required[Annotated[ModelOutput, Field("Registration of the trained model.")]]
    resources: Annotated[ComputeResources, Field("Compute for each training pod.")]
    scheduling: Annotated[Scheduling, Field("Where the training pods may run.")]
    image: Annotated[str, Field(
        "Trainer image; the operator's default (the chart's training.image) when omitted.", min_length=1,
        max_length=512)]
    env: Annotated[list[EnvVar], Field(
        "Environment of the training pods; credentials only by Secret reference (valueFrom.secretKeyRef).",
        max_items=64, list_map_keys=("name",))]
    envFrom: Annotated[list[EnvFromSource], Field(
        "Secrets or ConfigMaps whose keys become environment variables of the training pods.", max_items=16)]
    serviceAccountName: Annotated[str, Field(
        "ServiceAccount of the training pods (for cloud workload identity); its token is mounted only when "
        "this is set. The namespace's default account, without a token, when omitted.", pattern=NAME_PATTERN,
        max_length=253)]
    runtime: Annotated[Runtime, Field("Training backend.")]
    compute: Annotated[Compute, Field(
        "Distributed compute for data larger than one pod; training runs in the training pod when omitted.")]
    suspend: Annotated[bool, Field(
        "true stops the running run's pods (they are recreated when set back to false) and holds scheduled "
        "runs.", default=False)]
    schedule: Annotated[Schedule, Field(
        "Retrain on a schedule. Each generation of the spec still runs once when applied.")]
    trigger: Annotated[str, Field(
        "Any value; changing it starts a new run of an unchanged spec, e.g. "
        "kubectl patch sxtj NAME --type merge -p '{\"spec\":{\"trigger\":\"'$(date +%s)'\"}}'.",
        max_length=253)]
    activeDeadlineSeconds: Annotated[int, Field(
        "Seconds a run may take before it is stopped and marked Failed (DeadlineExceeded).", minimum=1)]
    backoffLimit: Annotated[int, Field("Pod retries of a failed run.", default=2, minimum=0, maximum=10)]
    ttlSecondsAfterFinished: Annotated[int, Field(
        "Seconds a finished run's Job and pods are kept before Kubernetes deletes them; kept until the "
        "history limit removes them when omitted. The run stays listed in status.runs.", minimum=0)]


def _stratify_has_labels(spec: dict[str, Any]) -> bool:
    if not spec.get("split", {}).get("stratify"):
        return True
    return spec["task"] == "classification" or (spec["task"] == "anomalyDetection" and "target" in spec["dataset"])


TRAININGJOB_SPEC_RULES = (
    Rule("[has(self.estimator), has(self.tuning), has(self.automl)].filter(x, x).size() == 1",
         "exactly one of spec.estimator, spec.tuning or spec.automl must be set",
         check=lambda s: sum(k in s for k in ("estimator", "tuning", "automl")) == 1),
    Rule("self.task == 'clustering' || self.task == 'anomalyDetection' || has(self.dataset.target)",
         "dataset.target is required for classification and regression", field_path=".dataset",
         check=lambda s: s["task"] in ("clustering", "anomalyDetection") or "target" in s["dataset"]),
    Rule("!has(self.split) || !has(self.split.stratify) || !self.split.stratify || self.task == 'classification'"
         " || (self.task == 'anomalyDetection' && has(self.dataset.target))",
         "split.stratify needs class labels (classification, or anomalyDetection with dataset.target): set it "
         "to false", field_path=".split", check=_stratify_has_labels),
    Rule("!has(self.objective) || !has(self.objective.positiveClass) || self.task == 'classification'",
         "objective.positiveClass names a class label: only for task classification", field_path=".objective",
         check=lambda s: "positiveClass" not in s.get("objective", {}) or s["task"] == "classification"),
    DASK_RULE,
)


class TrainingJob(TypedDict, total=False):
    """A request to train, evaluate and register a model."""

    apiVersion: Annotated[str, Field("ml.sextant.io/v1alpha1.")]
    kind: Annotated[str, Field("TrainingJob.")]
    metadata: Annotated[dict[str, JsonValue], Field("Standard object metadata.")]
    spec: Required[Annotated[TrainingJobSpec, Field("What to train.", rules=TRAININGJOB_SPEC_RULES)]]
    status: Annotated[TrainingJobStatus, Field("Observed state, written by the operator.")]


CLASS_RULES: dict[object, tuple[Rule, ...]] = {
    Dataset: DATASET_RULES,
    Split: SPLIT_RULES,
    EnvVar: ENV_VAR_RULES,
    EnvVarSource: ENV_SOURCE_RULES,
    EnvFromSource: ENV_FROM_RULES,
    SearchDimension: SEARCH_DIMENSION_RULES,
    Tuning: TUNING_RULES,
    Evaluation: EVALUATION_RULES,
    AutoML: AUTOML_RULES,
    AcceptanceCriterion: ACCEPTANCE_RULES,
    ComputeResources: COMPUTE_RESOURCES_RULES,
}
