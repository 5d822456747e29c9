"""The webhook's copy of scikit-learn's parameter constraints is current and decides as scikit-learn does."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from sextant_contracts.catalogue import ALGORITHMS
from sextant_contracts.rules.hyperparameters import violates
from sextant_contracts.sklearn_constraints import CONSTRAINTS
from sextant_pipelines import constraintgen

ROOT = Path(__file__).resolve().parents[3]
PROBES: list[Any] = [None, True, False, -1, 0, 1, 2, 3, 100, 2**32, -0.5, 0.0, 0.05, 0.5, 0.99, 1.0, 1.5, 10.0,
                     "auto", "sqrt", "log2", "scale", "balanced", "rbf", "precomputed", "nonsense", [1, 2], {"a": 1}]
# scikit-learn's own estimators (LightGBM and XGBoost declare no parameter constraints).
ESTIMATOR_PARAMS = sorted({(a.estimator, p) for algos in ALGORITHMS.values() for a in algos.values()
                           for p in a.params if a.estimator.startswith("sklearn.")})


def test_committed_constraints_match_the_installed_scikit_learn() -> None:
    assert constraintgen.main(["--check", "--root", str(ROOT)]) == 0, \
        "run .venv/bin/python -m sextant_pipelines.constraintgen"


def test_every_offered_hyperparameter_has_constraints() -> None:
    missing = [(e, p) for e, p in ESTIMATOR_PARAMS if not CONSTRAINTS[e].get(p)]
    assert not missing


def _sklearn_accepts(estimator: str, param: str, value: Any) -> bool:
    module, name = estimator.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    try:
        validate_parameter_constraints({param: cls._parameter_constraints[param]}, {param: value}, name)
    except InvalidParameterError:
        return False
    return True


@pytest.mark.parametrize(("estimator", "param"), ESTIMATOR_PARAMS, ids=lambda x: str(x).rsplit(".", 1)[-1])
def test_the_copy_decides_as_scikit_learn_on_json_values(estimator: str, param: str) -> None:
    options = [v for alt in CONSTRAINTS[estimator][param] for v in alt.get("values", [])]
    for value in [*PROBES, *options]:
        ours = violates(estimator, param, value) is None
        assert ours == _sklearn_accepts(estimator, param, value), (estimator, param, value)
