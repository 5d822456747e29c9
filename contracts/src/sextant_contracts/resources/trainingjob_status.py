"""The TrainingJob status as typed models: written only by the operator, read by kubectl and tools."""

from __future__ import annotations

from typing import Annotated, Literal, Required, TypedDict

from .common import CONDITIONS_FIELD, Condition
from .fields import Field, JsonValue

TrainingPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Suspended"]
RunPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Suspended", "Stopped"]


class RunRecord(TypedDict, total=False):
    """One run of the TrainingJob: a Kubernetes Job (and its Indexed trial Job when tuning is sharded)."""

    name: Required[Annotated[str, Field("Name of the run, also its Job's name and the run id in the store.")]]
    generation: Annotated[int, Field("The spec generation the run trains.", minimum=0)]
    cause: Annotated[Literal["spec", "schedule"], Field(
        "spec: a new generation (create, edit or trigger); schedule: a cron tick.")]
    phase: Annotated[RunPhase, Field("Pending, Running, Suspended, Succeeded, Failed or Stopped (superseded).")]
    reason: Annotated[str, Field("Why the run is in its phase.")]
    message: Annotated[str, Field("Details, with the trainer's own message on failure.")]
    startTime: Annotated[str, Field("When the run was started (RFC 3339).", format="date-time")]
    completionTime: Annotated[str, Field("When it ended (RFC 3339).", format="date-time")]
    modelVersion: Annotated[str, Field("Model version it registered.")]
    metrics: Annotated[dict[str, float], Field("Holdout metrics of its model.")]
    specHash: Annotated[str, Field("Fingerprint of the spec it trains (all but suspend, schedule and ttl).")]


class RunReference(TypedDict, total=False):
    """The backend run executing the pipeline."""

    backend: Annotated[str, Field(
        "Backend running the pipeline: job, dask (a DaskJob of the Dask Kubernetes operator) or kubeflow.")]
    id: Annotated[str, Field("Run identifier in that backend.")]
    url: Annotated[str, Field("Link to the run's page, when the backend has one.")]


class Progress(TypedDict, total=False):
    """How far the current run is, from the trainer's progress document in the store."""

    trialsDone: Annotated[int, Field("Trials finished.", minimum=0)]
    trialsTotal: Annotated[int, Field("Trials planned.", minimum=0)]
    summary: Annotated[str, Field("Trials done of total, e.g. 7/20, for kubectl get.")]
    bestValue: Annotated[float, Field("Best cross-validated objective so far.")]


class Cost(TypedDict, total=False):
    """Compute the run requested, for cost visibility: requests times how long its pods ran."""

    cpuSeconds: Annotated[float, Field("Requested CPU cores times seconds.", minimum=0)]
    gpuSeconds: Annotated[float, Field("Requested GPUs times seconds.", minimum=0)]


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
    positiveClass: Annotated[str, Field(
        "Two classes: the class f1, precision and recall are of (objective.positiveClass or the last label).")]
    decisionThreshold: Annotated[float, Field(
        "With an F1-type objective: the probability of the positive class from which the model predicts it, "
        "tuned out of fold on the training rows (0.5 otherwise).")]


class LeaderboardEntry(TypedDict, total=False):
    """One of the best candidates a search tried (tuning or automl), from the trainer's result document."""

    rank: Annotated[int, Field("1 for the best.", minimum=1)]
    algorithm: Annotated[str, Field("Algorithm, or voting_ensemble / stacking_ensemble.")]
    params: Annotated[dict[str, JsonValue], Field("Its hyperparameters.", preserve_unknown=True)]
    score: Annotated[float, Field("Cross-validated objective on the training rows.")]
    seconds: Annotated[float, Field("Seconds its cross-validation took.", minimum=0)]


class ComputeUsed(TypedDict, total=False):
    """What a Dask run trained on, for sizing its workers."""

    engine: Annotated[str, Field("dask")]
    workers: Annotated[int, Field("Dask workers the run trained on.", minimum=0)]
    partitions: Annotated[int, Field("Partitions the dataset was read in.", minimum=0)]
    workerPeakMemory: Annotated[str, Field(
        "Highest peak resident memory of any worker process during the run, e.g. 612Mi: keep it below "
        "compute.dask.resources.limits.memory with room to spare (docs/dask.md, Sizing).")]


class RegisteredModel(TypedDict, total=False):
    """The registry entry the run produced."""

    name: Annotated[str, Field("Model name.")]
    version: Annotated[str, Field("Version allocated by the registry.")]
    uri: Annotated[str, Field("Artifact location.")]
    digest: Annotated[str, Field("sha256 digest of the artifact, checked before serving.")]


class TrainingJobStatus(TypedDict, total=False):
    """Observed state of a TrainingJob, written only by the operator."""

    phase: Annotated[TrainingPhase, Field("Pending, Running, Succeeded, Failed or Suspended.")]
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
    leaderboard: Annotated[list[LeaderboardEntry], Field(
        "The best candidates of the latest search, best first (at most 5).", max_items=5)]
    model: Annotated[RegisteredModel, Field("Registered model version.")]
    metrics: Annotated[dict[str, float], Field("Holdout metrics of the latest run's model.")]
    accepted: Annotated[bool, Field("Whether the latest model met every acceptance criterion.")]
    dataQualityReport: Annotated[str, Field("Store location of the latest run's data-quality report.")]
    compute: Annotated[ComputeUsed, Field("What the latest successful Dask run trained on.")]
    progress: Annotated[Progress, Field("Progress of the running run.")]
    cost: Annotated[Cost, Field("Compute requested by the latest run.")]
    runs: Annotated[list[RunRecord], Field(
        "Recent runs, newest first (at most 10).", max_items=10, list_map_keys=("name",))]
    nextScheduleTime: Annotated[str, Field("Next cron tick (RFC 3339).", format="date-time")]
