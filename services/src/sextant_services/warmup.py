"""Warm-up: one prediction on an example row built from the manifest, run at load before the worker is ready.

The first call of an estimator pays for lazy work (imports, caches, thread pools); doing it at load keeps that
cost off the first client, and a model that cannot predict at all is caught before it receives traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .features import Columns, FeatureSchema, FeatureSpec


def _numeric_example(baseline: Mapping[str, Any]) -> float:
    """The middle of the training baseline's bins (a value the model saw), or 0.0 without a baseline."""
    bins = baseline.get("bins") or []
    if len(bins) >= 2:
        return (float(bins[0]) + float(bins[-1])) / 2.0
    return 0.0


def _categorical_example(spec: FeatureSpec, baseline: Mapping[str, Any]) -> Any:
    """The most frequent baseline category, else the first declared one, else an unseen placeholder."""
    freq = baseline.get("frequencies") or {}
    if freq:
        return max(freq.items(), key=lambda kv: kv[1])[0]
    if spec.categories:
        return spec.categories[0]
    return "__warmup__"


WARMUP_DATE = "2000-01-01T00:00:00"


def _example(spec: FeatureSpec, baseline: Mapping[str, Any]) -> Any:
    if spec.kind == "numeric":
        return _numeric_example(baseline)
    if spec.kind == "datetime":  # dates have no baseline
        return WARMUP_DATE
    return _categorical_example(spec, baseline)


def example_columns(schema: FeatureSchema, manifest: Mapping[str, Any]) -> Columns:
    """One valid row in column form for every feature of `schema` (pure; no model call)."""
    baseline = (manifest.get("baseline") or {}).get("features") or {}
    cols: Columns = {}
    for spec in schema.features:
        feature_baseline = baseline.get(spec.name) or {}
        cols[spec.name] = [_example(spec, feature_baseline)]
    return cols
