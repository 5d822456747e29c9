"""Preprocess: imputation, scaling, encoding and text features fitted inside the model's Pipeline, so serving
takes raw features."""

from __future__ import annotations

from dataclasses import dataclass
from operator import methodcaller
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)
from sklearn.utils import get_tags

from sextant_contracts.datetime_features import datetime_part_names, datetime_parts
from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines import compact
from sextant_pipelines.spec import PreprocessingSpec

SCALERS: dict[str, Any] = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


@dataclass(frozen=True)
class Layout:
    """The design matrix the preprocessor hands the estimator. float64 and dense by default (the serving fast
    path reproduces exactly that); for large data float32, and sparse when the estimator takes sparse input:
    17 M rows of 8 numbers and 42 one-hot columns are 6.5 GB as dense float64, and stacking the blocks holds
    them twice."""

    dtype: Any = np.float64
    sparse: bool = False


def accepts_sparse(estimator: BaseEstimator) -> bool:
    try:
        return bool(get_tags(estimator).input_tags.sparse)
    except Exception:  # noqa: BLE001 - an estimator from another library may not describe its tags
        return False


def layout_for(rows: int, estimator: BaseEstimator, task: str) -> Layout:
    """Dense float64 up to compact.LARGE_ROWS training rows; beyond, float32, and sparse for a classifier or
    regressor that accepts it (clustering metrics such as Davies-Bouldin need a dense space)."""
    if not compact.is_large(rows):
        return Layout()
    return Layout(np.float32, task in ("classification", "regression") and accepts_sparse(estimator))


def _as_float32() -> tuple[str, Any]:
    # methodcaller pickles as a standard-library object: the model server needs nothing from this package.
    return ("float32", FunctionTransformer(methodcaller("astype", np.float32, copy=False),
                                           feature_names_out="one-to-one", accept_sparse=True))


def numeric_steps(spec: PreprocessingSpec) -> list[tuple[str, Any]]:
    strategy = "median" if spec.impute == "auto" else spec.impute
    steps: list[tuple[str, Any]] = []
    if strategy != "none":
        steps.append(("impute", SimpleImputer(strategy=strategy, keep_empty_features=True)))
    if spec.scale != "none":
        steps.append(("scale", SCALERS[spec.scale]()))
    return steps or [("identity", "passthrough")]


def categorical_steps(spec: PreprocessingSpec, layout: Layout = Layout()) -> list[tuple[str, Any]]:
    encoder: Any = (OneHotEncoder(handle_unknown="ignore", sparse_output=layout.sparse, dtype=layout.dtype)
                    if spec.encode_categorical == "onehot"
                    else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=layout.dtype))
    # Only scikit-learn classes in the pickled model, so serving needs nothing from this package to load it.
    return [("impute", SimpleImputer(strategy="constant", fill_value="__missing__")), ("encode", encoder)]


# More distinct values than this make one-hot columns too many and too sparse to learn from: with a target to
# learn from, such a column is target-encoded instead.
HIGH_CARDINALITY = 30


def high_cardinality(feature: FeatureSpec) -> bool:
    return feature.type == "categorical" and len(feature.categories or []) > HIGH_CARDINALITY


TEXT_MIN_LENGTH = 20  # mean characters of a free-text column's values (names and codes are shorter)
TEXT_FEATURES = 500  # TF-IDF vocabulary per text column: the most frequent words and word pairs


def looks_like_text(feature: FeatureSpec) -> bool:
    """Free text: high-cardinality strings, mostly with spaces, long on average (reviews, descriptions)."""
    values = feature.categories or []
    if not high_cardinality(feature):
        return False
    spaced = sum(" " in v for v in values) / len(values)
    return spaced >= 0.5 and sum(map(len, values)) / len(values) >= TEXT_MIN_LENGTH


TOPIC_VOCABULARY = 2000  # words LDA models topics over (the most frequent, English stop words left out)


