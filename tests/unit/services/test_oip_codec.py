"""Open Inference Protocol V2 decoding and encoding (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest

from sextant_services.errors import SchemaMismatch
from sextant_services.features import FeatureSchema
from sextant_services.oip import decode_infer_request, encode_infer_response

SCHEMA = FeatureSchema.from_manifest([{"name": "a", "type": "numeric"}, {"name": "b", "type": "numeric"}])


def test_matrix_tensor_flat_or_nested() -> None:
    flat = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    nested = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}]}
    for body in (flat, nested):
        cols, proba, _ = decode_infer_request(body, SCHEMA, 10)
        assert cols == {"a": [1, 3], "b": [2, 4]} and proba is False


def test_tensor_per_feature_and_requested_outputs() -> None:
    body = {"id": "q", "inputs": [{"name": "b", "shape": [1], "datatype": "FP64", "data": [2]},
                                  {"name": "a", "shape": [1, 1], "datatype": "FP64", "data": [1]}],
            "outputs": [{"name": "predict_proba"}]}
    cols, proba, rid = decode_infer_request(body, SCHEMA, 10)
    assert cols == {"a": [1], "b": [2]} and proba is True and rid == "q"


@pytest.mark.parametrize(("body", "field"), [
    ({"inputs": []}, "inputs"),
    ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64"}]}, "inputs[0].data"),
    ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FLOAT", "data": [1, 2]}]}, "inputs[0].datatype"),
    ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1]}]}, "inputs[0].data"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}, "inputs[0].shape"),
    ({"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": ["1"]},
                 {"name": "b", "shape": [1], "datatype": "FP64", "data": [1]}]}, "columns.a[0]"),
    ({"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1]}]}, "columns.b"),
])
def test_bad_requests_name_the_field(body: object, field: str) -> None:
    with pytest.raises(SchemaMismatch) as err:
        decode_infer_request(body, SCHEMA, 10)
    assert err.value.field == field


def test_response_names_model_version_variant_and_types_outputs() -> None:
    out = encode_infer_response("m", 3, "blue", "r", np.array(["x", "y"]), np.array([[0.1, 0.9], [1.0, 0.0]]))
    assert out["model_name"] == "m" and out["model_version"] == "3" and out["parameters"] == {"variant": "blue"}
    assert out["outputs"][0] == {"name": "predict", "shape": [2], "datatype": "BYTES", "data": ["x", "y"]}
    assert out["outputs"][1]["shape"] == [2, 2] and out["outputs"][1]["datatype"] == "FP64"
