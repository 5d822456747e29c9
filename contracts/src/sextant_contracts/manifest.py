"""The registry manifest: what a registered model version is, in typed form, with JSON round-tripping."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sextant_contracts.errors import ManifestError

API_VERSION = "ml.sextant.io/registry-v1"
TASKS = ("classification", "regression", "clustering", "anomalyDetection")
Task = Literal["classification", "regression", "clustering", "anomalyDetection"]
ARTIFACT_FORMAT = "bentoml-sklearn"


@dataclass(frozen=True)
class FeatureSpec:
    """One input column that serving must receive."""

    name: str
    type: Literal["numeric", "categorical", "datetime"]  # datetime: ISO 8601 text (datetime_features.py)
    dtype: str
    nullable: bool
    categories: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "dtype": self.dtype, "nullable": self.nullable}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class AcceptanceResult:
    """One acceptance criterion and whether the model met it."""

    metric: str
    value: float | None
    passed: bool
    min: float | None = None
    max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "value": self.value, "passed": self.passed}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        return out


@dataclass(frozen=True)
class Manifest:
    """A registered model version; manifest.json is written last, so its presence means 'complete'."""

    name: str
    version: int
    task: Task
    algorithm: str
    params: dict[str, Any]
    feature_schema: list[FeatureSpec]
    target: dict[str, Any] | None
    metrics: dict[str, float]
    baseline: dict[str, Any]
    artifact_sha256: str
    accepted: bool
    acceptance: list[AcceptanceResult]
    lineage: dict[str, Any]
    artifact_path: str = "model"
    artifact_format: str = ARTIFACT_FORMAT
    api_version: str = field(default=API_VERSION)

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "algorithm": self.algorithm,
            "params": self.params,
            "featureSchema": [f.to_dict() for f in self.feature_schema],
            "target": self.target,
            "metrics": self.metrics,
            "baseline": self.baseline,
            "artifact": {"path": self.artifact_path, "format": self.artifact_format, "sha256": self.artifact_sha256},
            "accepted": self.accepted,
            "acceptance": [a.to_dict() for a in self.acceptance],
            "lineage": self.lineage,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True).encode("utf-8")


def _require(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise ManifestError(f"{where} has no field {key!r}.", "re-register the model with a current pipeline.")
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}.{key} has type {type(value).__name__}.", "re-register the model.")
    return value


def _feature_from_dict(doc: dict[str, Any], where: str) -> FeatureSpec:
    kind = _require(doc, "type", str, where)
    if kind not in ("numeric", "categorical", "datetime"):
        raise ManifestError(f"{where}.type is {kind!r}, not numeric, categorical or datetime.",
                            "re-register the model.")
    categories = doc.get("categories")
    return FeatureSpec(
        name=_require(doc, "name", str, where),
        type=kind,
        dtype=_require(doc, "dtype", str, where),
        nullable=bool(doc.get("nullable", True)),
        categories=[str(c) for c in categories] if categories is not None else None,
    )


def _acceptance_from_dict(doc: dict[str, Any]) -> AcceptanceResult:
    return AcceptanceResult(
        metric=str(doc["metric"]),
        value=None if doc.get("value") is None else float(doc["value"]),
        passed=bool(doc["passed"]),
        min=doc.get("min"),
        max=doc.get("max"),
    )


def manifest_from_dict(doc: dict[str, Any]) -> Manifest:
    """Validate and convert a manifest document; raises ManifestError naming the first bad field."""
    where = "manifest"
    api = _require(doc, "apiVersion", str, where)
    if api != API_VERSION:
        raise ManifestError(f"manifest apiVersion is {api!r}, expected {API_VERSION!r}.", "upgrade Sextant.")
    task = _require(doc, "task", str, where)
    if task not in TASKS:
        raise ManifestError(f"manifest.task is {task!r}; expected one of {', '.join(TASKS)}.", "re-register.")
    artifact = _require(doc, "artifact", dict, where)
    sha = _require(artifact, "sha256", str, "manifest.artifact")
    if len(sha) != 64:
        raise ManifestError("manifest.artifact.sha256 is not a sha256 hex digest.", "re-register the model.")
    return Manifest(
        name=_require(doc, "name", str, where),
        version=_require(doc, "version", int, where),
        task=task,
        algorithm=_require(doc, "algorithm", str, where),
        params=_require(doc, "params", dict, where),
        feature_schema=[
            _feature_from_dict(f, f"manifest.featureSchema[{i}]")
            for i, f in enumerate(_require(doc, "featureSchema", list, where))
        ],
        target=doc.get("target"),
        metrics={str(k): float(v) for k, v in _require(doc, "metrics", dict, where).items()},
        baseline=_require(doc, "baseline", dict, where),
        artifact_sha256=sha,
        artifact_path=str(artifact.get("path", "model")),
        artifact_format=str(artifact.get("format", ARTIFACT_FORMAT)),
        accepted=_require(doc, "accepted", bool, where),
        acceptance=[_acceptance_from_dict(a) for a in doc.get("acceptance", [])],
        lineage=_require(doc, "lineage", dict, where),
        api_version=api,
    )


def manifest_from_json(data: bytes) -> Manifest:
    """Parse manifest.json bytes; raises ManifestError when the bytes are not a valid manifest."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"manifest.json is not valid JSON ({exc}).", "re-register the model.") from exc
    if not isinstance(doc, dict):
        raise ManifestError("manifest.json is not a JSON object.", "re-register the model.")
    return manifest_from_dict(doc)
