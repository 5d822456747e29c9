"""The positive class a user states and the decision threshold an F1 objective is tuned for, through the user path
(a spec through run_training, the model read back from the registry and served as the model server serves it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from sextant_pipelines.errors import SpecError
from sextant_pipelines.flow import RunContext, run_training
from sextant_pipelines.threshold import choose_threshold, positive_class
from sextant_services.batching import BatchingConfig
from sextant_services.dataplane import DataPlane
from sextant_services.features import validate_body
from sextant_services.model_source import ModelRef, load_model
from tests.unit.pipelines.helpers import spec


@pytest.fixture(scope="module")
def rare_cancer(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """Breast-cancer rows with the malignant class made rare (40 of 397) and labelled `cancer`, which sorts
    before `normal`: the default positive class would be the common one."""
    frame = load_breast_cancer(as_frame=True).frame
    rare = frame[frame.target == 0].sample(40, random_state=1)
    data = pd.concat([frame[frame.target == 1], rare]).sample(frac=1, random_state=0).reset_index(drop=True)
    data["target"] = np.where(data["target"] == 0, "cancer", "normal")
    path = tmp_path_factory.mktemp("rare") / "rare_cancer.csv"
    data.to_csv(path, index=False)
    return path.as_uri(), data


def run(doc: dict[str, Any], store_dir: Path) -> dict[str, Any]:
    return run_training(doc, RunContext(store_dir.as_uri(), training_job={"namespace": "ml", "name": "t"}))


def served(store_dir: Path, name: str, records: list[dict[str, Any]], tmp: Path) -> tuple[list[Any], Any]:
    """The model server's predictions for raw records, and the model it loaded."""
    model = load_model(store_dir.as_uri(), ModelRef(name, version=1), cache_dir=tmp / "cache")
    plane = DataPlane(model, "v", BatchingConfig(), metrics=None)
    columns = validate_body({"records": records}, model.schema, len(records))
    return list(asyncio.run(plane.predict(columns, False)).predictions.tolist()), model


def test_the_default_positive_class_is_the_last_label_and_a_stated_one_is_matched_by_its_text() -> None:
    assert positive_class(["cancer", "normal"], None) == "normal"
    assert positive_class([0, 1], "0") == 0
    assert positive_class([0, 1, 2], None) is None


@pytest.mark.parametrize(("classes", "stated", "says"), [
    (["cancer", "normal"], "malignant", "'malignant' is not a label of the target column"),
    ([0, 1, 2], "1", "needs exactly two classes; the target has 3"),
])
def test_a_wrong_positive_class_names_the_field_and_the_labels(classes: list[Any], stated: str, says: str) -> None:
    with pytest.raises(SpecError) as raised:
        positive_class(classes, stated)
    assert raised.value.field == "objective.positiveClass" and says in str(raised.value)


def test_the_threshold_that_maximises_f1_is_found_below_one_half_for_a_rare_class() -> None:
    rng = np.random.default_rng(0)
    y = np.where(rng.random(2000) < 0.1, "rare", "common")
    # A model that under-rates the rare class: its probabilities sit around 0.3 for true rare rows.
    score = np.clip(np.where(y == "rare", 0.3, 0.1) + rng.normal(0, 0.08, len(y)), 0, 1)
    proba = np.column_stack([1 - score, score])
    decision = choose_threshold(y, proba, ["common", "rare"], "rare", "f1")
    assert 0.15 < decision.threshold < 0.3  # about midway between the two classes' typical scores
    assert decision.score > 0.6 and decision.score_at_default < 0.05  # at 0.5 almost no rare row is found


def test_a_stated_rare_positive_class_gets_its_own_metrics_and_a_tuned_threshold_the_server_uses(
        rare_cancer: tuple[str, Any], store_dir: Path, tmp_path: Path) -> None:
    uri, data = rare_cancer
    result = run(spec("classification", uri, "rare", estimator={"algorithm": "logistic_regression"},
                      objective={"metric": "f1", "positiveClass": "cancer"}), store_dir)
    assert result["positiveClass"] == "cancer"
    decision = result["search"]["decisionThreshold"]
    assert decision["positiveClass"] == "cancer" and decision["metric"] == "f1"
    assert decision["outOfFoldScore"] >= decision["outOfFoldScoreAtDefault"]
    assert result["metrics"]["f1"] >= 0.75  # of the rare class: the common one's F1 would be about 0.98
    records = data.drop(columns=["target"]).to_dict("records")
    predictions, model = served(store_dir, "rare", records, tmp_path)
    proba = model.estimator.predict_proba(data.drop(columns=["target"]))
    cancer = list(model.estimator.classes_).index("cancer")
    expected = np.where(proba[:, cancer] >= decision["threshold"], "cancer", "normal")
    assert predictions == expected.tolist()  # the served predictions use the tuned threshold, not 0.5


def test_without_a_stated_class_the_last_label_is_positive_and_no_threshold_for_accuracy(
        rare_cancer: tuple[str, Any], store_dir: Path) -> None:
    uri, _ = rare_cancer
    result = run(spec("classification", uri, "plain", estimator={"algorithm": "logistic_regression"}), store_dir)
    assert result["positiveClass"] == "normal" and "decisionThreshold" not in result["search"]
    assert result["metrics"]["f1"] >= 0.95  # F1 of the common class


def test_automl_tunes_the_threshold_on_its_own_out_of_fold_probabilities(rare_cancer: tuple[str, Any],
                                                                         store_dir: Path) -> None:
    uri, _ = rare_cancer
    result = run(spec("classification", uri, "auto", automl={"timeBudget": "8s", "ensemble": "none",
                                                             "algorithms": ["logistic_regression", "random_forest"]},
                      objective={"metric": "f1", "positiveClass": "cancer"}), store_dir)
    decision = result["search"]["decisionThreshold"]
    assert decision["positiveClass"] == "cancer" and 0.0 < decision["threshold"] < 1.0
    assert result["metrics"]["f1"] >= 0.7
