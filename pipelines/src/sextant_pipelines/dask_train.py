"""Train and evaluate on Dask: hold partitions out, train XGBoost (streamed, dask_xgboost.py) or lightgbm.dask
(in the workers' memory) across the workers, and score the model that will be served on the held-out partitions.

The process that calls these holds no rows: the workers read and encode the training partitions, the boosting
libraries train across the workers, and the holdout comes back as one row of predictions per held-out row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from sextant_pipelines import dask_model, dask_xgboost, metrics, steps, threshold
from sextant_pipelines.dask_ingest import LazyDataset
from sextant_pipelines.errors import DataError
from sextant_pipelines.evaluate import Evaluation
from sextant_pipelines.profile import Profile
from sextant_pipelines.spec import TrainingSpec

log = logging.getLogger("sextant.pipelines.dask")

#: With at least this many partitions whole partitions are held out (no worker reads a held-out partition while
#: training); with fewer, rows are held out within each partition at random (seeded).
MIN_PARTITIONS_TO_HOLD_OUT = 5
LABEL = "__label__"


@dataclass(frozen=True)
class Holdout:
    train: dd.DataFrame
    test: dd.DataFrame
    description: dict[str, Any]


def hold_out(frame: dd.DataFrame, fraction: float, seed: int) -> Holdout:
    """The evaluation rows: `fraction` of the partitions (at least one, never all), chosen by the seed."""
    count = frame.npartitions
    if count >= MIN_PARTITIONS_TO_HOLD_OUT:
        held = min(count - 1, max(1, round(count * fraction)))
        chosen = set(np.random.default_rng(seed).choice(count, size=held, replace=False).tolist())
        kept = [i for i in range(count) if i not in chosen]
        return Holdout(frame.partitions[kept], frame.partitions[sorted(chosen)],
                       {"by": "partitions", "heldOut": held, "partitions": count, "seed": seed})
    train, test = frame.random_split(  # type: ignore[no-untyped-call]
        [1 - fraction, fraction], random_state=seed)
    return Holdout(train, test, {"by": "rows", "fraction": fraction, "partitions": count, "seed": seed})


def label_codes(classes: list[Any]) -> dict[Any, int]:
    """Each label's index among the sorted classes (what the Dask classifiers learn; LabelCodedClassifier maps
    predictions back)."""
    return {label: code for code, label in enumerate(classes)}


def design_with_label(part: pd.DataFrame, transformer: ColumnTransformer, features: list[str], target: str,
                      codes: dict[Any, int] | None) -> pd.DataFrame:
    """One partition's design matrix and its label (a class code, or the regression target as float32)."""
    out = dask_model.design_partition(part[features], transformer)
    labels = part[target].map(codes) if codes is not None else part[target]
    out[LABEL] = labels.to_numpy(dtype=np.float32)
    return out


def score_partition(part: pd.DataFrame, model: Any, features: list[str], target: str, task: str,
                    classes: int) -> pd.DataFrame:
    """The served model's answers for one held-out partition: class probabilities, or the prediction."""
    scored = pd.DataFrame({"truth": part[target].to_numpy()}, index=part.index)
    if task == "classification":
        proba = model.predict_proba(part[features]) if len(part) else np.empty((0, classes))
        for i in range(classes):
            scored[f"p{i}"] = proba[:, i]
    else:
        scored["prediction"] = model.predict(part[features]) if len(part) else np.empty(0)
    return scored


@dataclass(frozen=True)
class Design:
    """How a run turns raw partitions into the design matrix, and back into the user's labels."""

    columns: dask_model.Columns
    transformer: ColumnTransformer
    features: list[str]
    target: str
    classes: list[Any]  # sorted; empty for regression

    @property
    def codes(self) -> dict[Any, int] | None:
        return label_codes(self.classes) if self.classes else None

    def matrix(self, frame: dd.DataFrame) -> dd.DataFrame:
        """The lazy design matrix with its label column, partition by partition."""
        meta = design_with_label(frame._meta_nonempty, self.transformer, self.features, self.target,
                                 self.codes).iloc[:0]
        matrix: dd.DataFrame = frame.map_partitions(  # type: ignore[no-untyped-call]
            design_with_label, self.transformer, self.features, self.target, self.codes, meta=meta)
        return matrix


