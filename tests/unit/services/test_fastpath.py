"""The column plan (records -> features -> predict without pandas) predicts exactly what the Pipeline predicts.

The models are what `sextant-train` builds (sextant_pipelines.preprocess.build_model: a ColumnTransformer with
imputation, scaling and encoding, then an estimator), fitted on frames with missing values; the truth is
`pipeline.predict(pandas.DataFrame(records))`, compared bit for bit.
"""

from __future__ import annotations

import logging
import math
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler

from sextant_contracts.manifest import FeatureSpec as TrainSpec
from sextant_pipelines import compact
from sextant_pipelines.preprocess import build_model
from sextant_pipelines.spec import PreprocessingSpec
from sextant_services.dataplane import plan_for, predict_columns
from sextant_services.errors import SchemaMismatch
from sextant_services.fastpath import compile_plan
from sextant_services.features import FeatureSchema, validate_records
from sextant_services.model_source import LoadedModel

COLOURS = ["red", "green", "blue", "violet"]
PLANS = ["basic", "pro"]


def _frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": np.where(rng.random(n) < 0.1, np.nan, rng.normal(40, 12, n).round(1)),
        "colour": np.where(rng.random(n) < 0.1, None, rng.choice(COLOURS, n)).astype(object),
        "income": rng.lognormal(10, 1, n),
        "plan": rng.choice(PLANS, n).astype(object),
        "visits": rng.integers(0, 30, n).astype(float),
    })
    score = (frame["age"].fillna(40) / 40 + (frame["colour"] == "red") + (frame["plan"] == "pro")
             + frame["visits"] / 15 + rng.normal(0, 0.3, n))
    return frame, score.to_numpy()


def _schema() -> list[dict[str, Any]]:
    return [
        {"name": "age", "type": "numeric", "dtype": "float64", "nullable": True},
        {"name": "colour", "type": "categorical", "dtype": "object", "nullable": True, "categories": COLOURS},
        {"name": "income", "type": "numeric", "dtype": "float64", "nullable": False},
        {"name": "plan", "type": "categorical", "dtype": "object", "nullable": False, "categories": PLANS},
        {"name": "visits", "type": "numeric", "dtype": "float64", "nullable": True},
    ]


def _loaded(estimator: Any, task: str) -> LoadedModel:
    frame, _ = _frame()
    baseline = {"features": {c: {"type": "numeric", "bins": np.histogram(frame[c].dropna(), bins=5)[1].tolist()}
                             for c in ("age", "income", "visits")}}
    manifest = {"featureSchema": _schema(), "baseline": baseline}
    return LoadedModel(name="m", version=1, task=task, manifest=manifest, estimator=estimator,
                       schema=FeatureSchema.from_manifest(_schema()), classes=None,
                       as_frame=hasattr(estimator, "feature_names_in_"))


def _frame_of(records: list[dict[str, Any]]) -> pd.DataFrame:
    """`pandas.DataFrame(records)`, with numeric columns as float64 as the schema says: in a batch where a numeric
    feature is missing in every row pandas infers an object column of None, which most_frequent imputation keeps."""
    frame = pd.DataFrame(records)
    return frame.astype({f["name"]: "float64" for f in _schema() if f["type"] == "numeric"})


def _trained(preprocessing: PreprocessingSpec, task: str, estimator: Any) -> Pipeline:
    frame, score = _frame()
    train_schema = [TrainSpec(f["name"], f["type"], f["dtype"], f["nullable"]) for f in _schema()]
    y = (score > np.median(score)).astype(int) if task == "classification" else score
    return build_model(train_schema, preprocessing, estimator).fit(frame, y)


# Varied requests: missing values, categories unseen in training, ints where floats were trained, extreme values.
RECORDS: list[dict[str, Any]] = [
    {"age": 35.5, "colour": "red", "income": 20000.0, "plan": "pro", "visits": 3},
    {"age": None, "colour": "green", "income": 1.0, "plan": "basic", "visits": None},
    {"age": 71, "colour": None, "income": 55000, "plan": "pro", "visits": 0},
    {"age": 18.0, "colour": "chartreuse", "income": 0.0, "plan": "enterprise", "visits": 29.0},
    {"age": -5.0, "colour": "", "income": 1e9, "plan": "basic", "visits": 1000},
    {"age": None, "colour": None, "income": 3.25, "plan": "nope", "visits": None},
    {"age": 0, "colour": "blue", "income": 42, "plan": "pro", "visits": 7},
    {"age": 44.4, "colour": "violet", "income": 12345.678, "plan": "basic", "visits": 2.5},
]

PREPROCESSING = [
    PreprocessingSpec(),  # median imputation, standard scaling, one-hot: sextant-train's defaults
    PreprocessingSpec(impute="mean", scale="minmax", encode_categorical="ordinal"),
    PreprocessingSpec(impute="most_frequent", scale="robust", encode_categorical="onehot"),
    PreprocessingSpec(impute="median", scale="none", encode_categorical="ordinal"),
]


