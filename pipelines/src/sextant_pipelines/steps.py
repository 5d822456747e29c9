"""The training steps as plain typed functions; flow.py, the entrypoint and the KFP components all call these."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from threadpoolctl import threadpool_limits

from sextant_contracts.manifest import AcceptanceResult
from sextant_pipelines import accept, automl, catalogue, threshold, tune
from sextant_pipelines.budget import REFIT_MARGIN, RunClock
from sextant_pipelines.crossval import Problem
from sextant_pipelines.errors import DataError, SpecError
from sextant_pipelines.evaluate import Evaluation, evaluate
from sextant_pipelines.ingest import ingest
from sextant_pipelines.metrics import DEFAULT_OBJECTIVE, metric_for
from sextant_pipelines.preprocess import build_model
from sextant_pipelines.profile import Profile, profile
from sextant_pipelines.spec import TrainingSpec

log = logging.getLogger("sextant.pipelines.steps")
SMALL_DATA_ROWS = 20_000
#: Folds of the cross-validation that picks a single estimator's decision threshold (a search has its own).
THRESHOLD_FOLDS = 5


@dataclass
class Prepared:
    """Output of ingest + split + profile: training and holdout rows and what we learnt about them."""

    train_X: pd.DataFrame
    train_y: pd.Series | None
    test_X: pd.DataFrame
    test_y: pd.Series | None
    profile: Profile
    dataset_uri: str
    dataset_sha256: str


    @property
    def trained_on(self) -> TrainedOn:
        return TrainedOn(self.profile, None if self.train_y is None else str(self.train_y.name), self.dataset_uri,
                         self.dataset_sha256)


@dataclass(frozen=True)
class TrainedOn:
    """What a registered model learnt from, for its manifest: the training rows' profile, the target's name and
    the dataset (its sha256 when the run read it as one stream of bytes; a Dask run reads partitions)."""

    profile: Profile
    target: str | None
    dataset_uri: str
    dataset_sha256: str | None


@dataclass
class Fitted:
    """Output of train / tune / automl: the servable model refitted on all training rows, and how it was found."""

    model: Any
    algorithm: str
    params: dict[str, Any]
    mode: str
    search: dict[str, Any] = field(default_factory=dict)
    fit_seconds: float = 0.0
    final_fit: dict[str, Any] = field(default_factory=dict)


def objective_of(spec: TrainingSpec) -> str:
    """The metric that tuning/AutoML optimise and CV reports: spec.objective.metric or the catalogue's default
    for the task (the one docs/api.md states; every default needs no labels beyond what the task requires)."""
    return spec.objective_metric or DEFAULT_OBJECTIVE[spec.task]


def check_plan(spec: TrainingSpec) -> None:
    """Validate everything that does not need data before reading it (fail fast); raises SpecError."""
    if spec.objective_metric:
        metric = metric_for(spec.task, spec.objective_metric, "objective.metric")
        if spec.objective_goal and (spec.objective_goal == "maximize") != metric.maximize:
            raise SpecError("objective.goal", f"{metric.name} is {'maximized' if metric.maximize else 'minimized'}, "
                            f"not {spec.objective_goal}d.", "drop objective.goal or fix it.")
    accept.check_criteria(spec.task, spec.acceptance)
    if spec.estimator:
        catalogue.check_params(spec.task, spec.estimator.algorithm, spec.estimator.params, "estimator.params")
    if spec.tuning:
        catalogue.algorithm_for(spec.task, spec.tuning.algorithm, "tuning.algorithm")
        tune.check_space(spec.task, spec.tuning)
    if spec.automl:
        automl.candidate_algorithms(spec.task, spec.automl)
    if spec.task not in ("classification", "regression") and spec.dataset.target is None and spec.acceptance:
        needs_labels = [c.metric for c in spec.acceptance
                        if metric_for(spec.task, c.metric, "acceptance").needs_target]
        if needs_labels:
            raise SpecError("acceptance", f"{needs_labels[0]} needs labels but dataset.target is not set.",
                            "set dataset.target to the label column or use a label-free metric.")


def _split(spec: TrainingSpec, X: pd.DataFrame, y: pd.Series | None) -> tuple[Any, ...]:
    # The CRD allows stratify for classification and labelled anomaly detection (parse_spec set its default).
    stratify = y if spec.task in ("classification", "anomalyDetection") and spec.split.stratify else None
    try:
        if y is None:
            train_X, test_X = train_test_split(X, test_size=spec.split.test_fraction, random_state=spec.split.seed)
            return train_X, None, test_X, None
        train_X, test_X, train_y, test_y = train_test_split(
            X, y, test_size=spec.split.test_fraction, random_state=spec.split.seed, stratify=stratify)
        return train_X, train_y, test_X, test_y
    except ValueError as exc:
        raise DataError(f"the dataset cannot be split {spec.split.test_fraction:.0%}/rest: {exc}",
                        "add rows, lower split.testFraction, or set split.stratify: false.") from None


def prepare(spec: TrainingSpec) -> Prepared:
    """Steps ingest + profile: read, validate, split; the profile describes the training rows."""
    started = time.perf_counter()
    data = ingest(spec.dataset, spec.task)
    profile(data.features, data.target, spec.task, suspicious=False)  # whole-dataset checks fail before splitting
    train_X, train_y, test_X, test_y = _split(spec, data.features, data.target)
    uri, sha256 = data.uri, data.sha256
    del data  # the split copied the rows: the whole table would otherwise stay in memory through the fit
    prof = profile(train_X, train_y, spec.task)
    log.info("step ingest+profile finished in %.2f s: %d training rows, %d holdout rows, %d features%s",
             time.perf_counter() - started, len(train_X), len(test_X), len(prof.schema),
             f" ({len(prof.warnings)} data-quality warnings)" if prof.warnings else "")
    for warning in prof.warnings:
        log.warning("data quality: %s", warning)
    return Prepared(train_X, train_y, test_X, test_y, prof, uri, sha256)


def contamination_of(spec: TrainingSpec, prepared: Prepared, params: dict[str, Any]) -> float:
    """Expected anomaly share: the label rate when labels exist, else the estimator's contamination, else 0.1."""
    if prepared.train_y is not None and spec.task == "anomalyDetection":
        return float(min(0.5, max(0.001, prepared.train_y.astype(float).mean())))
    value = params.get("contamination", params.get("nu"))
    return float(value) if isinstance(value, (int, float)) else 0.1


