"""The stable address in front of an InferenceService's backends: the Sextant router's objects, a Service that
selects the one backend's model servers directly, or a Gateway API HTTPRoute (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sextant_contracts.digest import config_digest

from .serving_manifests import (
    ANNOTATION_CONFIG_HASH,
    COMPONENT_ADDRESS,
    COMPONENT_ROUTER,
    LABEL_COMPONENT,
    LABEL_ISVC,
    ROUTER_PORT,
    Backend,
    Route,
    ServingSettings,
    backend_labels,
    backend_name,
    disruption_budget,
    object_metadata,
    pod_scheduling,
    pod_security,
    restricted_container,
    router_name,
    service_host,
)


def router_config(isvc: Mapping[str, Any], routes: Sequence[Route], shadow: tuple[Backend, int] | None,
                  settings: ServingSettings, holds: bool = False) -> dict[str, Any]:
    """The router's declaration (sextant_services.router.spec): weighted upstreams, the shadow and, when a backend
    may be at zero replicas (`holds`), how long to hold a request while no variant is ready."""
    isvc_name = isvc["metadata"]["name"]

    def url(backend: Backend) -> str:
        return f"http://{service_host(isvc, backend_name(isvc_name, backend), settings)}:80"

    config: dict[str, Any] = {
        "listen": f"0.0.0.0:{ROUTER_PORT}",
        "variants": [{"name": r.backend.key, "url": url(r.backend), "weight": r.weight} for r in routes],
        "probeIntervalSeconds": 1,
    }
    if shadow is not None:
        config["shadow"] = {"name": shadow[0].key, "url": url(shadow[0]), "percent": shadow[1]}
    if holds:
        config["activationTimeoutSeconds"] = settings.activation_timeout_seconds
    return config


def needs_router(backends: int, shadow: bool, holds: bool) -> bool:
    """Whether the router has work: splitting traffic between backends (variants, or a rollout's two versions,
    counted from the rollout's start so the router is up before the new version takes traffic), mirroring a
    shadow, or holding requests while a variant scales from zero. Without any of these it would only add a hop
    and two pods per InferenceService: the Service selects the one backend's model servers instead."""
    return backends > 1 or shadow or holds


def direct_service(isvc: Mapping[str, Any], backend: Backend) -> dict[str, Any]:
    """The InferenceService's Service (the same name and address as the router's) selecting one backend's model
    servers: kube-proxy balances over their ready pods."""
    isvc_name = isvc["metadata"]["name"]
    labels = {LABEL_ISVC: isvc_name, LABEL_COMPONENT: COMPONENT_ADDRESS}
    return {"apiVersion": "v1", "kind": "Service", "metadata": object_metadata(isvc, isvc_name, labels),
            "spec": {"selector": backend_labels(isvc_name, backend),
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def router_retired(isvc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The router's own objects (its Service is the InferenceService's address, which stays)."""
    router = router_name(isvc["metadata"]["name"])
    return [("apps/v1", "Deployment", router), ("policy/v1", "PodDisruptionBudget", router),
            ("v1", "ConfigMap", router)]


def router_objects(isvc: Mapping[str, Any], config: Mapping[str, Any], settings: ServingSettings,
                   suspended: bool) -> list[dict[str, Any]]:
    """ConfigMap, Deployment (2 replicas), PodDisruptionBudget and the InferenceService's Service."""
    isvc_name = isvc["metadata"]["name"]
    name = router_name(isvc_name)
    labels = {LABEL_ISVC: isvc_name, LABEL_COMPONENT: COMPONENT_ROUTER}
    digest = config_digest(config)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": object_metadata(isvc, name, labels, {ANNOTATION_CONFIG_HASH: digest}),
                  "data": {"router.yaml": json.dumps(config, indent=2, sort_keys=True)}}
    container = {
        "name": "router",
        "image": settings.router_image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": ["--spec", "/etc/sextant/router.yaml", "--run-dir", "/tmp/router"],  # noqa: S108
        "ports": [{"name": "http", "containerPort": ROUTER_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/router/status", "port": "http"}, "periodSeconds": 2},
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        # Endpoints drop a terminating router before nginx stops: in-flight and late requests still land.
        "lifecycle": {"preStop": {"sleep": {"seconds": 3}}},
        "securityContext": restricted_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the pod's own emptyDir
                         {"name": "config", "mountPath": "/etc/sextant", "readOnly": True}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": object_metadata(isvc, name, labels),
        "spec": {
            "replicas": 0 if suspended else settings.router_replicas,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": labels}, "spec": {
                "automountServiceAccountToken": False,
                "securityContext": pod_security(),
                "terminationGracePeriodSeconds": 20,
                "containers": [container],
                # The router reloads the mounted file when the kubelet updates it: weight changes need no
                # restart (a ConfigMap mounted as a directory is updated in place; a subPath would not be).
                "volumes": [{"name": "tmp", "emptyDir": {}},
                            {"name": "config", "configMap": {"name": name}}],
                **pod_scheduling(isvc["spec"]),
            }},
        },
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": object_metadata(isvc, isvc_name, labels),
               "spec": {"selector": labels,
                        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}
    objects = [config_map, deployment, service]
    if settings.router_replicas >= 2:
        objects.append(disruption_budget(isvc, name, labels))
    return objects


def http_route(isvc: Mapping[str, Any], routes: Sequence[Route], shadow: tuple[Backend, int] | None,
               settings: ServingSettings) -> dict[str, Any]:
    """A Gateway API HTTPRoute: weighted backendRefs and a RequestMirror filter with the shadow's percent."""
    isvc_name = isvc["metadata"]["name"]
    rule: dict[str, Any] = {"backendRefs": [
        {"name": backend_name(isvc_name, r.backend), "port": 80, "weight": r.weight} for r in routes]}
    if shadow is not None and settings.gateway_mirror:
        mirror: dict[str, Any] = {"backendRef": {"name": backend_name(isvc_name, shadow[0]), "port": 80}}
        if shadow[1] < 100:
            mirror["percent"] = shadow[1]
        rule["filters"] = [{"type": "RequestMirror", "requestMirror": mirror}]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": object_metadata(isvc, isvc_name, {LABEL_ISVC: isvc_name}),
        "spec": {"parentRefs": [{"name": settings.gateway_name, "namespace": settings.gateway_namespace}],
                 "hostnames": [route_hostname(isvc, settings)], "rules": [rule]},
    }


def route_hostname(isvc: Mapping[str, Any], settings: ServingSettings) -> str:
    return f"{isvc['metadata']['name']}.{isvc['metadata']['namespace']}.{settings.gateway_domain}"


def service_url(isvc: Mapping[str, Any], settings: ServingSettings) -> str:
    """The one address callers use: the router's Service, or the HTTPRoute's host name."""
    if settings.routing == "gateway":
        return f"http://{route_hostname(isvc, settings)}"
    return f"http://{service_host(isvc, isvc['metadata']['name'], settings)}"
