"""A bare, hand-written BentoML service (the baseline the issue asks for): joblib model, numpy in and out."""

from __future__ import annotations

import os

import bentoml
import numpy as np

BATCHING = os.environ.get("BARE_BATCHING", "1") == "1"


@bentoml.service(
    name="bare",
    workers=int(os.environ.get("BARE_WORKERS", "2")),
    logging={"access": {"enabled": False}},
)
class Bare:
    def __init__(self) -> None:
        import joblib

        self.model = joblib.load(os.environ["BARE_MODEL_PATH"])

    @bentoml.api(batchable=BATCHING, max_batch_size=64, max_latency_ms=50)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(input))
