"""An InferenceService behind a Gateway API HTTPRoute: the operator installed by its chart with
`serving.routing=gateway`, Traefik (built here) as the Gateway, requests sent to the Gateway with the route's
host name, as a user outside the cluster would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from sextant_devcluster.gateway import GatewayEndpoint
from tests.support.gateway_api import gateway  # noqa: F401 - the session fixture
from tests.support.polling import eventually
from tests.support.real_pods import (
    helm,
    image_refs,
    install_chart,
    restricted_namespace,
)
from tests.support.request_load import RequestLoad
from tests.support.serving_models import breast_cancer_request
from tests.support.sextant_operator import CHART

pytestmark = pytest.mark.integration

NAMESPACE = "sx-gateway-serving"
DOMAIN = "models.test"


def _kubectl_json(cluster: Any, *args: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl(*args, "-n", NAMESPACE, "-o", "json").stdout))


@pytest.fixture(scope="module")
def trained(cluster: Any, crds: None, gateway: GatewayEndpoint) -> Iterator[GatewayEndpoint]:  # noqa: F811
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, NAMESPACE)
    install = install_chart(cluster, NAMESPACE, "serving.routing=gateway",
                            f"serving.gateway.namespace={gateway.namespace}", f"serving.gateway.name={gateway.name}",
                            f"serving.gateway.domain={DOMAIN}")
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        job = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "cancer"},
               "spec": {"task": "classification", "dataset": {"uri": "builtin:breast_cancer", "target": "target"},
                        "estimator": {"algorithm": "logistic_regression", "params": {"max_iter": 500}},
                        "model": {"name": "cancer"}}}
        cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(job))
        done = eventually(lambda: _kubectl_json(cluster, "get", "trainingjob", "cancer").get("status", {}).get(
            "phase") in ("Succeeded", "Failed") and _kubectl_json(cluster, "get", "trainingjob", "cancer"),
            timeout=600, interval=2, what="the TrainingJob to finish")
        assert done["status"]["phase"] == "Succeeded", done["status"]
        yield gateway
    finally:
        cluster.kubectl("delete", "inferenceservices,trainingjobs", "--all", "-n", NAMESPACE, "--wait=true",
                        "--timeout=90s", check=False)
        helm(cluster, "uninstall", "sx", "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _routing(cluster: Any, mode: str) -> None:
    """Restart the operator with another routing mode, as a user changing the chart value would."""
    upgrade = helm(cluster, "upgrade", "sx", str(CHART), "--namespace", NAMESPACE, "--reuse-values", "--wait",
                   "--timeout", "180s", "--set", f"serving.routing={mode}")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr


def _exists(cluster: Any, kind: str, name: str) -> bool:
    return bool(cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "name", "--ignore-not-found").stdout.strip())


def test_an_httproute_splits_the_traffic_by_the_variants_weights(cluster: Any, trained: GatewayEndpoint) -> None:
    small = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    isvc = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "routed"},
            "spec": {"variants": [{"name": "blue", "model": {"name": "cancer", "version": "1"}, "weight": 85,
                                   "resources": small},
                                  {"name": "green", "model": {"name": "cancer", "version": "1"}, "weight": 15,
                                   "resources": small}]}}
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(isvc))

    def ready() -> dict[str, Any] | None:
        body = _kubectl_json(cluster, "get", "inferenceservice", "routed")
        return body if (body.get("status") or {}).get("phase") == "Ready" else None

    status = eventually(ready, timeout=300, interval=2, what="the InferenceService to be Ready")["status"]
    host = f"routed.{NAMESPACE}.{DOMAIN}"
    assert status["routing"] == "gateway" and status["url"] == f"http://{host}"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["RoutesReady"]["status"] == "True" and conditions["RoutesReady"]["reason"] == "RouteAccepted"
    route = _kubectl_json(cluster, "get", "httproute", "routed")
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]] == [
        ("routed-blue-v1", 85), ("routed-green-v1", 15)]
    assert route["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    assert not cluster.kubectl("get", "deployment", "routed-router", "-n", NAMESPACE, check=False).stdout  # no router
    record = breast_cancer_request()
    # Traefik loads a newly ready pod's endpoint a moment after the status turns Ready (docs/serving.md): wait
    # until each variant has answered through the Gateway, then count every request.
    answered: set[str] = set()

    def both_variants_answer() -> bool:
        probe = RequestLoad(trained.host, record, port=trained.port, host_header=host, concurrency=1,
                            max_requests=20, max_seconds=10).run()
        answered.update(probe.variants)
        return answered == {"blue", "green"}

    eventually(both_variants_answer, timeout=60, interval=1, what="both variants to answer through the Gateway")
    result = RequestLoad(trained.host, record, port=trained.port, host_header=host, concurrency=4,
                         max_requests=2000, max_seconds=300).run()
    assert result.lost == 0, str(result)
    assert abs(result.share("blue") - 0.85) <= 0.03, result.variants


def test_a_changed_routing_mode_replaces_the_other_modes_objects(cluster: Any, trained: GatewayEndpoint) -> None:
    small = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    isvc = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "switched"},
            "spec": {"model": {"name": "cancer", "version": "1"}, "resources": small}}
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(isvc))
    host = f"switched.{NAMESPACE}.{DOMAIN}"

    def serving(mode: str) -> dict[str, Any] | None:
        status = _kubectl_json(cluster, "get", "inferenceservice", "switched").get("status") or {}
        return status if status.get("phase") == "Ready" and status.get("routing") == mode else None

    try:
        eventually(lambda: serving("gateway") and _exists(cluster, "httproute", "switched"), timeout=300, interval=2,
                   what="the InferenceService Ready behind its HTTPRoute")
        _routing(cluster, "router")
        status = eventually(lambda: serving("router"), timeout=180, interval=2, what="Ready behind the router")
        assert status["url"] == f"http://switched.{NAMESPACE}.svc.cluster.local"
        eventually(lambda: not _exists(cluster, "httproute", "switched"), timeout=60, what="the HTTPRoute to go")
        address = str(cluster.kubectl("get", "service", "switched", "-n", NAMESPACE, "-o",
                                      "jsonpath={.spec.clusterIP}").stdout)
        eventually(lambda: RequestLoad(address, breast_cancer_request(), concurrency=1, max_requests=5,
                                       max_seconds=10).run().statuses[200] == 5,
                   timeout=60, interval=1, what="the router to answer")

        _routing(cluster, "gateway")
        status = eventually(lambda: serving("gateway"), timeout=180, interval=2, what="Ready behind the Gateway")
        assert status["url"] == f"http://{host}"
        for kind, name in (("deployment", "switched-router"), ("configmap", "switched-router"),
                           ("poddisruptionbudget", "switched-router"), ("service", "switched")):
            eventually(lambda kind=kind, name=name: not _exists(cluster, kind, name), timeout=60,
                       what=f"the router's {kind} {name} to go")
        eventually(lambda: RequestLoad(trained.host, breast_cancer_request(), port=trained.port, host_header=host,
                                       concurrency=1, max_requests=5, max_seconds=10).run().statuses[200] == 5,
                   timeout=60, interval=1, what="the Gateway to answer")
    finally:
        _routing(cluster, "gateway")
        cluster.kubectl("delete", "inferenceservice", "switched", "-n", NAMESPACE, "--wait=false", check=False)


def _gateway_features_grant(cluster: Any) -> list[dict[str, Any]]:
    """The ClusterRole and binding the chart adds in cluster-wide mode for `serving.gateway.mirror: auto`, for
    release sx in NAMESPACE (this module installs the chart in namespaced mode, which grants nothing cluster-wide)."""
    out = helm(cluster, "template", "sx", str(CHART), "--namespace", NAMESPACE, "--kube-version", "1.35.4",
               "--set", "serving.routing=gateway")
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d and d["metadata"]["name"] == "sx-sextant-gateway-features"]


def test_a_shadow_behind_a_gateway_that_cannot_mirror_says_why_and_the_primary_serves(
        cluster: Any, trained: GatewayEndpoint) -> None:
    """The chart's default `serving.gateway.mirror: auto`. Namespaced mode grants no read of GatewayClasses, so the
    operator says it could not read them and how to decide instead; with the cluster-wide mode's grant it reads
    Traefik's GatewayClass at start-up, finds no HTTPRouteRequestMirror among its supportedFeatures, and says so.
    Either way the route gets no mirror filter (Traefik would answer that rule's every request 500) and the shadow
    runs without copies."""
    small = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    isvc = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "shadowed"},
            "spec": {"model": {"name": "cancer", "version": "1"}, "resources": small,
                     "shadow": {"name": "next", "model": {"name": "cancer", "version": "1"}, "percent": 25,
                                "resources": small}}}
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(isvc))

    def shadow_says(text: str) -> dict[str, Any] | None:
        status = _kubectl_json(cluster, "get", "inferenceservice", "shadowed").get("status") or {}
        shadows = [v for v in status.get("variants", []) if v.get("name") == "next"]
        return shadows[0] if status.get("phase") == "Ready" and shadows and text in shadows[0].get(
            "message", "") else None

    forbidden = eventually(lambda: shadow_says("could not read Gateway"), timeout=300, interval=2,
                           what="the InferenceService Ready, its shadow saying the Gateway could not be read")
    assert forbidden["reason"] == "MirrorNotSupported", forbidden
    assert "403 Forbidden; the chart grants that read only in cluster-wide mode" in forbidden["message"], forbidden
    assert "set serving.gateway.mirror to true if it implements" in forbidden["message"], forbidden
    route = _kubectl_json(cluster, "get", "httproute", "shadowed")
    assert all("filters" not in rule for rule in route["spec"]["rules"]), route["spec"]
    host = f"shadowed.{NAMESPACE}.{DOMAIN}"
    eventually(lambda: RequestLoad(trained.host, breast_cancer_request(), port=trained.port, host_header=host,
                                   concurrency=1, max_requests=5, max_seconds=10).run().statuses[200] == 5,
               timeout=60, interval=1, what="the primary to answer through the Gateway")
    grant = _gateway_features_grant(cluster)
    assert sorted(d["kind"] for d in grant) == ["ClusterRole", "ClusterRoleBinding"], grant
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(grant))
    try:
        cluster.kubectl("rollout", "restart", "deployment/sx-sextant-operator", "-n", NAMESPACE)
        shadow = eventually(lambda: shadow_says("does not list"), timeout=180, interval=2,
                            what="the shadow to name what the GatewayClass lacks")
        assert shadow["message"] == (
            f"the shadow runs but receives no copies: GatewayClass {trained.class_name} does not list "
            "HTTPRouteRequestMirror or HTTPRouteRequestPercentageMirror in status.supportedFeatures (read at the "
            "operator's start)"), shadow
    finally:
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found", input=yaml.safe_dump_all(grant), check=False)
