"""Types shared by both Sextant resources: model references, conditions, compute resources."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Required, TypedDict, get_args

from ..durations import DURATION_PATTERN as DURATION_PATTERN
from ..quantities import parse_quantity
from .fields import Field, Rule

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
CONDITION_STATUS = Literal["True", "False", "Unknown"]
#: The aliases the model registry keeps (models/<name>/aliases/<alias>.json); nothing else can be promoted to.
ModelAlias = Literal["staging", "production"]
MODEL_ALIASES: tuple[str, ...] = get_args(ModelAlias)


Quantity = Annotated[str | int, Field(
    "A Kubernetes quantity such as 500m, 2 or 4Gi.", int_or_string=True, pattern=QUANTITY_PATTERN,
    max_length=32)]


class ModelReference(TypedDict, total=False):
    """A registered model, by name and either a version or an alias."""

    name: Required[Annotated[str, Field(
        "Name of the model in the Sextant model registry (a DNS-1123 label).",
        pattern=NAME_PATTERN, max_length=63)]]
    version: Annotated[str, Field(
        "Version number of the model (\"6\"). Mutually exclusive with alias; when neither is set the latest "
        "version is used.", pattern=r"^[1-9][0-9]*$", max_length=10)]
    alias: Annotated[ModelAlias, Field(
        "Alias pointing at a version: staging or production (the registry's aliases). Mutually exclusive with "
        "version.")]


MODEL_REFERENCE_RULES = (
    Rule("!(has(self.version) && has(self.alias))", "set at most one of version or alias",
         check=lambda s: not ("version" in s and "alias" in s)),
)


class Toleration(TypedDict, total=False):
    """A Kubernetes toleration copied onto the pods Sextant creates."""

    key: Annotated[str, Field("Taint key the toleration applies to; empty matches all keys.", max_length=253)]
    operator: Annotated[Literal["Exists", "Equal"], Field("How key and value are compared.", default="Equal")]
    value: Annotated[str, Field("Taint value the toleration matches (with operator Equal).", max_length=253)]
    effect: Annotated[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"], Field(
        "Taint effect to match; empty matches all effects.")]
    tolerationSeconds: Annotated[int, Field(
        "How long a NoExecute taint is tolerated before eviction.", minimum=0)]


class ComputeResources(TypedDict, total=False):
    """CPU, memory and GPUs for each pod, and where those pods may run."""

    requests: Annotated[dict[str, Quantity], Field(
        "Minimum resources per pod, e.g. {cpu: \"2\", memory: 4Gi}.", max_properties=16)]
    limits: Annotated[dict[str, Quantity], Field(
        "Maximum resources per pod, e.g. {memory: 8Gi}.", max_properties=16)]
    gpus: Annotated[int, Field("Number of nvidia.com/gpu devices per pod.", minimum=0, maximum=16, default=0)]
    nodeSelector: Annotated[dict[str, str], Field(
        "Node labels the pods must match.", max_properties=32)]
    tolerations: Annotated[list[Toleration], Field("Taints the pods tolerate.", max_items=32)]


def requests_within_limits(resources: dict[str, Any]) -> bool:
    """True when no resource is requested above its limit (the Python twin of the CEL rule below)."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    return all(parse_quantity(value) <= parse_quantity(limits[name])
               for name, value in requests.items() if name in limits)


COMPUTE_RESOURCES_RULES = (
    Rule("!has(self.requests) || !has(self.limits) || self.requests.all(k, !(k in self.limits) || "
         "!isQuantity(string(self.requests[k])) || !isQuantity(string(self.limits[k])) || "
         "quantity(string(self.requests[k])).compareTo(quantity(string(self.limits[k]))) <= 0)",
         "a request must not exceed its limit: lower requests or raise limits", field_path=".requests",
         check=requests_within_limits),
)


class Condition(TypedDict, total=False):
    """One observation of the resource's state, in the metav1.Condition shape."""

    type: Required[Annotated[str, Field("Kind of condition in CamelCase, such as Ready or Succeeded.",
                                        max_length=316)]]
    status: Required[Annotated[CONDITION_STATUS, Field("True, False or Unknown.")]]
    reason: Required[Annotated[str, Field(
        "Why the condition has this status, one CamelCase word (machine readable).",
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)]]
    message: Required[Annotated[str, Field("What happened and what to do about it (human readable).",
                                           max_length=32768)]]
    lastTransitionTime: Required[Annotated[str, Field(
        "When the status last changed (RFC 3339).", format="date-time")]]
    observedGeneration: Annotated[int, Field(
        "The metadata.generation this condition was computed from.", minimum=0)]


CONDITIONS_FIELD = Field(
    "Current state of the resource, one entry per condition type (metav1.Condition shape).",
    list_map_keys=("type",), max_items=16)
