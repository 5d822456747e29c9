"""The InferenceService resource as typed models: the single definition its CRD schema is generated from."""

from __future__ import annotations

from typing import Annotated, Literal, Required, TypedDict

from .common import (
    COMPUTE_RESOURCES_RULES,
    CONDITIONS_FIELD,
    DURATION_PATTERN,
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

ServingPhase = Literal["Pending", "Ready", "Degraded", "Failed", "Suspended"]


class Scaling(TypedDict, total=False):
    """How many model-server replicas run, and what drives autoscaling."""

    minReplicas: Annotated[int, Field(
        "Fewest replicas per variant. 0 (scale to zero) needs KEDA and metric rps or concurrency; at zero the "
        "router holds requests (the chart's serving.activationTimeoutSeconds) while KEDA starts a replica.",
        default=1, minimum=0, maximum=1000)]
    maxReplicas: Annotated[int, Field(
        "Most replicas per variant; minReplicas (at least 1) when omitted.", minimum=1, maximum=1000)]
    metric: Annotated[Literal["cpu", "rps", "concurrency"], Field(
        "Signal the autoscaler follows.", default="cpu")]
    target: Annotated[int, Field(
        "Target value per replica: CPU percent, requests per second or in-flight requests.",
        default=70, minimum=1)]
    scaleDownDelaySeconds: Annotated[int, Field(
        "How long the load must stay low before replicas are removed (the autoscaler's scale-down "
        "stabilization window).", default=300, minimum=0, maximum=3600)]


SCALING_RULES = (
    Rule("!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
         "minReplicas must not exceed maxReplicas", field_path=".minReplicas"),
    Rule("!has(self.metric) || self.metric != 'cpu' || !has(self.target) || self.target <= 100",
         "a cpu target is a percentage between 1 and 100", field_path=".target"),
)


class Variant(TypedDict, total=False):
    """One production variant: a model version receiving a share of the traffic."""

    name: Required[Annotated[str, Field("Variant name, unique within the service.", pattern=NAME_PATTERN,
                                        max_length=40)]]
    model: Required[Annotated[ModelReference, Field("Model this variant serves.")]]
    weight: Required[Annotated[int, Field(
        "Percentage of requests sent to this variant; the weights of all variants sum to 100.",
        minimum=0, maximum=100)]]
    resources: Annotated[ComputeResources, Field("Compute for this variant's pods (overrides spec.resources).")]
    scaling: Annotated[Scaling, Field("Replicas and autoscaling of this variant (overrides spec.scaling).")]


class Shadow(TypedDict, total=False):
    """A variant that receives copies of requests; its answers are discarded and never slow the callers."""

    name: Required[Annotated[str, Field("Shadow name, unique among the variants.", pattern=NAME_PATTERN,
                                        max_length=40)]]
    model: Required[Annotated[ModelReference, Field("Model the shadow serves.")]]
    percent: Annotated[int, Field("Share of requests copied to the shadow, in percent.", default=100, minimum=1,
                                  maximum=100)]
    resources: Annotated[ComputeResources, Field("Compute for the shadow's pods (overrides spec.resources).")]
    scaling: Annotated[Scaling, Field("Replicas and autoscaling of the shadow (overrides spec.scaling).")]


class Rollout(TypedDict, total=False):
    """How a variant moves to a new model version: traffic shifts to the new pods once they are ready."""

    strategy: Annotated[Literal["AllAtOnce", "Canary", "Linear"], Field(
        "AllAtOnce moves all of the variant's traffic once the new version's pods are ready; Canary sends "
        "canaryPercent of it first, for one interval, then the rest; Linear moves stepPercent more every "
        "interval.", default="AllAtOnce")]
    canaryPercent: Annotated[int, Field("Share of the variant's traffic the new version gets first (Canary).",
                                        default=10, minimum=1, maximum=99)]
    stepPercent: Annotated[int, Field("Share of the variant's traffic moved at each step (Linear).", default=25,
                                      minimum=1, maximum=99)]
    interval: Annotated[str, Field("Time each step is watched before the next, such as 1m.", default="1m",
                                   pattern=DURATION_PATTERN, max_length=32)]
    maxErrorRate: Annotated[float, Field(
        "Share of the new version's requests answered 5xx above which the rollout is rolled back, unless the "
        "version it replaces answered a larger share (a new version no worse than the old one proceeds).",
        default=0.05, minimum=0, maximum=1)]
    minRequests: Annotated[int, Field(
        "Requests the new version must have answered in a step before its error rate is judged; a step ends "
        "only after interval and this many requests.", default=20,
        minimum=1)]


class Batching(TypedDict, total=False):
    """Adaptive batching of concurrent requests in the model server."""

    enabled: Annotated[bool, Field("Batch concurrent requests together.", default=True)]
    maxBatchSize: Annotated[int, Field("Most rows per model call.", default=64, minimum=1, maximum=10000)]
    maxLatencyMs: Annotated[int, Field(
        "Longest a request may wait in the queue for the model, in milliseconds; a request that waited longer "
        "is answered 503 (Overloaded) so the client can retry elsewhere. Batches are never held back to fill "
        "up: an idle model takes a request at once, and requests that arrive while it is busy form the next "
        "batch.", default=1000, minimum=1, maximum=60000)]


class DriftMonitoring(TypedDict, total=False):
    """Data-drift checks of live features against the training baseline (docs/monitoring.md)."""

    enabled: Annotated[bool, Field("Check for drift.", default=False)]
    interval: Annotated[str, Field("Time between checks of each variant, such as 5m.", default="5m",
                                   pattern=DURATION_PATTERN, max_length=32)]
    threshold: Annotated[float, Field(
        "Share of the tested features (0 to 1) that must drift before drift is reported. 0 reports drift as soon "
        "as one feature drifts; the engine's multiple-testing correction already bounds false alarms.",
        default=0, minimum=0, maximum=1)]
    minSamples: Annotated[int, Field(
        "Live values of a feature needed before it is tested; until every feature has them the check says "
        "InsufficientSamples and the window keeps growing.", default=500, minimum=1, maximum=10_000_000)]
    retrain: Annotated[str, Field(
        "Name of a TrainingJob in the same namespace to re-run when drift is detected (its spec.trigger is set).",
        pattern=NAME_PATTERN, max_length=253)]
    retrainCooldown: Annotated[str, Field(
        "Least time between two retraining requests, such as 6h.", default="6h", pattern=DURATION_PATTERN,
        max_length=32)]
    maxRetrainsPerDay: Annotated[int, Field(
        "Most retraining requests in any 24 hours.", default=2, minimum=1, maximum=24)]


class Monitoring(TypedDict, total=False):
    """Monitoring of the live endpoint."""

    drift: Annotated[DriftMonitoring, Field("Data-drift monitoring.")]


class InferenceServiceSpec(TypedDict, total=False):
    """Desired serving: which models, how traffic is split, how it scales."""

    model: Annotated[ModelReference, Field("Model served by a single variant (exclusive with variants).")]
    variants: Annotated[list[Variant], Field(
        "Weighted production variants, e.g. 85/15 (exclusive with model).", min_items=1, max_items=10,
        list_map_keys=("name",))]
    scaling: Annotated[Scaling, Field("Replicas and autoscaling.")]
    batching: Annotated[Batching, Field("Adaptive batching.")]
    monitoring: Annotated[Monitoring, Field("Metrics and drift monitoring.")]
    shadow: Annotated[Shadow, Field("A variant receiving copies of a share of the requests (shadow testing).")]
    rollout: Annotated[Rollout, Field("How a variant moves to a new model version.")]
    resources: Annotated[ComputeResources, Field("Compute for the model-server pods.")]
    scheduling: Annotated[Scheduling, Field("Where the model-server pods may run.")]
    image: Annotated[str, Field(
        "Model-server image; the operator's default (the chart's serving.image) when omitted.", min_length=1,
        max_length=512)]
    env: Annotated[list[EnvVar], Field(
        "Environment of the model-server pods; credentials only by Secret reference (valueFrom.secretKeyRef).",
        max_items=64, list_map_keys=("name",))]
    envFrom: Annotated[list[EnvFromSource], Field(
        "Secrets or ConfigMaps whose keys become environment variables of the model-server pods.", max_items=16)]
    serviceAccountName: Annotated[str, Field(
        "ServiceAccount of the model-server pods; its token is mounted only when this is set.",
        pattern=NAME_PATTERN, max_length=253)]
    suspend: Annotated[bool, Field("Scale every variant to zero and stop serving.", default=False)]


INFERENCESERVICE_SPEC_RULES = (
    Rule("has(self.model) != has(self.variants)", "set exactly one of spec.model or spec.variants"),
    Rule("!has(self.variants) || self.variants.map(v, v.weight).sum() == 100",
         "the weights of spec.variants must sum to 100", field_path=".variants"),
    Rule("!has(self.shadow) || !has(self.variants) || self.variants.all(v, v.name != self.shadow.name)",
         "spec.shadow.name must differ from every variant's name", field_path=".shadow.name"),
    Rule("!has(self.shadow) || has(self.variants) || self.shadow.name != 'default'",
         "spec.shadow.name must not be default: that is the name of the variant spec.model makes",
         field_path=".shadow.name"),
)


class ResolvedModel(TypedDict, total=False):
    """The registry entry a variant's reference resolved to."""

    name: Annotated[str, Field("Model name.")]
    version: Annotated[str, Field("Resolved version.")]
    digest: Annotated[str, Field("sha256 digest verified before loading.")]


class VariantRollout(TypedDict, total=False):
    """A move of a variant to a new model version, in progress."""

    model: Annotated[ResolvedModel, Field("The version being rolled out.")]
    percent: Annotated[int, Field("Share of the variant's traffic the new version gets now.", minimum=0,
                                  maximum=100)]
    stepStartedAt: Annotated[str, Field("When the current step began (RFC 3339).", format="date-time")]
    message: Annotated[str, Field("What the rollout waits for.")]
    stepCounts: Annotated[list[int], Field(
        "Prediction requests and 5xx answers of the new version when the current step began: the step is judged "
        "on what it answered since.", min_items=2, max_items=2)]
    previousCounts: Annotated[list[int], Field(
        "Prediction requests and 5xx answers of the version being replaced when the current step began: its rate "
        "since then is what the new version must not be worse than.", min_items=2, max_items=2)]


class VariantStatus(TypedDict, total=False):
    """Observed state of one variant."""

    name: Required[Annotated[str, Field("Variant name.")]]
    model: Annotated[ResolvedModel, Field("Model version the variant serves (the stable one during a rollout).")]
    weight: Annotated[int, Field("Traffic share in percent (0 for a shadow).")]
    shadowPercent: Annotated[int, Field("For the shadow: share of requests copied to it.")]
    replicas: Annotated[int, Field("Replicas running.", minimum=0)]
    readyReplicas: Annotated[int, Field("Replicas ready to serve.", minimum=0)]
    autoscaler: Annotated[str, Field("What sets the replica count: HPA, KEDA or fixed.")]
    rollout: Annotated[VariantRollout, Field("A move to a new model version, while one is in progress.")]
    reason: Annotated[str, Field("Why the variant is not ready, from its pods (e.g. CrashLoopBackOff).")]
    message: Annotated[str, Field("Details of the reason.")]
    rolledBack: Annotated[ResolvedModel, Field("The last version whose rollout was rolled back (not retried).")]


DriftVerdict = Literal["Drifted", "NoDrift", "InsufficientSamples", "CheckFailed"]


class VariantDrift(TypedDict, total=False):
    """One variant's latest drift check."""

    name: Required[Annotated[str, Field("Variant name.")]]
    model: Annotated[ResolvedModel, Field("The model version whose baseline the live data was compared with.")]
    verdict: Annotated[DriftVerdict, Field("Drifted, NoDrift, InsufficientSamples or CheckFailed.")]
    score: Annotated[float, Field("Share of the tested features that drifted (0 to 1).")]
    driftedFeatures: Annotated[list[str], Field("Features whose distribution moved, the largest PSI first.")]
    samples: Annotated[int, Field("Live values of the best-covered feature in the window.")]
    windowStart: Annotated[str, Field("Start of the window the live counts cover (RFC 3339).", format="date-time")]
    report: Annotated[str, Field("URI of the HTML drift report in the artifact store.")]
    message: Annotated[str, Field("What the check found, or why it could not decide.")]


class DriftStatus(TypedDict, total=False):
    """Result of the latest drift check, written by the operator's drift monitor."""

    verdict: Annotated[DriftVerdict, Field("The worst verdict over the variants.")]
    score: Annotated[float, Field("Highest drift score of the variants (0 to 1).")]
    driftedFeatures: Annotated[list[str], Field("Features whose distribution moved, as variant/feature.")]
    samples: Annotated[int, Field("Live values the check looked at (the best-covered feature, summed).")]
    checkedAt: Annotated[str, Field("When the check ran (RFC 3339).", format="date-time")]
    report: Annotated[str, Field("URI of the HTML report of the most drifted variant.")]
    variants: Annotated[list[VariantDrift], Field("Per-variant results.", list_map_keys=("name",))]
    retrainRequests: Annotated[list[str], Field(
        "When retraining was requested (RFC 3339), the last 24 hours' requests.", max_items=24)]


class InferenceServiceStatus(TypedDict, total=False):
    """Observed state of an InferenceService, written only by the operator."""

    phase: Annotated[ServingPhase, Field("Pending, Ready, Degraded, Failed or Suspended.")]
    reason: Annotated[str, Field("Why the service is in this phase, one CamelCase word.")]
    message: Annotated[str, Field("Details of the reason and what to do about it.")]
    observedGeneration: Annotated[int, Field("The metadata.generation this status describes.", minimum=0)]
    url: Annotated[str, Field("Endpoint receiving prediction requests, once serving.")]
    routing: Annotated[Literal["router", "gateway"], Field(
        "What splits the traffic: router (the Sextant router; while one backend takes all the traffic, the "
        "Service selects its model servers and no router runs) or gateway (a Gateway API HTTPRoute).")]
    conditions: Annotated[list[Condition], CONDITIONS_FIELD]
    variants: Annotated[list[VariantStatus], Field("Per-variant state.", list_map_keys=("name",))]
    variantWeights: Annotated[str, Field("Variants and weights in one line, e.g. current=85,challenger=15.")]
    modelVersions: Annotated[str, Field("Resolved model versions in one line, e.g. churn:6,churn:7.")]
    drift: Annotated[DriftStatus, Field("Latest drift check.")]


class InferenceService(TypedDict, total=False):
    """A request to serve registered models over HTTP."""

    apiVersion: Annotated[str, Field("ml.sextant.io/v1alpha1.")]
    kind: Annotated[str, Field("InferenceService.")]
    metadata: Annotated[dict[str, JsonValue], Field("Standard object metadata.")]
    spec: Required[Annotated[InferenceServiceSpec, Field("What to serve.", rules=INFERENCESERVICE_SPEC_RULES)]]
    status: Annotated[InferenceServiceStatus, Field("Observed state, written by the operator.")]


CLASS_RULES: dict[object, tuple[Rule, ...]] = {
    ModelReference: MODEL_REFERENCE_RULES,
    ComputeResources: COMPUTE_RESOURCES_RULES,
    Scaling: SCALING_RULES,
    EnvVar: ENV_VAR_RULES,
    EnvVarSource: ENV_SOURCE_RULES,
    EnvFromSource: ENV_FROM_RULES,
}
