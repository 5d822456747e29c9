"""The positive class of a binary classification and the decision threshold an F1-type objective is tuned for.

A classifier predicts the positive class when its probability reaches 0.5; with imbalanced classes that cut-off
rarely gives the best F1. The threshold is chosen on out-of-fold probabilities (the search's own, or a
cross-validation of the final configuration) and baked into the model with scikit-learn's
`FixedThresholdClassifier`, so `predict` everywhere — holdout, batch scoring, the model server — uses it, while
`predict_proba` is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.base import BaseEstimator
from sklearn.model_selection import FixedThresholdClassifier

from sextant_pipelines.errors import SpecError

#: Objectives whose value depends on where the positive class starts: the threshold is tuned for them.
F1_OBJECTIVES = frozenset({"f1", "f1_macro", "f1_weighted"})
#: Candidate thresholds: this many quantiles of the out-of-fold probabilities (and 0.5 itself).
CANDIDATES = 99


def positive_class(classes: Sequence[Any], stated: str | None, where: str = "objective.positiveClass") -> Any:
    """The label f1, precision, recall and average precision are of: the stated one (matched by its text, as
    the label is written in the data), else the last of the two sorted labels; None for more than two classes.
    Raises SpecError for a stated label that is not one of exactly two classes."""
    if stated is None:
        return classes[-1] if len(classes) == 2 else None
    labels = ", ".join(repr(str(c)) for c in classes[:20])
    if len(classes) != 2:
        raise SpecError(where, f"a positive class needs exactly two classes; the target has {len(classes)} "
                               f"({labels}).", "remove objective.positiveClass (more classes are macro-averaged).")
    matches = [c for c in classes if str(c) == stated]
    if not matches:
        raise SpecError(where, f"{stated!r} is not a label of the target column; its labels are {labels}.",
                        "set it to one of them, written as in the data.")
    return matches[0]


@dataclass(frozen=True)
class DecisionThreshold:
    """Where the model starts predicting the positive class, and what it gained out of fold."""

    positive: Any
    threshold: float
    metric: str
    score: float  # the objective out of fold at the threshold
    score_at_default: float  # ... and at 0.5

    def to_dict(self) -> dict[str, Any]:
        return {"positiveClass": str(self.positive), "threshold": round(self.threshold, 6), "metric": self.metric,
                "outOfFoldScore": round(self.score, 6), "outOfFoldScoreAtDefault": round(self.score_at_default, 6),
                "chosenOn": "out-of-fold probabilities on the training rows"}


def _f1(metric: str, y: np.ndarray, predicted: np.ndarray, positive: Any) -> float:
    if metric == "f1":
        return float(skm.f1_score(y, predicted, pos_label=positive, zero_division=0.0))
    return float(skm.f1_score(y, predicted, average=metric.removeprefix("f1_"), zero_division=0.0))


def choose_threshold(y: Any, proba: np.ndarray, classes: Sequence[Any], positive: Any,
                     metric: str) -> DecisionThreshold:
    """The threshold on the positive class's probability that maximises `metric` over the given rows (ties go
    to the candidate nearest 0.5, the classifier's own cut-off)."""
    truth = np.asarray(y)
    negative = next(c for c in classes if c != positive)
    scores = proba[:, list(classes).index(positive)]
    candidates = np.unique(np.append(np.quantile(scores, np.linspace(0.01, 0.99, CANDIDATES)), 0.5))

    def value(threshold: float) -> float:
        return _f1(metric, truth, np.where(scores >= threshold, positive, negative), positive)

    ranked = sorted(((value(t), -abs(t - 0.5), float(t)) for t in candidates), reverse=True)
    best, _, threshold = ranked[0]
    return DecisionThreshold(positive, threshold, metric, best, value(0.5))


def with_threshold(estimator: BaseEstimator, decision: DecisionThreshold) -> BaseEstimator:
    """The estimator that predicts the positive class from `decision.threshold` on (fitted with it)."""
    return FixedThresholdClassifier(estimator, threshold=decision.threshold, pos_label=decision.positive,
                                    response_method="predict_proba")
