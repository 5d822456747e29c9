"""Datasets from s3:// and registration into an s3:// store, against a real S3 server on loopback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sextant_contracts import registry
from sextant_contracts.storage import open_store
from sextant_pipelines.errors import DataError
from sextant_pipelines.flow import RunContext, run_training
from tests.support.s3server import S3Server
from tests.unit.pipelines.helpers import mixed_frame, spec


@pytest.fixture
def buckets(s3_env: S3Server, request: pytest.FixtureRequest) -> tuple[str, str]:
    suffix = abs(hash(request.node.name)) % 10**8
    return s3_env.create_bucket(f"data-{suffix}"), s3_env.create_bucket(f"models-{suffix}")


def upload_churn(server: S3Server, bucket: str) -> None:
    frame = mixed_frame()
    server.client().put_object(Bucket=bucket, Key="churn/train.csv", Body=frame.to_csv(index=False).encode())
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    server.client().put_object(Bucket=bucket, Key="churn/train.parquet", Body=buffer.getvalue())


def test_train_from_s3_csv_and_parquet_and_register_into_s3(s3_env: S3Server, buckets: tuple[str, str],
                                                            tmp_path: Path) -> None:
    data, models = buckets
    upload_churn(s3_env, data)
    store_uri = f"s3://{models}/sextant"
    for key in ("churn/train.csv", "churn/train.parquet"):
        result = run_training(spec("classification", f"s3://{data}/{key}", "churn", exclude=["customer_id"],
                                   estimator={"algorithm": "logistic_regression"},
                                   model={"name": "churn", "promote": "staging"}), RunContext(store_uri))
        assert result["metrics"]["roc_auc"] >= 0.85
        assert result["model"]["uri"].startswith(f"s3://{models}/sextant/models/churn/")
    store = open_store(store_uri)
    manifest = registry.resolve(store, "churn", alias="staging")
    assert manifest.version == 2 and manifest.lineage["dataset"]["uri"] == f"s3://{data}/churn/train.parquet"
    downloaded = registry.download_model(store, manifest, tmp_path / "model")
    assert (downloaded / "saved_model.pkl").stat().st_size > 0
    keys = s3_env.client().list_objects_v2(Bucket=models, Prefix="sextant/runs/")["KeyCount"]
    assert keys >= 4  # profile and report of both runs, plus result documents


def test_missing_s3_object_names_the_key(s3_env: S3Server, buckets: tuple[str, str]) -> None:
    data, models = buckets
    with pytest.raises(DataError, match=f"s3://{data}/nope.csv does not exist") as caught:
        run_training(spec("classification", f"s3://{data}/nope.csv", "m", estimator={"algorithm": "knn"}),
                     RunContext(f"s3://{models}"))
    assert "upload the object" in caught.value.fix
    assert s3_env.client().list_objects_v2(Bucket=models).get("KeyCount", 0) == 0


def test_wrong_credentials_say_which_secret_to_fix(s3_env: S3Server, buckets: tuple[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data, models = buckets
    upload_churn(s3_env, data)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(DataError, match="refused the credentials") as caught:
        run_training(spec("classification", f"s3://{data}/churn/train.csv", "m", estimator={"algorithm": "knn"}),
                     RunContext(f"s3://{models}"))
    assert "AWS_SECRET_ACCESS_KEY" in caught.value.fix
    assert s3_env.client().list_objects_v2(Bucket=models).get("KeyCount", 0) == 0
