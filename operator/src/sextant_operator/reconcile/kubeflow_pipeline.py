"""The pipeline package the kubeflow backend uploads: the compiled IR with the operator's trainer image, and the
pipeline version name that changes exactly when the project version or the package's content does."""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

PIPELINE_NAME = "sextant-training"


def with_component_image(package: str, image: str) -> str:
    """The compiled pipeline (IR YAML) with every component's container image set to image.

    Raises ValueError when the text is not a compiled KFP pipeline."""
    document: dict[str, Any] = yaml.safe_load(package)
    executors = ((document or {}).get("deploymentSpec") or {}).get("executors")
    if not isinstance(executors, dict) or not executors:
        raise ValueError("the pipeline package has no deploymentSpec.executors; is it KFP IR YAML?")
    for executor in executors.values():
        executor["container"]["image"] = image
    return str(yaml.safe_dump(document, sort_keys=True))


def pipeline_version_name(project_version: str, package: str) -> str:
    """`<project version>-<12 hex digits of the package's sha256>`: uploaded once, found again by this name."""
    return f"{project_version}-{hashlib.sha256(package.encode()).hexdigest()[:12]}"
