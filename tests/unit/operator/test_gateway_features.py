"""Whether HTTPRoutes mirror: decided from the GatewayClass's supportedFeatures, or by the chart; the reason a
shadow gets no copies names what was missing."""

from __future__ import annotations

from typing import Any

import pytest

from sextant_operator.config import ConfigError, config_from_env
from sextant_operator.handlers.kube_actions import object_path
from sextant_operator.reconcile.gateway_features import mirror_decision, supported_features

GATEWAY = {"metadata": {"name": "sextant"}, "spec": {"gatewayClassName": "traefik"}}


def _class(*features: Any) -> dict[str, Any]:
    return {"metadata": {"name": "traefik"}, "status": {"supportedFeatures": list(features)}}


def test_both_shapes_of_supported_features_are_read() -> None:
    assert supported_features(_class({"name": "HTTPRoute"}, {"name": "Gateway"})) == {"HTTPRoute", "Gateway"}
    assert supported_features(_class("HTTPRoute", "HTTPRouteRequestMirror")) == {"HTTPRoute", "HTTPRouteRequestMirror"}
    assert supported_features({"metadata": {"name": "new"}}) == set()


def test_auto_mirrors_only_when_the_class_lists_the_filter_and_its_percentage() -> None:
    both = _class({"name": "HTTPRouteRequestMirror"}, {"name": "HTTPRouteRequestPercentageMirror"})
    assert mirror_decision("auto", "sextant-system/sextant", GATEWAY, both) == (True, "")
    mirrors, why = mirror_decision("auto", "sextant-system/sextant", GATEWAY, _class({"name": "HTTPRoute"}))
    assert not mirrors and why.startswith("GatewayClass traefik does not list HTTPRouteRequestMirror or "
                                          "HTTPRouteRequestPercentageMirror in status.supportedFeatures")
    mirrors, why = mirror_decision("auto", "sextant-system/sextant", GATEWAY, _class("HTTPRouteRequestMirror"))
    assert not mirrors and "does not list HTTPRouteRequestPercentageMirror" in why


def test_what_could_not_be_read_is_said() -> None:
    assert mirror_decision("auto", "gw/one", None, None) == (
        False, "Gateway gw/one did not exist when the operator started (serving.gateway)")
    assert "GatewayClass 'traefik' of Gateway gw/one did not exist" in mirror_decision("auto", "gw/one", GATEWAY,
                                                                                         None)[1]
    mirrors, why = mirror_decision("auto", "gw/one", None, None, error="403 Forbidden")
    assert not mirrors and "(403 Forbidden)" in why and "serving.gateway.mirror" in why


def test_the_chart_can_say_it_either_way() -> None:
    assert mirror_decision("true", "gw/one", None, None) == (True, "")
    assert mirror_decision("false", "gw/one", GATEWAY, _class("HTTPRouteRequestMirror"))[0] is False
    assert config_from_env({}).gateway_mirror == "auto"
    assert config_from_env({"SEXTANT_GATEWAY_MIRROR": "true"}).gateway_mirror == "true"
    with pytest.raises(ConfigError, match="SEXTANT_GATEWAY_MIRROR='sometimes' is unknown; use one of auto, true"):
        config_from_env({"SEXTANT_GATEWAY_MIRROR": "sometimes"})


def test_a_cluster_scoped_kind_has_no_namespace_in_its_path() -> None:
    assert object_path("gateway.networking.k8s.io/v1", "GatewayClass", "", "traefik") == \
        "/apis/gateway.networking.k8s.io/v1/gatewayclasses/traefik"
    assert object_path("gateway.networking.k8s.io/v1", "Gateway", "gw", "one") == \
        "/apis/gateway.networking.k8s.io/v1/namespaces/gw/gateways/one"
