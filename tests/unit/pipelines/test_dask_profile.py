"""The out-of-core profile equals the single-process one: schema, missing rates, baselines, target, warnings.

Run on Dask's in-process scheduler over many small partitions (file://) and over s3:// on the unit tests' S3
server; tests/integration/outofcore runs it on a distributed LocalCluster over data larger than a worker's memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import pytest

from sextant_pipelines import dask_ingest
from sextant_pipelines.dask_ingest import ingest_lazy
from sextant_pipelines.dask_profile import profile_lazy
from sextant_pipelines.errors import DataError
from sextant_pipelines.ingest import ingest
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import DatasetSpec
from tests.support.s3server import S3Server
from tests.support.wide_data import UNUSED, frame

ROWS = 30_000


def _write(data: pd.DataFrame, directory: Path, fmt: str) -> Path:
    path = directory / f"data.{fmt}"
    if fmt == "parquet":
        data.to_parquet(path, row_group_size=2_000)
    else:
        data.to_csv(path, index=False)
    return path


def _both(spec: DatasetSpec, task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    single = ingest(spec, task)
    expected = profile(single.features, single.target, task, suspicious=False).to_dict()
    with dask.config.set(scheduler="synchronous"):
        lazy = ingest_lazy(spec, task)
        assert lazy.frame.npartitions > 3  # the point: many partitions, each seen once per pass
        return expected, profile_lazy(lazy, task).to_dict()


@pytest.fixture(autouse=True)
def _small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_ingest, "PARTITION_BYTES", 256 * 1024)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_profile_out_of_core_equals_the_single_process_profile(tmp_path: Path, fmt: str) -> None:
    path = _write(frame(ROWS), tmp_path, fmt)
    spec = DatasetSpec(uri=path.as_uri(), target="label", exclude=list(UNUSED))
    expected, found = _both(spec, "classification")
    assert found == expected
    assert found["baseline"]["features"]["a"]["type"] == "numeric" and sum(
        found["baseline"]["features"]["a"]["counts"]) == ROWS


def test_only_the_needed_columns_are_read(tmp_path: Path) -> None:
    path = _write(frame(ROWS), tmp_path, "parquet")
    lazy = ingest_lazy(DatasetSpec(uri=path.as_uri(), target="label", features=["a", "c"]), "classification")
    assert list(lazy.frame.columns) == ["a", "c", "label"] and lazy.features == ["a", "c"]


def test_a_regression_target_is_summarised_alike(tmp_path: Path) -> None:
    path = _write(frame(ROWS).assign(label=lambda f: f["a"] * 3 + f["e"]), tmp_path, "parquet")
    expected, found = _both(DatasetSpec(uri=path.as_uri(), target="label", exclude=list(UNUSED)), "regression")
    assert found["target"]["mean"] == pytest.approx(expected["target"]["mean"], rel=1e-9, abs=1e-12)
    assert found["target"]["std"] == pytest.approx(expected["target"]["std"], rel=1e-9)
    assert {k: v for k, v in found.items() if k != "target"} == {k: v for k, v in expected.items() if k != "target"}


def test_bad_data_is_refused_with_the_single_process_message(tmp_path: Path) -> None:
    data = frame(ROWS).assign(d=np.nan)
    path = _write(data, tmp_path, "parquet")
    spec = DatasetSpec(uri=path.as_uri(), target="label", exclude=list(UNUSED))
    with pytest.raises(DataError) as single:
        single_data = ingest(spec, "classification")
        profile(single_data.features, single_data.target, "classification")
    with pytest.raises(DataError) as lazy, dask.config.set(scheduler="synchronous"):
        profile_lazy(ingest_lazy(spec, "classification"), "classification")
    assert str(lazy.value) == str(single.value) and "'d' has no values" in str(lazy.value)


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = _write(frame(100), tmp_path, "csv")
    with pytest.raises(DataError, match="'nope' is not in the dataset"):
        ingest_lazy(DatasetSpec(uri=path.as_uri(), target="nope"), "classification")


def test_s3_is_read_with_the_stores_endpoint_and_keys_from_the_environment(s3_env: S3Server, tmp_path: Path) -> None:
    bucket = s3_env.create_bucket("dask-profile")
    path = _write(frame(ROWS), tmp_path, "parquet")
    s3_env.client().upload_file(str(path), bucket, "tables/data.parquet")
    local, remote = (DatasetSpec(uri=u, target="label", exclude=list(UNUSED))
                     for u in (path.as_uri(), f"s3://{bucket}/tables/data.parquet"))
    with dask.config.set(scheduler="synchronous"):
        assert profile_lazy(ingest_lazy(remote, "classification"), "classification").to_dict() == \
            profile_lazy(ingest_lazy(local, "classification"), "classification").to_dict()
    assert "secret" not in str(dask_ingest.storage_options(remote.uri)).lower()
    assert dask_ingest.storage_options(remote.uri)["client_kwargs"]["endpoint_url"] == s3_env.endpoint
