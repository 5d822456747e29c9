"""Every sample TrainingJob the API admits is one the training pipeline accepts, with data it can read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sextant_pipelines.ingest import load_builtin
from sextant_pipelines.spec import parse_spec

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "manifests" / "samples").glob("*trainingjob*.yaml"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_sample_spec_parses_for_the_pipeline(sample: Path) -> None:
    spec = parse_spec(yaml.safe_load(sample.read_text())["spec"])
    uri = spec.dataset.uri
    assert uri.startswith(("s3://", "file://", "builtin:"))
    if uri.startswith("builtin:"):
        assert len(load_builtin(uri.removeprefix("builtin:"))) > 100


def test_there_are_samples_for_every_mode() -> None:
    modes = {next(k for k in ("estimator", "tuning", "automl") if k in yaml.safe_load(p.read_text())["spec"])
             for p in SAMPLES}
    assert modes == {"estimator", "tuning", "automl"}