def design_for(spec: TrainingSpec, data: LazyDataset, prof: Profile) -> Design:
    assert data.target is not None  # the trainer checked the plan
    columns = dask_model.columns_of(prof.schema, prof.baseline)
    classes = list(prof.target["classes"]) if spec.task == "classification" and prof.target else []
    # Nothing in the preprocessor learns from rows: Dask's made-up sample rows (no read) have the right columns.
    sample = data.frame._meta_nonempty[data.features]
    return Design(columns, dask_model.fitted_preprocessor(columns, sample), data.features, data.target, classes)


def fit_model(client: Any, task: str, algorithm: str, arguments: dict[str, Any], design: Design,
              frame: dd.DataFrame) -> Any:
    """Train on `frame`'s partitions across the workers; returns the servable model (raw records in)."""
    matrix = design.matrix(frame)
    names = design.columns.names
    if algorithm == "xgboost":
        native, rounds = dask_xgboost.native_params(task, arguments, len(design.classes))
        booster = dask_xgboost.train(client, matrix, names, LABEL, design.columns.feature_types, native, rounds)
        local = dask_model.local_xgboost(task, arguments, booster)
    else:
        X, y = client.persist([matrix[names], matrix[LABEL]])  # one read of the source for both
        estimator = dask_model.lightgbm_estimator(task, arguments)
        estimator.fit(X, y, **dask_model.fit_arguments(algorithm, design.columns))
        local = estimator.to_local()
        client.cancel([X, y])  # free the workers' memory
    return dask_model.served_model(design.transformer, local, task, design.classes)


def scores(spec: TrainingSpec, design: Design, model: Any, frame: dd.DataFrame) -> tuple[dict[str, float],
                                                                                         dict[str, Any], int]:
    """Metrics of the served model on `frame`'s rows, scored on the workers (only predictions come back)."""
    width = len(design.classes)
    meta = score_partition(frame._meta_nonempty.iloc[:0], model, design.features, design.target, spec.task, width)
    scored = frame.map_partitions(  # type: ignore[no-untyped-call]
        score_partition, model, design.features, design.target, spec.task, width, meta=meta).compute()
    if len(scored) == 0:
        raise DataError("no rows were held out for evaluation.", "raise split.testFraction or add rows.")
    truth = scored["truth"].to_numpy()
    if spec.task != "classification":
        return metrics.regression_scores(truth, scored["prediction"].to_numpy()), {}, len(scored)
    proba = scored[[f"p{i}" for i in range(width)]].to_numpy()
    predicted = np.asarray(design.classes)[np.argmax(proba, axis=1)]
    positive = threshold.positive_class(design.classes, spec.objective_positive)
    values, extras = metrics.classification_outcome(truth, predicted, proba, design.classes, positive)
    return values, extras, len(scored)


@dataclass(frozen=True)
class Trained:
    model: Any
    fitted: steps.Fitted
    holdout: Holdout
    design: Design


def train(client: Any, spec: TrainingSpec, data: LazyDataset, prof: Profile, threads: int) -> Trained:
    """Fit the spec's estimator (or the best of the spec's tuning trials) across the workers."""
    started = time.perf_counter()
    design = design_for(spec, data, prof)
    holdout = hold_out(data.frame, spec.split.test_fraction, spec.split.seed)
    search: dict[str, Any] = {}
    if spec.tuning is not None:
        from sextant_pipelines import dask_tune  # builds on this module

        algorithm, params, search = dask_tune.search(client, spec, design, holdout.train, threads)
    else:
        assert spec.estimator is not None
        algorithm, params = spec.estimator.algorithm, spec.estimator.params
    arguments = dask_model.estimator_params(spec.task, algorithm, params, design.columns, threads, spec.split.seed)
    model = fit_model(client, spec.task, algorithm, arguments, design, holdout.train)
    seconds = time.perf_counter() - started
    log.info("step train (%s on Dask, %d columns) finished in %.2f s", algorithm, len(design.columns.names), seconds)
    fitted = steps.Fitted(model, algorithm, {k: v for k, v in arguments.items() if k != "feature_types"},
                          spec.mode, search=search, fit_seconds=seconds)
    return Trained(model, fitted, holdout, design)


def evaluate(spec: TrainingSpec, trained: Trained) -> Evaluation:
    """Holdout metrics of the served model, scored by the workers; only predictions come back."""
    started = time.perf_counter()
    values, extras, rows = scores(spec, trained.design, trained.model, trained.holdout.test)
    log.info("step evaluate (%d held-out rows, scored on the workers) finished in %.2f s", rows,
             time.perf_counter() - started)
    return Evaluation(values, {**extras, "holdout": {**trained.holdout.description, "rows": rows}})
