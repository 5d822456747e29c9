"""LightGBM and XGBoost train through the user path on real data and are served from the registry as trained."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from sextant_pipelines.flow import RunContext, run_training
from sextant_services.batching import BatchingConfig
from sextant_services.dataplane import DataPlane
from sextant_services.features import validate_body
from sextant_services.model_source import ModelRef, load_model
from tests.unit.pipelines.helpers import mixed_frame, spec


def run(doc: dict, store_dir: Path) -> dict:
    return run_training(doc, RunContext(store_dir.as_uri(), training_job={"namespace": "ml", "name": "t"}))


def served_predictions(store_dir: Path, name: str, records: list[dict], tmp: Path) -> list:
    """Predictions of the registered model as the model server makes them (raw records in)."""
    model = load_model(store_dir.as_uri(), ModelRef(name, version=1), cache_dir=tmp / "cache")
    plane = DataPlane(model, "v", BatchingConfig(), metrics=None)
    columns = validate_body({"records": records}, model.schema, 100)
    return list(asyncio.run(plane.predict(columns, False)).predictions.tolist())


@pytest.mark.parametrize("algorithm", ["lightgbm", "xgboost"])
def test_breast_cancer_classifier_trains_registers_and_serves(algorithm: str, store_dir: Path,
                                                              tmp_path: Path) -> None:
    result = run(spec("classification", "builtin:breast_cancer", "cancer",
                      estimator={"algorithm": algorithm, "params": {"n_estimators": 80, "learning_rate": 0.1}},
                      evaluation={"cvFolds": 3}), store_dir)
    assert result["metrics"]["accuracy"] >= 0.93 and result["metrics"]["roc_auc"] >= 0.97
    assert result["best"]["algorithm"] == algorithm
    frame = load_breast_cancer(as_frame=True).frame
    records = frame.drop(columns=["target"]).iloc[[0, 19]].to_dict("records")  # a malignant and a benign row
    assert served_predictions(store_dir, "cancer", records, tmp_path) == [0, 1]


@pytest.mark.parametrize("algorithm", ["lightgbm", "xgboost"])
def test_diabetes_regressor_trains_registers_and_serves(algorithm: str, store_dir: Path, tmp_path: Path) -> None:
    result = run(spec("regression", "builtin:diabetes", "diabetes",
                      estimator={"algorithm": algorithm,
                                 "params": {"n_estimators": 150, "learning_rate": 0.03, "max_depth": 3}},
                      evaluation={"cvFolds": 3}), store_dir)
    assert result["metrics"]["r2"] >= 0.3
    frame = load_diabetes(as_frame=True).frame
    served = served_predictions(store_dir, "diabetes", frame.drop(columns=["target"]).head(3).to_dict("records"),
                                tmp_path)
    assert len(served) == 3 and all(25 <= p <= 346 for p in served)  # within the target's range


@pytest.mark.parametrize("algorithm", ["lightgbm", "xgboost"])
def test_string_labels_and_categorical_features_with_missing_values(algorithm: str, store_dir: Path,
                                                                    tmp_path: Path) -> None:
    """XGBoost takes only labels 0..k-1: the served model still answers in the user's labels."""
    frame = mixed_frame(600)
    frame["target"] = frame["target"].map({0: "stayed", 1: "churned"})
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    result = run(spec("classification", path.as_uri(), "churn", estimator={"algorithm": algorithm},
                      exclude=["customer_id"], evaluation={"cvFolds": 3}), store_dir)
    assert result["metrics"]["accuracy"] >= 0.8
    records = frame.drop(columns=["target", "customer_id"]).head(20)
    served = served_predictions(store_dir, "churn", records.astype(object).where(records.notna(), None)
                                .to_dict("records"), tmp_path)
    assert set(served) <= {"stayed", "churned"}
    assert sum(s == t for s, t in zip(served, frame["target"].head(20), strict=True)) >= 15


