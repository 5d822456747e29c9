"""The CRDs are generated from the typed models; the committed copies must match and teach the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sextant_contracts.resources import crdgen
from sextant_contracts.resources.crd import INFERENCESERVICE, KINDS, TRAININGJOB, build_crd, openapi_schema
from tests.support.resources import REPO


def test_committed_crds_match_the_typed_models() -> None:
    stale = crdgen.stale_files(REPO)
    assert stale == [], f"regenerate with `python -m sextant_contracts.resources.crdgen`: {stale}"


def test_chart_and_kustomize_hold_identical_crds() -> None:
    for kind in KINDS:
        chart = (REPO / "charts/sextant/crds" / crdgen.crd_filename(kind)).read_text()
        kustomize = (REPO / "manifests/crds" / crdgen.crd_filename(kind)).read_text()
        assert chart == kustomize


def test_check_mode_fails_on_a_hand_edited_copy(tmp_path: Any) -> None:
    assert crdgen.main(["--root", str(tmp_path)]) == 0
    assert crdgen.main(["--check", "--root", str(tmp_path)]) == 0
    target = tmp_path / "manifests/crds" / crdgen.crd_filename(TRAININGJOB)
    target.write_text(target.read_text().replace("minimum: 0.05", "minimum: 0.01"))
    assert crdgen.main(["--check", "--root", str(tmp_path)]) == 1


def _nodes(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_field_has_a_description(kind: Any) -> None:
    schema = openapi_schema(kind)
    missing = [p for p, node in _nodes(schema, kind.kind)
               if "description" not in node and not p.endswith((".metadata", "[]", "[*]"))]
    assert missing == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: Any) -> None:
    for path, node in _nodes(openapi_schema(kind), kind.kind):
        typed = "type" in node or node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields")
        assert typed, f"{path} has no type"


def _rules(schema: dict[str, Any]) -> list[str]:
    return [r["rule"] for _, node in _nodes(schema, "") for r in node.get("x-kubernetes-validations", [])]


def test_cross_field_rules_are_cel() -> None:
    tj = " ".join(_rules(openapi_schema(TRAININGJOB)))
    isvc = " ".join(_rules(openapi_schema(INFERENCESERVICE)))
    assert "has(self.estimator), has(self.tuning), has(self.automl)" in tj
    assert "self.min < self.max" in tj
    assert "parallelTrials <= self.maxTrials" in tj
    assert "sum() == 100" in isvc
    assert "has(self.model) != has(self.variants)" in isvc
    assert "minReplicas <= self.maxReplicas" in isvc
    variants = openapi_schema(INFERENCESERVICE)["properties"]["spec"]["properties"]["variants"]
    assert variants["x-kubernetes-list-map-keys"] == ["name"]  # the API server rejects duplicate names


def test_names_do_not_clash_with_kserve_or_kubeflow() -> None:
    taken = {"isvc", "inferenceservice", "trainjob", "tj", "tfjob", "pytorchjob", "ig", "tm"}
    for kind in KINDS:
        names = build_crd(kind)["spec"]["names"]
        assert not taken & set(names["shortNames"])
        assert names["categories"] == ["sextant"]
        assert build_crd(kind)["spec"]["group"] == "ml.sextant.io"


def test_printer_columns_show_what_people_check_first() -> None:
    tj = {c["name"]: c for c in build_crd(TRAININGJOB)["spec"]["versions"][0]["additionalPrinterColumns"]}
    isvc = {c["name"]: c for c in build_crd(INFERENCESERVICE)["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert {"Phase", "Mode", "Best", "Model", "Age", "Reason"} <= set(tj)
    assert {"URL", "Ready", "Variants", "Models", "Age", "Reason"} <= set(isvc)
    assert tj["Reason"]["priority"] == 1 and isvc["Reason"]["priority"] == 1
    assert build_crd(TRAININGJOB)["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_a_field_without_description_is_refused() -> None:
    from typing import TypedDict

    from sextant_contracts.resources.schema import SchemaError, object_schema

    class Undocumented(TypedDict):
        size: int

    with pytest.raises(SchemaError, match="Undocumented.size has no Field"):
        object_schema(Undocumented, {})
