"""Training on Dask against training in one pod (issue 14, point 5's second half): rows per second of the whole
run (ingest, profile, train, evaluate, register) and the model's accuracy, on data that fits in one process.

The same TrainingJob spec (xgboost, the catalogue's defaults and 60 rounds) runs through `flow.run_training` the
way each backend runs it: in one process, and with spec.compute.dask on a LocalCluster of 1 and 2 worker
processes found through DASK_SCHEDULER_ADDRESS, as a DaskJob's runner finds its cluster (the cluster's start is
not timed: its pods are up before the runner starts). Each registered model is then scored on the same held-out
file, which no run saw. SEXTANT_DASK_BENCH_PARTS parts of 250,000 rows (default 4: 1,000,000 rows, about 380 MiB
of Parquet, in one file). Results go to bench-results/dask-training.{json,md}.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import joblib
import pytest
from distributed import Client, LocalCluster
from sklearn.metrics import accuracy_score, roc_auc_score

from sextant_pipelines import flow
from sextant_pipelines.dask_flow import SCHEDULER_ENV
from tests.bench.pipelines.common import env_int, write_results
from tests.support.churn_data import churn_part

pytestmark = pytest.mark.bench
WORKER_MEMORY = "1Gi"


def _spec(uri: str, dask_workers: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = {"task": "classification", "model": {"name": "churn"},
                            "dataset": {"uri": uri, "target": "churned"},
                            "estimator": {"algorithm": "xgboost", "params": {"n_estimators": 60}}}
    if dask_workers:
        spec["compute"] = {"dask": {"workers": dask_workers,
                                    "resources": {"limits": {"cpu": "1", "memory": WORKER_MEMORY}}}}
    return spec


def _score(store: Path, version: int, test_file: Path) -> dict[str, float]:
    import pandas as pd

    model = joblib.load(store / "models" / "churn" / str(version) / "model" / "saved_model.pkl")
    test = pd.read_parquet(test_file)
    truth, rows = test.pop("churned"), test
    proba = model.predict_proba(rows)[:, list(model.classes_).index("yes")]
    return {"accuracy": float(accuracy_score(truth, model.predict(rows))),
            "roc_auc": float(roc_auc_score(truth == "yes", proba))}


def test_training_on_dask_against_one_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = env_int("SEXTANT_DASK_BENCH_PARTS", 4)
    import pandas as pd

    data = tmp_path / "churn.parquet"  # one file, as the single-process path reads it; Dask reads row groups
    pd.concat([churn_part(part) for part in range(parts)], ignore_index=True).to_parquet(data, row_group_size=50_000)
    test_file = tmp_path / "test.parquet"
    churn_part(10_000).to_parquet(test_file)
    uri, rows = data.as_uri(), parts * 250_000
    store = tmp_path / "store"

    figures: dict[str, dict[str, Any]] = {}
    runs: list[tuple[str, int]] = [("one pod (single process)", 0), ("dask, 1 worker", 1), ("dask, 2 workers", 2)]
    for label, workers in runs:
        if workers:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   memory_limit=WORKER_MEMORY, dashboard_address=None)
            client = Client(cluster)
            client.wait_for_workers(workers, timeout=120)
            monkeypatch.setenv(SCHEDULER_ENV, cluster.scheduler_address)
        started = time.monotonic()
        result = flow.run_training(_spec(uri, workers), flow.RunContext(store.as_uri()))
        seconds = time.monotonic() - started
        if workers:
            client.close()
            cluster.close()
            monkeypatch.delenv(SCHEDULER_ENV)
        figures[label] = {"seconds": seconds, "rows_per_second": rows / seconds,
                          "holdout": result["metrics"]["accuracy"],
                          **_score(store, result["model"]["version"], test_file)}
    single = figures[runs[0][0]]
    table = [f"Training {rows:,} rows (xgboost, 60 rounds) through flow.run_training: the whole run, ingest to "
             "registration; accuracy and ROC AUC on 250,000 held-out rows no run saw", "",
             "| path | seconds | rows/s | vs one pod | accuracy | ROC AUC | accuracy vs one pod |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    table += [f"| {k} | {v['seconds']:.1f} | {v['rows_per_second']:,.0f} | "
              f"{single['seconds'] / v['seconds']:.2f}x | {v['accuracy']:.4f} | {v['roc_auc']:.4f} | "
              f"{v['accuracy'] / single['accuracy']:.4f} |" for k, v in figures.items()]
    write_results("dask-training", {"rows": rows, "figures": figures}, table)
    for label, values in figures.items():
        assert values["accuracy"] >= 0.99 * single["accuracy"], label
