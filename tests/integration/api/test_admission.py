"""Every invalid resource is rejected by the real API server naming the field; every sample is accepted.

The operator runs as the chart's ServiceAccount and serves the chart's validating webhook over TLS, so the
rules CEL cannot express (algorithm catalogue, hyperparameters, metric per task) are enforced for real.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml

from tests.support.resources import invalid_cases, sample_files

CASES = invalid_cases()


def test_there_are_at_least_150_distinct_mistakes() -> None:
    assert len({c.case for c in CASES}) == len(CASES) >= 150
    assert {c.by for c in CASES} == {"schema", "cel", "webhook"}


@pytest.fixture(scope="module")
def admission(cluster: Any, crds: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One namespace and one operator (with its webhook) shared by the admission cases of this module."""
    from tests.support.sextant_fixtures import start_sextant, stop_sextant

    namespace = f"t-admission-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    operator, hook = start_sextant(cluster, namespace, tmp_path_factory.mktemp("admission"))
    try:
        yield namespace
    finally:
        stop_sextant(cluster, namespace, operator, hook)
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.case)
def test_invalid_resource_is_rejected_naming_the_field(cluster: Any, admission: str, case: Any) -> None:
    result = cluster.kubectl("apply", "-n", admission, "-f", "-", input=yaml.safe_dump(case.resource),
                             check=False)
    assert result.returncode != 0, f"{case.case} was accepted: {result.stdout}"
    assert case.field in result.stderr, result.stderr
    if case.by == "webhook":
        assert 'admission webhook "trainingjobs.ml.sextant.io" denied the request' in result.stderr


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.stem.removeprefix("ml.sextant.io_v1alpha1_"))
def test_valid_sample_is_accepted(cluster: Any, admission: str, path: Any) -> None:
    cluster.kubectl("apply", "-n", admission, "-f", str(path))


def test_webhook_does_not_block_metadata_updates_or_deletion(cluster: Any, admission: str) -> None:
    sample = next(p for p in sample_files() if "trainingjob" in p.name)
    cluster.kubectl("apply", "-n", admission, "-f", str(sample))
    name = yaml.safe_load(sample.read_text())["metadata"]["name"]
    cluster.kubectl("label", "-n", admission, "trainingjob", name, "team=ml", "--overwrite")
    cluster.kubectl("delete", "-n", admission, "trainingjob", name, "--wait=true", "--timeout=30s")
