"""Profile: inferred feature schema, missing-value rates, drift baselines, and data-quality checks that fail fast."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from sextant_contracts.datetime_features import parse_datetime
from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines.errors import DataError

HISTOGRAM_BINS = 10
MIN_ROWS = 10


@dataclass(frozen=True)
class Profile:
    schema: list[FeatureSpec]
    missing: dict[str, float]
    baseline: dict[str, Any]
    target: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"featureSchema": [f.to_dict() for f in self.schema], "missing": self.missing,
                "baseline": self.baseline, "target": self.target, "warnings": self.warnings}


def is_categorical(column: pd.Series) -> bool:
    """Strings, booleans and pandas categoricals are categorical; numbers are numeric."""
    return not ptypes.is_numeric_dtype(column) or ptypes.is_bool_dtype(column)


#: A text column is a date column when this share of (a sample of) its values are ISO 8601 dates or times.
DATETIME_SHARE = 0.95
DATETIME_SAMPLE = 2000
ISO_DATE = r"^\d{4}-\d{2}-\d{2}"


def is_datetime(column: pd.Series) -> bool:
    """Datetime values, or text that reads as ISO 8601 dates (2024-03-05, 2024-03-05T10:30:00Z, ...)."""
    if ptypes.is_datetime64_any_dtype(column):
        return True
    if ptypes.is_numeric_dtype(column) or ptypes.is_bool_dtype(column):
        return False
    sample = column.dropna().head(DATETIME_SAMPLE).astype(str)
    if sample.empty or sample.str.match(ISO_DATE).mean() < DATETIME_SHARE:
        return False
    return sum(parse_datetime(v) is not None for v in sample) >= DATETIME_SHARE * len(sample)


def infer_feature(name: str, column: pd.Series) -> FeatureSpec:
    nullable = bool(column.isna().any())
    if is_datetime(column):
        return FeatureSpec(name, "datetime", str(column.dtype), nullable)
    if is_categorical(column):
        categories = sorted({str(v) for v in column.dropna().unique()})
        return FeatureSpec(name, "categorical", str(column.dtype), nullable, categories)
    return FeatureSpec(name, "numeric", str(column.dtype), nullable)


def histogram_edges(low: float | None, high: float | None) -> np.ndarray:
    """The HISTOGRAM_BINS equal-width edges np.histogram(values, bins=HISTOGRAM_BINS) picks for values spanning
    low..high (widened by 0.5 either side when low == high; 0..1 when there are no values), so bins can be
    counted partition by partition once the global range is known."""
    span = np.array([] if low is None or high is None else [low, high], dtype=float)
    return np.histogram_bin_edges(span, bins=HISTOGRAM_BINS)


def histogram_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (the last bin includes its upper edge); the counts of parts of the data add up."""
    counts: np.ndarray = np.histogram(values, bins=edges)[0]
    return counts


