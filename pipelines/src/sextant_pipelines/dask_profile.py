"""Out-of-core profile: schema, missing rates, drift baselines and data checks from per-partition aggregates.

Two passes over the partitions, each reducing a partition to a few numbers before the next is read: the first
counts rows, missing values, categories and the numeric range; the second counts the numeric histogram bins
between the global range's edges. The merged aggregates go through the same pure functions as the
single-process profile (profile.py), so the baseline has the format, edges and counts serving and drift already
read. Leakage and ID-column warnings (profile.suspicious_columns) are not computed here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from dask.base import compute
from dask.delayed import delayed
from pandas.api import types as ptypes

from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines.dask_ingest import LazyDataset
from sextant_pipelines.errors import DataError
from sextant_pipelines.profile import (
    Profile,
    categorical_baseline,
    check_rows,
    class_imbalance,
    feature_findings,
    histogram_counts,
    histogram_edges,
    is_categorical,
    numeric_baseline,
)

T = TypeVar("T")


@dataclass
class ColumnStats:
    """One feature's aggregate over some rows: missing values, and its range (numeric) or category counts."""

    missing: int = 0
    low: float | None = None
    high: float | None = None
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class TargetStats:
    """The target's aggregate: missing values, class counts by value, or count/mean/M2 of a numeric target."""

    missing: int = 0
    classes: Counter[Any] = field(default_factory=Counter)
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0


@dataclass
class PartStats:
    rows: int
    columns: dict[str, ColumnStats]
    target: TargetStats | None


def _bound(a: float | None, b: float | None, pick: Callable[[float, float], float]) -> float | None:
    return b if a is None else a if b is None else pick(a, b)


def column_stats(column: pd.Series, numeric: bool) -> ColumnStats:
    values = column.dropna()
    stats = ColumnStats(missing=int(len(column) - len(values)))
    if numeric:
        numbers = values.to_numpy(dtype=float)
        if len(numbers):
            stats.low, stats.high = float(numbers.min()), float(numbers.max())
    else:
        stats.counts = Counter({str(k): int(v) for k, v in values.astype(str).value_counts().items()})
    return stats


def target_stats(target: pd.Series, task: str) -> TargetStats:
    values = target.dropna()
    stats = TargetStats(missing=int(len(target) - len(values)))
    if task == "regression" and ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=float)
        stats.n = len(numbers)
        if stats.n:
            stats.mean = float(numbers.mean())
            stats.m2 = float(((numbers - stats.mean) ** 2).sum())
    else:
        stats.classes = Counter({getattr(k, "item", lambda k=k: k)(): int(v) for k, v in values.value_counts().items()})
    return stats


def partition_stats(part: pd.DataFrame, numeric: Mapping[str, bool], target: str | None, task: str) -> PartStats:
    """Pass 1 over one partition."""
    columns = {name: column_stats(part[name], is_numeric) for name, is_numeric in numeric.items()}
    return PartStats(len(part), columns, target_stats(part[target], task) if target else None)


def merge_columns(a: ColumnStats, b: ColumnStats) -> ColumnStats:
    return ColumnStats(a.missing + b.missing, _bound(a.low, b.low, min), _bound(a.high, b.high, max),
                       a.counts + b.counts)


def merge_targets(a: TargetStats, b: TargetStats) -> TargetStats:
    """Class counts add; numeric moments merge by Chan et al.'s parallel formula (stable over many parts)."""
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * b.n / n if n else 0.0
    m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / n if n else 0.0
    return TargetStats(a.missing + b.missing, a.classes + b.classes, n, mean, m2)


def merge_stats(a: PartStats, b: PartStats) -> PartStats:
    columns = {name: merge_columns(a.columns[name], b.columns[name]) for name in a.columns}
    target = merge_targets(a.target, b.target) if a.target is not None and b.target is not None else None
    return PartStats(a.rows + b.rows, columns, target)


