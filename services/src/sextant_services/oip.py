"""Open Inference Protocol (V2, as used by KServe, MLServer and Triton): request decoding, response encoding."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import SchemaMismatch
from .features import Columns, FeatureSchema, validate_columns

V2_DATATYPES = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                "FP16", "FP32", "FP64", "BYTES"}
PREDICT, PROBA = "predict", "predict_proba"


def _flatten(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise SchemaMismatch(f"{where}.data must be a list", field=f"{where}.data")
    if data and isinstance(data[0], list):
        flat: list[Any] = []
        for row in data:
            if not isinstance(row, list):
                raise SchemaMismatch(f"{where}.data mixes lists and scalars", field=f"{where}.data")
            flat.extend(row)
        return flat
    return data


def _check_tensor(tensor: Any, i: int) -> tuple[str, list[int], list[Any]]:
    where = f"inputs[{i}]"
    if not isinstance(tensor, dict):
        raise SchemaMismatch(f"{where} must be an object with name, shape, datatype, data", field=where)
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise SchemaMismatch(f"{where}.{key} is required", field=f"{where}.{key}")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if not isinstance(name, str):
        raise SchemaMismatch(f"{where}.name must be a string", field=f"{where}.name")
    if (not isinstance(shape, list) or not shape or len(shape) > 2
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise SchemaMismatch(f"{where}.shape must be [rows] or [rows, columns]", field=f"{where}.shape")
    if datatype not in V2_DATATYPES:
        raise SchemaMismatch(f"{where}.datatype {datatype!r} is not an Open Inference Protocol datatype",
                             field=f"{where}.datatype")
    data = _flatten(tensor["data"], where)
    if len(data) != int(np.prod(shape)):
        raise SchemaMismatch(f"{where}: shape {shape} needs {int(np.prod(shape))} values, data has {len(data)}",
                             field=f"{where}.data")
    return name, shape, data


def decode_infer_request(body: Any, schema: FeatureSchema, max_rows: int) -> tuple[Columns, bool, Any]:
    """Return (columns, wants predict_proba, request id) from a V2 inference request.

    Accepts one [rows, features] tensor in schema order (MLServer's sklearn style) or one [rows] tensor
    per feature, named after it (the pandas codec style). Raises SchemaMismatch naming the field.
    """
    if not isinstance(body, dict):
        raise SchemaMismatch("the body must be a JSON object with 'inputs'", field="body")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise SchemaMismatch("'inputs' must be a non-empty list of tensors", field="inputs")
    tensors = [_check_tensor(t, i) for i, t in enumerate(inputs)]
    names = schema.names
    if len(tensors) == 1 and tensors[0][0] not in names:
        _, shape, data = tensors[0]
        width = shape[1] if len(shape) == 2 else 1
        if width != len(names):
            raise SchemaMismatch(f"inputs[0] has {width} columns; the model expects {len(names)} features {names}",
                                 field="inputs[0].shape")
        columns = {n: data[j::width] for j, n in enumerate(names)}
    else:
        columns = {}
        for (name, shape, data) in tensors:
            if len(shape) == 2 and shape[1] != 1:
                raise SchemaMismatch(f"input {name!r} must have shape [rows] or [rows, 1]", field=name)
            if name in columns:
                raise SchemaMismatch(f"input {name!r} is given twice", field=name)
            columns[name] = data
    cols = validate_columns(columns, schema, max_rows)
    return cols, _wants_proba(body.get("outputs")), body.get("id")


def _wants_proba(outputs: Any) -> bool:
    if outputs is None:
        return False
    if not isinstance(outputs, list):
        raise SchemaMismatch("'outputs' must be a list of {name}", field="outputs")
    wanted = set()
    for i, out in enumerate(outputs):
        if not isinstance(out, dict) or out.get("name") not in (PREDICT, PROBA):
            raise SchemaMismatch(f"outputs[{i}].name must be {PREDICT!r} or {PROBA!r}", field=f"outputs[{i}].name")
        wanted.add(out["name"])
    return PROBA in wanted


def _datatype(arr: np.ndarray) -> str:
    kind = arr.dtype.kind
    return {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}.get(kind, "BYTES")


def encode_tensor(name: str, arr: np.ndarray) -> dict[str, Any]:
    dtype = _datatype(arr)
    data = arr.reshape(-1).tolist() if dtype != "BYTES" else [str(v) for v in arr.reshape(-1).tolist()]
    return {"name": name, "shape": list(arr.shape), "datatype": dtype, "data": data}


def encode_infer_response(model: str, version: int, variant: str, request_id: Any,
                          preds: np.ndarray, proba: np.ndarray | None) -> dict[str, Any]:
    outputs = [encode_tensor(PREDICT, preds)]
    if proba is not None:
        outputs.append(encode_tensor(PROBA, proba))
    out: dict[str, Any] = {"model_name": model, "model_version": str(version),
                           "parameters": {"variant": variant}, "outputs": outputs}
    if isinstance(request_id, str):
        out["id"] = request_id
    return out


def model_metadata(model: str, version: int, variant: str, schema: FeatureSchema, platform: str) -> dict[str, Any]:
    inputs = [{"name": f.name, "datatype": "FP64" if f.kind == "numeric" else "BYTES", "shape": [-1]}
              for f in schema.features]
    return {"name": model, "versions": [str(version)], "platform": platform, "inputs": inputs,
            "outputs": [{"name": PREDICT, "datatype": "BYTES", "shape": [-1]},
                        {"name": PROBA, "datatype": "FP64", "shape": [-1, -1]}],
            "parameters": {"variant": variant}}
