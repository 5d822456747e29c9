"""Estimators with observable behaviour for serving tests, pickled into the registry and unpickled by servers:
one that counts its calls, one that takes a set time per call, one whose predictions always fail."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class CountingClassifier:
    """Wraps a fitted classifier and counts calls to predict and predict_proba (in the loading process)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.classes_ = inner.classes_
        if hasattr(inner, "feature_names_in_"):
            self.feature_names_in_ = inner.feature_names_in_
        self.calls: list[str] = []

    def predict(self, x: Any) -> np.ndarray:
        self.calls.append("predict")
        return np.asarray(self.inner.predict(x))

    def predict_proba(self, x: Any) -> np.ndarray:
        self.calls.append("predict_proba")
        return np.asarray(self.inner.predict_proba(x))


class SlowClassifier(CountingClassifier):
    """Takes `seconds` per model call (the predict thread sleeps; the server's event loop stays free)."""

    def __init__(self, inner: Any, seconds: float) -> None:
        super().__init__(inner)
        self.seconds = seconds

    def predict(self, x: Any) -> np.ndarray:
        time.sleep(self.seconds)
        return super().predict(x)

    def predict_proba(self, x: Any) -> np.ndarray:
        time.sleep(self.seconds)
        return super().predict_proba(x)


class BrokenClassifier(CountingClassifier):
    """Loads fine, fails every prediction: what warm-up must catch before the server is ready."""

    def predict(self, x: Any) -> np.ndarray:
        raise RuntimeError("this model cannot predict")

    def predict_proba(self, x: Any) -> np.ndarray:
        raise RuntimeError("this model cannot predict")
