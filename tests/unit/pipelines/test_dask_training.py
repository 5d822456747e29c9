"""Training on Dask (spec.compute.dask) on a real distributed LocalCluster of worker processes: the run holds out
partitions, trains xgboost.dask or lightgbm.dask, registers an ordinary model version, and a real `bentoml serve`
answers raw records with it in the user's labels. The out-of-core proof at scale is tests/integration/outofcore.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dask.dataframe as dd
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from sextant_pipelines import flow
from sextant_pipelines.dask_flow import run_on_dask
from sextant_pipelines.dask_train import hold_out
from sextant_pipelines.entrypoint import main
from sextant_pipelines.errors import SpecError
from sextant_pipelines.spec import TrainingSpec, parse_spec
from tests.support.processes import free_port, running, serve_command, serving_env

WORKERS = 2


def _parquet_parts(data: pd.DataFrame, directory: Path, parts: int) -> str:
    """The table as `parts` Parquet files (a glob URI): each is at least one partition."""
    directory.mkdir(parents=True)
    for i in range(parts):
        data.iloc[i::parts].to_parquet(directory / f"part-{i:02d}.parquet")
    return f"{directory.as_uri()}/part-*.parquet"


def _spec(uri: str, task: str, target: str, algorithm: str, **extra: Any) -> dict[str, Any]:
    return {"task": task, "dataset": {"uri": uri, "target": target}, "model": {"name": f"dask-{algorithm}"},
            "estimator": {"algorithm": algorithm, "params": {"n_estimators": 60}},
            "compute": {"dask": {"workers": WORKERS, "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}},
            **extra}


def typed(spec: dict[str, Any]) -> TrainingSpec:
    """The spec as the trainer types it, without the admission rules (the trainer's own refusal is tested)."""
    from dataclasses import replace

    from sextant_pipelines.spec import DaskSpec

    plain = parse_spec({k: v for k, v in spec.items() if k != "compute"} if "automl" in spec else spec)
    return replace(plain, dask=DaskSpec(workers=WORKERS))


def _saved_model(store: Path, name: str, version: int) -> Any:
    return joblib.load(store / "models" / name / str(version) / "model" / "saved_model.pkl")


def _post(url: str, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request("POST", path, json.dumps(payload), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    """scikit-learn's breast cancer data with its real label names (malignant, benign)."""
    data = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = data.frame.copy()
    frame["diagnosis"] = np.asarray(data.target_names)[frame.pop("target")]
    return frame


def test_held_out_partitions_are_whole_disjoint_and_chosen_by_the_seed() -> None:
    frame = dd.from_pandas(pd.DataFrame({"x": range(1000)}), npartitions=10)
    first, again, other = (hold_out(frame, 0.2, seed) for seed in (7, 7, 8))
    train, test = first.train.compute()["x"], first.test.compute()["x"]
    assert first.description == {"by": "partitions", "heldOut": 2, "partitions": 10, "seed": 7}
    assert len(test) == 200 and len(train) == 800 and not set(train) & set(test)
    assert list(again.test.compute()["x"]) == list(test)
    assert list(other.test.compute()["x"]) != list(test)
    few = hold_out(dd.from_pandas(pd.DataFrame({"x": range(1000)}), npartitions=2), 0.2, 7)
    assert few.description["by"] == "rows"
    rows = few.test.compute()["x"]
    assert 100 < len(rows) < 300 and not set(rows) & set(few.train.compute()["x"])


def test_a_dask_run_registers_a_model_the_server_answers_in_the_users_labels(
        cancer: pd.DataFrame, tmp_path: Path) -> None:
    uri = _parquet_parts(cancer, tmp_path / "cancer", parts=10)
    store = tmp_path / "store"
    spec = _spec(uri, "classification", "diagnosis", "xgboost", acceptance=[{"metric": "accuracy", "min": 0.9}],
                 objective={"metric": "f1", "positiveClass": "malignant"})
    result = flow.run_training(spec, flow.RunContext(store.as_uri()))

    assert result["status"] == "Succeeded" and result["accepted"], result["failedCriteria"]
    peaks = result["compute"].pop("workerPeakMemoryBytes")
    assert result["compute"] == {"engine": "dask", "workers": WORKERS, "partitions": 10}
    assert len(peaks) == WORKERS and all(50 * 2**20 < peak < 2**30 for peak in peaks), peaks  # limit 1Gi
    assert result["holdout"]["by"] == "partitions" and result["holdout"]["heldOut"] == 2
    assert 80 <= result["holdout"]["rows"] <= 150
    assert result["metrics"]["accuracy"] >= 0.9 and result["metrics"]["roc_auc"] >= 0.95
    assert result["positiveClass"] == "malignant"
    assert result["confusionMatrix"]["labels"] == ["benign", "malignant"]
    model = _saved_model(store, "dask-xgboost", result["model"]["version"])
    assert list(model.classes_) == ["benign", "malignant"]

    rows = cancer.drop(columns=["diagnosis"]).sample(20, random_state=1)
    port = free_port()
    env = serving_env(store.as_uri(), "dask-xgboost", version=result["model"]["version"])
    with running(serve_command(port), port, tmp_path / "server.log", env=env) as server:
        status, body = _post(server.url, "/predict", {"records": _records(rows)})
        assert status == 200, body
        assert body["predictions"] == list(model.predict(rows))
        assert set(body["predictions"]) <= {"benign", "malignant"}
        status, body = _post(server.url, "/predict_proba", {"records": _records(rows.head(3))})
        assert status == 200 and body["classes"] == ["benign", "malignant"]
        assert np.allclose(body["probabilities"], model.predict_proba(rows.head(3)), atol=1e-6)
        status, body = _post(server.url, "/predict", {"records": [{"mean radius": "large"}]})
        assert 400 <= status < 500, body


def _shops(rows: int, seed: int) -> pd.DataFrame:
    """Sales with a categorical store type, a partly missing price and a noisy linear target."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(np.array(["kiosk", "mall", "street", "online"], dtype=object), rows)
    price = np.where(rng.random(rows) < 0.1, np.nan, rng.uniform(1, 10, rows))
    visits = rng.poisson(50, rows).astype(float)
    effect = pd.Series(kind).map({"kiosk": -20.0, "mall": 15.0, "street": 0.0, "online": 30.0}).to_numpy()
    sales = 2.0 * visits - 3.0 * np.nan_to_num(price, nan=5.0) + effect + rng.normal(0, 3, rows)
    return pd.DataFrame({"kind": kind, "price": price, "visits": visits, "sales": sales})


def test_lightgbm_regression_on_dask_learns_categories_and_serves_unknown_ones(tmp_path: Path) -> None:
    uri = _parquet_parts(_shops(6000, 0), tmp_path / "shops", parts=6)
    store = tmp_path / "store"
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(_spec(uri, "regression", "sales", "lightgbm")))
    assert main(["run", "--spec", str(spec_path), "--store", store.as_uri(),
                 "--result", str(tmp_path / "result.json")]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "Succeeded" and result["metrics"]["r2"] >= 0.9, result["metrics"]
    model = _saved_model(store, "dask-lightgbm", result["model"]["version"])

    port = free_port()
    env = serving_env(store.as_uri(), "dask-lightgbm", version=result["model"]["version"])
    with running(serve_command(port), port, tmp_path / "server.log", env=env) as server:
        known = [{"kind": "online", "price": 2.0, "visits": 50.0}, {"kind": "kiosk", "price": 2.0, "visits": 50.0}]
        status, body = _post(server.url, "/predict", {"records": known})
        assert status == 200, body
        online, kiosk = body["predictions"]
        assert 35 < online - kiosk < 65  # the categories' effects differ by 50
        odd = [{"kind": "market stall", "price": None, "visits": 50.0}]
        status, body = _post(server.url, "/predict", {"records": odd})
        assert status == 200 and np.isfinite(body["predictions"][0]), body
        assert np.allclose(body["predictions"], model.predict(pd.DataFrame(odd)), atol=1e-6)


def test_tuning_on_dask_scores_trials_on_validation_partitions_and_refits_the_best(
        cancer: pd.DataFrame, tmp_path: Path) -> None:
    uri = _parquet_parts(cancer, tmp_path / "cancer", parts=12)
    spec = _spec(uri, "classification", "diagnosis", "xgboost")
    del spec["estimator"]
    spec["tuning"] = {"algorithm": "xgboost", "strategy": "bayesian", "maxTrials": 4, "params": {"n_estimators": 30},
                      "searchSpace": {"max_depth": {"type": "int", "min": 1, "max": 6},
                                      "learning_rate": {"type": "float", "min": 0.01, "max": 0.5, "log": True}}}
    result = flow.run_training(spec, flow.RunContext((tmp_path / "store").as_uri()))

    assert result["status"] == "Succeeded" and result["mode"] == "tuning"
    assert result["trials"] == {"total": 4, "succeeded": 4, "failed": 0, "pruned": 0}
    assert result["search"]["validation"]["by"] == "partitions" and result["search"]["strategy"] == "bayesian"
    board = result["leaderboard"]
    assert len(board) == 4 and board[0]["rank"] == 1 and board[0]["score"] >= board[-1]["score"]
    assert {"max_depth", "learning_rate"} <= set(board[0]["params"])
    best = board[0]["params"]
    assert result["best"]["params"]["max_depth"] == best["max_depth"]  # the best trial's configuration is refit
    assert result["metrics"]["accuracy"] >= 0.9


@pytest.mark.parametrize(("change", "field"), [
    ({"estimator": None, "automl": {"timeBudget": "1m"}}, "compute.dask"),
    ({"evaluation": {"cvFolds": 3}}, "evaluation.cvFolds"),
])
def test_what_dask_cannot_run_yet_is_refused_before_reading_data(
        change: dict[str, Any], field: str, tmp_path: Path) -> None:
    spec = _spec((tmp_path / "missing" / "*.parquet").as_uri(), "classification", "y", "xgboost")
    spec.update({k: v for k, v in change.items() if v is not None})
    for key in [k for k, v in change.items() if v is None]:
        del spec[key]
    with pytest.raises(SpecError) as refused:
        run_on_dask(typed(spec), flow.RunContext((tmp_path / "store").as_uri()))
    assert refused.value.field == field
    assert "compute.dask" in refused.value.message + refused.value.fix


def test_the_scheduler_serves_its_dashboard() -> None:
    """docs/dask.md sends users to the dashboard through kubectl port-forward: distributed serves it only with
    bokeh installed, which the trainer image (the scheduler's) must have."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as local:
        address = ("127.0.0.1", local.scheduler.http_server.port)
        for path in ("/status", "/individual-progress"):
            connection = http.client.HTTPConnection(*address, timeout=30)
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200 and b"Dask" in response.read(), path
            connection.close()
