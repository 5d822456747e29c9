"""The admission webhook's catalogue (contracts, no scikit-learn) and the pipelines' estimators agree.

A TrainingJob the webhook admits must train, and one it would reject must not be trainable: same algorithm
names per task, the same scikit-learn class, and only hyperparameters the estimator really has.
"""

from __future__ import annotations

import importlib

import pytest

from sextant_contracts.catalogue import ALGORITHMS, TASKS
from sextant_pipelines.catalogue import CATALOGUE


@pytest.mark.parametrize("task", TASKS)
def test_same_algorithm_names_per_task(task: str) -> None:
    assert set(ALGORITHMS[task]) == set(CATALOGUE[task])  # type: ignore[index]


@pytest.mark.parametrize(("task", "name"), [(t, n) for t in TASKS for n in ALGORITHMS[t]])
def test_same_estimator_and_real_hyperparameters(task: str, name: str) -> None:
    declared = ALGORITHMS[task][name]  # type: ignore[index]
    module, cls = declared.estimator.rsplit(".", 1)
    built = CATALOGUE[task][name]  # type: ignore[index]
    assert getattr(importlib.import_module(module), cls) is built.estimator_class()
    unknown = set(declared.params) - set(built.factory().get_params())
    assert not unknown, f"{task}/{name}: the catalogue accepts parameters scikit-learn does not: {unknown}"
