"""The project's own s3:// code against the embedded store: the registry contract, training from and registering
into s3://, and serving's model loading. The tests are the ones that run against moto, imported and re-run here;
this directory's conftest points their `s3_server` at versitygw, so the flows cannot drift apart."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sextant_contracts.storage import ArtifactStore, open_store
from tests.support.versitygw import RunningStore
from tests.unit.pipelines.test_s3 import (
    buckets,
    test_missing_s3_object_names_the_key,
    test_train_from_s3_csv_and_parquet_and_register_into_s3,
    test_wrong_credentials_say_which_secret_to_fix,
)
from tests.unit.registry.test_registry import (
    test_download_verifies_the_digest_before_returning,
    test_failed_publication_leaves_no_version_behind,
    test_missing_object_is_reported_as_not_found,
    test_twenty_concurrent_registrations_get_twenty_versions,
    test_unknown_alias_and_version_name_the_fix,
    test_versions_are_increasing_and_aliases_resolve,
)
from tests.unit.services.test_batch_scoring import test_model_from_an_s3_store_is_resolved_by_alias_verified_and_scores

__all__ = [
    "buckets",
    "test_download_verifies_the_digest_before_returning",
    "test_failed_publication_leaves_no_version_behind",
    "test_missing_object_is_reported_as_not_found",
    "test_missing_s3_object_names_the_key",
    "test_model_from_an_s3_store_is_resolved_by_alias_verified_and_scores",
    "test_train_from_s3_csv_and_parquet_and_register_into_s3",
    "test_twenty_concurrent_registrations_get_twenty_versions",
    "test_unknown_alias_and_version_name_the_fix",
    "test_versions_are_increasing_and_aliases_resolve",
    "test_wrong_credentials_say_which_secret_to_fix",
]


@pytest.fixture
def store(versitygw: RunningStore, s3_env: object) -> ArtifactStore:
    """The registry tests' store: the embedded bucket (made at start, as in the cluster) under a fresh prefix."""
    return open_store(f"s3://{versitygw.bucket}/registry-{uuid.uuid4().hex[:8]}")


def test_a_model_registered_to_s3_loads_back_from_the_bucket_made_at_start(versitygw: RunningStore, s3_env: object,
                                                                          tmp_path: Path) -> None:
    from sextant_pipelines.flow import RunContext, run_training
    from sextant_services.model_source import ModelRef, load_model

    store_uri = f"s3://{versitygw.bucket}/flow-{uuid.uuid4().hex[:8]}"
    job = {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
           "estimator": {"algorithm": "logistic_regression"}, "model": {"name": "iris", "promote": "production"}}
    result = run_training(job, RunContext(store_uri))
    assert result["model"]["uri"].startswith(f"{store_uri}/models/iris/1")
    model = load_model(store_uri, ModelRef("iris", alias="production"), tmp_path / "cache")
    assert model.version == 1 and model.is_classifier
