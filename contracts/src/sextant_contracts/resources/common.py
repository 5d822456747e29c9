"""Types shared by both Sextant resources: model references, conditions, compute resources."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Required, TypedDict, get_args

from ..durations import DURATION_PATTERN as DURATION_PATTERN
from ..quantities import parse_quantity
from .fields import Field, JsonValue, Rule

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
    """CPU, memory and accelerators for each pod, as Kubernetes container resources."""

    requests: Annotated[dict[str, Quantity], Field(
        "Minimum resources per pod, e.g. {cpu: \"2\", memory: 4Gi}.", max_properties=16)]
    limits: Annotated[dict[str, Quantity], Field(
        "Maximum resources per pod, e.g. {memory: 8Gi}. Accelerators by their resource name, e.g. "
        "{nvidia.com/gpu: 1} (Kubernetes sets the request equal to the limit).", max_properties=16)]


class Scheduling(TypedDict, total=False):
    """Where the pods may run: copied onto the pods Sextant creates, beside their resources."""

    nodeSelector: Annotated[dict[str, str], Field(
        "Node labels the pods must match.", max_properties=32)]
    tolerations: Annotated[list[Toleration], Field("Taints the pods tolerate.", max_items=32)]
    affinity: Annotated[dict[str, JsonValue], Field(
        "A Kubernetes Affinity (nodeAffinity, podAffinity, podAntiAffinity), copied as given.",
        preserve_unknown=True)]
    priorityClassName: Annotated[str, Field(
        "PriorityClass of the pods.", pattern=NAME_PATTERN, max_length=253)]


class KeyReference(TypedDict, total=False):
    """One key of a Secret or ConfigMap in the resource's namespace."""

    name: Required[Annotated[str, Field("Name of the Secret or ConfigMap.", pattern=NAME_PATTERN, max_length=253)]]
    key: Required[Annotated[str, Field("Key within it.", max_length=253)]]
    optional: Annotated[bool, Field("Start the pod even when the key is missing.", default=False)]


class EnvVarSource(TypedDict, total=False):
    """Where an environment variable's value comes from: by reference, never inline."""

    secretKeyRef: Annotated[KeyReference, Field("A key of a Secret (for credentials).")]
    configMapKeyRef: Annotated[KeyReference, Field("A key of a ConfigMap.")]


ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: Names that hold credentials by convention: their values must come from a Secret, not the spec.
CREDENTIAL_NAME_RULE = Rule(
    "!has(self.value) || !self.name.upperAscii().matches('(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|API_KEY|"
    "CREDENTIAL|PRIVATE_KEY)')",
    "looks like a credential: put it in a Secret and use valueFrom.secretKeyRef instead of value",
    field_path=".value",
    check=lambda s: "value" not in s or not re.search(
        "(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|API_KEY|CREDENTIAL|PRIVATE_KEY)", s["name"].upper()))


class EnvVar(TypedDict, total=False):
    """An environment variable of the pods: a plain value, or a reference to a Secret or ConfigMap key."""

    name: Required[Annotated[str, Field("Variable name.", pattern=ENV_NAME_PATTERN, max_length=256)]]
    value: Annotated[str, Field("A plain value (never a credential: use valueFrom.secretKeyRef).",
                                max_length=32768)]
    valueFrom: Annotated[EnvVarSource, Field("A Secret or ConfigMap key.")]


ENV_VAR_RULES = (
    Rule("has(self.value) != has(self.valueFrom)", "set exactly one of value or valueFrom",
         check=lambda s: ("value" in s) != ("valueFrom" in s)),
    CREDENTIAL_NAME_RULE,
)
ENV_SOURCE_RULES = (
    Rule("[has(self.secretKeyRef), has(self.configMapKeyRef)].filter(x, x).size() == 1",
         "set exactly one of secretKeyRef or configMapKeyRef",
         check=lambda s: ("secretKeyRef" in s) + ("configMapKeyRef" in s) == 1),
)


class ObjectReference(TypedDict, total=False):
    """A whole Secret or ConfigMap in the resource's namespace."""

    name: Required[Annotated[str, Field("Its name.", pattern=NAME_PATTERN, max_length=253)]]
    optional: Annotated[bool, Field("Start the pod even when it is missing.", default=False)]


class EnvFromSource(TypedDict, total=False):
    """Every key of a Secret or ConfigMap as environment variables."""

    secretRef: Annotated[ObjectReference, Field("A Secret.")]
    configMapRef: Annotated[ObjectReference, Field("A ConfigMap.")]
    prefix: Annotated[str, Field("Prefix added to every variable name.", pattern=ENV_NAME_PATTERN, max_length=64)]


ENV_FROM_RULES = (
    Rule("[has(self.secretRef), has(self.configMapRef)].filter(x, x).size() == 1",
         "set exactly one of secretRef or configMapRef",
         check=lambda s: ("secretRef" in s) + ("configMapRef" in s) == 1),
)


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
