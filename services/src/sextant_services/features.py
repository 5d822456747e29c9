"""Request validation against a model's feature schema: records or columns in, checked columns out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sextant_contracts.datetime_features import parse_datetime

from .errors import SchemaMismatch

Columns = dict[str, list[Any]]


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of a manifest's featureSchema."""

    name: str
    kind: str  # "numeric" | "categorical" | "datetime" (ISO 8601 text)
    dtype: str
    nullable: bool
    categories: tuple[Any, ...] | None = None

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any]) -> FeatureSpec:
        kind = entry.get("type")
        if kind not in ("numeric", "categorical", "datetime"):
            raise ValueError(f"featureSchema entry {entry.get('name')!r}: type must be numeric, categorical or "
                             "datetime")
        cats = entry.get("categories")
        return cls(
            name=str(entry["name"]),
            kind=kind,
            dtype=str(entry.get("dtype", "float64" if kind == "numeric" else "object")),
            nullable=bool(entry.get("nullable", False)),
            categories=tuple(cats) if cats is not None else None,
        )


@dataclass(frozen=True)
class FeatureSchema:
    """The ordered features a model expects."""

    features: tuple[FeatureSpec, ...]

    @classmethod
    def from_manifest(cls, entries: Sequence[Mapping[str, Any]]) -> FeatureSchema:
        return cls(tuple(FeatureSpec.from_manifest(e) for e in entries))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def all_numeric(self) -> bool:
        return all(f.kind == "numeric" for f in self.features)


def _check_value(value: Any, spec: FeatureSpec, where: str) -> Any:
    if value is None:
        if spec.nullable:
            return math.nan if spec.kind == "numeric" else None
        raise SchemaMismatch(f"{where}: feature {spec.name!r} is not nullable; send a value", field=where)
    if spec.kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaMismatch(
                f"{where}: feature {spec.name!r} must be a number, got {type(value).__name__}", field=where
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise SchemaMismatch(f"{where}: feature {spec.name!r} must be a finite number", field=where)
        if isinstance(value, int) and abs(value) > 2**53:
            raise SchemaMismatch(f"{where}: feature {spec.name!r} is out of range", field=where)
        return value
    if spec.kind == "datetime":
        return _check_date(value, spec, where)
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise SchemaMismatch(
        f"{where}: feature {spec.name!r} is categorical and must be a string, got {type(value).__name__}",
        field=where,
    )


def _check_date(value: Any, spec: FeatureSpec, where: str) -> str:
    """A date column takes ISO 8601 text, as the model was trained on (what pandas reads the same way)."""
    if isinstance(value, str) and parse_datetime(value) is not None:
        return value
    raise SchemaMismatch(f"{where}: feature {spec.name!r} is a date and must be ISO 8601 text such as 2024-03-05 or "
                         f"2024-03-05T10:30:00Z, got {str(value)[:40]!r}", field=where)


def _key_mismatch(keys: Any, schema: FeatureSchema, where: str) -> SchemaMismatch:
    expected = schema.names
    missing = [n for n in expected if n not in keys]
    if missing:
        field = f"{where}.{missing[0]}" if where else missing[0]
        return SchemaMismatch(f"{field}: missing feature {missing[0]!r}; the model expects {expected}", field=field)
    extra = sorted(str(k) for k in keys if k not in set(expected))
    field = f"{where}.{extra[0]}" if where else extra[0]
    return SchemaMismatch(f"{field}: unknown feature {extra[0]!r}; the model expects {expected}", field=field)


def validate_records(records: Any, schema: FeatureSchema, max_rows: int) -> Columns:
    """Check a list of {feature: value} objects; return columns in schema order.

    Raises SchemaMismatch naming the first offending field (e.g. `records[3].petal_width`).
    """
    if not isinstance(records, list):
        raise SchemaMismatch("'records' must be a list of objects, one per row", field="records")
    _check_row_count(len(records), max_rows, "records")
    cols: Columns = {f.name: [] for f in schema.features}
    width = len(schema.features)
    for i, rec in enumerate(records):
        where = f"records[{i}]"
        if not isinstance(rec, dict):
            raise SchemaMismatch(f"{where} must be an object of feature: value", field=where)
        if len(rec) != width or any(f.name not in rec for f in schema.features):
            raise _key_mismatch(rec.keys(), schema, where)
        for spec in schema.features:
            cols[spec.name].append(_check_value(rec[spec.name], spec, f"{where}.{spec.name}"))
    return cols


def validate_columns(columns: Any, schema: FeatureSchema, max_rows: int) -> Columns:
    """Check a {feature: [values...]} object with equally long lists; return columns in schema order."""
    if not isinstance(columns, dict):
        raise SchemaMismatch("'columns' must be an object of feature: [values]", field="columns")
    if len(columns) != len(schema.features) or any(f.name not in columns for f in schema.features):
        raise _key_mismatch(columns.keys(), schema, "columns")
    out: Columns = {}
    length: int | None = None
    for spec in schema.features:
        where = f"columns.{spec.name}"
        values = columns[spec.name]
        if not isinstance(values, list):
            raise SchemaMismatch(f"{where} must be a list of values", field=where)
        if length is None:
            length = len(values)
            _check_row_count(length, max_rows, where)
        elif len(values) != length:
            raise SchemaMismatch(f"{where} has {len(values)} values but other columns have {length}", field=where)
        out[spec.name] = [_check_value(v, spec, f"{where}[{i}]") for i, v in enumerate(values)]
    return out


def _check_row_count(n: int, max_rows: int, where: str) -> None:
    if n == 0:
        raise SchemaMismatch(f"{where} is empty; send at least one row", field=where)
    if n > max_rows:
        raise SchemaMismatch(f"{where} has {n} rows; the limit is {max_rows} per request", field=where)


def validate_body(body: Any, schema: FeatureSchema, max_rows: int) -> Columns:
    """Accept {"records": [...]} or {"columns": {...}}; anything else is a 422 naming the field."""
    if not isinstance(body, dict):
        raise SchemaMismatch("the body must be a JSON object with 'records' or 'columns'", field="body")
    if "records" in body and "columns" not in body:
        return validate_records(body["records"], schema, max_rows)
    if "columns" in body and "records" not in body:
        return validate_columns(body["columns"], schema, max_rows)
    raise SchemaMismatch("the body must have exactly one of 'records' (list of objects) or 'columns' (object of lists)",
                         field="body")


def row_count(cols: Columns) -> int:
    return len(next(iter(cols.values()))) if cols else 0


def merge_columns(parts: Sequence[Columns], schema: FeatureSchema) -> Columns:
    """Concatenate validated column sets (one per request) into one batch."""
    if len(parts) == 1:
        return parts[0]
    merged: Columns = {}
    for name in schema.names:
        acc: list[Any] = []
        for part in parts:
            acc.extend(part[name])
        merged[name] = acc
    return merged


def to_model_input(cols: Columns, schema: FeatureSchema, as_frame: bool) -> Any:
    """Build what the estimator takes: a DataFrame when it was fitted on one, else a float matrix."""
    if as_frame or not schema.all_numeric:
        import pandas as pd

        data = {
            f.name: (np.asarray(cols[f.name], dtype=np.float64) if f.kind == "numeric"
                     else np.asarray(cols[f.name], dtype=object))
            for f in schema.features
        }
        return pd.DataFrame(data, columns=schema.names)
    return np.asarray([cols[n] for n in schema.names], dtype=np.float64).T
