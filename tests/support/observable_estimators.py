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
    """Takes `seconds` per model call (the predict thread sleeps; the server's event loop stays free), and
    appends a line to `calls_file` when a call starts, so a test can see from outside that a model call runs.
    The first `fast_calls` calls (the warm-up) do not sleep."""

    def __init__(self, inner: Any, seconds: float, calls_file: str | None = None, fast_calls: int = 0) -> None:
        super().__init__(inner)
        self.seconds = seconds
        self.calls_file = calls_file
        self.fast_calls = fast_calls

    def _started(self, what: str) -> None:
        if self.calls_file is not None:
            with open(self.calls_file, "a") as f:
                f.write(what + "\n")
        if len(self.calls) >= self.fast_calls:
            time.sleep(self.seconds)

    def predict(self, x: Any) -> np.ndarray:
        self._started("predict")
        return super().predict(x)

    def predict_proba(self, x: Any) -> np.ndarray:
        self._started("predict_proba")
        return super().predict_proba(x)


class BrokenClassifier(CountingClassifier):
    """Loads fine, fails every prediction: what warm-up must catch before the server is ready."""

    def predict(self, x: Any) -> np.ndarray:
        raise RuntimeError("this model cannot predict")

    def predict_proba(self, x: Any) -> np.ndarray:
        raise RuntimeError("this model cannot predict")
