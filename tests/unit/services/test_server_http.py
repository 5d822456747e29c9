"""A real `bentoml serve` of the iris model: prediction APIs, OIP V2, validation errors and probes over HTTP."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sextant_services.http_app import json_response
from tests.support.processes import Server

from .http_client import Client

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


@pytest.fixture
def client(iris_server: Server) -> Client:
    c = Client(iris_server.url)
    yield c
    c.close()


def test_probes_say_live_and_ready(client: Client) -> None:
    assert client.get("/livez")[0] == 200
    assert client.get("/readyz")[0] == 200
    assert client.get("/v2/health/ready") == (200, {"ready": True})


def test_predict_records_names_model_version_variant(client: Client) -> None:
    status, body = client.post("/predict", {"records": [ROW, VIRGINICA]})
    assert status == 200
    assert body == {"model": "iris", "version": 1, "variant": "blue", "predictions": [0, 2]}


def test_predict_columns_equals_records(client: Client) -> None:
    cols = {k: [ROW[k], VIRGINICA[k]] for k in ROW}
    assert client.post("/predict", {"columns": cols})[1]["predictions"] == [0, 2]


def test_predict_proba_gives_classes_and_rows_summing_to_one(client: Client) -> None:
    status, body = client.post("/predict_proba", {"records": [ROW]})
    assert status == 200
    assert body["classes"] == [0, 1, 2]
    assert abs(sum(body["probabilities"][0]) - 1) < 1e-9
    assert body["probabilities"][0][0] > 0.9


def test_oip_v2_infer_with_one_matrix_tensor(client: Client) -> None:
    req = {"id": "r1", "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64",
                                   "data": [list(ROW.values()), list(VIRGINICA.values())]}],
           "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}
    status, body = client.post("/v2/models/iris/infer", req)
    assert status == 200
    assert body["model_name"] == "iris" and body["model_version"] == "1" and body["id"] == "r1"
    assert body["parameters"] == {"variant": "blue"}
    predict, proba = body["outputs"]
    assert predict == {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]}
    assert proba["shape"] == [2, 3] and len(proba["data"]) == 6


def test_oip_v2_infer_with_one_tensor_per_feature_on_versioned_path(client: Client) -> None:
    inputs = [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in VIRGINICA.items()]
    status, body = client.post("/v2/models/iris/versions/1/infer", {"inputs": inputs})
    assert status == 200 and body["outputs"][0]["data"] == [2]


def test_oip_v2_metadata_and_readiness(client: Client) -> None:
    status, meta = client.get("/v2/models/iris")
    assert status == 200 and meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == list(ROW)
    assert client.get("/v2/models/iris/ready") == (200, {"ready": True})
    assert client.get("/v2/models/nope/ready")[0] == 404
    assert client.get("/v2")[0] == 200


@pytest.mark.parametrize(("payload", "field"), [
    ({"records": [{k: v for k, v in ROW.items() if k != "petal_width"}]}, "records[0].petal_width"),
    ({"records": [{**ROW, "colour": "red"}]}, "records[0].colour"),
    ({"records": [{**ROW, "sepal_length": "5.1"}]}, "records[0].sepal_length"),
    ({"records": [{**ROW, "sepal_length": None}]}, "records[0].sepal_length"),
    ({"records": [ROW, {**ROW, "petal_width": True}]}, "records[1].petal_width"),
    ({"columns": {**{k: [v] for k, v in ROW.items()}, "sepal_width": [1.0, 2.0]}}, "columns.sepal_width"),
    ({"records": []}, "records"),
    ({"rows": [ROW]}, "body"),
    ([ROW], "body"),
])
def test_schema_mismatch_is_422_naming_the_field(client: Client, payload: object, field: str) -> None:
    status, body = client.post("/predict", payload)
    assert status == 422
    assert body["code"] == "SchemaMismatch" and body["field"] == field
    assert field.split(".")[-1].split("[")[0] in body["error"]


def test_oip_mistyped_tensor_is_422(client: Client) -> None:
    req = {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]}
    status, body = client.post("/v2/models/iris/infer", req)
    assert status == 422 and body["field"] == "inputs[0].shape"


def test_malformed_json_is_400(client: Client) -> None:
    status, body, _ = client.request("POST", "/predict", b'{"records": [{"sepal_length": 5.1,')
    assert status == 400 and body["code"] == "MalformedRequest"


def test_oversized_body_is_413(client: Client) -> None:
    big = b'{"records": [' + b",".join([b'{"sepal_length": 5.1}'] * 5000) + b"]}"
    status, body, _ = client.request("POST", "/predict", big)
    assert status == 413 and "limit" in body["error"]


def test_predict_proba_on_unknown_model_path_is_404(client: Client) -> None:
    status, body = client.post("/v2/models/other/infer", {"inputs": []})
    assert status == 404 and body["code"] == "ModelNotFound"


def test_text_labels_and_numpy_scalars_are_answered_as_json() -> None:
    """A classifier trained on text labels predicts an object (or unicode) array: orjson writes neither itself."""
    body = {"predictions": np.array(["benign", "malignant"], dtype=object), "classes": np.array(["a", "b"]),
            "probabilities": np.array([[0.25, 0.75]]), "rows": np.int64(2)}
    assert json.loads(json_response(body).body) == {"predictions": ["benign", "malignant"], "classes": ["a", "b"],
                                                    "probabilities": [[0.25, 0.75]], "rows": 2}
