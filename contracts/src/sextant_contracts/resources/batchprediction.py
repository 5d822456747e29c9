"""The BatchPrediction resource as typed models: the single definition its CRD schema is generated from."""

from __future__ import annotations

from typing import Annotated, Literal, Required, TypedDict

from ..catalogue import FORMAT_BY_SUFFIX, format_from_uri
from .common import (
    COMPUTE_RESOURCES_RULES,
    CONDITIONS_FIELD,
    ENV_FROM_RULES,
    ENV_SOURCE_RULES,
    ENV_VAR_RULES,
    MODEL_REFERENCE_RULES,
    NAME_PATTERN,
    ComputeResources,
    Condition,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    ModelReference,
    Scheduling,
)
from .fields import Field, JsonValue, Rule
from .inferenceservice import ResolvedModel
from .trainingjob import CRON_PATTERN

BatchPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Suspended"]
RunPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Suspended", "Stopped"]
#: One object in an S3-compatible store (the pods reach no other file system): s3://bucket/key, not a folder.
OBJECT_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^?#]*[^/?#]$"
_FORMAT_SUFFIX_REGEX = "[.](" + "|".join(s.removeprefix(".").replace(".", "[.]") for s in FORMAT_BY_SUFFIX) + ")$"


class BatchInput(TypedDict, total=False):
    """The dataset scored: one CSV or Parquet object."""

    uri: Required[Annotated[str, Field(
        "Location of the data to score, s3://bucket/key (the artifact store's own bucket or another one reached "
        "with spec.credentialsSecret). Every feature of the model's schema must be a column.",
        pattern=OBJECT_URI_PATTERN, max_length=2048)]]
    format: Annotated[Literal["csv", "parquet"], Field(
        f"File format; read from the file name when omitted ({', '.join(FORMAT_BY_SUFFIX)}).")]


class BatchOutput(TypedDict, total=False):
    """Where the predictions are written: all at once when every row is scored, never in part."""

    uri: Required[Annotated[str, Field(
        "Location of the predictions, s3://bucket/key; replaced by each successful run. Columns: the id "
        "column, prediction and, with probabilities, proba_<class> per class.",
        pattern=OBJECT_URI_PATTERN, max_length=2048)]]
    format: Annotated[Literal["csv", "parquet"], Field(
        f"File format; read from the file name when omitted ({', '.join(FORMAT_BY_SUFFIX)}).")]
    probabilities: Annotated[bool, Field(
        "Also write class probabilities (classification models only).", default=False)]


def _format_rule(side: str) -> Rule:
    return Rule(
        "has(self.format) || self.uri.lowerAscii().matches('" + _FORMAT_SUFFIX_REGEX + "')",
        f"the format cannot be read from the file name: set {side}.format to csv or parquet",
        field_path=".format", check=lambda s: "format" in s or format_from_uri(s["uri"]) is not None)


INPUT_RULES = (_format_rule("input"),)
OUTPUT_RULES = (_format_rule("output"),)


class BatchSchedule(TypedDict, total=False):
    """Score again on a cron schedule: each tick starts a run of the current spec."""

    cron: Required[Annotated[str, Field(
        "Five-field cron expression in UTC, e.g. \"0 3 * * *\" (daily 03:00), or @daily, @weekly, @hourly.",
        pattern=CRON_PATTERN, max_length=128)]]
    concurrencyPolicy: Annotated[Literal["Forbid", "Replace"], Field(
        "When a tick comes while a run is still going: Forbid skips the tick, Replace stops the running run "
        "and starts a new one.", default="Forbid")]
    successfulRunsHistoryLimit: Annotated[int, Field(
        "Finished successful runs whose Job and pods are kept (for kubectl logs).", default=3, minimum=0,
        maximum=100)]
    failedRunsHistoryLimit: Annotated[int, Field(
        "Failed runs whose Job and pods are kept.", default=1, minimum=0, maximum=100)]