def partition_histograms(part: pd.DataFrame, edges: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pass 2 over one partition: bin counts of each numeric feature between the global edges."""
    return {name: histogram_counts(part[name].dropna().to_numpy(dtype=float), e) for name, e in edges.items()}


def add_histograms(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: a[name] + b[name] for name in a}


def tree_reduce(items: Sequence[Any], merge: Callable[[T, T], T]) -> Any:
    """Pairwise merges of delayed values (log depth, so no task waits on every partition at once)."""
    level = list(items)
    while len(level) > 1:
        paired = [delayed(merge)(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def target_summary(name: str, dtype: Any, task: str, stats: TargetStats, rows: int) -> dict[str, Any]:
    """profile.check_target on the merged aggregate: the same errors and the same summary."""
    if stats.missing:
        raise DataError(f"target column {name!r} has {stats.missing} missing values.",
                        "drop or fill those rows before training.")
    if task == "regression":
        if not ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype):
            raise DataError(f"regression target {name!r} is not numeric (dtype {dtype}).",
                            "use a numeric target or task: classification.")
        std = float(np.sqrt(stats.m2 / (stats.n - 1))) if stats.n > 1 else float("nan")
        return {"name": name, "mean": stats.mean, "std": std}
    counts = Counter[str]()
    for value, count in stats.classes.items():
        counts[str(value)] += count
    if task == "classification":
        if len(counts) < 2:
            raise DataError(f"target {name!r} has a single class ({next(iter(counts))!r}); nothing to classify.",
                            "include rows of at least two classes.")
        if ptypes.is_float_dtype(dtype) and len(counts) > max(20, rows // 5):
            raise DataError(f"target {name!r} has {len(counts)} distinct float values; it looks continuous.",
                            "use task: regression.")
        rarest = min(counts, key=lambda k: counts[k])
        if counts[rarest] < 2:
            raise DataError(f"class {rarest!r} of target {name!r} has a single row.",
                            "add rows for that class or remove it; every class needs at least 2 rows.")
    if task == "anomalyDetection" and not set(counts) <= {"0", "1", "0.0", "1.0", "True", "False"}:
        raise DataError(f"anomaly labels in {name!r} must be 0 (normal) or 1 (anomaly), found {list(counts)[:5]}.",
                        "recode the label column or leave dataset.target unset.")
    return {"name": name, "classes": sorted(stats.classes), "counts": dict(counts.most_common())}


def profile_lazy(data: LazyDataset, task: str) -> Profile:
    """Step 2 out of core: computed on the active Dask scheduler (a distributed Client's workers when one is
    connected); raises DataError as profile.profile does."""
    meta = data.frame._meta
    numeric = {name: not is_categorical(meta[name]) for name in data.features}
    parts = data.frame.to_delayed()
    first = tree_reduce([delayed(partition_stats)(p, numeric, data.target, task) for p in parts], merge_stats)
    (total,) = compute(first)
    check_rows(total.rows)
    warnings: list[str] = []
    for name, stats in total.columns.items():
        constant = stats.low == stats.high if numeric[name] else len(stats.counts) == 1
        warnings += feature_findings(name, total.rows, stats.missing, constant)
    summary = (target_summary(data.target, meta[data.target].dtype, task, total.target, total.rows)
               if data.target and total.target is not None else None)

    edges = {name: histogram_edges(s.low, s.high) for name, s in total.columns.items() if numeric[name]}
    second = tree_reduce([delayed(partition_histograms)(p, edges) for p in parts], add_histograms)
    (counts,) = compute(second) if edges else ({},)

    schema, baseline = [], {}
    for name in data.features:
        stats = total.columns[name]
        dtype, nullable = str(meta[name].dtype), stats.missing > 0
        if numeric[name]:
            schema.append(FeatureSpec(name, "numeric", dtype, nullable))
            baseline[name] = numeric_baseline(edges[name], counts[name])
        else:
            schema.append(FeatureSpec(name, "categorical", dtype, nullable, sorted(stats.counts)))
            baseline[name] = categorical_baseline(stats.counts)
    missing = {name: float(total.columns[name].missing / total.rows) for name in data.features}
    if summary and "counts" in summary and task == "classification":
        warnings += class_imbalance(summary["counts"])
    return Profile(schema, missing, {"features": baseline, "rows": total.rows}, summary, warnings)