def text_steps(topics: int = 0, layout: Layout = Layout()) -> list[tuple[str, Any]]:
    """One text column to TF-IDF features of words and word pairs, and with `topics` also to the column's topic
    mixture (LDA over word counts, the input LDA's model assumes); a missing text is an empty one. The imputer's
    (n, 1) output is flattened for the vectorizers by numpy's own ravel (the pickle stays plain)."""
    tfidf = TfidfVectorizer(max_features=TEXT_FEATURES, ngram_range=(1, 2), sublinear_tf=True, dtype=layout.dtype)
    vectorise: Any = tfidf
    if topics:
        lda = Pipeline([("counts", CountVectorizer(max_features=TOPIC_VOCABULARY, stop_words="english")),
                        ("lda", LatentDirichletAllocation(n_components=topics, learning_method="batch",
                                                          random_state=0))])
        vectorise = FeatureUnion([("tfidf", tfidf), ("topics", lda)])
    return [("impute", SimpleImputer(strategy="constant", fill_value="")),
            ("flatten", FunctionTransformer(np.ravel)), ("vectorise" if topics else "tfidf", vectorise)]


def datetime_steps() -> list[tuple[str, Any]]:
    """Date columns to calendar parts and days since 1970 (sextant_contracts.datetime_features, which the model
    server installs too); a missing or unreadable date gets the median of each part."""
    return [("parts", FunctionTransformer(datetime_parts, feature_names_out=datetime_part_names)),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True))]


def target_encoding_steps(task: str) -> list[tuple[str, Any]]:
    """scikit-learn's TargetEncoder: each category becomes a shrunk mean of the target (one column per class
    for multiclass). Fitted inside the Pipeline, so inside each cross-validation fold, and its fit_transform
    cross-fits (each training row is encoded by a model that did not see it): the target does not leak."""
    # A seeded splitter: the same data gives the same encoding (and model).
    splitter = (KFold(5, shuffle=True, random_state=0) if task == "regression"
                else StratifiedKFold(5, shuffle=True, random_state=0))
    return [("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("encode", TargetEncoder(target_type="continuous" if task == "regression" else "auto", cv=splitter))]


def build_preprocessor(schema: list[FeatureSpec], spec: PreprocessingSpec, task: str = "",
                       layout: Layout = Layout()) -> ColumnTransformer:
    """A ColumnTransformer over the schema's numeric and categorical columns (missing values allowed); for
    classification and regression with one-hot encoding asked for, high-cardinality categoricals are
    target-encoded. Every block comes out in `layout`'s dtype."""
    numeric = [f.name for f in schema if f.type == "numeric"]
    encode_by_target = task in ("classification", "regression") and spec.encode_categorical == "onehot"
    text = [f.name for f in schema if looks_like_text(f)]
    wide = [f.name for f in schema if encode_by_target and high_cardinality(f) and f.name not in text]
    categorical = [f.name for f in schema if f.type == "categorical" and f.name not in wide + text]
    dates = [f.name for f in schema if f.type == "datetime"]
    cast = [_as_float32()] if layout.dtype == np.float32 else []  # the blocks computed in float64
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps(spec) + cast), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(categorical_steps(spec, layout)), categorical))
    if wide:
        transformers.append(("target_encoded", Pipeline(target_encoding_steps(task) + cast), wide))
    transformers += [(f"text_{i}", Pipeline(text_steps(spec.text_topics, layout) + (cast if spec.text_topics else [])),
                      [name]) for i, name in enumerate(text)]
    if dates:
        transformers.append(("datetime", Pipeline(datetime_steps() + cast), dates))
    # Dense output unless the layout says sparse: HistGradientBoosting, among others, refuses sparse input.
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False,
                             sparse_threshold=0.3 if layout.sparse else 0)


def build_model(schema: list[FeatureSpec], spec: PreprocessingSpec, estimator: BaseEstimator,
                task: str = "", rows: int = 0) -> Pipeline:
    """Step 3: the servable model: raw feature frame in, prediction out (`rows`: the training rows, which
    choose the design matrix's layout)."""
    layout = layout_for(rows, estimator, task)
    return Pipeline([("preprocess", build_preprocessor(schema, spec, task, layout)), ("model", estimator)])
