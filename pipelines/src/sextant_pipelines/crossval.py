"""Cross-validated evaluation of one candidate (algorithm + params), fold by fold, with a hook for early stopping."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from sextant_contracts.manifest import FeatureSpec
from sextant_pipelines import metrics
from sextant_pipelines.catalogue import build_estimator
from sextant_pipelines.preprocess import build_model
from sextant_pipelines.spec import PreprocessingSpec


@dataclass
class Problem:
    """Everything a candidate needs to be fitted and scored on the training rows."""

    task: str
    schema: list[FeatureSpec]
    preprocessing: PreprocessingSpec
    X: pd.DataFrame
    y: pd.Series | None
    metric: str
    seed: int
    folds: int
    contamination: float = 0.1
    positive: Any = None  # the positive class of two (objective.positiveClass), for f1/precision/recall

    def splits(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.task == "classification":
            splitter: Any = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
            return list(splitter.split(self.X, self.y))
        return list(KFold(self.folds, shuffle=True, random_state=self.seed).split(self.X))

    def model(self, algorithm: str, params: dict[str, Any]) -> Any:
        return build_model(self.schema, self.preprocessing, build_estimator(self.task, algorithm, params, self.seed),
                           self.task, len(self.X))


@dataclass
class TrialResult:
    number: int
    algorithm: str
    params: dict[str, Any]
    state: str = "complete"
    score: float = float("-inf")
    fold_scores: list[float] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    oof: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        return {"number": self.number, "algorithm": self.algorithm, "params": self.params, "state": self.state,
                "score": None if self.state != "complete" else self.score, "folds": len(self.fold_scores),
                "seconds": round(self.seconds, 3), **({"error": self.error} if self.error else {})}


ShouldStop = Callable[[int, float], bool]
FoldGate = Callable[[float], bool]  # given the expected seconds of the next fold: may it start?


def _fold_score(problem: Problem, model: Any, X: pd.DataFrame, y: Any) -> tuple[float, np.ndarray | None]:
    if problem.task == "classification":
        predicted = model.predict(X)
        proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
        values = metrics.classification_scores(y, predicted, proba, list(model.classes_), problem.positive)
        return metrics.signed(problem.task, problem.metric, values), proba if proba is not None else None
    if problem.task == "regression":
        predicted = model.predict(X)
        return metrics.signed(problem.task, problem.metric, metrics.regression_scores(y, predicted)), predicted
    values = metrics.unsupervised_values(problem.task, model, X, y, problem.contamination)
    return metrics.signed(problem.task, problem.metric, values), None


def cross_validate(problem: Problem, number: int, algorithm: str, params: dict[str, Any],
                   should_stop: ShouldStop | None = None, keep_oof: bool = False,
                   fold_gate: FoldGate | None = None, first_fold_s: float = 0.0) -> TrialResult:
    """Fit and score the candidate on each fold; stop early when should_stop(fold, running_mean) says so, and
    before a fold that fold_gate refuses (its expected seconds: first_fold_s, then the mean of the folds run).

    Never raises for a failing fit: the trial is returned with state 'failed' and the error text; a trial the
    gate stopped is 'pruned' with the reason in its error text.
    """
    result = TrialResult(number, algorithm, dict(params))
    started = time.perf_counter()
    oof: np.ndarray | None = None
    try:
        template = problem.model(algorithm, params)
        for fold, (train_idx, valid_idx) in enumerate(problem.splits()):
            expected = (time.perf_counter() - started) / fold if fold else first_fold_s
            if fold_gate is not None and not fold_gate(expected):
                result.state, result.error = "pruned", f"stopped before fold {fold + 1}: the time budget is spent"
                result.score = float(np.mean(result.fold_scores)) if result.fold_scores else float("-inf")
                break
            model = clone(template)
            y_train = problem.y.iloc[train_idx] if problem.y is not None else None
            y_valid = problem.y.iloc[valid_idx] if problem.y is not None else None
            # One BLAS/OpenMP thread per trial: parallelism comes from parallel trials, and OpenMP spinning
            # on a shared machine made small fits 10-50x slower.
            with warnings.catch_warnings(), threadpool_limits(limits=1):
                warnings.simplefilter("ignore")
                model.fit(problem.X.iloc[train_idx], y_train)
                score, out = _fold_score(problem, model, problem.X.iloc[valid_idx], y_valid)
            result.fold_scores.append(score)
            if keep_oof and out is not None:
                if oof is None:
                    oof = np.zeros((len(problem.X),) + out.shape[1:])
                oof[valid_idx] = out
            running = float(np.mean(result.fold_scores))
            if should_stop is not None and fold < problem.folds - 1 and should_stop(fold, running):
                result.state, result.score = "pruned", running
                break
        else:
            result.score = float(np.mean(result.fold_scores))
            if not np.isfinite(result.score):
                result.state, result.error = "failed", "score is not finite"
    except Exception as exc:  # noqa: BLE001 - a bad candidate must not end the search
        result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
    result.seconds = time.perf_counter() - started
    result.oof = oof if result.state == "complete" else None
    return result