def classes_of(prepared: Prepared) -> list[Any]:
    return sorted(prepared.train_y.unique().tolist()) if prepared.train_y is not None else []


def positive_of(spec: TrainingSpec, prepared: Prepared) -> Any:
    """The positive class of a binary classification (objective.positiveClass or the last sorted label)."""
    if spec.task != "classification":
        return None
    return threshold.positive_class(classes_of(prepared), spec.objective_positive)


def problem_for(spec: TrainingSpec, prepared: Prepared, folds: int, params: dict[str, Any]) -> Problem:
    contamination = contamination_of(spec, prepared, params)
    return Problem(spec.task, prepared.profile.schema, spec.preprocessing, prepared.train_X, prepared.train_y,
                   objective_of(spec), spec.split.seed, folds, contamination, positive_of(spec, prepared))


def decision_threshold(spec: TrainingSpec, prepared: Prepared, problem: Problem, estimator: BaseEstimator,
                       oof: np.ndarray | None) -> threshold.DecisionThreshold | None:
    """For a binary classification ranked by an F1-type objective: the threshold that maximises it out of fold
    (`oof`: the search's out-of-fold probabilities of the chosen model; without them, THRESHOLD_FOLDS fits of
    the final configuration)."""
    if problem.positive is None or objective_of(spec) not in threshold.F1_OBJECTIVES or \
            not hasattr(estimator, "predict_proba") or prepared.train_y is None:
        return None
    if oof is None or oof.ndim != 2:
        model = build_model(prepared.profile.schema, spec.preprocessing, clone(estimator), spec.task,
                            len(prepared.train_X))
        folds = StratifiedKFold(max(problem.folds, THRESHOLD_FOLDS), shuffle=True, random_state=spec.split.seed)
        with threadpool_limits(limits=1 if len(prepared.train_X) < SMALL_DATA_ROWS else None):
            oof = cross_val_predict(model, prepared.train_X, prepared.train_y, cv=folds, method="predict_proba")
    decision = threshold.choose_threshold(prepared.train_y, oof, classes_of(prepared), problem.positive,
                                          objective_of(spec))
    log.info("decision threshold %.4f for positive class %r: %s %.4f out of fold (%.4f at 0.5)", decision.threshold,
             decision.positive, decision.metric, decision.score, decision.score_at_default)
    return decision


