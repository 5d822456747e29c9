"""The model a Dask run trains and serves: preprocessing fixed by the out-of-core profile, and the Dask estimators.

A single-process run fits its preprocessing on the training rows. On Dask no process sees them all, so the
preprocessing is decided from the profile instead (which saw every row, partition by partition): numeric columns
become float32 (gradient boosting needs neither scaling nor imputation; missing values stay NaN and the trees
learn where they go), and categorical columns become the index of their value in the profile's categories, which the
boosting library is told are categories. Being fixed, it gives every partition the same columns, and it is the
first step of the served Pipeline: the model server takes raw records, as for any other model.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import methodcaller
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from sextant_contracts.label_codes import LabelCodedClassifier
from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines import catalogue

#: Categories kept per column (the most frequent ones); rarer values are treated as missing. A tree splits a
#: categorical column by sorting its categories, so more cost time and memory in every worker for little gain.
MAX_CATEGORIES = 1024


@dataclass(frozen=True)
class Columns:
    """The design matrix's columns: numeric features as they are, then categorical ones as category codes."""

    numeric: list[str]
    categorical: dict[str, list[str]]

    @property
    def names(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def feature_types(self) -> list[str]:
        """XGBoost's feature types: q (quantitative) or c (categorical), in column order."""
        return ["q"] * len(self.numeric) + ["c"] * len(self.categorical)

    @property
    def categorical_indices(self) -> list[int]:
        return list(range(len(self.numeric), len(self.names)))


def kept_categories(feature: FeatureSpec, frequencies: dict[str, float] | None) -> list[str]:
    """The categories a column is encoded with: all of them, or the MAX_CATEGORIES most frequent (sorted)."""
    categories = list(feature.categories or [])
    if len(categories) <= MAX_CATEGORIES or not frequencies:
        return categories
    ranked = sorted(categories, key=lambda c: (-frequencies.get(c, 0.0), c))
    return sorted(ranked[:MAX_CATEGORIES])


def columns_of(schema: list[FeatureSpec], baseline: dict[str, Any]) -> Columns:
    """The design matrix for a profiled schema (the baseline's category shares choose the categories kept)."""
    features = baseline.get("features", {})
    return Columns(
        numeric=[f.name for f in schema if f.type == "numeric"],
        categorical={f.name: kept_categories(f, features.get(f.name, {}).get("frequencies"))
                     for f in schema if f.type != "numeric"})


def preprocessor(columns: Columns) -> ColumnTransformer:
    """Raw records in, the design matrix out (a DataFrame, so the boosting library sees the column names it
    learnt). Categorical values are compared as text, as the profile counted them; unknown ones are missing."""
    blocks: list[tuple[str, Any, list[str]]] = []
    if columns.numeric:
        # As float32 (what the boosting libraries store): a request's missing number may arrive as None.
        as_numbers = FunctionTransformer(methodcaller("astype", np.float32), feature_names_out="one-to-one")
        blocks.append(("numeric", as_numbers, columns.numeric))
    if columns.categorical:
        # methodcaller and scikit-learn classes only: the served pickle needs nothing from this package.
        encode = Pipeline([
            ("as_text", FunctionTransformer(methodcaller("astype", str), feature_names_out="one-to-one")),
            ("codes", OrdinalEncoder(categories=list(columns.categorical.values()), handle_unknown="use_encoded_value",
                                     unknown_value=np.nan, encoded_missing_value=np.nan, dtype=np.float32))])
        blocks.append(("categorical", encode, list(columns.categorical)))
    transformer = ColumnTransformer(blocks, remainder="drop", verbose_feature_names_out=False)
    transformer.set_output(transform="pandas")
    return transformer


def fitted_preprocessor(columns: Columns, sample: pd.DataFrame) -> ColumnTransformer:
    """The preprocessor 'fitted' on a few rows: nothing in it learns from data (the categories are given), the
    fit only records the input columns, so any sample with the features will do."""
    return preprocessor(columns).fit(sample)


def design_partition(part: pd.DataFrame, transformer: ColumnTransformer) -> pd.DataFrame:
    """One partition's design matrix: every block already comes out float32, so no further copy."""
    out: pd.DataFrame = transformer.transform(part)
    return out


def estimator_params(task: str, algorithm: str, params: dict[str, Any], columns: Columns, threads: int,
                     seed: int) -> dict[str, Any]:
    """The Dask estimator's arguments: the catalogue's defaults, the spec's params, the worker's threads and the
    seed, and for XGBoost which columns are categorical (LightGBM is told at fit)."""
    merged = {**catalogue.algorithm_for(task, algorithm).defaults, **params, "n_jobs": threads}
    merged.setdefault("random_state", seed)
    if algorithm == "xgboost":
        merged.update(enable_categorical=True, feature_types=columns.feature_types)
    return merged


def lightgbm_estimator(task: str, params: dict[str, Any]) -> Any:
    """lightgbm.dask's estimator (imported here: only Dask runs need it). It trains on partitions persisted in
    the workers' memory: the data must fit there (XGBoost streams it, dask_xgboost.py)."""
    import lightgbm

    return (lightgbm.DaskLGBMClassifier if task == "classification" else lightgbm.DaskLGBMRegressor)(**params)


def fit_arguments(algorithm: str, columns: Columns) -> dict[str, Any]:
    return {"categorical_feature": columns.categorical_indices} if algorithm == "lightgbm" and columns.categorical \
        else {}


def local_xgboost(task: str, params: dict[str, Any], booster: Any) -> Any:
    """A booster trained across the workers as XGBoost's ordinary scikit-learn class, which the server loads."""
    import xgboost

    local = (xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor)(
        **{k: v for k, v in params.items() if k != "n_jobs"})
    local.load_model(bytearray(booster.save_raw("ubj")))
    return local


def served_model(transformer: ColumnTransformer, estimator: Any, task: str, classes: list[Any]) -> Pipeline:
    """Raw records in, predictions in the user's labels out."""
    last = LabelCodedClassifier(estimator, classes) if task == "classification" else estimator
    return Pipeline([("preprocess", transformer), ("model", last)])
