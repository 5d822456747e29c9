"""Benchmark: platform overhead, the whole local flow against a bare scikit-learn fit of the same model.

Both fit the same Pipeline (median imputation, standard scaling, the same estimator) on the same rows. The
flow adds ingestion checks, profiling with an HTML report, evaluation, the BentoML model format, sha256,
manifest and registry writes. Reported: median wall time of each and the ratio, in-process (imports warm)
and, once, as the container entrypoint in a fresh process and through kfp.local.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sextant_pipelines.catalogue import build_estimator
from sextant_pipelines.flow import RunContext, run_training
from sextant_pipelines.kfp_pipeline import run_local
from tests.bench.pipelines.common import env_int, median, write_results

MODELS = {"logistic_regression": {}, "random_forest": {"n_estimators": 200}}


def bare_fit(algorithm: str, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    prep = ColumnTransformer([("numeric", Pipeline([("impute", SimpleImputer(strategy="median")),
                                                    ("scale", StandardScaler())]), list(X.columns))])
    model = Pipeline([("preprocess", prep), ("model", build_estimator("classification", algorithm, params, 42))])
    model.fit(X_train, y_train)
    roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    return time.perf_counter() - started


def spec(algorithm: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"task": "classification", "dataset": {"uri": "builtin:breast_cancer", "target": "target"},
            "estimator": {"algorithm": algorithm, "params": params}, "model": {"name": "overhead"}}


def flow_run(algorithm: str, params: dict[str, Any], store: str) -> float:
    started = time.perf_counter()
    run_training(spec(algorithm, params), RunContext(store))
    return time.perf_counter() - started


@pytest.mark.bench
@pytest.mark.timeout(1800)
def test_flow_overhead_against_bare_scikit_learn() -> None:
    repeats = env_int("SEXTANT_BENCH_OVERHEAD_REPEATS", 5)
    table = ["| model | how | median seconds | bare scikit-learn seconds | ratio |", "|---|---|---:|---:|---:|"]
    doc: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp, "store").as_uri()
        for algorithm, params in MODELS.items():
            flow_run(algorithm, params, store)  # warm imports (matplotlib, bentoml) once
            bare = median([bare_fit(algorithm, params) for _ in range(repeats)])
            flow = median([flow_run(algorithm, params, store) for _ in range(repeats)])
            doc[algorithm] = {"bare": bare, "flow": flow, "ratio": flow / bare}
            table.append(f"| {algorithm} | Python API, in-process | {flow:.2f} | {bare:.3f} | {flow / bare:.1f} |")
        algorithm, params = "random_forest", MODELS["random_forest"]
        bare = doc[algorithm]["bare"]
        Path(tmp, "spec.json").write_text(json.dumps(spec(algorithm, params)))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sextant_pipelines", "run", "--spec", str(Path(tmp, "spec.json")),
                        "--store", store], check=True, capture_output=True, timeout=600)
        entry = time.perf_counter() - started
        started = time.perf_counter()
        run_local({"spec_json": json.dumps(spec(algorithm, params)), "store_uri": store, "run_id": "bench"},
                  str(Path(tmp, "kfp")))
        kfp = time.perf_counter() - started
        doc["entrypoint"], doc["kfp_local"] = entry, kfp
        table.append(f"| {algorithm} | entrypoint, fresh process | {entry:.2f} | {bare:.3f} | {entry / bare:.1f} |")
        table.append(f"| {algorithm} | kfp.local, 4 subprocess steps | {kfp:.2f} | {bare:.3f} | {kfp / bare:.1f} |")
    write_results("pipelines-overhead", doc, table)