def task_defaults(task: str, algorithm: str, params: dict[str, Any], contamination: float) -> dict[str, Any]:
    """Anomaly detectors learn the expected contamination unless the spec set it."""
    if task != "anomalyDetection":
        return params
    known = catalogue.algorithm_for(task, algorithm).factory().get_params(deep=False)
    key = "contamination" if "contamination" in known else "nu" if "nu" in known else None
    return {key: contamination, **params} if key else params


def fit(spec: TrainingSpec, prepared: Prepared, searched: tune.SearchOutcome | None = None,
        on_trial: tune.TrialLogger = tune.log_trial, clock: RunClock | None = None) -> Fitted:
    """Steps train / tune / automl, then refit the winner on every training row (`searched`: tuning trials
    already run elsewhere, e.g. by Indexed Job shards; `on_trial`: called after each trial; `clock`: the run's
    deadline for AutoML, started before ingest)."""
    started = time.perf_counter()
    oof: np.ndarray | None = None
    if spec.estimator:
        problem = problem_for(spec, prepared, 2, spec.estimator.params)
        params = task_defaults(spec.task, spec.estimator.algorithm, spec.estimator.params, problem.contamination)
        estimator = catalogue.build_estimator(spec.task, spec.estimator.algorithm, params, spec.split.seed)
        algorithm, search = spec.estimator.algorithm, {}
    elif spec.tuning:
        problem = problem_for(spec, prepared, spec.tuning.cv_folds, spec.tuning.params)
        outcome = searched or tune.run_batches(problem, spec.tuning, on_trial)
        algorithm, params = spec.tuning.algorithm, outcome.best.params
        params = task_defaults(spec.task, algorithm, params, problem.contamination)
        estimator = catalogue.build_estimator(spec.task, algorithm, params, spec.split.seed)
        search = {"trials": outcome.counts(), "bestScore": outcome.best.score, "bestTrial": outcome.best.number,
                  "history": [t.summary() for t in outcome.trials], "strategy": spec.tuning.strategy}
    elif spec.automl:
        problem = problem_for(spec, prepared, spec.automl.cv_folds, {})
        refits = 2 if refits_on_all_rows(spec, prepared) else 1
        result = automl.search(problem, spec.automl, on_trial, clock, refits)
        estimator, algorithm, params = automl.final_estimator(problem, result), result.algorithm(), result.params()
        oof = result.oof
        search = {"trials": result.counts(), "bestScore": result.best.score, "bestTrial": result.best.number,
                  "history": [t.summary() for t in result.trials], "ensemble": result.choice,
                  "ensembleScores": result.ensemble_scores, "stoppedBecause": result.stopped_because,
                  "searchSeconds": round(result.seconds, 3)}
    else:
        raise SpecError("estimator", "none of estimator, tuning or automl is set.", "set exactly one of them.")
    decision = decision_threshold(spec, prepared, problem, estimator, oof)
    if decision is not None:
        estimator = threshold.with_threshold(estimator, decision)
        search = {**search, "decisionThreshold": decision.to_dict()}
    model = build_model(prepared.profile.schema, spec.preprocessing, estimator, spec.task, len(prepared.train_X))
    refit_started = time.perf_counter()
    _fit_quietly(model, prepared.train_X, prepared.train_y)
    log.info("step %s finished in %.2f s: %s %s", spec.mode, time.perf_counter() - started, algorithm, params)
    return Fitted(model, algorithm, params, spec.mode, search, time.perf_counter() - refit_started)


