"""Every task type end to end through the Python API on real data, with quality floors and registry checks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bentoml
import pytest
from bentoml._internal.models.model import Model
from sklearn.datasets import load_breast_cancer

from sextant_contracts import registry
from sextant_contracts.storage import open_store
from sextant_pipelines.flow import RunContext, run_training
from tests.unit.pipelines.helpers import anomaly_csv, mixed_frame, spec


def run(doc: dict, store_dir: Path) -> dict:
    return run_training(doc, RunContext(store_dir.as_uri(), training_job={"namespace": "ml", "name": "t"}))


def test_breast_cancer_classifier_is_registered_promoted_and_complete(store_dir: Path) -> None:
    result = run(spec("classification", "builtin:breast_cancer", "cancer",
                      estimator={"algorithm": "logistic_regression", "params": {"C": 1.0}},
                      acceptance=[{"metric": "roc_auc", "min": 0.97}], evaluation={"cvFolds": 3},
                      model={"name": "cancer", "promote": "staging"}), store_dir)
    assert result["metrics"]["roc_auc"] >= 0.97 and result["metrics"]["accuracy"] >= 0.95
    assert result["accepted"] and result["model"]["promotedTo"] == "staging"
    assert result["crossValidation"]["mean"] >= 0.97 and len(result["crossValidation"]["scores"]) == 3
    assert sum(map(sum, result["confusionMatrix"]["matrix"])) == 114
    store = open_store(store_dir.as_uri())
    manifest = registry.resolve(store, "cancer", alias="staging")
    assert manifest.version == result["model"]["version"] == 1
    assert len(manifest.feature_schema) == 30 and manifest.baseline["rows"] == 455
    assert manifest.lineage["trainingJob"] == {"namespace": "ml", "name": "t"}
    assert result["model"]["digest"] == f"sha256:{manifest.artifact_sha256}"
    model_dir = registry.download_model(store, manifest, store_dir.parent / "dl")
    assert {p.name for p in model_dir.iterdir()} == {"model.yaml", "saved_model.pkl"}
    loaded = bentoml.sklearn.load_model(Model.from_path(str(model_dir)))
    raw = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).head(5)
    assert loaded.predict_proba(raw).shape == (5, 2)  # raw features in: preprocessing is inside the model
    report = (store_dir / "runs" / result["runId"] / "data-quality.html").read_text()
    assert report.count("<img") >= 2 and "mean radius" in report
    explained = (store_dir / "runs" / result["runId"] / "model-report.html").read_text()
    assert "Confusion matrix" in explained and "positive class 1" in explained  # ROC/PR of the stated class
    assert "Permutation importance" in explained and "mean radius" in explained


def test_iris_tuning_reaches_the_floor_and_logs_trials(store_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sextant.pipelines")
    result = run(spec("classification", "builtin:iris", "iris", objective={"metric": "accuracy"},
                      tuning={"algorithm": "svm", "strategy": "bayesian", "maxTrials": 12, "parallelTrials": 2,
                              "cvFolds": 3, "earlyStopping": {"strategy": "median"},
                              "searchSpace": {"C": {"type": "float", "min": 0.01, "max": 100, "log": True}}}),
                 store_dir)
    assert result["metrics"]["accuracy"] >= 0.9
    assert result["trials"]["total"] == 12 and result["trials"]["succeeded"] >= 6
    assert 0.01 <= result["best"]["params"]["C"] <= 100
    trial_lines = [r for r in caplog.records if "trial " in r.getMessage()]
    assert len(trial_lines) == 12


def test_diabetes_automl_regression_with_stacking(store_dir: Path) -> None:
    result = run(spec("regression", "builtin:diabetes", "diabetes",
                      automl={"timeBudget": "15s", "ensemble": "stacking", "cvFolds": 3,
                              "algorithms": ["ridge", "elastic_net", "knn", "hist_gradient_boosting"]},
                      acceptance=[{"metric": "r2", "min": 0.35}]), store_dir)
    assert result["metrics"]["r2"] >= 0.4 and result["metrics"]["rmse"] < 60
    assert result["search"]["stoppedBecause"].startswith("time budget") and result["trials"]["total"] >= 2
    assert result["best"]["algorithm"] in {"stacking_ensemble", "ridge", "elastic_net", "knn", "hist_gradient_boosting"}
    assert result["durationSeconds"] <= 15 + 3  # the budget bounds ingest to registration (3 s slack under 30 s)
    board = result["leaderboard"]  # best first, in the objective's own sign (r2: largest first)
    assert [r["rank"] for r in board] == list(range(1, len(board) + 1)) and len(board) >= 2
    assert [r["score"] for r in board] == sorted((r["score"] for r in board), reverse=True)
    assert board[0]["metric"] == "r2" and {"algorithm", "params", "seconds"} <= set(board[0])
    report = (store_dir / "runs" / result["runId"] / "model-report.html").read_text()
    assert "Residuals (holdout)" in report and "Leaderboard (r2" in report and "Holdout metrics" in report


def test_mixed_types_with_missing_values_train_from_csv_and_parquet(store_dir: Path, tmp_path: Path) -> None:
    frame = mixed_frame()
    frame.to_csv(tmp_path / "churn.csv", index=False)
    frame.to_parquet(tmp_path / "churn.parquet")
    for uri in ((tmp_path / "churn.csv").as_uri(), (tmp_path / "churn.parquet").as_uri()):
        result = run(spec("classification", uri, "churn", exclude=["customer_id"],
                          estimator={"algorithm": "hist_gradient_boosting"}), store_dir)
        assert result["metrics"]["roc_auc"] >= 0.85
    manifest = registry.resolve(open_store(store_dir.as_uri()), "churn", version=2)
    schema = {f.name: f for f in manifest.feature_schema}
    assert set(schema) == {"income", "plan", "tenure"}
    assert schema["plan"].type == "categorical" and schema["plan"].categories == ["basic", "plus", "premium"]
    assert schema["income"].nullable and manifest.baseline["features"]["plan"]["type"] == "categorical"


def test_iris_clustering_finds_the_species(store_dir: Path) -> None:
    result = run(spec("clustering", "builtin:iris", "iris-clusters", target="target",
                      estimator={"algorithm": "kmeans", "params": {"n_clusters": 3}}), store_dir)
    assert result["metrics"]["silhouette"] >= 0.4 and result["metrics"]["adjusted_rand"] >= 0.6
    manifest = registry.resolve(open_store(store_dir.as_uri()), "iris-clusters", version=1)
    assert manifest.task == "clustering"


def test_anomaly_detection_scores_with_the_contamination(store_dir: Path, tmp_path: Path) -> None:
    result = run(spec("anomalyDetection", anomaly_csv(tmp_path), "tumours", target="is_anomaly",
                      estimator={"algorithm": "isolation_forest"}), store_dir)
    assert result["metrics"]["roc_auc"] >= 0.95 and result["metrics"]["f1"] >= 0.7
    assert result["metrics"]["flagged_fraction_error"] <= 0.05
    assert result["best"]["params"]["contamination"] == pytest.approx(20 / 377, abs=0.01)


def test_unaccepted_model_is_stored_but_not_promoted(store_dir: Path) -> None:
    good = spec("classification", "builtin:wine", "wine", estimator={"algorithm": "logistic_regression"},
                model={"name": "wine", "promote": "production"})
    assert run(good, store_dir)["model"]["promotedTo"] == "production"
    strict = {**good, "estimator": {"algorithm": "decision_tree", "params": {"max_depth": 1}},
              "acceptance": [{"metric": "accuracy", "min": 0.99}, {"metric": "log_loss", "max": 5}]}
    result = run(strict, store_dir)
    assert result["accepted"] is False and result["model"]["version"] == 2
    assert result["model"]["promotedTo"] is None
    assert len(result["failedCriteria"]) == 1 and result["failedCriteria"][0].startswith("accuracy ")
    assert "below the minimum 0.99" in result["failedCriteria"][0]
    store = open_store(store_dir.as_uri())
    assert registry.read_alias(store, "wine", "production") == 1
    stored = json.loads((store_dir / "models/wine/2/manifest.json").read_text())
    assert stored["accepted"] is False and [a["passed"] for a in stored["acceptance"]] == [False, True]
