"""Hand-off between separately executed steps (KFP components, Indexed Job pods): write and read step outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines.evaluate import Evaluation
from sextant_pipelines.profile import Profile
from sextant_pipelines.steps import Fitted, Prepared

TARGET = "__sextant_target__"


def _frame(X: pd.DataFrame, y: pd.Series | None) -> pd.DataFrame:
    return X.assign(**{TARGET: y}) if y is not None else X


def _unframe(frame: pd.DataFrame, name: str | None) -> tuple[pd.DataFrame, pd.Series | None]:
    if TARGET not in frame.columns:
        return frame, None
    return frame.drop(columns=[TARGET]), frame[TARGET].rename(name)


def save_prepared(prepared: Prepared, directory: str) -> None:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    _frame(prepared.train_X, prepared.train_y).to_parquet(root / "train.parquet")
    _frame(prepared.test_X, prepared.test_y).to_parquet(root / "test.parquet")
    meta = {"profile": prepared.profile.to_dict(), "datasetUri": prepared.dataset_uri,
            "datasetSha256": prepared.dataset_sha256,
            "targetName": None if prepared.train_y is None else str(prepared.train_y.name)}
    (root / "prepared.json").write_text(json.dumps(meta, default=str))


def profile_from_dict(doc: dict[str, Any]) -> Profile:
    schema = [FeatureSpec(f["name"], f["type"], f["dtype"], f["nullable"], f.get("categories"))
              for f in doc["featureSchema"]]
    return Profile(schema, doc["missing"], doc["baseline"], doc["target"], doc["warnings"])


def load_prepared(directory: str) -> Prepared:
    root = Path(directory)
    meta = json.loads((root / "prepared.json").read_text())
    train_X, train_y = _unframe(pd.read_parquet(root / "train.parquet"), meta["targetName"])
    test_X, test_y = _unframe(pd.read_parquet(root / "test.parquet"), meta["targetName"])
    return Prepared(train_X, train_y, test_X, test_y, profile_from_dict(meta["profile"]), meta["datasetUri"],
                    meta["datasetSha256"])


def save_fitted(fitted: Fitted, directory: str) -> None:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    joblib.dump(fitted.model, root / "model.joblib")
    doc = {"algorithm": fitted.algorithm, "params": fitted.params, "mode": fitted.mode, "search": fitted.search}
    (root / "fitted.json").write_text(json.dumps(doc, default=str))


def load_fitted(directory: str) -> Fitted:
    root = Path(directory)
    doc = json.loads((root / "fitted.json").read_text())
    return Fitted(joblib.load(root / "model.joblib"), doc["algorithm"], doc["params"], doc["mode"], doc["search"])


def save_evaluation(evaluation: Evaluation, path: str) -> None:
    Path(path).write_text(json.dumps({"metrics": evaluation.metrics, "extras": evaluation.extras, "cv": evaluation.cv}))


def load_evaluation(path: str) -> Evaluation:
    doc = json.loads(Path(path).read_text())
    return Evaluation(doc["metrics"], doc["extras"], doc["cv"])
