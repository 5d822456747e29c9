"""Metric computation per task (holdout and cross-validation); the names and goals are the contracts' catalogue.

Every metric the catalogue offers (and so the API server admits) is computed here; a few more are reported
beside them (adjusted_rand, flagged_fraction_error) but cannot be an objective or an acceptance criterion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from sextant_contracts.catalogue import DEFAULT_METRIC
from sextant_contracts.catalogue import METRICS as CATALOGUE_METRICS
from sextant_pipelines.errors import SpecError

Scorer = Callable[[Any, Any, Any], float]


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    maximize: bool
    needs_target: bool = True


METRICS: dict[str, list[Metric]] = {
    task: [Metric(m.name, task, m.goal == "maximize", m.needs_target) for m in table.values()]
    for task, table in CATALOGUE_METRICS.items()
}
DEFAULT_OBJECTIVE: dict[str, str] = {str(task): metric for task, metric in DEFAULT_METRIC.items()}


def metric_for(task: str, name: str, where: str) -> Metric:
    """Look up a metric of a task; raises SpecError listing the task's metrics."""
    for metric in METRICS[task]:
        if metric.name == name:
            return metric
    names = ", ".join(m.name for m in METRICS[task])
    raise SpecError(where, f"{name!r} is not a {task} metric.", f"use one of {names}.")


def _proba(model: Any, X: Any) -> np.ndarray | None:
    return model.predict_proba(X) if hasattr(model, "predict_proba") else None


def positive_label(classes: list[Any], positive: Any = None) -> Any:
    """The positive class of two: the stated one (objective.positiveClass), else the last sorted label."""
    return positive if positive is not None else classes[-1]


def classification_scores(y: Any, predicted: Any, proba: np.ndarray | None, classes: list[Any],
                          positive: Any = None, only: str | None = None) -> dict[str, float]:
    """Accuracy, balanced accuracy, F1 (binary for two classes, else macro), and with probabilities ROC AUC and
    log loss. `positive`: the positive class of two (objective.positiveClass); the last sorted label if None.
    `only`: compute just that metric (an ensemble's selection scores hundreds of candidate blends)."""
    binary = len(classes) == 2
    positive = positive_label(classes, positive if binary else None)
    # f1, precision and recall: of the positive class for two classes, else macro-averaged.
    averaging: dict[str, Any] = ({"pos_label": positive} if binary else {"average": "macro", "labels": classes})
    table: dict[str, Callable[[], Any]] = {
        "accuracy": lambda: skm.accuracy_score(y, predicted),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, predicted),
        "f1": lambda: skm.f1_score(y, predicted, zero_division=0.0, **averaging),
        "f1_macro": lambda: skm.f1_score(y, predicted, average="macro", labels=classes, zero_division=0.0),
        "f1_weighted": lambda: skm.f1_score(y, predicted, average="weighted", labels=classes, zero_division=0.0),
        "precision": lambda: skm.precision_score(y, predicted, zero_division=0.0, **averaging),
        "recall": lambda: skm.recall_score(y, predicted, zero_division=0.0, **averaging)}
    if proba is not None:
        table["log_loss"] = lambda: _log_loss(y, proba, classes)
        if len(set(np.asarray(y).tolist())) == len(classes):
            if binary:
                truth, scores = np.asarray(y) == positive, proba[:, classes.index(positive)]
                table["roc_auc"] = lambda: skm.roc_auc_score(truth, scores)
                table["average_precision"] = lambda: skm.average_precision_score(truth, scores)
            else:
                table["roc_auc"] = lambda: skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
                table["average_precision"] = lambda: skm.average_precision_score(
                    label_binarize(y, classes=classes), proba, average="macro")
    return {name: float(compute()) for name, compute in table.items() if only in (None, name)}


def _log_loss(y: Any, proba: np.ndarray, classes: list[Any]) -> float:
    clipped = np.clip(proba, 1e-15, 1.0)
    return float(skm.log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=classes))