def _fit_quietly(model: Any, X: pd.DataFrame, y: pd.Series | None) -> None:
    # Small data: OpenMP/BLAS threads cost more than they give (and spin on shared nodes).
    with threadpool_limits(limits=1 if len(X) < SMALL_DATA_ROWS else None):
        model.fit(X, y)


def refits_on_all_rows(spec: TrainingSpec, prepared: Prepared) -> bool:
    """AutoML's final model learns from every row it was given: after the holdout is scored, one more fit on
    training + holdout rows (the holdout figures describe the model fitted before it, on the training rows)."""
    return spec.automl is not None and len(prepared.test_X) > 0


def all_rows_refit_seconds(spec: TrainingSpec, prepared: Prepared, fitted: Fitted) -> float:
    """Expected cost of the refit on all rows (the first fit's time, scaled by rows, with a margin); 0 without one."""
    if not refits_on_all_rows(spec, prepared):
        return 0.0
    train_rows, all_rows = len(prepared.train_X), len(prepared.train_X) + len(prepared.test_X)
    return fitted.fit_seconds * all_rows / max(train_rows, 1) * REFIT_MARGIN


def refit_on_all_rows(spec: TrainingSpec, prepared: Prepared, fitted: Fitted, clock: RunClock | None) -> Fitted:
    """The final refit on training + holdout rows when AutoML asks for it and its expected cost (the first fit's
    time, scaled by rows) still fits before the run's deadline (less the tail); otherwise `fitted` unchanged,
    with the reason in `fitted.final_fit`."""
    train_rows, all_rows = len(prepared.train_X), len(prepared.train_X) + len(prepared.test_X)
    fitted.final_fit = {"rows": train_rows, "fittedOn": "training rows"}
    if not refits_on_all_rows(spec, prepared):
        return fitted
    expected = all_rows_refit_seconds(spec, prepared, fitted)
    if clock is not None and clock.remaining() - clock.tail_seconds(evaluated=True) < expected:
        fitted.final_fit["note"] = (f"not refitted on all {all_rows} rows: the refit (about {expected:.1f} s) "
                                    "would overrun automl.timeBudget")
        log.info("final refit on all rows skipped: %s", fitted.final_fit["note"])
        return fitted
    started = time.perf_counter()
    X = pd.concat([prepared.train_X, prepared.test_X])
    y = pd.concat([prepared.train_y, prepared.test_y]) if prepared.train_y is not None else None
    model = clone(fitted.model)
    _fit_quietly(model, X, y)
    log.info("step refit finished in %.2f s: the final model learnt from all %d rows", time.perf_counter() - started,
             all_rows)
    return Fitted(model, fitted.algorithm, fitted.params, fitted.mode, fitted.search, fitted.fit_seconds,
                  {"rows": all_rows, "fittedOn": "all rows (training + holdout)"})


def evaluate_step(spec: TrainingSpec, prepared: Prepared, fitted: Fitted) -> Evaluation:
    """Step evaluate: holdout metrics (+ CV when spec.evaluation.cvFolds >= 2)."""
    started = time.perf_counter()
    params = fitted.params if spec.estimator else {}
    result = evaluate(spec.task, fitted.model, prepared.test_X, prepared.test_y,
                      metric=objective_of(spec),
                      contamination=contamination_of(spec, prepared, params), cv_folds=spec.evaluation_cv_folds,
                      train_X=prepared.train_X, train_y=prepared.train_y, seed=spec.split.seed,
                      positive=positive_of(spec, prepared))
    log.info("step evaluate finished in %.2f s: %s", time.perf_counter() - started,
             ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items())))
    return result


def accept_step(spec: TrainingSpec, evaluation: Evaluation) -> list[AcceptanceResult]:
    """Step accept: judge the holdout metrics against spec.acceptance."""
    results = accept.judge(spec.acceptance, evaluation.metrics)
    failures = accept.describe_failures(results)
    log.info("step accept finished: %s", "accepted" if not failures else "not accepted: " + "; ".join(failures))
    return results