class BatchPredictionSpec(TypedDict, total=False):
    """Desired scoring: which model, which data, where the predictions go, once or on a schedule."""

    model: Required[Annotated[ModelReference, Field(
        "Registered model that scores the data; resolved when each run starts (an alias or the latest version "
        "is pinned for the whole run).")]]
    input: Required[Annotated[BatchInput, Field("The data to score.")]]
    output: Required[Annotated[BatchOutput, Field("Where the predictions are published.")]]
    idColumn: Required[Annotated[str, Field(
        "Input column copied to the output beside each prediction, to join predictions back to rows.",
        min_length=1, max_length=256)]]
    chunkSize: Annotated[int, Field(
        "Rows scored at a time: bounds the scorer's memory, and progress is reported after each chunk.",
        default=10000, minimum=1, maximum=1000000)]
    credentialsSecret: Annotated[str, Field(
        "Name of a Secret in the same namespace holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for input "
        "and output in another bucket than the artifact store's.", pattern=NAME_PATTERN, max_length=253)]
    schedule: Annotated[BatchSchedule, Field(
        "Score on a schedule. Each generation of the spec still runs once when applied.")]
    suspend: Annotated[bool, Field(
        "true stops the running run's pods (they are recreated when set back to false) and holds scheduled "
        "runs.", default=False)]
    trigger: Annotated[str, Field(
        "Any value; changing it starts a new run of an unchanged spec, e.g. "
        "kubectl patch sxbp NAME --type merge -p '{\"spec\":{\"trigger\":\"'$(date +%s)'\"}}'.",
        max_length=253)]
    resources: Annotated[ComputeResources, Field("Compute for the scorer pod.")]
    scheduling: Annotated[Scheduling, Field("Where the scorer pod may run.")]
    image: Annotated[str, Field(
        "Scorer image; the operator's default (the model-server image, which holds the scorer) when omitted.",
        min_length=1, max_length=512)]
    env: Annotated[list[EnvVar], Field(
        "Environment of the scorer pod; credentials only by Secret reference (valueFrom.secretKeyRef).",
        max_items=64, list_map_keys=("name",))]
    envFrom: Annotated[list[EnvFromSource], Field(
        "Secrets or ConfigMaps whose keys become environment variables of the scorer pod.", max_items=16)]
    serviceAccountName: Annotated[str, Field(
        "ServiceAccount of the scorer pod (for cloud workload identity); its token is mounted only when this is "
        "set.", pattern=NAME_PATTERN, max_length=253)]
    activeDeadlineSeconds: Annotated[int, Field(
        "Seconds a run may take before it is stopped and marked Failed (DeadlineExceeded).", minimum=1)]
    backoffLimit: Annotated[int, Field(
        "Pod retries of a run that failed for another reason than its data (a bad row fails at once).",
        default=2, minimum=0, maximum=10)]
    ttlSecondsAfterFinished: Annotated[int, Field(
        "Seconds a finished run's Job and pods are kept before Kubernetes deletes them; kept until the history "
        "limit removes them when omitted. The run stays listed in status.runs.", minimum=0)]


BATCHPREDICTION_SPEC_RULES = (
    Rule("self.input.uri != self.output.uri", "output.uri must differ from input.uri: the input would be "
         "overwritten", field_path=".output.uri", check=lambda s: s["input"]["uri"] != s["output"]["uri"]),
)


class BadRow(TypedDict, total=False):
    """The input row the scorer rejected."""

    row: Annotated[int, Field("Data row number, 1-based (the CSV header is not counted).", minimum=1)]
    column: Annotated[str, Field("Column whose value was rejected.")]
    message: Annotated[str, Field("What is wrong with the value.")]


class BatchRunRecord(TypedDict, total=False):
    """One run of the BatchPrediction: a Kubernetes Job of the same name."""

    name: Required[Annotated[str, Field("Name of the run, also its Job's name.")]]
    generation: Annotated[int, Field("The spec generation the run scores with.", minimum=0)]
    cause: Annotated[Literal["spec", "schedule"], Field(
        "spec: a new generation (create, edit or trigger); schedule: a cron tick.")]
    phase: Annotated[RunPhase, Field("Pending, Running, Suspended, Succeeded, Failed or Stopped (superseded).")]
    reason: Annotated[str, Field("Why the run is in its phase.")]
    message: Annotated[str, Field("Details, with the scorer's own message on failure.")]
    startTime: Annotated[str, Field("When the run was started (RFC 3339).", format="date-time")]
    completionTime: Annotated[str, Field("When it ended (RFC 3339).", format="date-time")]
    model: Annotated[ResolvedModel, Field("Model version the run scores with.")]
    rowsDone: Annotated[int, Field("Rows scored.", minimum=0)]
    rowsTotal: Annotated[int, Field("Rows in the input.", minimum=0)]
    badRow: Annotated[BadRow, Field("The row that failed the run, when the scorer rejected one.")]
    specHash: Annotated[str, Field("Fingerprint of the spec it scores (all but suspend, schedule and ttl).")]


