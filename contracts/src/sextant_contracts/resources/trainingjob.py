"""The TrainingJob resource as typed models: the single definition its CRD schema is generated from."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Required, TypedDict

from ..catalogue import BUILTIN_DATASETS, FORMAT_BY_SUFFIX, format_from_uri
from ..durations import is_positive_duration
from .common import (
    COMPUTE_RESOURCES_RULES,
    CONDITIONS_FIELD,
    DURATION_PATTERN,
    NAME_PATTERN,
    ComputeResources,
    Condition,
    ModelAlias,
)
from .fields import Field, JsonValue, Rule

Task = Literal["classification", "regression", "clustering", "anomalyDetection"]
TrainingPhase = Literal["Pending", "Running", "Succeeded", "Failed"]
ALGORITHM_PATTERN = r"^[a-z][a-z0-9_]*$"
METRIC_PATTERN = r"^[a-z][a-z0-9_]*$"
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


class Evaluation(TypedDict, total=False):
    """Extra evaluation beyond the holdout."""

    cvFolds: Annotated[int, Field(
        "Cross-validation folds on the training set, reported beside the holdout metrics; 0 turns it off.",
        default=0, minimum=0, maximum=20)]


EVALUATION_RULES = (
    Rule("!has(self.cvFolds) || self.cvFolds != 1", "cvFolds is 0 (off) or at least 2: one fold cannot "
         "cross-validate", field_path=".cvFolds", check=lambda s: s.get("cvFolds", 0) != 1),
)


class AutoML(TypedDict, total=False):
    """Try many algorithms within a time budget and keep the best, or an ensemble."""

    timeBudget: Required[Annotated[str, Field(
        "Wall-clock budget such as 10m or 1h30m.", pattern=DURATION_PATTERN, max_length=32)]]
    algorithms: Annotated[list[Annotated[str, Field("An algorithm name.", pattern=ALGORITHM_PATTERN,
                                                    max_length=64)]], Field(
        "Algorithms to try; all of the task's catalogue when omitted.", min_items=1, max_items=32,
        extra={"x-kubernetes-list-type": "set"})]
    ensemble: Annotated[Literal["none", "voting", "stacking"], Field(
        "Combine the best models into an ensemble.", default="none")]
    exitCriteria: Annotated[AutoMLExitCriteria, Field("Stop before the time budget when one of these holds.")]
    parallelTrials: Annotated[int, Field("Trials run at once.", default=1, minimum=1, maximum=64)]
    cvFolds: Annotated[int, Field("Cross-validation folds per trial.", default=5, minimum=2, maximum=20)]


AUTOML_RULES = (
    Rule("duration(self.timeBudget) > duration('0s')", "timeBudget must be longer than 0s",
         field_path=".timeBudget", check=lambda s: is_positive_duration(s["timeBudget"])),
)


class Objective(TypedDict, total=False):
    """The metric that ranks trials and models."""

    metric: Required[Annotated[str, Field(
        "Metric name valid for the task, e.g. roc_auc, rmse, silhouette.", pattern=METRIC_PATTERN,
        max_length=64)]]
    goal: Annotated[Literal["maximize", "minimize"], Field(
        "Whether larger or smaller is better; must agree with the metric.")]


class AcceptanceCriterion(TypedDict, total=False):
    """A bound the trained model must meet on the holdout to be promoted."""

    metric: Required[Annotated[str, Field("Metric name valid for the task.", pattern=METRIC_PATTERN,
                                          max_length=64)]]
    min: Annotated[float, Field("Lowest acceptable value.")]
    max: Annotated[float, Field("Highest acceptable value.")]


ACCEPTANCE_RULES = (
    Rule("has(self.min) || has(self.max)", "an acceptance criterion needs min, max or both",
         check=lambda s: "min" in s or "max" in s),
    Rule("!(has(self.min) && has(self.max)) || self.min <= self.max", "min must not exceed max",
         field_path=".min", check=lambda s: not ("min" in s and "max" in s) or s["min"] <= s["max"]),
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

    backend: Annotated[Literal["kubeflow", "job", "local"], Field(
        "kubeflow (a KFP pipeline run), job (Kubernetes Jobs) or local (processes beside the operator); "
        "the operator's default when omitted.")]


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
    resources: Annotated[ComputeResources, Field("Compute for the training pods.")]
    runtime: Annotated[Runtime, Field("Training backend.")]
    activeDeadlineSeconds: Annotated[int, Field(
        "Seconds the whole run may take before it is stopped and marked Failed.", minimum=1)]
    backoffLimit: Annotated[int, Field("Retries of a failed run.", default=2, minimum=0, maximum=10)]


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
)


class RunReference(TypedDict, total=False):
    """The backend run executing the pipeline."""

    backend: Annotated[str, Field("Backend running the pipeline (kubeflow, job or local).")]
    id: Annotated[str, Field("Run identifier in that backend.")]
    url: Annotated[str, Field("Link to the run's page, when the backend has one.")]


class TrialCounts(TypedDict, total=False):
    """How many trials ran and how they ended."""

    total: Annotated[int, Field("Trials started.", minimum=0)]
    succeeded: Annotated[int, Field("Trials that finished.", minimum=0)]
    failed: Annotated[int, Field("Trials that failed.", minimum=0)]
    pruned: Annotated[int, Field("Trials stopped early.", minimum=0)]


class BestResult(TypedDict, total=False):
    """The best model found so far."""

    algorithm: Annotated[str, Field("Algorithm of the best model.")]
    params: Annotated[dict[str, JsonValue], Field("Its hyperparameters.", preserve_unknown=True)]
    metrics: Annotated[dict[str, float], Field("Its holdout metrics by name.")]
    metric: Annotated[str, Field("Name of the objective metric.")]
    value: Annotated[float, Field("Value of the objective metric.")]


class RegisteredModel(TypedDict, total=False):
    """The registry entry the run produced."""

    name: Annotated[str, Field("Model name.")]
    version: Annotated[str, Field("Version allocated by the registry.")]
    uri: Annotated[str, Field("Artifact location.")]
    digest: Annotated[str, Field("sha256 digest of the artifact, checked before serving.")]


class TrainingJobStatus(TypedDict, total=False):
    """Observed state of a TrainingJob, written only by the operator."""

    phase: Annotated[TrainingPhase, Field("Pending, Running, Succeeded or Failed.")]
    reason: Annotated[str, Field("Why the job is in this phase, one CamelCase word.")]
    message: Annotated[str, Field("Details of the reason and what to do about it.")]
    observedGeneration: Annotated[int, Field("The metadata.generation this status describes.", minimum=0)]
    conditions: Annotated[list[Condition], CONDITIONS_FIELD]
    mode: Annotated[str, Field("What is trained: the algorithm, tuning(<algorithm>) or automl.")]
    run: Annotated[RunReference, Field("The backend run.")]
    startTime: Annotated[str, Field("When the run started (RFC 3339).", format="date-time")]
    completionTime: Annotated[str, Field("When the run ended (RFC 3339).", format="date-time")]
    trials: Annotated[TrialCounts, Field("Trial counts for tuning and automl.")]
    best: Annotated[BestResult, Field("Best model found.")]
    model: Annotated[RegisteredModel, Field("Registered model version.")]


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
    SearchDimension: SEARCH_DIMENSION_RULES,
    Tuning: TUNING_RULES,
    Evaluation: EVALUATION_RULES,
    AutoML: AUTOML_RULES,
    AcceptanceCriterion: ACCEPTANCE_RULES,
    ComputeResources: COMPUTE_RESOURCES_RULES,
}