def numeric_baseline(edges: np.ndarray, counts: np.ndarray) -> dict[str, Any]:
    """The baseline format serving and drift read for a numeric feature."""
    return {"type": "numeric", "bins": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def categorical_baseline(counts: Mapping[str, int]) -> dict[str, Any]:
    """The baseline format for a categorical feature: each category's share of the non-missing values."""
    total = sum(counts.values())
    return {"type": "categorical", "frequencies": {k: float(counts[k] / total) for k in sorted(counts)}}


def feature_baseline(feature: FeatureSpec, column: pd.Series) -> dict[str, Any]:
    """Histogram bins/counts for numeric features, category frequencies for categorical ones."""
    values = column.dropna()
    if feature.type == "numeric":
        numbers = values.to_numpy(dtype=float)
        edges = histogram_edges(numbers.min(), numbers.max()) if len(numbers) else histogram_edges(None, None)
        return numeric_baseline(edges, histogram_counts(numbers, edges))
    counts: dict[str, int] = {}
    for value, count in values.value_counts().items():  # counted before stringifying: a large table's
        if count:  # categoricals would otherwise become one string per row (and unused categories count 0)
            counts[str(value)] = counts.get(str(value), 0) + int(count)
    return categorical_baseline(counts)


def feature_findings(name: str, rows: int, missing: int, constant: bool) -> list[str]:
    """Raise DataError for a feature with no values; warnings for a mostly missing or constant one."""
    if missing == rows:
        raise DataError(f"feature {name!r} has no values (100% missing).",
                        f"add {name!r} to dataset.exclude or fix the data source.")
    warnings = []
    rate = float(missing / rows)
    if rate > 0.5:
        warnings.append(f"feature {name!r} is {rate:.0%} missing; it will be imputed.")
    if constant:
        warnings.append(f"feature {name!r} is constant; it carries no information.")
    return warnings


def check_rows(rows: int) -> None:
    if rows < MIN_ROWS:
        raise DataError(f"the dataset has {rows} rows; at least {MIN_ROWS} are needed to train and evaluate.",
                        "provide more rows.")


def class_imbalance(counts: Mapping[str, int]) -> list[str]:
    if max(counts.values()) > 10 * min(counts.values()):
        return ["classes are imbalanced by more than 10:1; prefer f1, roc_auc or balanced_accuracy."]
    return []


def check_features(features: pd.DataFrame) -> list[str]:
    """Raise DataError for unusable features; return warnings for suspicious ones."""
    check_rows(len(features))
    warnings = []
    for name in features.columns:
        column = features[name]
        warnings += feature_findings(str(name), len(column), int(column.isna().sum()),
                                     column.nunique(dropna=True) == 1)
    return warnings


def check_target(target: pd.Series | None, task: str) -> dict[str, Any] | None:
    """Raise DataError when the target cannot train the task; return a summary of it."""
    if target is None:
        return None
    name = str(target.name)
    if target.isna().any():
        raise DataError(f"target column {name!r} has {int(target.isna().sum())} missing values.",
                        "drop or fill those rows before training.")
    if task == "regression":
        if not ptypes.is_numeric_dtype(target) or ptypes.is_bool_dtype(target):
            raise DataError(f"regression target {name!r} is not numeric (dtype {target.dtype}).",
                            "use a numeric target or task: classification.")
        return {"name": name, "mean": float(target.mean()), "std": float(target.std())}
    counts = target.astype(str).value_counts()
    if task == "classification":
        if len(counts) < 2:
            raise DataError(f"target {name!r} has a single class ({counts.index[0]!r}); nothing to classify.",
                            "include rows of at least two classes.")
        if ptypes.is_float_dtype(target) and len(counts) > max(20, len(target) // 5):
            raise DataError(f"target {name!r} has {len(counts)} distinct float values; it looks continuous.",
                            "use task: regression.")
        if counts.min() < 2:
            raise DataError(f"class {counts.idxmin()!r} of target {name!r} has a single row.",
                            "add rows for that class or remove it; every class needs at least 2 rows.")
    if task == "anomalyDetection" and not set(counts.index) <= {"0", "1", "0.0", "1.0", "True", "False"}:
        found = list(counts.index)[:5]
        raise DataError(f"anomaly labels in {name!r} must be 0 (normal) or 1 (anomaly), found {found}.",
                        "recode the label column or leave dataset.target unset.")
    classes = sorted(target.unique().tolist())
    return {"name": name, "classes": [c if isinstance(c, str) else c for c in classes],
            "counts": {str(k): int(v) for k, v in counts.items()}}


ID_UNIQUE_SHARE = 0.95  # a column with (almost) one distinct value per row names rows, it does not describe them
LEAK_SCORE = 0.98  # one feature alone that predicts the target this well was likely computed from it
LEAK_CHECK_ROWS = 20_000  # enough rows to see a leak; keeps profiling time flat on large datasets


def looks_like_id(column: pd.Series) -> bool:
    """Integers or strings with a distinct value in at least 95% of the rows (row numbers, keys, UUIDs)."""
    values = column.dropna()
    if len(values) < MIN_ROWS or ptypes.is_float_dtype(values) or ptypes.is_bool_dtype(values):
        return False
    return values.nunique() >= ID_UNIQUE_SHARE * len(values)


def stump_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Training accuracy of the best one-threshold split of x, each side predicting its commonest class."""
    order = np.argsort(x, kind="stable")
    x, codes = x[order], np.unique(y[order], return_inverse=True)[1]
    onehot = np.eye(int(codes.max()) + 1, dtype=np.int64)[codes]
    left = np.cumsum(onehot, axis=0)[:-1]
    right = onehot.sum(axis=0) - left
    valid = x[1:] != x[:-1]  # only thresholds between distinct values
    if not valid.any():
        return 0.0
    return float((left.max(axis=1) + right.max(axis=1))[valid].max() / len(x))


def single_feature_score(column: pd.Series, target: pd.Series, task: str) -> float:
    """How well the feature alone predicts the target: |Pearson r| for regression; for classification, the
    accuracy of the best single threshold on the numeric feature (too simple to memorise rows), or of each
    category's commonest class (only when categories are few against the rows); 0 when no better than always
    predicting the commonest class."""
    frame = pd.DataFrame({"x": column, "y": target}).dropna().head(LEAK_CHECK_ROWS)
    if len(frame) < MIN_ROWS or frame["x"].nunique() < 2:
        return 0.0
    numeric = ptypes.is_numeric_dtype(frame["x"]) and not ptypes.is_bool_dtype(frame["x"])
    if task == "regression":
        r = frame["x"].astype(float).corr(frame["y"].astype(float)) if numeric else float("nan")
        return 0.0 if pd.isna(r) else abs(float(r))
    baseline = frame["y"].value_counts().iloc[0] / len(frame)
    if numeric:
        accuracy = stump_accuracy(frame["x"].to_numpy(dtype=float), frame["y"].to_numpy())
    elif frame["x"].nunique() <= len(frame) / 20:  # with few rows per category any column fits the target
        accuracy = float(frame.groupby(frame["x"].astype(str))["y"].agg(lambda v: v.value_counts().iloc[0]).sum()
                         / len(frame))
    else:
        return 0.0
    return accuracy if accuracy > baseline else 0.0


def suspicious_columns(features: pd.DataFrame, target: pd.Series | None, task: str,
                       dates: Collection[str] = ()) -> list[str]:
    """Warnings for ID-like columns (they do not generalise) and for columns that alone predict the target
    almost perfectly (likely computed from it, or known only after the fact)."""
    warnings = []
    for name in features.columns:
        column = features[name]
        if name in dates:  # every row its own date is normal; its parts are the features
            continue
        if looks_like_id(column):
            warnings.append(f"feature {name!r} looks like an ID ({column.nunique()} distinct values in "
                            f"{len(column)} rows); add it to dataset.exclude unless its values mean something.")
        elif target is not None and task in ("classification", "regression"):
            score = single_feature_score(column, target, task)
            if score >= LEAK_SCORE:
                what = "|correlation|" if task == "regression" else "accuracy"
                warnings.append(f"feature {name!r} alone predicts the target ({what} {score:.3f}); check it is "
                                "known before the target is, or add it to dataset.exclude (target leakage).")
    return warnings


def profile(features: pd.DataFrame, target: pd.Series | None, task: str, suspicious: bool = True) -> Profile:
    """Step 2: schema, missing rates and baselines of the training rows; raises DataError for unusable data."""
    warnings = check_features(features)
    summary = check_target(target, task)
    schema = [infer_feature(str(c), features[c]) for c in features.columns]
    # Dates move on by nature: they have no drift baseline (the features the model derives from them are not
    # watched either; docs/drift.md).
    baseline = {"features": {f.name: feature_baseline(f, features[f.name]) for f in schema if f.type != "datetime"},
                "rows": len(features)}
    missing = {str(c): float(features[c].isna().mean()) for c in features.columns}
    if suspicious:
        warnings += suspicious_columns(features, target, task, {f.name for f in schema if f.type == "datetime"})
    if summary and "counts" in summary and task == "classification":
        warnings += class_imbalance(summary["counts"])
    return Profile(schema, missing, baseline, summary, warnings)