class BatchProgress(TypedDict, total=False):
    """How far the latest run is, from the scorer's progress document (counts only, never data)."""

    rowsDone: Annotated[int, Field("Rows scored so far.", minimum=0)]
    rowsTotal: Annotated[int, Field("Rows in the input (counted before scoring starts).", minimum=0)]
    summary: Annotated[str, Field("Rows done of total, e.g. 20000/50000, for kubectl get.")]


class PublishedOutput(TypedDict, total=False):
    """The predictions the latest successful run published."""

    uri: Annotated[str, Field("Where they are.")]
    rows: Annotated[int, Field("Predictions written.", minimum=0)]
    run: Annotated[str, Field("Run that wrote them.")]
    publishedAt: Annotated[str, Field("When that run finished (RFC 3339).", format="date-time")]


class BatchPredictionStatus(TypedDict, total=False):
    """Observed state of a BatchPrediction, written only by the operator."""

    phase: Annotated[BatchPhase, Field("Pending, Running, Succeeded, Failed or Suspended (of the latest run).")]
    reason: Annotated[str, Field("Why the latest run is in this phase, one CamelCase word.")]
    message: Annotated[str, Field("Details of the reason and what to do about it.")]
    observedGeneration: Annotated[int, Field("The metadata.generation this status describes.", minimum=0)]
    conditions: Annotated[list[Condition], CONDITIONS_FIELD]
    currentRun: Annotated[str, Field("The run going now (absent when none is).")]
    lastRun: Annotated[str, Field("The latest run, going or finished.")]
    startTime: Annotated[str, Field("When the latest run started (RFC 3339).", format="date-time")]
    completionTime: Annotated[str, Field("When the latest run ended (RFC 3339).", format="date-time")]
    model: Annotated[ResolvedModel, Field("Model version of the latest run.")]
    modelVersion: Annotated[str, Field("The same in one word, e.g. churn:6, for kubectl get.")]
    progress: Annotated[BatchProgress, Field("Rows done of total in the latest run.")]
    output: Annotated[PublishedOutput, Field("The predictions last published.")]
    badRow: Annotated[BadRow, Field("The input row that failed the latest run, when the scorer rejected one.")]
    runs: Annotated[list[BatchRunRecord], Field(
        "Recent runs, newest first (at most 10).", max_items=10, list_map_keys=("name",))]
    nextScheduleTime: Annotated[str, Field("Next cron tick (RFC 3339).", format="date-time")]


class BatchPrediction(TypedDict, total=False):
    """A request to score a dataset with a registered model, once or on a schedule."""

    apiVersion: Annotated[str, Field("ml.sextant.io/v1alpha1.")]
    kind: Annotated[str, Field("BatchPrediction.")]
    metadata: Annotated[dict[str, JsonValue], Field("Standard object metadata.")]
    spec: Required[Annotated[BatchPredictionSpec, Field("What to score.", rules=BATCHPREDICTION_SPEC_RULES)]]
    status: Annotated[BatchPredictionStatus, Field("Observed state, written by the operator.")]


CLASS_RULES: dict[object, tuple[Rule, ...]] = {
    ModelReference: MODEL_REFERENCE_RULES,
    BatchInput: INPUT_RULES,
    BatchOutput: OUTPUT_RULES,
    EnvVar: ENV_VAR_RULES,
    EnvVarSource: ENV_SOURCE_RULES,
    EnvFromSource: ENV_FROM_RULES,
    ComputeResources: COMPUTE_RESOURCES_RULES,
}
