"""Every CEL rule of the TrainingJob CRD has a Python twin, and the Python pieces decide as the API server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sextant_contracts.durations import parse_duration
from sextant_contracts.quantities import parse_quantity
from sextant_contracts.rules.structural import with_defaults
from sextant_contracts.rules.trainingjob import rules_by_text, spec_schema


def _validations(schema: dict[str, Any]) -> Iterator[dict[str, str]]:
    yield from schema.get("x-kubernetes-validations", [])
    for sub in schema.get("properties", {}).values():
        yield from _validations(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _validations(schema[key])


def test_every_cel_rule_has_a_python_twin() -> None:
    rules = rules_by_text()
    listed = list(_validations(dict(spec_schema())))
    assert len(listed) >= 15
    missing = [v["rule"] for v in listed if v["rule"] not in rules or rules[v["rule"]].check is None]
    assert not missing, f"give these rules a `check=` in the model: {missing}"


def test_defaults_fill_present_objects_only_as_the_api_server_does() -> None:
    spec = with_defaults(dict(spec_schema()), {"task": "regression", "tuning": {"algorithm": "ridge"}})
    assert spec["tuning"]["strategy"] == "random" and spec["tuning"]["maxTrials"] == 20
    assert "earlyStopping" not in spec["tuning"] and "automl" not in spec and spec["backoffLimit"] == 2


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("1h30m", 5400), ("1.5h", 5400), ("90s", 90),
                                               ("1500ms", 1.5), ("1h1h", 7200), ("0s", 0)])
def test_durations_read_as_go_reads_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1d", "ten minutes", "1h 30m", "", "10", "-5m", "1e3s"])
def test_durations_the_crd_refuses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("small", "large"), [("500m", "1"), ("4Gi", "4097Mi"), (2, "2001m"), ("1e3", "1001"),
                                              ("1M", "1Mi"), (".5", "600m"), ("999Ki", "1Mi")])
def test_quantities_compare_as_kubernetes_does(small: str | int, large: str) -> None:
    assert parse_quantity(small) < parse_quantity(large)
