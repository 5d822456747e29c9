"""The data plane: validated columns in, predictions out, through the adaptive batcher, with metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batching import AdaptiveBatcher, BatchingConfig
from .errors import UnsupportedOperation
from .fastpath import ColumnPlan, verified_plan
from .features import Columns, merge_columns, row_count, to_model_input
from .metrics import ServingMetrics
from .model_source import LoadedModel


@dataclass(frozen=True)
class Prediction:
    """One request's share of a batch."""

    predictions: np.ndarray
    probabilities: np.ndarray | None


def predict_columns(model: LoadedModel, cols: Columns, want_proba: bool,
                    plan: ColumnPlan | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the estimator on validated columns (no batching, no metrics): used by the batch scorer too.

    With a column plan (fastpath.py) the preprocessing runs on the columns directly and the estimator after it
    gets its matrix; without one the model gets a DataFrame (or a float matrix). With `want_proba` the estimator
    runs once (predict_proba); labels are its classes_ at the highest probability. Only an estimator without
    classes_ is called twice.
    """
    if plan is not None:
        x, estimator = plan.transform(cols), plan.final
    else:
        x, estimator = to_model_input(cols, model.schema, model.as_frame), model.estimator
    classes = getattr(model.estimator, "classes_", None)
    if want_proba and classes is not None:
        # One model call gives both: the label is the most probable class, as a classifier's predict decides.
        proba = np.asarray(estimator.predict_proba(x))
        return np.asarray(classes)[proba.argmax(axis=1)], proba
    preds = np.asarray(estimator.predict(x))
    return preds, np.asarray(estimator.predict_proba(x)) if want_proba else None


def plan_for(model: LoadedModel) -> ColumnPlan | None:
    """The model's column plan, checked against the model on probe rows; None when it has none."""
    return verified_plan(model.estimator, model.schema, model.manifest, model.as_frame, model.is_classifier)


class DataPlane:
    """Serves one loaded model as one variant."""

    def __init__(self, model: LoadedModel, variant: str, batching: BatchingConfig,
                 metrics: ServingMetrics | None) -> None:
        self.model = model
        self.variant = variant
        self.metrics = metrics
        self.plan = plan_for(model)  # compiled once per model: the records -> features -> predict fast path
        self._batcher: AdaptiveBatcher[tuple[Columns, bool], Prediction] = AdaptiveBatcher(
            self._run_batch, batching)

    def _run_batch(self, items: Sequence[tuple[Columns, bool]]) -> list[Prediction]:
        cols = merge_columns([c for c, _ in items], self.model.schema)
        want_proba = any(p for _, p in items)
        preds, proba = predict_columns(self.model, cols, want_proba, self.plan)
        out: list[Prediction] = []
        start = 0
        for part, p in items:
            end = start + row_count(part)
            out.append(Prediction(preds[start:end], proba[start:end] if (p and proba is not None) else None))
            start = end
        if self.metrics is not None:
            self.metrics.observe_batch(cols, start)
        return out

    async def predict(self, cols: Columns, want_proba: bool) -> Prediction:
        """Predict one request's rows; raises UnsupportedOperation for predict_proba on a non-classifier."""
        if want_proba and not self.model.is_classifier:
            raise UnsupportedOperation(
                f"model {self.model.name!r} is a {self.model.task or 'non-classification'} model: "
                "predict_proba is only available for classifiers; use /predict",
                field="predict_proba")
        return await self._batcher.submit((cols, want_proba), row_count(cols))

    def describe(self) -> dict[str, Any]:
        return {"model": self.model.name, "version": self.model.version, "variant": self.variant}
