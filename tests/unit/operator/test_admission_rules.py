"""The rules the webhook (and the trainer) apply reject each mistake naming the field, and pass the samples.

Every TrainingJob of tests/support/invalid_resources.yaml is refused here in Python by the same field the API
server names (schema, CEL through its Python twin, or catalogue), so nothing the API server refuses could be
trained and nothing the webhook refuses differs from what the trainer refuses.
"""

from __future__ import annotations

import pytest

from sextant_contracts.rules.trainingjob import validate_trainingjob
from sextant_operator.admission.webhook import admission_message, needs_validation
from tests.support.resources import invalid_cases, load_sample, sample_files

TRAININGJOB_CASES = [c for c in invalid_cases() if c.resource["kind"] == "TrainingJob"]


@pytest.mark.parametrize("case", TRAININGJOB_CASES, ids=lambda c: c.case)
def test_mistake_is_rejected_naming_the_field(case) -> None:  # type: ignore[no-untyped-def]
    violations = validate_trainingjob(case.resource["spec"])
    assert violations, f"{case.case} was accepted"
    assert any(v.field == case.field for v in violations), [str(v) for v in violations]


def test_most_invalid_resources_are_trainingjobs() -> None:
    assert len(TRAININGJOB_CASES) >= 120


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.stem)
def test_samples_pass(path) -> None:  # type: ignore[no-untyped-def]
    body = load_sample(path.stem.removeprefix("ml.sextant.io_v1alpha1_"))
    if body["kind"] == "TrainingJob":
        assert validate_trainingjob(body["spec"]) == []


def test_unknown_parameter_message_lists_the_accepted_ones() -> None:
    spec = load_sample("trainingjob")["spec"]
    spec["estimator"]["params"] = {"max_depht": 3}
    (violation,) = validate_trainingjob(spec)
    assert "does not accept hyperparameter 'max_depht'" in violation.message
    assert "max_depth" in violation.message


def test_every_problem_is_reported_at_once() -> None:
    spec = load_sample("trainingjob")["spec"]
    spec["estimator"]["params"] = {"max_depht": 3}
    spec["objective"] = {"metric": "rmse"}
    message = admission_message([str(v) for v in validate_trainingjob(spec)])
    assert message.startswith("2 problems:")
    assert "spec.objective.metric" in message and "spec.estimator.params[max_depht]" in message


def test_metric_needing_labels_without_target_is_rejected() -> None:
    spec = load_sample("trainingjob_anomaly")["spec"]
    del spec["dataset"]["target"]
    (violation,) = validate_trainingjob(spec)
    assert violation.field == "spec.acceptance[0].metric" and "anomaly_fraction" in violation.message


def test_deletion_and_metadata_updates_are_never_blocked() -> None:
    body = {"metadata": {}, "spec": {"task": "classification"}}
    assert needs_validation("CREATE", body, None)
    assert not needs_validation("UPDATE", body, {"spec": {"task": "classification"}})
    assert needs_validation("UPDATE", body, {"spec": {"task": "regression"}})
    assert not needs_validation("UPDATE", {"metadata": {"deletionTimestamp": "x"}, "spec": {}}, {"spec": {"a": 1}})
    assert not needs_validation("DELETE", body, None)
