"""Batch scoring end to end: CSV and Parquet, file:// and s3:// (a real S3 protocol server), atomic output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sextant_services import batch
from sextant_services.model_source import ModelRef, load_model
from tests.support.s3server import S3Server
from tests.support.serving_models import iris_frame


def _dataset(rows: int) -> pd.DataFrame:
    x, _ = iris_frame()
    rng = np.random.default_rng(1)
    sample = x.sample(rows, replace=True, random_state=1).reset_index(drop=True)
    sample += rng.normal(0, 0.05, sample.shape)
    sample.insert(0, "customer_id", [f"c{i}" for i in range(rows)])
    return sample


@pytest.fixture(scope="module")
def iris(store: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load_model(store.as_uri(), ModelRef("iris", alias="production"), tmp_path_factory.mktemp("cache"))


def test_csv_is_scored_in_bounded_chunks_with_progress(iris, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _dataset(5000)
    data.to_csv(tmp_path / "in.csv", index=False)
    seen: list[batch.Progress] = []
    done = batch.score_dataset(iris, (tmp_path / "in.csv").as_uri(), (tmp_path / "out" / "pred.csv").as_uri(),
                               "customer_id", chunk_rows=700, on_progress=seen.append)
    assert done.rows == 5000 and done.chunks == 8
    assert [p.rows for p in seen] == [700 * i for i in range(1, 8)] + [5000]
    out = pd.read_csv(tmp_path / "out" / "pred.csv")
    assert list(out.columns) == ["customer_id", "prediction"]
    assert out["customer_id"].tolist() == data["customer_id"].tolist()
    expected = iris.estimator.predict(data.drop(columns="customer_id"))
    assert (out["prediction"].to_numpy() == expected).all()


def test_parquet_in_and_out_with_probabilities_reports_fraction(iris, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _dataset(3000)
    data.to_parquet(tmp_path / "in.parquet", row_group_size=1000)
    fractions: list[float | None] = []
    batch.score_dataset(iris, str(tmp_path / "in.parquet"), str(tmp_path / "pred.parquet"), "customer_id",
                        chunk_rows=1000, proba=True, on_progress=lambda p: fractions.append(p.fraction))
    out = pd.read_parquet(tmp_path / "pred.parquet")
    assert list(out.columns) == ["customer_id", "prediction", "proba_0", "proba_1", "proba_2"]
    assert np.allclose(out[["proba_0", "proba_1", "proba_2"]].sum(axis=1), 1)
    assert fractions == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_a_bad_row_late_in_the_file_fails_the_run_and_leaves_no_output(store: Path, tmp_path: Path) -> None:
    data = _dataset(4000).astype({"petal_width": object})
    data.loc[3500, "petal_width"] = "broken"
    data.to_csv(tmp_path / "in.csv", index=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "sextant_services.batch", "--store", store.as_uri(), "--model", "iris",
         "--alias", "production", "--input", str(tmp_path / "in.csv"), "--output", str(out_dir / "pred.csv"),
         "--id-column", "customer_id", "--chunk-rows", "500", "--cache-dir", str(tmp_path / "cache"),
         "--termination-message", str(tmp_path / "termination-log"), "--progress-key", "batchruns/ns/r1/progress.json"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2  # the data cannot be scored: retrying cannot help
    assert "nothing was written" in proc.stderr and "petal_width" in proc.stderr
    assert "scored 500 rows" in proc.stderr  # progress was reported before the failure
    assert list(out_dir.iterdir()) == []
    outcome = json.loads((tmp_path / "termination-log").read_text())
    assert outcome == {"status": "Failed", "reason": "BadRow", "row": 3501, "column": "petal_width",
                       "rowsDone": 3500, "rowsTotal": 4000, "modelVersion": 1,
                       "message": "column 'petal_width' must be numeric; data row 3501 holds 'broken'",
                       "fix": "correct or remove row 3501 of the input (column 'petal_width'), then run again"}
    progress = json.loads((store / "batchruns/ns/r1/progress.json").read_text())
    assert progress == {"rowsDone": 3500, "rowsTotal": 4000}  # counts only, never data


def test_the_outcome_and_progress_report_rows_done_of_total(store: Path, tmp_path: Path) -> None:
    _dataset(1200).to_csv(tmp_path / "in.csv", index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "sextant_services.batch", "--store", store.as_uri(), "--model", "iris",
         "--alias", "production", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv"),
         "--id-column", "customer_id", "--chunk-rows", "500", "--cache-dir", str(tmp_path / "cache"),
         "--termination-message", str(tmp_path / "termination-log"), "--progress-key", "batchruns/ns/r2/progress.json"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "termination-log").read_text()) == {
        "status": "Succeeded", "rowsDone": 1200, "rowsTotal": 1200, "output": str(tmp_path / "out.csv"),
        "modelVersion": 1}
    assert json.loads((store / "batchruns/ns/r2/progress.json").read_text()) == {
        "rowsDone": 1200, "rowsTotal": 1200, "chunks": 3}
    assert len(pd.read_csv(tmp_path / "out.csv")) == 1200


def test_missing_feature_column_names_it(iris, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _dataset(10).drop(columns="sepal_width").to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(batch.SchemaMismatch, match="sepal_width"):
        batch.score_dataset(iris, str(tmp_path / "in.csv"), str(tmp_path / "o.csv"), "customer_id")
    assert not (tmp_path / "o.csv").exists()


def test_s3_input_and_output(iris, s3_env: S3Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = s3_env.client()
    client.create_bucket(Bucket="svc-data")
    data = _dataset(2500)
    client.put_object(Bucket="svc-data", Key="in/iris.csv", Body=data.to_csv(index=False).encode())
    done = batch.score_dataset(iris, "s3://svc-data/in/iris.csv", "s3://svc-data/out/pred.parquet", "customer_id",
                               chunk_rows=1000)
    assert done.rows == 2500
    client.download_file("svc-data", "out/pred.parquet", str(tmp_path / "p.parquet"))
    out = pd.read_parquet(tmp_path / "p.parquet")
    assert out["customer_id"].tolist() == data["customer_id"].tolist()
    listed = client.list_objects_v2(Bucket="svc-data", Prefix="out/")["Contents"]
    assert [o["Key"] for o in listed] == ["out/pred.parquet"]


def test_model_from_an_s3_store_is_resolved_by_alias_verified_and_scores(s3_env: S3Server, tmp_path: Path) -> None:
    from tests.support.serving_models import register_iris

    client = s3_env.client()
    client.create_bucket(Bucket="svc-models")
    local = tmp_path / "staging"
    register_iris(local, aliases=("staging",))
    for path in local.rglob("*"):  # copy the registered layout into the S3 store
        if path.is_file():
            client.upload_file(str(path), "svc-models", "registry/" + path.relative_to(local).as_posix())
    model = load_model("s3://svc-models/registry", ModelRef("iris", alias="staging"), tmp_path / "cache")
    assert model.version == 1 and model.is_classifier
    _dataset(50).to_csv(tmp_path / "in.csv", index=False)
    assert batch.score_dataset(model, str(tmp_path / "in.csv"), str(tmp_path / "o.csv"), "customer_id").rows == 50
