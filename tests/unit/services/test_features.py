"""Request validation against a feature schema (pure functions, no server)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sextant_services.errors import SchemaMismatch
from sextant_services.features import FeatureSchema, merge_columns, to_model_input, validate_body

SCHEMA = FeatureSchema.from_manifest([
    {"name": "age", "type": "numeric", "dtype": "float64", "nullable": True},
    {"name": "plan", "type": "categorical", "dtype": "object", "categories": ["a", "b"], "nullable": False},
])


def test_records_become_columns_in_schema_order() -> None:
    cols = validate_body({"records": [{"plan": "a", "age": 3}, {"age": None, "plan": "zzz"}]}, SCHEMA, 10)
    assert cols["plan"] == ["a", "zzz"]
    assert cols["age"][0] == 3 and math.isnan(cols["age"][1])


@pytest.mark.parametrize(("body", "field"), [
    ({"records": [{"age": 1}]}, "records[0].plan"),
    ({"records": [{"age": 1, "plan": "a", "x": 2}]}, "records[0].x"),
    ({"records": [{"age": "1", "plan": "a"}]}, "records[0].age"),
    ({"records": [{"age": float("inf"), "plan": "a"}]}, "records[0].age"),
    ({"records": [{"age": 1, "plan": None}]}, "records[0].plan"),
    ({"records": [{"age": 1, "plan": ["a"]}]}, "records[0].plan"),
    ({"records": [1]}, "records[0]"),
    ({"columns": {"age": [1], "plan": "a"}}, "columns.plan"),
    ({"columns": {"age": [1], "plan": ["a", "b"]}}, "columns.plan"),
    ({"columns": {"age": [1]}}, "columns.plan"),
    ({"records": [{"age": 1, "plan": "a"}] * 11}, "records"),
    ({"records": [], "columns": {}}, "body"),
])
def test_mistakes_are_422_naming_the_field(body: object, field: str) -> None:
    with pytest.raises(SchemaMismatch) as err:
        validate_body(body, SCHEMA, 10)
    assert err.value.field == field and err.value.status == 422


def test_batches_merge_and_become_a_frame_when_categorical() -> None:
    a = validate_body({"records": [{"age": 1, "plan": "a"}]}, SCHEMA, 10)
    b = validate_body({"columns": {"age": [2, 3], "plan": ["b", "a"]}}, SCHEMA, 10)
    frame = to_model_input(merge_columns([a, b], SCHEMA), SCHEMA, as_frame=False)
    assert list(frame.columns) == ["age", "plan"] and frame["age"].tolist() == [1.0, 2.0, 3.0]


def test_numeric_schema_gives_a_float_matrix() -> None:
    schema = FeatureSchema.from_manifest([{"name": "x", "type": "numeric"}, {"name": "y", "type": "numeric"}])
    m = to_model_input({"x": [1, 2], "y": [3, 4]}, schema, as_frame=False)
    assert isinstance(m, np.ndarray) and m.tolist() == [[1.0, 3.0], [2.0, 4.0]]


def test_bad_manifest_schema_names_the_entry() -> None:
    with pytest.raises(ValueError, match="'z'.*numeric, categorical or datetime"):
        FeatureSchema.from_manifest([{"name": "z", "type": "text"}])
