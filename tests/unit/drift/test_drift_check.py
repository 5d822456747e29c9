"""The model server's drift check: a manifest baseline and live counts in, a verdict and a readable page out."""

from __future__ import annotations

import pytest

from sextant_services.drift_check import check_drift
from sextant_services.errors import MalformedRequest, UnsupportedOperation

MANIFEST = {"baseline": {"rows": 10_000, "features": {
    "plan": {"type": "categorical", "frequencies": {"basic": 0.5, "pro": 0.3, "team": 0.2}},
    "seats": {"type": "numeric", "bins": [0.0, 10.0, 20.0, 30.0], "counts": [3000, 4000, 3000]}}}}


def live(plan: dict[str, float], seats: dict[str, float]) -> dict[str, object]:
    return {"live": {"plan": plan, "seats": seats}}


def test_a_moved_category_is_reported_by_name_with_an_html_page() -> None:
    body = live({"basic": 100, "pro": 300, "team": 600}, {"0": 300, "1": 400, "2": 300}) | {"html": True}
    report = check_drift(MANIFEST, body, "Drift of churn version 3 (default)")
    assert report["verdict"] == "drifted"
    assert report["driftedFeatures"] == ["plan"]
    assert report["samples"] == 1000
    page = report["html"]
    assert page.startswith("<!doctype html>") and "Drift of churn version 3" in page
    assert page.index("plan: drifted") < page.index("seats: no drift")  # drifted features first
    assert page.count("<svg") == 2


def test_same_distribution_is_no_drift_and_no_page_unless_asked() -> None:
    report = check_drift(MANIFEST, live({"basic": 500, "pro": 300, "team": 200}, {"0": 300, "1": 400, "2": 300}), "t")
    assert report["verdict"] == "no_drift" and report["driftedFeatures"] == []
    assert "html" not in report


def test_too_few_samples_says_so() -> None:
    body = live({"basic": 5, "pro": 3}, {"0": 3}) | {"policy": {"minSamples": 200}}
    assert check_drift(MANIFEST, body, "t")["verdict"] == "insufficient_data"


@pytest.mark.parametrize(("body", "field", "says"), [
    ([], "live", "an object with `live` counts"),
    ({"live": {"plan": {"basic": "many"}}}, "live.plan", "map bin labels to counts"),
    ({"live": {"plan": {"gold": 5}}}, "live", "'gold' is not one of the baseline's bins"),
    ({"live": {}, "policy": {"alpha": 2}}, "policy", "policy.alpha is 2"),
    ({"live": {}, "policy": {"beta": 1}}, "policy.beta", "not a drift policy field"),
])
def test_bad_requests_name_the_field(body: object, field: str, says: str) -> None:
    with pytest.raises(MalformedRequest) as info:
        check_drift(MANIFEST, body, "t")
    assert info.value.field == field and says in info.value.message


def test_a_model_without_a_baseline_cannot_be_checked() -> None:
    with pytest.raises(UnsupportedOperation, match="no feature baseline"):
        check_drift({}, {"live": {}}, "t")
