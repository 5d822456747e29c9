"""A classifier that learns label codes 0..k-1 and answers in the user's labels; the last step of models trained
on Dask.

XGBoost's and LightGBM's Dask classifiers learn integer codes (XGBoost takes nothing else). In one process the
catalogue wraps XGBoost in scikit-learn's one-vs-rest, which keeps the labels; on Dask there is no such wrapper,
so the trainer maps each label to its index in the sorted classes and this step maps predictions back. It lives
here, in the package both the trainer and the model server install, because a pickled Pipeline refers to its
classes by module path. numpy is imported when it is used: the contracts need no numpy, the model server and the
trainer have it.
"""

from __future__ import annotations

from typing import Any


class LabelCodedClassifier:
    """`estimator` predicts probabilities of codes 0..k-1; code i is `classes[i]` (sorted, as scikit-learn's
    classifiers order `classes_`)."""

    _estimator_type = "classifier"

    def __init__(self, estimator: Any, classes: list[Any]) -> None:
        self.estimator = estimator
        self.classes = list(classes)

    @property
    def classes_(self) -> Any:
        import numpy as np

        return np.asarray(self.classes)

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.classes)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"estimator": self.estimator, "classes": self.classes}

    def fit(self, X: Any, y: Any) -> LabelCodedClassifier:
        """Learn codes of `y` with the wrapped estimator (a fitted one, as the Dask trainer builds it, needs no
        fit; this makes the step a complete scikit-learn estimator)."""
        import numpy as np

        self.classes = sorted(np.unique(np.asarray(y)).tolist())
        self.estimator.fit(X, np.searchsorted(np.asarray(self.classes), np.asarray(y)))
        return self

    def predict_proba(self, X: Any) -> Any:
        return self.estimator.predict_proba(X)

    def predict(self, X: Any) -> Any:
        import numpy as np

        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's Pipeline asks its last step for tags: a classifier that needs a target."""
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())
