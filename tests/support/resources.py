"""Test helpers: the sample resources from manifests/samples and the catalogue of invalid variations."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "manifests" / "samples"


def load_sample(base: str) -> dict[str, Any]:
    """The sample manifests/samples/ml.sextant.io_v1alpha1_<base>.yaml as a dict."""
    return yaml.safe_load((SAMPLES / f"ml.sextant.io_v1alpha1_{base}.yaml").read_text())


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("ml.sextant.io_v1alpha1_*.yaml"))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null deletes), returning a new object."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


@dataclass(frozen=True)
class InvalidCase:
    """A resource with one mistake, the field the rejection must name, and the layer that rejects it."""

    case: str
    resource: dict[str, Any]
    field: str
    by: str


def invalid_cases() -> list[InvalidCase]:
    raw = yaml.safe_load((Path(__file__).parent / "invalid_resources.yaml").read_text())
    cases = []
    for entry in raw:
        resource = merge_patch(load_sample(entry["base"]), entry["patch"])
        resource["metadata"]["name"] = entry["case"]
        cases.append(InvalidCase(entry["case"], resource, entry["field"], entry["by"]))
    return cases
