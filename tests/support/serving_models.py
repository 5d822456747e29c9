"""Registers small real models (iris, diabetes, a categorical pipeline) in the registry layout, for serving tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from sextant_services.registry_access import artifact_digest

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _baseline(frame: pd.DataFrame) -> dict[str, Any]:
    feats: dict[str, Any] = {}
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            freq = frame[col].value_counts(normalize=True)
            feats[col] = {"type": "categorical", "frequencies": {str(k): float(v) for k, v in freq.items()}}
        else:
            counts, edges = np.histogram(frame[col].to_numpy(dtype=float), bins=10)
            feats[col] = {"type": "numeric", "bins": edges.tolist(), "counts": counts.tolist()}
    return {"features": feats, "rows": len(frame)}


def _schema(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            out.append({"name": col, "type": "categorical", "dtype": "object",
                        "categories": sorted(frame[col].unique().tolist()), "nullable": False})
        else:
            out.append({"name": col, "type": "numeric", "dtype": str(frame[col].dtype), "nullable": False})
    return out


def register(store_root: Path, name: str, version: int, estimator: Any, frame: pd.DataFrame, task: str,
             target: dict[str, Any] | None, aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write models/<name>/<version>/{model/, manifest.json} (manifest last) and aliases."""
    base = store_root / "models" / name
    model_dir = base / str(version) / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, model_dir / "saved_model.pkl")
    (model_dir / "model.yaml").write_text(
        f"name: {name}\nversion: '{version}'\nmodule: bentoml.sklearn\napi_version: v1\n"
        "signatures:\n  predict: {batchable: false}\n")
    manifest = {
        "apiVersion": "ml.sextant.io/registry-v1", "name": name, "version": version, "task": task,
        "algorithm": type(estimator).__name__, "params": {}, "featureSchema": _schema(frame),
        "target": target, "metrics": {}, "baseline": _baseline(frame),
        "artifact": {"path": "model", "format": "bentoml-sklearn", "sha256": artifact_digest(model_dir)},
        "accepted": True, "acceptance": [], "lineage": {},
    }
    (base / str(version) / "manifest.json").write_text(json.dumps(manifest))
    for alias in aliases:
        (base / "aliases").mkdir(exist_ok=True)
        (base / "aliases" / f"{alias}.json").write_text(json.dumps({"version": version}))
    return manifest


def iris_frame() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_iris()
    return pd.DataFrame(data.data, columns=IRIS_FEATURES), data.target


def register_iris(store_root: Path, version: int = 1, aliases: tuple[str, ...] = ("production",)) -> dict[str, Any]:
    x, y = iris_frame()
    model = LogisticRegression(max_iter=500).fit(x, y)
    return register(store_root, "iris", version, model, x, "classification",
                    {"name": "species", "classes": [0, 1, 2]}, aliases)


def register_breast_cancer(store_root: Path, version: int = 1) -> dict[str, Any]:
    data = load_breast_cancer()
    x = pd.DataFrame(data.data, columns=[f"f{i}" for i in range(data.data.shape[1])])
    model = GradientBoostingClassifier(random_state=0).fit(x, data.target)
    return register(store_root, "cancer", version, model, x, "classification",
                    {"name": "malignant", "classes": [0, 1]})


def register_diabetes(store_root: Path, version: int = 1) -> dict[str, Any]:
    data = load_diabetes()
    x = pd.DataFrame(data.data, columns=list(data.feature_names))
    return register(store_root, "diabetes", version, LinearRegression().fit(x, data.target), x, "regression",
                    {"name": "progression"})


def register_categorical(store_root: Path, version: int = 1) -> dict[str, Any]:
    """A pipeline with a one-hot encoded categorical feature (exercises DataFrame input)."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n).astype(object),
                          "size": rng.normal(10, 2, n)})
    y = ((frame["colour"] == "red") | (frame["size"] > 11)).astype(int).to_numpy()
    pipe = Pipeline([("enc", ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["colour"])],
                                               remainder="passthrough")),
                     ("clf", LogisticRegression())]).fit(frame, y)
    return register(store_root, "shapes", version, pipe, frame, "classification",
                    {"name": "label", "classes": [0, 1]})
