"""Ingest streams the file: the digest is the file's sha256, only the columns the spec can use are kept, and a
column the spec names that is missing is reported against the file's whole header."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sextant_pipelines.errors import DataError
from sextant_pipelines.ingest import ingest
from sextant_pipelines.spec import DatasetSpec


def table(rows: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"a": rng.normal(size=rows), "note": [f"free text {i}" for i in range(rows)],
                         "b": rng.integers(0, 5, rows), "target": np.arange(rows) % 2})


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz", "data.parquet"])
def test_the_digest_is_the_files_sha256_and_excluded_columns_are_not_kept(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".parquet"):
        table().to_parquet(path)
    elif name.endswith(".gz"):
        path.write_bytes(gzip.compress(table().to_csv(index=False).encode()))
    else:
        table().to_csv(path, index=False)
    data = ingest(DatasetSpec(uri=path.as_uri(), target="target", exclude=["note"]), "classification")
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert list(data.features.columns) == ["a", "b"] and data.target is not None
    assert data.target.name == "target" and len(data.features) == 50


def test_features_keep_the_specs_order(tmp_path: Path) -> None:
    table().to_csv(tmp_path / "d.csv", index=False)
    data = ingest(DatasetSpec(uri=(tmp_path / "d.csv").as_uri(), target="target", features=["b", "a"]),
                  "classification")
    assert list(data.features.columns) == ["b", "a"]


def test_a_missing_feature_is_reported_with_every_column_of_the_file(tmp_path: Path) -> None:
    table().to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError) as caught:
        ingest(DatasetSpec(uri=(tmp_path / "d.csv").as_uri(), target="target", features=["a", "c"]),
               "classification")
    assert "'c'" in caught.value.message and "a, note, b, target" in caught.value.fix