@pytest.mark.parametrize("preprocessing", PREPROCESSING, ids=lambda p: f"{p.impute}-{p.scale}-{p.encode_categorical}")
@pytest.mark.parametrize(("task", "estimator"), [
    ("classification", LogisticRegression(max_iter=2000)),
    ("classification", GradientBoostingClassifier(n_estimators=30, random_state=0)),
    ("regression", Ridge()),
    ("regression", RandomForestRegressor(n_estimators=20, random_state=0)),
], ids=lambda e: type(e).__name__ if not isinstance(e, str) else e)
def test_the_column_plan_predicts_exactly_what_the_pipeline_predicts(
        preprocessing: PreprocessingSpec, task: str, estimator: Any) -> None:
    pipe = _trained(preprocessing, task, estimator)
    model = _loaded(pipe, task)
    plan = plan_for(model)
    assert plan is not None, "sextant-train's pipeline should compile to a column plan"
    for rows in (RECORDS, RECORDS[:1], RECORDS[1:2], RECORDS * 9):
        cols = validate_records(rows, model.schema, 1000)
        truth = pipe.predict(_frame_of(rows))
        got, proba = predict_columns(model, cols, task == "classification", plan)
        assert got.dtype == truth.dtype and np.array_equal(got, truth), (got, truth)
        assert np.array_equal(predict_columns(model, cols, False, plan)[0], truth)
        if task == "classification":
            assert np.array_equal(proba, pipe.predict_proba(_frame_of(rows)))
        # the matrix itself is the ColumnTransformer's, bit for bit
        assert np.array_equal(plan.transform(cols), pipe[0].transform(_frame_of(rows)), equal_nan=True)


def test_numeric_strings_are_refused_before_any_model_runs() -> None:
    model = _loaded(_trained(PreprocessingSpec(), "classification", LogisticRegression()), "classification")
    with pytest.raises(SchemaMismatch) as err:
        validate_records([{**RECORDS[0], "age": "35.5"}], model.schema, 10)
    assert err.value.field == "records[0].age"


def test_models_a_plan_cannot_reproduce_are_served_through_a_dataframe(caplog: pytest.LogCaptureFixture) -> None:
    frame, score = _frame()
    y = (score > np.median(score)).astype(int)
    unknown_step = Pipeline([
        ("pre", ColumnTransformer([("n", Pipeline([("fill", "passthrough"), ("poly", PolynomialFeatures())]),
                                    ["income"]),
                                   ("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["plan"])])),
        ("clf", LogisticRegression(max_iter=2000))]).fit(frame, y)
    sparse = Pipeline([
        ("pre", ColumnTransformer([("n", StandardScaler(), ["income"]),
                                   ("c", OneHotEncoder(handle_unknown="ignore"), ["plan"])], sparse_threshold=1.0)),
        ("clf", LogisticRegression(max_iter=2000))]).fit(frame, y)
    for estimator, why in ((unknown_step, "numeric step PolynomialFeatures"), (sparse, "sparse output")):
        model = _loaded(estimator, "classification")
        with caplog.at_level(logging.INFO, logger="sextant_services"):
            assert plan_for(model) is None
        assert f"served through a DataFrame (no column plan: {why}" in caplog.text
        cols = validate_records(RECORDS, model.schema, 100)
        assert np.array_equal(predict_columns(model, cols, False)[0], estimator.predict(_frame_of(RECORDS)))


def test_compiling_a_sextant_train_model_keeps_the_column_transformer_order() -> None:
    pipe = _trained(PreprocessingSpec(), "classification", LogisticRegression())
    plan = compile_plan(pipe, FeatureSchema.from_manifest(_schema()))
    assert [b.names for b in plan.blocks] == [("age", "income", "visits"), ("colour", "plan")]
    assert math.isclose(sum(b.width for b in plan.blocks), pipe[0].transform(_frame()[0].head(2)).shape[1])


def test_a_model_trained_on_large_data_is_served_through_a_dataframe(caplog: pytest.LogCaptureFixture) -> None:
    """Large data's float32 design matrix is not what a plan reproduces: the model, pickled as the registry
    stores it, is served through a DataFrame and answers exactly what it predicts."""
    frame, score = _frame()
    train_schema = [TrainSpec(f["name"], f["type"], f["dtype"], f["nullable"]) for f in _schema()]
    pipe = build_model(train_schema, PreprocessingSpec(), LogisticRegression(max_iter=2000), "classification",
                       rows=compact.LARGE_ROWS + 1).fit(frame, (score > np.median(score)).astype(int))
    model = _loaded(pickle.loads(pickle.dumps(pipe)), "classification")  # noqa: S301 - our own bytes
    with caplog.at_level(logging.INFO, logger="sextant_services"):
        assert plan_for(model) is None
    assert "served through a DataFrame (no column plan: " in caplog.text
    cols = validate_records(RECORDS, model.schema, 100)
    assert np.array_equal(predict_columns(model, cols, False)[0], pipe.predict(_frame_of(RECORDS)))
