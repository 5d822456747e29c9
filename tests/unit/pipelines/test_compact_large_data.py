"""Large datasets are held compactly: read in chunks, float32 and small integers, categoricals for repeated
strings; their models learn from a float32 design matrix (sparse where the estimator takes it) and still take
the raw records the model server gives them. compact.LARGE_ROWS is lowered so a few thousand rows count as large.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from sextant_pipelines import compact
from sextant_pipelines.ingest import ingest
from sextant_pipelines.preprocess import build_model
from sextant_pipelines.profile import profile
from sextant_pipelines.spec import DatasetSpec, PreprocessingSpec

ROWS = 5_000


def table(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=rows).round(6), "count": rng.integers(0, 100, rows),
                          "city": rng.choice([f"city {i}" for i in range(20)], rows),
                          "note": [f"free text number {i}" for i in range(rows)]})
    frame["label"] = np.where(frame["x"] + frame["city"].isin(["city 1", "city 2"]) > 0.5, "yes", "no")
    return frame


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compact, "LARGE_ROWS", 1_000)


def read(path: Path) -> pd.DataFrame:
    data = ingest(DatasetSpec(uri=path.as_uri(), target="label"), "classification")
    assert data.target is not None
    return data.features.assign(label=data.target)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("name", ["data.csv", "data.parquet"])
def test_a_large_table_is_compact_and_holds_the_same_values(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    table().to_parquet(path) if name.endswith(".parquet") else table().to_csv(path, index=False)
    whole = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
    got = read(path)
    assert got["x"].dtype == np.float32 and got["count"].dtype == np.int8
    assert isinstance(got["city"].dtype, pd.CategoricalDtype)
    assert not isinstance(got["note"].dtype, pd.CategoricalDtype)  # every value differs: kept as strings
    assert got["label"].dtype == whole["label"].dtype  # the target exactly as read
    np.testing.assert_allclose(got["x"].to_numpy(np.float64), whole["x"], rtol=1e-6)
    for name_ in ("count", "city", "note", "label"):
        assert got[name_].astype(str).tolist() == whole[name_].astype(str).tolist(), name_
    assert got.memory_usage(deep=True).sum() < whole.memory_usage(deep=True).sum() * 0.8


@pytest.mark.usefixtures("small_chunks")
def test_a_column_that_turns_to_strings_in_a_later_chunk_is_strings_throughout(tmp_path: Path) -> None:
    frame = table()
    codes = [str(i % 7) for i in range(ROWS - 10)] + ["A"] * 10  # numbers for four chunks, then letters
    frame["code"] = codes
    frame.to_csv(tmp_path / "d.csv", index=False)
    got = read(tmp_path / "d.csv")
    assert isinstance(got["code"].dtype, pd.CategoricalDtype)
    assert got["code"].astype(str).tolist() == codes


def test_a_table_of_one_chunk_is_exactly_what_pandas_reads(tmp_path: Path) -> None:
    table(900).to_csv(tmp_path / "d.csv", index=False)
    got = read(tmp_path / "d.csv")
    pd.testing.assert_frame_equal(got, pd.read_csv(tmp_path / "d.csv"), check_like=True)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize(("estimator", "sparse_matrix"), [(LogisticRegression(max_iter=500), True),
                                                          (HistGradientBoostingClassifier(max_iter=20), False)])
def test_a_large_tables_model_learns_float32_and_takes_raw_records(tmp_path: Path, estimator: object,
                                                                   sparse_matrix: bool) -> None:
    table().to_csv(tmp_path / "d.csv", index=False)
    data = ingest(DatasetSpec(uri=(tmp_path / "d.csv").as_uri(), target="label", exclude=["note"]),
                  "classification")
    prof = profile(data.features, data.target, "classification")
    model = build_model(prof.schema, PreprocessingSpec(), estimator, "classification", len(data.features))
    model.fit(data.features, data.target)
    design = model[:-1].transform(data.features.head(50))  # 2 numbers and 20 one-hot columns: 14% filled
    assert design.dtype == np.float32 and sparse.issparse(design) == sparse_matrix
    raw = table().drop(columns=["note", "label"]).head(200)  # float64 and plain strings, as the server builds
    assert (model.predict(raw) == table()["label"].head(200)).mean() > 0.9


@pytest.mark.usefixtures("small_chunks")
def test_a_large_tables_drift_baseline_counts_the_same_categories(tmp_path: Path) -> None:
    table().to_csv(tmp_path / "d.csv", index=False)
    data = ingest(DatasetSpec(uri=(tmp_path / "d.csv").as_uri(), target="label", exclude=["note"]),
                  "classification")
    whole = pd.read_csv(tmp_path / "d.csv")
    compacted = profile(data.features, data.target, "classification").baseline["features"]["city"]
    assert compacted == profile(whole[["x", "count", "city"]], whole["label"], "classification").baseline[
        "features"]["city"]
    assert sum(compacted["frequencies"].values()) == pytest.approx(1.0) and len(compacted["frequencies"]) == 20
