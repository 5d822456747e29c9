"""Registers small real models (iris, diabetes, a categorical pipeline) in the registry layout, for serving tests."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
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

from sextant_contracts import registry
from sextant_contracts.manifest import API_VERSION, Manifest, manifest_from_dict
from sextant_contracts.storage import open_store

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


def register(store_root: Path, name: str, estimator: Any, frame: pd.DataFrame, task: str,
             target: dict[str, Any] | None, aliases: tuple[str, ...] = ()) -> Manifest:
    """Register through the shared registry contract: claim a version, upload model.yaml + saved_model.pkl
    (BentoML's sklearn layout), write the manifest last, then move the aliases."""
    store = open_store(store_root.as_uri())
    version = registry.allocate_version(store, name, owner="tests")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp)
        joblib.dump(estimator, model_dir / "saved_model.pkl")
        (model_dir / "model.yaml").write_text(
            f"name: {name}\nversion: v{version}\nmodule: bentoml.sklearn\napi_version: v1\n"
            "signatures:\n  predict: {batchable: true}\n")

        def manifest_for(sha: str) -> Manifest:
            return manifest_from_dict({
                "apiVersion": API_VERSION, "name": name, "version": version, "task": task,
                "algorithm": type(estimator).__name__, "params": {}, "featureSchema": _schema(frame),
                "target": target, "metrics": {}, "baseline": _baseline(frame),
                "artifact": {"path": "model", "format": "bentoml-sklearn", "sha256": sha},
                "accepted": True, "acceptance": [], "lineage": {"runId": "tests"},
            })

        manifest = registry.publish_version(store, name, version, model_dir, manifest_for)
    for alias in aliases:
        registry.set_alias(store, name, alias, version)
    return manifest


def iris_frame() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_iris()
    return pd.DataFrame(data.data, columns=IRIS_FEATURES), data.target


def register_iris(store_root: Path, aliases: tuple[str, ...] = ("production",)) -> Manifest:
    x, y = iris_frame()
    model = LogisticRegression(max_iter=500).fit(x, y)
    return register(store_root, "iris", model, x, "classification",
                    {"name": "species", "classes": [0, 1, 2]}, aliases)


def register_iris_wrapped(store_root: Path, wrap: Callable[[Any], Any],
                          aliases: tuple[str, ...] = ("production",)) -> Manifest:
    """Iris with the fitted classifier wrapped (tests.support.observable_estimators): slow, counting or broken."""
    x, y = iris_frame()
    model = wrap(LogisticRegression(max_iter=500).fit(x, y))
    return register(store_root, "iris", model, x, "classification",
                    {"name": "species", "classes": [0, 1, 2]}, aliases)


def breast_cancer_request() -> dict[str, Any]:
    """A /predict body with the first breast-cancer row as a record, named as sextant-train's models expect."""
    frame = load_breast_cancer(as_frame=True).frame
    return {"records": [frame.drop(columns=["target"]).iloc[0].to_dict()]}


def register_breast_cancer(store_root: Path) -> Manifest:
    data = load_breast_cancer()
    x = pd.DataFrame(data.data, columns=[f"f{i}" for i in range(data.data.shape[1])])
    model = GradientBoostingClassifier(random_state=0).fit(x, data.target)
    return register(store_root, "cancer", model, x, "classification",
                    {"name": "malignant", "classes": [0, 1]})


def register_diabetes(store_root: Path) -> Manifest:
    data = load_diabetes()
    x = pd.DataFrame(data.data, columns=list(data.feature_names))
    return register(store_root, "diabetes", LinearRegression().fit(x, data.target), x, "regression",
                    {"name": "progression"})


def register_categorical(store_root: Path) -> Manifest:
    """A pipeline with a one-hot encoded categorical feature (exercises DataFrame input)."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n).astype(object),
                          "size": rng.normal(10, 2, n)})
    y = ((frame["colour"] == "red") | (frame["size"] > 11)).astype(int).to_numpy()
    pipe = Pipeline([("enc", ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["colour"])],
                                               remainder="passthrough")),
                     ("clf", LogisticRegression())]).fit(frame, y)
    return register(store_root, "shapes", pipe, frame, "classification",
                    {"name": "label", "classes": [0, 1]})
