"""Whether the Gateway that HTTPRoutes attach to can mirror a percentage of the requests (pure).

A Gateway API implementation says what it supports in its GatewayClass's `status.supportedFeatures` (Gateway API
1.2+: `[{name: HTTPRouteRequestMirror}, ...]`; earlier, plain strings). An HTTPRoute whose rule has a RequestMirror
filter that the implementation lacks is still reported Accepted by some (Traefik 3.7 answers every request of that
rule 500), so the operator reads the features at start-up and puts a mirror into a route only when both the filter
and its percentage are listed; otherwise a shadow gets its backend and no copies, and its status says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

MIRROR = "HTTPRouteRequestMirror"
PERCENTAGE_MIRROR = "HTTPRouteRequestPercentageMirror"
MirrorSetting = Literal["auto", "true", "false"]


def supported_features(gateway_class: Mapping[str, Any]) -> set[str]:
    """The feature names a GatewayClass lists in its status (either shape)."""
    listed = (gateway_class.get("status") or {}).get("supportedFeatures") or []
    return {str(f.get("name", "")) if isinstance(f, Mapping) else str(f) for f in listed}


def mirror_decision(setting: MirrorSetting, gateway_ref: str, gateway: Mapping[str, Any] | None,
                    gateway_class: Mapping[str, Any] | None, error: str = "") -> tuple[bool, str]:
    """(mirror or not, why not: the text a shadow's status carries). `gateway` and `gateway_class` are what the
    API server returned (None: not found); `error` says why they could not be read."""
    if setting == "true":
        return True, ""
    if setting == "false":
        return False, "the chart says the Gateway does not mirror (serving.gateway.mirror: false)"
    if error:
        return False, (f"the operator could not read Gateway {gateway_ref} or its GatewayClass at start-up ({error}), "
                       f"so it does not know whether the Gateway mirrors; set serving.gateway.mirror to true if it "
                       f"implements {PERCENTAGE_MIRROR}")
    if gateway is None:
        return False, f"Gateway {gateway_ref} did not exist when the operator started (serving.gateway)"
    class_name = str((gateway.get("spec") or {}).get("gatewayClassName", ""))
    if gateway_class is None:
        return False, f"GatewayClass {class_name!r} of Gateway {gateway_ref} did not exist when the operator started"
    features = supported_features(gateway_class)
    missing = [f for f in (MIRROR, PERCENTAGE_MIRROR) if f not in features]
    if missing:
        return False, (f"GatewayClass {class_name} does not list {' or '.join(missing)} in status.supportedFeatures "
                       f"(read at the operator's start)")
    return True, ""
