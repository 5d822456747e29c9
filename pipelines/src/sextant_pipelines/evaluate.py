"""Evaluate: holdout metrics that fit the task, plus cross-validation of the final configuration when asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from sextant_pipelines import metrics


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    extras: dict[str, Any] = field(default_factory=dict)
    cv: dict[str, Any] | None = None


def holdout_metrics(task: str, model: Any, X: pd.DataFrame, y: pd.Series | None,
                    contamination: float, positive: Any = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics on rows the model never saw; for unsupervised tasks y may be None (labels are optional)."""
    if task == "classification":
        return metrics.classification_metrics(model, X, y, positive)
    if task == "regression":
        return metrics.regression_metrics(model, X, y), {}
    return metrics.unsupervised_values(task, model, X, y, contamination), {}


def cv_metric(task: str, metric: str, model: Any, X: pd.DataFrame, y: pd.Series | None, folds: int,
              seed: int, contamination: float, positive: Any = None) -> dict[str, Any]:
    """Cross-validated objective metric of an unfitted copy of the model on the training rows."""
    splitter: Any = (StratifiedKFold(folds, shuffle=True, random_state=seed) if task == "classification"
                     else KFold(folds, shuffle=True, random_state=seed))
    maximize = metrics.metric_for(task, metric, "objective.metric").maximize

    def scorer(estimator: Any, X_: Any, y_: Any) -> float:
        values, _ = holdout_metrics(task, estimator, X_, y_, contamination, positive)
        return values[metric]

    scores = cross_val_score(clone(model), X, y, cv=splitter, scoring=scorer)
    return {"metric": metric, "folds": folds, "mean": float(np.mean(scores)), "std": float(np.std(scores)),
            "scores": [float(s) for s in scores], "goal": "maximize" if maximize else "minimize"}


def evaluate(task: str, model: Any, test_X: pd.DataFrame, test_y: pd.Series | None, *, metric: str,
             contamination: float, cv_folds: int = 0, train_X: pd.DataFrame | None = None,
             train_y: pd.Series | None = None, seed: int = 0, positive: Any = None) -> Evaluation:
    """Step 6: holdout metrics, and cv_folds-fold cross-validation of the same configuration when cv_folds >= 2."""
    values, extras = holdout_metrics(task, model, test_X, test_y, contamination, positive)
    cv = None
    if cv_folds >= 2 and train_X is not None:
        cv = cv_metric(task, metric, model, train_X, train_y, cv_folds, seed, contamination, positive)
    return Evaluation(values, extras, cv)
