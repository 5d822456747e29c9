"""The model server's drift check: live bin counts in, the engine's verdict on this model's baseline out.

The operator sums the servers' `sextant_feature_bin_total` counters over a window and asks one server of the
variant to judge them, because the statistics need numpy and scipy, which the operator's image leaves out. The
server holds the baseline (its model's manifest), so only counts travel; nothing a client sent is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sextant_contracts.errors import DriftInputError
from sextant_services.drift import DriftPolicy, baseline_counts, drift_report, live_counts
from sextant_services.drift.html_report import render_html
from sextant_services.errors import MalformedRequest, UnsupportedOperation

POLICY_FIELDS = {"alpha": "alpha", "correction": "correction", "minPsi": "min_psi", "minSamples": "min_samples"}


def parse_policy(body: Mapping[str, Any]) -> DriftPolicy:
    """The `policy` (camelCase fields) over the engine's defaults; raises MalformedRequest naming the field."""
    raw = body.get("policy") or {}
    if not isinstance(raw, Mapping):
        raise MalformedRequest("policy must be an object such as {\"minSamples\": 500}", field="policy")
    unknown = sorted(set(raw) - set(POLICY_FIELDS))
    if unknown:
        raise MalformedRequest(f"policy.{unknown[0]} is not a drift policy field; use {sorted(POLICY_FIELDS)}",
                               field=f"policy.{unknown[0]}")
    try:
        return DriftPolicy(**{POLICY_FIELDS[k]: v for k, v in raw.items()})
    except (DriftInputError, TypeError) as exc:
        raise MalformedRequest(str(exc), field="policy") from None


def parse_live(body: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """`live`: {feature: {bin label: count}}; raises MalformedRequest naming the feature when it is not that."""
    live = body.get("live")
    if not isinstance(live, Mapping):
        raise MalformedRequest("live must be an object of {feature: {bin: count}}", field="live")
    out: dict[str, dict[str, float]] = {}
    for feature, bins in live.items():
        if not isinstance(bins, Mapping) or not all(isinstance(v, int | float) for v in bins.values()):
            raise MalformedRequest(f"live.{feature} must map bin labels to counts", field=f"live.{feature}")
        out[str(feature)] = {str(b): float(v) for b, v in bins.items()}
    return out


def check_drift(manifest: Mapping[str, Any], body: Any, title: str) -> dict[str, Any]:
    """The drift report of `body`'s live counts against `manifest`'s baseline (with the HTML page if asked).

    Raises MalformedRequest (400) for a body that is not a drift check, UnsupportedOperation (400) when the model
    has no baseline, and MalformedRequest naming the feature when the counts do not fit the baseline's bins.
    """
    if not isinstance(body, Mapping):
        raise MalformedRequest("the body must be an object with `live` counts", field="live")
    baseline = baseline_counts(manifest.get("baseline") or {})
    if not baseline:
        raise UnsupportedOperation("this model's manifest has no feature baseline, so drift cannot be checked; "
                                   "retrain it with a current sextant-train")
    policy = parse_policy(body)
    try:
        live = live_counts(baseline, parse_live(body))
        report = drift_report(baseline, live, policy)
    except DriftInputError as exc:
        raise MalformedRequest(str(exc), field="live") from None
    out = report.to_dict()
    if body.get("html"):
        out["html"] = render_html(report, baseline, live, title)
    return out
