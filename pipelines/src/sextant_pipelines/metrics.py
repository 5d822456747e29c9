"""Metric definitions per task: holdout computation, scorer for cross-validation, and which way is better."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from sextant_pipelines.errors import SpecError

Scorer = Callable[[Any, Any, Any], float]


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    maximize: bool


METRICS: dict[str, list[Metric]] = {
    "classification": [Metric("accuracy", "classification", True), Metric("f1", "classification", True),
                       Metric("roc_auc", "classification", True), Metric("log_loss", "classification", False),
                       Metric("balanced_accuracy", "classification", True)],
    "regression": [Metric("rmse", "regression", False), Metric("mae", "regression", False),
                   Metric("r2", "regression", True), Metric("mape", "regression", False)],
    "clustering": [Metric("silhouette", "clustering", True), Metric("davies_bouldin", "clustering", False),
                   Metric("adjusted_rand", "clustering", True)],
    "anomalyDetection": [Metric("anomaly_f1", "anomalyDetection", True),
                         Metric("anomaly_roc_auc", "anomalyDetection", True),
                         Metric("flagged_fraction_error", "anomalyDetection", False)],
}
DEFAULT_OBJECTIVE = {"classification": "roc_auc", "regression": "r2", "clustering": "silhouette",
                     "anomalyDetection": "anomaly_f1"}


def metric_for(task: str, name: str, where: str) -> Metric:
    """Look up a metric of a task; raises SpecError listing the task's metrics."""
    for metric in METRICS[task]:
        if metric.name == name:
            return metric
    names = ", ".join(m.name for m in METRICS[task])
    raise SpecError(where, f"{name!r} is not a {task} metric.", f"use one of {names}.")


def _proba(model: Any, X: Any) -> np.ndarray | None:
    return model.predict_proba(X) if hasattr(model, "predict_proba") else None


def classification_scores(y: Any, predicted: Any, proba: np.ndarray | None, classes: list[Any]) -> dict[str, float]:
    """Accuracy, balanced accuracy, F1 (binary for two classes, else macro), and with probabilities ROC AUC and
    log loss."""
    binary = len(classes) == 2
    out = {"accuracy": skm.accuracy_score(y, predicted),
           "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
           "f1": (skm.f1_score(y, predicted, pos_label=classes[-1], zero_division=0.0) if binary
                  else skm.f1_score(y, predicted, average="macro", labels=classes, zero_division=0.0))}
    if proba is not None:
        clipped = np.clip(proba, 1e-15, 1.0)
        out["log_loss"] = skm.log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=classes)
        if len(set(np.asarray(y).tolist())) == len(classes):
            out["roc_auc"] = (skm.roc_auc_score(y, proba[:, 1]) if binary
                              else skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes))
    return {k: float(v) for k, v in out.items()}


def classification_metrics(model: Any, X: Any, y: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """Holdout classification metrics, plus the confusion matrix (as extras, not a float metric)."""
    predicted = model.predict(X)
    classes = list(model.classes_)
    out = classification_scores(y, predicted, _proba(model, X), classes)
    matrix = skm.confusion_matrix(y, predicted, labels=classes)
    extras = {"confusionMatrix": {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}}
    return out, extras


def regression_scores(y: Any, predicted: Any) -> dict[str, float]:
    return {"rmse": float(skm.root_mean_squared_error(y, predicted)),
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "r2": float(skm.r2_score(y, predicted)),
            "mape": float(skm.mean_absolute_percentage_error(y, predicted))}


def regression_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    return regression_scores(y, model.predict(X))


def clustering_metrics(model: Any, X: Any, y: Any | None) -> dict[str, float]:
    """Silhouette and Davies-Bouldin in the model's preprocessed feature space; ARI when labels exist."""
    labels = model.predict(X)
    space = model[:-1].transform(X) if hasattr(model, "steps") else X
    out: dict[str, float] = {}
    if 1 < len(set(labels.tolist())) < len(labels):
        out["silhouette"] = float(skm.silhouette_score(space, labels))
        out["davies_bouldin"] = float(skm.davies_bouldin_score(space, labels))
    else:
        out["silhouette"] = -1.0
    if y is not None:
        out["adjusted_rand"] = float(skm.adjusted_rand_score(y, labels))
    return out


def anomaly_metrics(model: Any, X: Any, y: Any | None, contamination: float) -> dict[str, float]:
    """Contamination-aware scores: the model flags its top `contamination` share of points as anomalies.

    With labels (1 = anomaly): F1 of the flagged set and ROC AUC of the anomaly score. Always: the gap
    between the flagged share and the expected contamination (0 is ideal).
    """
    scores = -model.score_samples(X)
    threshold = np.quantile(scores, 1.0 - contamination)
    flagged = scores >= threshold
    out = {"flagged_fraction_error": float(abs(float(np.mean(model.predict(X) == -1)) - contamination))}
    if y is not None:
        truth = np.asarray(y).astype(int) == 1
        out["anomaly_f1"] = float(skm.f1_score(truth, flagged, zero_division=0.0))
        if 0 < truth.sum() < len(truth):
            out["anomaly_roc_auc"] = float(skm.roc_auc_score(truth, scores))
    return out


def signed(task: str, metric: str, values: dict[str, float]) -> float:
    """The named metric oriented so that larger is better; raises SpecError when it could not be computed."""
    if metric not in values:
        raise SpecError("objective.metric", f"{metric!r} could not be computed for this model or data.",
                        "pick a metric the model supports (e.g. accuracy when it has no predict_proba).")
    sign = 1.0 if metric_for(task, metric, "objective.metric").maximize else -1.0
    return sign * values[metric]


def unsupervised_values(task: str, model: Any, X: Any, y: Any, contamination: float) -> dict[str, float]:
    if task == "clustering":
        return clustering_metrics(model, X, y)
    return anomaly_metrics(model, X, y, contamination)
