"""Small builders shared by the pipeline tests: specs and generated datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer


def spec(task: str, uri: str, name: str, **sections: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"task": task, "dataset": {"uri": uri}, "model": {"name": name}}
    if task in ("classification", "regression"):
        doc["dataset"]["target"] = "target"
    for key, value in sections.items():
        if key in ("target", "format", "features", "exclude"):
            doc["dataset"][key] = value
        else:
            doc[key] = value
    return doc


def anomaly_csv(directory: Path) -> str:
    """Benign tumours as normal rows plus 20 malignant ones as anomalies (label column `is_anomaly`)."""
    frame = load_breast_cancer(as_frame=True).frame
    normal = frame[frame.target == 1]
    anomalies = frame[frame.target == 0].sample(20, random_state=0)
    data = pd.concat([normal, anomalies]).sample(frac=1, random_state=0)
    data["is_anomaly"] = (data.pop("target") == 0).astype(int)
    path = directory / "anomalies.csv"
    data.to_csv(path, index=False)
    return path.as_uri()


def mixed_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Numeric and categorical columns with missing values; the label depends on both kinds."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, rows)
    plan = rng.choice(["basic", "plus", "premium"], rows)
    tenure = rng.integers(1, 60, rows).astype(float)
    logit = 0.08 * (income - 50) + np.select([plan == "basic", plan == "premium"], [-1.5, 1.5], 0) - 0.02 * tenure
    churned = (logit + rng.normal(0, 0.5, rows) > 0).astype(int)
    frame = pd.DataFrame({"customer_id": np.arange(rows), "income": income, "plan": plan, "tenure": tenure,
                          "target": churned})
    frame.loc[rng.random(rows) < 0.1, "income"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "plan"] = None
    return frame
