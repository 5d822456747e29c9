"""The BatchPrediction rules the webhook applies reject each mistake naming the field, and pass the samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sextant_contracts.resources.crd import BATCHPREDICTION, build_crd
from sextant_contracts.rules.batchprediction import rules_by_text, validate_batchprediction
from sextant_operator.admission.webhook import schedule_violations

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "manifests" / "samples").glob("*batchprediction*.yaml"))


def _spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": {"name": "iris", "version": "1"}, "input": {"uri": "s3://data/in.csv"},
                            "output": {"uri": "s3://data/out.parquet"}, "idColumn": "id"}
    spec.update(changes)
    return spec


def test_every_cel_rule_has_a_python_twin() -> None:
    assert rules_by_text() and all(rule.check is not None for rule in rules_by_text().values())


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_the_samples_are_valid(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert validate_batchprediction(doc["spec"]) == [] and schedule_violations(doc["spec"]) == []


@pytest.mark.parametrize("changes,field,words", [
    ({"model": {"name": "iris", "version": "1", "alias": "staging"}}, "spec.model", "at most one of version"),
    ({"model": {"name": "Iris"}}, "spec.model.name", "should match"),
    ({"input": {"uri": "file:///data/in.csv"}}, "spec.input.uri", "s3://bucket/key"),
    ({"input": {"uri": "s3://data/in"}}, "spec.input.format", "set input.format"),
    ({"output": {"uri": "s3://data/folder/"}}, "spec.output.uri", "should match"),
    ({"output": {"uri": "s3://data/in.csv"}}, "spec.output.uri", "must differ from input.uri"),
    ({"chunkSize": 0}, "spec.chunkSize", "greater than or equal to 1"),
    ({"idColumn": ""}, "spec.idColumn", "at least 1"),
    ({"env": [{"name": "API_TOKEN", "value": "x"}]}, "spec.env[0].value", "put it in a Secret"),
    ({"schedule": {"cron": "0 3 * * *", "concurrencyPolicy": "Allow"}}, "spec.schedule.concurrencyPolicy",
     "supported values"),
])
def test_a_bad_spec_is_refused_naming_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    found = validate_batchprediction(_spec(**changes))
    assert [v.field for v in found] == [field], found
    assert words in found[0].message


def test_an_unschedulable_cron_is_refused_by_admission() -> None:
    assert schedule_violations(_spec(schedule={"cron": "61 * * * *"})) == [
        "spec.schedule.cron: '61 * * * *' is not a cron expression: use five fields (minute hour day-of-month "
        "month day-of-week), e.g. \"0 3 * * 1\", or @hourly, @daily, @weekly, @monthly"]


def test_the_crd_has_the_short_name_columns_and_descriptions_kubectl_shows() -> None:
    crd = build_crd(BATCHPREDICTION)
    assert crd["spec"]["names"]["shortNames"] == ["sxbp"] and crd["spec"]["names"]["categories"] == ["sextant"]
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Phase", "Model", "Rows", "Last Run", "Age", "Output", "Reason"]
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert sorted(spec["required"]) == ["idColumn", "input", "model", "output"]
    assert all(prop.get("description") for prop in spec["properties"].values())