def classification_metrics(model: Any, X: Any, y: Any, positive: Any = None) -> tuple[dict[str, float],
                                                                                      dict[str, Any]]:
    """Holdout classification metrics, plus the confusion matrix and the positive class (as extras)."""
    return classification_outcome(y, model.predict(X), _proba(model, X), list(model.classes_), positive)


def classification_outcome(y: Any, predicted: Any, proba: np.ndarray | None, classes: list[Any],
                           positive: Any = None) -> tuple[dict[str, float], dict[str, Any]]:
    """classification_metrics from predictions already made (a Dask run scores its holdout on the workers)."""
    out = classification_scores(y, predicted, proba, classes, positive)
    matrix = skm.confusion_matrix(y, predicted, labels=classes)
    extras: dict[str, Any] = {"confusionMatrix": {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}}
    if len(classes) == 2:
        extras["positiveClass"] = str(positive_label(classes, positive))
    return out, extras


def regression_scores(y: Any, predicted: Any, only: str | None = None) -> dict[str, float]:
    """RMSE, MSE, MAE, median absolute error, R2, explained variance and MAPE (`only`: just that one)."""
    table: dict[str, Callable[[], Any]] = {
        "rmse": lambda: skm.root_mean_squared_error(y, predicted),
        "mse": lambda: skm.mean_squared_error(y, predicted),
        "mae": lambda: skm.mean_absolute_error(y, predicted),
        "median_absolute_error": lambda: skm.median_absolute_error(y, predicted),
        "r2": lambda: skm.r2_score(y, predicted),
        "explained_variance": lambda: skm.explained_variance_score(y, predicted),
        "mape": lambda: skm.mean_absolute_percentage_error(y, predicted)}
    return {name: float(compute()) for name, compute in table.items() if only in (None, name)}


def regression_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    return regression_scores(y, model.predict(X))


def clustering_metrics(model: Any, X: Any, y: Any | None) -> dict[str, float]:
    """Silhouette, Calinski-Harabasz and Davies-Bouldin in the preprocessed feature space; ARI with labels."""
    labels = model.predict(X)
    space = model[:-1].transform(X) if hasattr(model, "steps") else X
    out: dict[str, float] = {}
    if 1 < len(set(labels.tolist())) < len(labels):
        out["silhouette"] = float(skm.silhouette_score(space, labels))
        out["davies_bouldin"] = float(skm.davies_bouldin_score(space, labels))
        out["calinski_harabasz"] = float(skm.calinski_harabasz_score(space, labels))
    else:
        out["silhouette"] = -1.0
    if y is not None:
        out["adjusted_rand"] = float(skm.adjusted_rand_score(y, labels))
    return out


def anomaly_metrics(model: Any, X: Any, y: Any | None, contamination: float) -> dict[str, float]:
    """Contamination-aware scores: the model flags its top `contamination` share of points as anomalies.

    Always: the share of rows the model flags (anomaly_fraction) and its gap to the expected contamination
    (flagged_fraction_error, 0 is ideal). With labels (1 = anomaly): F1, precision and recall of the flagged
    set, ROC AUC and average precision of the anomaly score.
    """
    scores = -model.score_samples(X)
    threshold = np.quantile(scores, 1.0 - contamination)
    flagged = scores >= threshold
    fraction = float(np.mean(model.predict(X) == -1))
    out = {"anomaly_fraction": fraction, "flagged_fraction_error": float(abs(fraction - contamination))}
    if y is not None:
        truth = np.asarray(y).astype(int) == 1
        out["f1"] = float(skm.f1_score(truth, flagged, zero_division=0.0))
        out["precision"] = float(skm.precision_score(truth, flagged, zero_division=0.0))
        out["recall"] = float(skm.recall_score(truth, flagged, zero_division=0.0))
        if 0 < truth.sum() < len(truth):
            out["roc_auc"] = float(skm.roc_auc_score(truth, scores))
            out["average_precision"] = float(skm.average_precision_score(truth, scores))
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
