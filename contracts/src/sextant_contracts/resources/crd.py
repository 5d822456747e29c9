"""Builds the TrainingJob, InferenceService and BatchPrediction CustomResourceDefinitions from the typed models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import batchprediction, inferenceservice, trainingjob
from .fields import Rule
from .schema import Schema, object_schema

GROUP = "ml.sextant.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "sextant"


@dataclass(frozen=True)
class Kind:
    """Names and presentation of one custom resource kind."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    model: type
    class_rules: Mapping[object, tuple[Rule, ...]]
    columns: tuple[dict[str, Any], ...]

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


def _column(name: str, path: str, kind: str = "string", description: str = "", priority: int = 0
            ) -> dict[str, Any]:
    col: dict[str, Any] = {"name": name, "type": kind, "jsonPath": path, "description": description}
    if priority:
        col["priority"] = priority
    return col


_AGE = _column("Age", ".metadata.creationTimestamp", "date", "Time since the resource was created.")

TRAININGJOB = Kind(
    kind="TrainingJob", plural="trainingjobs", short_names=("sxtj",), model=trainingjob.TrainingJob,
    class_rules=trainingjob.CLASS_RULES,
    columns=(
        _column("Phase", ".status.phase", description="Pending, Running, Succeeded, Failed or Suspended."),
        _column("Mode", ".status.mode", description="Algorithm trained, tuning(<algorithm>) or automl."),
        _column("Progress", ".status.progress.summary", description="Trials done of total in the running run."),
        _column("Metric", ".status.best.metric", description="Name of the objective metric."),
        _column("Best", ".status.best.value", "number", "Objective metric of the best model."),
        _column("Model", ".status.model.name", description="Registered model name.", priority=1),
        _column("Version", ".status.model.version", description="Registered model version."),
        _AGE,
        _column("Reason", ".status.reason", description="Why the job is in its phase.", priority=1),
    ),
)

INFERENCESERVICE = Kind(
    kind="InferenceService", plural="inferenceservices", short_names=("sxis",),
    model=inferenceservice.InferenceService, class_rules=inferenceservice.CLASS_RULES,
    columns=(
        _column("Phase", ".status.phase", description="Pending, Ready, Degraded or Suspended."),
        _column("URL", ".status.url", description="Endpoint receiving prediction requests."),
        _column("Ready", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition."),
        _column("Variants", ".status.variantWeights", description="Variants and their traffic weights."),
        _column("Models", ".status.modelVersions", description="Resolved model versions."),
        _AGE,
        _column("Reason", ".status.reason", description="Why the service is in its phase.", priority=1),
    ),
)

BATCHPREDICTION = Kind(
    kind="BatchPrediction", plural="batchpredictions", short_names=("sxbp",),
    model=batchprediction.BatchPrediction, class_rules=batchprediction.CLASS_RULES,
    columns=(
        _column("Phase", ".status.phase", description="Pending, Running, Succeeded, Failed or Suspended."),
        _column("Model", ".status.modelVersion", description="Model version of the latest run, e.g. churn:6."),
        _column("Rows", ".status.progress.summary", description="Rows scored of total in the latest run."),
        _column("Last Run", ".status.startTime", "date", "When the latest run started."),
        _AGE,
        _column("Output", ".status.output.uri", description="Predictions last published.", priority=1),
        _column("Reason", ".status.reason", description="Why the latest run is in its phase.", priority=1),
    ),
)

KINDS = (TRAININGJOB, INFERENCESERVICE, BATCHPREDICTION)


def openapi_schema(kind: Kind) -> Schema:
    """The structural schema of one kind, as it appears under versions[].schema.openAPIV3Schema."""
    schema = object_schema(kind.model, kind.class_rules)
    schema["properties"]["metadata"] = {"type": "object"}
    schema["description"] = (kind.model.__doc__ or "").strip()
    return {"description": schema.pop("description"), **schema}


def build_crd(kind: Kind) -> dict[str, Any]:
    """The complete CustomResourceDefinition object for one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": {"app.kubernetes.io/part-of": "sextant"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind, "listKind": f"{kind.kind}List", "plural": kind.plural,
                "singular": kind.kind.lower(), "shortNames": list(kind.short_names), "categories": [CATEGORY],
            },
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": list(kind.columns),
                "schema": {"openAPIV3Schema": openapi_schema(kind)},
            }],
        },
    }
