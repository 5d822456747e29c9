"""Preprocess: imputation, scaling and encoding fitted inside the model's Pipeline, so serving takes raw features."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines.spec import PreprocessingSpec

SCALERS: dict[str, Any] = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def numeric_steps(spec: PreprocessingSpec) -> list[tuple[str, Any]]:
    strategy = "median" if spec.impute == "auto" else spec.impute
    steps: list[tuple[str, Any]] = []
    if strategy != "none":
        steps.append(("impute", SimpleImputer(strategy=strategy, keep_empty_features=True)))
    if spec.scale != "none":
        steps.append(("scale", SCALERS[spec.scale]()))
    return steps or [("identity", "passthrough")]


def categorical_steps(spec: PreprocessingSpec) -> list[tuple[str, Any]]:
    encoder: Any = (OneHotEncoder(handle_unknown="ignore", sparse_output=False)
                    if spec.encode_categorical == "onehot"
                    else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1))
    # Only scikit-learn classes in the pickled model, so serving needs nothing from this package to load it.
    return [("impute", SimpleImputer(strategy="constant", fill_value="__missing__")), ("encode", encoder)]


# More distinct values than this make one-hot columns too many and too sparse to learn from: with a target to
# learn from, such a column is target-encoded instead.
HIGH_CARDINALITY = 30


def high_cardinality(feature: FeatureSpec) -> bool:
    return feature.type == "categorical" and len(feature.categories or []) > HIGH_CARDINALITY


def target_encoding_steps(task: str) -> list[tuple[str, Any]]:
    """scikit-learn's TargetEncoder: each category becomes a shrunk mean of the target (one column per class
    for multiclass). Fitted inside the Pipeline, so inside each cross-validation fold, and its fit_transform
    cross-fits (each training row is encoded by a model that did not see it): the target does not leak."""
    # A seeded splitter: the same data gives the same encoding (and model).
    splitter = (KFold(5, shuffle=True, random_state=0) if task == "regression"
                else StratifiedKFold(5, shuffle=True, random_state=0))
    return [("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("encode", TargetEncoder(target_type="continuous" if task == "regression" else "auto", cv=splitter))]


def build_preprocessor(schema: list[FeatureSpec], spec: PreprocessingSpec, task: str = "") -> ColumnTransformer:
    """A ColumnTransformer over the schema's numeric and categorical columns (missing values allowed); for
    classification and regression with one-hot encoding asked for, high-cardinality categoricals are
    target-encoded."""
    numeric = [f.name for f in schema if f.type == "numeric"]
    encode_by_target = task in ("classification", "regression") and spec.encode_categorical == "onehot"
    wide = [f.name for f in schema if encode_by_target and high_cardinality(f)]
    categorical = [f.name for f in schema if f.type == "categorical" and f.name not in wide]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps(spec)), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(categorical_steps(spec)), categorical))
    if wide:
        transformers.append(("target_encoded", Pipeline(target_encoding_steps(task)), wide))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def build_model(schema: list[FeatureSpec], spec: PreprocessingSpec, estimator: BaseEstimator,
                task: str = "") -> Pipeline:
    """Step 3: the servable model: raw feature frame in, prediction out."""
    return Pipeline([("preprocess", build_preprocessor(schema, spec, task)), ("model", estimator)])
