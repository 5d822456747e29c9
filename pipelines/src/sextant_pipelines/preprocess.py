"""Preprocess: imputation, scaling and encoding fitted inside the model's Pipeline, so serving takes raw features."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

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


def build_preprocessor(schema: list[FeatureSpec], spec: PreprocessingSpec) -> ColumnTransformer:
    """A ColumnTransformer over the schema's numeric and categorical columns (missing values allowed)."""
    numeric = [f.name for f in schema if f.type == "numeric"]
    categorical = [f.name for f in schema if f.type == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps(spec)), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(categorical_steps(spec)), categorical))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def build_model(schema: list[FeatureSpec], spec: PreprocessingSpec, estimator: BaseEstimator) -> Pipeline:
    """Step 3: the servable model: raw feature frame in, prediction out."""
    return Pipeline([("preprocess", build_preprocessor(schema, spec)), ("model", estimator)])
