"""The servers the benchmark compares, each started as a real process on loopback with the same model file."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import BENTOML, Server, free_port, running, serve_command, serving_env

ROOT = Path(__file__).resolve().parents[3]
MLSERVER = ROOT / ".venv-bench-mlserver" / "bin" / "mlserver"
# Start-up (imports, model load) takes over a minute when the shared machine's load is above 10.
START_TIMEOUT = 300.0


@dataclass(frozen=True)
class BenchModel:
    name: str
    features: list[str]
    row: list[float]
    joblib_path: Path
    store_uri: str


def sextant_body(m: BenchModel) -> str:
    return json.dumps({"records": [dict(zip(m.features, m.row, strict=True))]})


def v2_body(m: BenchModel) -> str:
    return json.dumps({"inputs": [{"name": "input-0", "shape": [1, len(m.row)], "datatype": "FP64",
                                   "data": m.row}]})


def v2_pandas_body(features: list[str], rows: list[list[float]]) -> str:
    """MLServer's V2 request for a DataFrame: one input per column, request content type `pd` (PandasCodec)."""
    return json.dumps({"parameters": {"content_type": "pd"},
                       "inputs": [{"name": f, "shape": [len(rows)], "datatype": "FP64", "data": [r[j] for r in rows]}
                                  for j, f in enumerate(features)]})


def bare_body(m: BenchModel) -> str:
    return json.dumps({"input": [m.row]})


@contextmanager
def sextant(m: BenchModel, workdir: Path, workers: int = 2) -> Iterator[Server]:
    port = free_port()
    home = workdir / f"bentoml-home-{m.name}-{port}"  # the bench's own: nothing else on the machine prunes it
    env = serving_env(m.store_uri, m.name, version=1, SEXTANT_WORKERS=str(workers), SEXTANT_VARIANT="bench",
                      BENTOML_HOME=str(home))
    log = workdir / f"sextant-{m.name}.log"
    with running(serve_command(port), port, log, env=env, timeout=START_TIMEOUT) as server:
        yield server


@contextmanager
def mlserver(m: BenchModel, workdir: Path) -> Iterator[Server]:
    port, grpc, metrics = free_port(), free_port(), free_port()
    home = workdir / f"mlserver-{m.name}"
    (home / m.name).mkdir(parents=True, exist_ok=True)
    (home / "metrics").mkdir(exist_ok=True)
    (home / m.name / "model-settings.json").write_text(json.dumps({
        "name": m.name, "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(m.joblib_path), "version": "1"}}))
    (home / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": port, "grpc_port": grpc, "metrics_port": metrics,
        "metrics_dir": str(home / "metrics")}))
    cmd = [str(MLSERVER), "start", str(home)]
    with running(cmd, port, workdir / f"mlserver-{m.name}.log", ready_path="/v2/health/ready", cwd=str(home),
                 timeout=START_TIMEOUT) as s:
        yield s


@contextmanager
def bare_bentoml(m: BenchModel, workdir: Path, batching: bool, workers: int = 2) -> Iterator[Server]:
    port = free_port()
    env = {"BARE_MODEL_PATH": str(m.joblib_path), "BARE_BATCHING": "1" if batching else "0",
           "BARE_WORKERS": str(workers), "BENTOML_HOME": str(workdir / f"bentoml-home-bare-{batching}"),
           "BENTOML_DO_NOT_TRACK": "true", "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    cmd = [BENTOML, "serve", "tests.bench.services.bare_service:Bare", "--host", "127.0.0.1", "--port", str(port)]
    name = f"bare-{'batching' if batching else 'plain'}-{m.name}"
    with running(cmd, port, workdir / f"{name}.log", env=env, cwd=str(ROOT)) as server:
        yield server
