"""Reading a model server's own metrics: prediction requests and 5xx answers, other routes ignored."""

from __future__ import annotations

from sextant_operator.handlers.server_probes import prediction_counts

EXPOSITION = """# HELP sextant_requests_total HTTP requests by route and status
# TYPE sextant_requests_total counter
sextant_requests_total{model="m",route="predict",status="200",variant="a"} 90.0
sextant_requests_total{model="m",route="predict",status="500",variant="a"} 6.0
sextant_requests_total{model="m",route="infer",status="503",variant="a"} 4.0
sextant_requests_total{model="m",route="predict",status="422",variant="a"} 3.0
sextant_requests_total{model="m",route="health",status="503",variant="a"} 50.0
sextant_requests_created{model="m",route="predict",status="200",variant="a"} 1.7e9
"""


def test_prediction_counts_sum_prediction_routes_and_count_5xx() -> None:
    assert prediction_counts(EXPOSITION) == (103, 10)


def test_no_metrics_is_no_requests() -> None:
    assert prediction_counts("") == (0, 0)