def test_a_high_cardinality_categorical_is_target_encoded_inside_the_served_pipeline(store_dir: Path,
                                                                                      tmp_path: Path) -> None:
    """200 shops, each with its own level of sales: one-hot would make 200 sparse columns; the target encoder
    (fitted inside each fold) gives the model one informative column, and serving still takes the shop's name."""
    rng = np.random.default_rng(0)
    shops = [f"shop {i:03d}" for i in range(200)]
    level = dict(zip(shops, rng.normal(100, 30, len(shops)), strict=True))
    rows = 3000
    shop = rng.choice(shops, rows)
    staff = rng.integers(1, 10, rows)
    frame = pd.DataFrame({"shop": shop, "staff": staff,
                          "target": [level[s] for s in shop] + 3 * staff + rng.normal(0, 5, rows)})
    path = tmp_path / "sales.csv"
    frame.to_csv(path, index=False)
    result = run(spec("regression", path.as_uri(), "sales", estimator={"algorithm": "ridge"},
                      evaluation={"cvFolds": 3}), store_dir)
    assert result["metrics"]["r2"] >= 0.9  # the shop's level is learnt from its name
    model = load_model(store_dir.as_uri(), ModelRef("sales", version=1), cache_dir=tmp_path / "cache").estimator
    encoded = dict((name, columns) for name, _, columns in model.named_steps["preprocess"].transformers)
    assert encoded["target_encoded"] == ["shop"] and encoded["numeric"] == ["staff"]
    served = served_predictions(store_dir, "sales", [{"shop": "shop 007", "staff": 3}], tmp_path)
    assert abs(served[0] - (level["shop 007"] + 9)) < 15


def test_a_free_text_column_becomes_tf_idf_features_inside_the_served_pipeline(store_dir: Path,
                                                                              tmp_path: Path) -> None:
    """Reviews whose words carry the label: the profile's text column is vectorised (TF-IDF) inside the model,
    and serving takes the raw review."""
    rng = np.random.default_rng(1)
    good, bad = ["great", "excellent", "lovely", "works well", "sturdy"], ["broken", "awful", "returned it",
                                                                            "cheap plastic", "stopped working"]
    filler = ["the", "kettle", "arrived", "on", "time", "and", "my", "kitchen", "looks", "with", "it", "box"]
    rows = []
    for _ in range(600):
        happy = bool(rng.random() < 0.5)
        words = list(rng.choice(filler, 8)) + list(rng.choice(good if happy else bad, 2))
        rng.shuffle(words)
        rows.append({"review": " ".join(words), "price": float(rng.normal(30, 5)),
                     "target": "happy" if happy else "unhappy"})
    frame = pd.DataFrame(rows)
    frame.loc[::50, "review"] = None
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    result = run(spec("classification", path.as_uri(), "reviews", estimator={"algorithm": "logistic_regression"},
                      evaluation={"cvFolds": 3}), store_dir)
    assert result["metrics"]["accuracy"] >= 0.9
    model = load_model(store_dir.as_uri(), ModelRef("reviews", version=1), cache_dir=tmp_path / "cache").estimator
    assert [columns for name, _, columns in model.named_steps["preprocess"].transformers if name.startswith("text")] \
        == [["review"]]
    served = served_predictions(store_dir, "reviews", [
        {"review": "the kettle is excellent and sturdy", "price": 30.0},
        {"review": "it arrived broken so I returned it", "price": 30.0},
        {"review": None, "price": 30.0}], tmp_path)
    assert served[:2] == ["happy", "unhappy"] and served[2] in {"happy", "unhappy"}


def test_text_topics_add_an_lda_topic_mixture_beside_tf_idf(store_dir: Path, tmp_path: Path) -> None:
    """Notes about two subjects (kitchen, garden) written with many different words: with
    `preprocessing.textTopics: 2` the model also learns each note's mix of two topics, one per subject."""
    rng = np.random.default_rng(2)
    words = {"kitchen": ["kettle", "oven", "pan", "stove", "sink", "fridge", "toaster", "knife", "plate", "cup"],
             "garden": ["rose", "hedge", "lawn", "shovel", "tulip", "compost", "seeds", "fence", "pond", "shed"]}
    rows = [{"note": " ".join(rng.choice(words[s], 6)), "target": s} for s in rng.choice(list(words), 400)]
    path = tmp_path / "notes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    result = run(spec("classification", path.as_uri(), "notes", estimator={"algorithm": "logistic_regression"},
                      preprocessing={"textTopics": 2}), store_dir)
    assert result["metrics"]["accuracy"] >= 0.95
    model = load_model(store_dir.as_uri(), ModelRef("notes", version=1), cache_dir=tmp_path / "cache").estimator
    (text,) = [t for name, t, _ in model.named_steps["preprocess"].transformers_ if name.startswith("text")]
    topics = dict(text.named_steps["vectorise"].transformer_list)["topics"]
    mix = topics.transform([" ".join(words["kitchen"]), " ".join(words["garden"])])
    assert mix.shape == (2, 2) and mix[0].argmax() != mix[1].argmax()  # one topic per subject
    assert served_predictions(store_dir, "notes", [{"note": "a new kettle and a pan"}], tmp_path) == ["kitchen"]
