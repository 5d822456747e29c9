"""How a TrainingJob's models are judged: the objective that ranks them, extra evaluation and the acceptance
criteria for promotion (part of the TrainingJob resource, see trainingjob.py)."""

from __future__ import annotations

from typing import Annotated, Literal, Required, TypedDict

from .fields import Field, Rule

METRIC_PATTERN = r"^[a-z][a-z0-9_]*$"


class Evaluation(TypedDict, total=False):
    """Extra evaluation beyond the holdout."""

    cvFolds: Annotated[int, Field(
        "Cross-validation folds on the training set, reported beside the holdout metrics; 0 turns it off.",
        default=0, minimum=0, maximum=20)]


EVALUATION_RULES = (
    Rule("!has(self.cvFolds) || self.cvFolds != 1", "cvFolds is 0 (off) or at least 2: one fold cannot "
         "cross-validate", field_path=".cvFolds", check=lambda s: s.get("cvFolds", 0) != 1),
)


class Objective(TypedDict, total=False):
    """The metric that ranks trials and models."""

    metric: Required[Annotated[str, Field(
        "Metric name valid for the task, e.g. roc_auc, rmse, silhouette.", pattern=METRIC_PATTERN,
        max_length=64)]]
    goal: Annotated[Literal["maximize", "minimize"], Field(
        "Whether larger or smaller is better; must agree with the metric.")]
    positiveClass: Annotated[str, Field(
        "Classification with two classes: the label of the positive class, as written in the target column "
        "(e.g. \"1\" or \"churned\"). f1, precision, recall and average_precision are of this class, and with an "
        "f1, f1_macro or f1_weighted objective the decision threshold is tuned for it. Default: the last of the "
        "two labels in sorted order.", min_length=1, max_length=256)]


class AcceptanceCriterion(TypedDict, total=False):
    """A bound the trained model must meet on the holdout to be promoted."""

    metric: Required[Annotated[str, Field("Metric name valid for the task.", pattern=METRIC_PATTERN,
                                          max_length=64)]]
    min: Annotated[float, Field("Lowest acceptable value.")]
    max: Annotated[float, Field("Highest acceptable value.")]


ACCEPTANCE_RULES = (
    Rule("has(self.min) || has(self.max)", "an acceptance criterion needs min, max or both",
         check=lambda s: "min" in s or "max" in s),
    Rule("!(has(self.min) && has(self.max)) || self.min <= self.max", "min must not exceed max",
         field_path=".min", check=lambda s: not ("min" in s and "max" in s) or s["min"] <= s["max"]),
)
