"""spec.compute.dask is admitted only for algorithms with a distributed form, with a message naming the fix."""

from __future__ import annotations

from typing import Any

from sextant_contracts.catalogue import DASK_ALGORITHMS
from sextant_contracts.resources.trainingjob import TRAININGJOB_SPEC_RULES
from sextant_contracts.rules.trainingjob import validate_trainingjob

SPEC: dict[str, Any] = {"task": "classification", "dataset": {"uri": "s3://data/big.parquet", "target": "y"},
                        "model": {"name": "big"}, "compute": {"dask": {"workers": 2}}}
DASK_RULE = next(r for r in TRAININGJOB_SPEC_RULES if r.field_path == ".compute.dask")


def test_an_algorithm_without_a_distributed_form_is_refused_naming_the_field_and_the_fix() -> None:
    violations = validate_trainingjob({**SPEC, "estimator": {"algorithm": "random_forest"}})
    assert [v.field for v in violations] == ["spec.compute.dask"]
    message = violations[0].message
    assert all(name in message for name in DASK_ALGORITHMS) and "remove spec.compute.dask" in message


def test_automl_is_refused_on_dask() -> None:
    violations = validate_trainingjob({**SPEC, "automl": {"timeBudget": "10m"}})
    assert "spec.compute.dask" in [v.field for v in violations]


def test_the_distributed_algorithms_are_admitted_as_estimator_or_tuning() -> None:
    tuning = {"strategy": "random", "searchSpace": {"max_depth": {"type": "int", "min": 2, "max": 6}}}
    for name in DASK_ALGORITHMS:
        assert validate_trainingjob({**SPEC, "estimator": {"algorithm": name}}) == []
        assert validate_trainingjob({**SPEC, "tuning": {**tuning, "algorithm": name}}) == []
        assert all(f"'{name}'" in DASK_RULE.rule for name in DASK_ALGORITHMS)  # CEL reads the same list


def test_suspend_is_refused_on_dask_a_dask_run_cannot_pause() -> None:
    suspended = validate_trainingjob({**SPEC, "estimator": {"algorithm": "xgboost"}, "suspend": True})
    assert [v.field for v in suspended] == ["spec.compute.dask"] and "cannot be suspended" in suspended[0].message


def test_without_compute_dask_every_algorithm_is_admitted_as_before() -> None:
    spec = {k: v for k, v in SPEC.items() if k != "compute"}
    assert validate_trainingjob({**spec, "estimator": {"algorithm": "random_forest"}}) == []
    assert validate_trainingjob({**SPEC, "compute": {}, "estimator": {"algorithm": "random_forest"}}) == []
