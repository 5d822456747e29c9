"""What sets a model-server backend's replica count (pure): an HPA on CPU, or a KEDA ScaledObject on the servers'
request metrics from Prometheus, and for scale to zero a second trigger on the requests the router holds while no
variant is ready (router/activator.py), which is what brings a variant back from zero."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .serving_manifests import Backend, ServingSettings, backend_labels, backend_name, object_metadata


@dataclass(frozen=True)
class Autoscaling:
    """What sets a backend's replica count, decided from its scaling spec and what the cluster has."""

    kind: Literal["HPA", "KEDA", "fixed"]
    min_replicas: int
    max_replicas: int
    metric: str
    target: int
    note: str = ""  # why the wish could not be met (e.g. KEDA missing), for status
    scale_down_delay: int = 300


def autoscaling(scaling: Mapping[str, Any], settings: ServingSettings, suspended: bool) -> Autoscaling:
    """HPA on CPU by default; KEDA for rps/concurrency or scale to zero; fixed replicas when neither fits."""
    metric = str(scaling.get("metric", "cpu"))
    target = int(scaling.get("target", 70))
    delay = int(scaling.get("scaleDownDelaySeconds", 300))
    low = int(scaling.get("minReplicas", 1))
    high = int(scaling.get("maxReplicas", max(low, 1)))
    if suspended:
        return Autoscaling("fixed", 0, 0, metric, target)
    needs_keda = metric != "cpu" or low == 0
    if needs_keda and settings.keda_available and metric != "cpu":
        return Autoscaling("KEDA", low, high, metric, target, scale_down_delay=delay)
    note = ""
    if needs_keda and settings.keda_available:
        # KEDA scales to zero only on a trigger that is not CPU (its webhook refuses the ScaledObject; without the
        # webhook it would never reach zero): CPU of no pods is not a signal.
        note = ("ScaleToZeroNeedsRequestMetric: minReplicas 0 needs scaling.metric rps or concurrency (CPU cannot "
                "tell idle from absent); keeping at least 1 replica")
        return Autoscaling("HPA" if high > 1 else "fixed", 1, max(high, 1), metric, target, note, delay)
    if needs_keda:
        what = f"scaling on {metric}" if metric != "cpu" else "scaling to zero"
        note = (f"KEDANotInstalled: {what} needs KEDA (keda.sh ScaledObject), which this cluster does not have; "
                f"{'scaling on cpu instead' if metric != 'cpu' else 'keeping at least 1 replica'}")
        metric, target = "cpu", (target if metric == "cpu" else 70)
        low = max(low, 1)
    if high <= low:
        return Autoscaling("fixed", low, low, metric, target, note, delay)
    return Autoscaling("HPA", low, high, metric, target, note, delay)


def hpa(isvc: Mapping[str, Any], name: str, labels: Mapping[str, str], scale: Autoscaling) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": object_metadata(isvc, name, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scale.min_replicas, "maxReplicas": scale.max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": scale.target}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": scale.scale_down_delay}},
        },
    }


def keda_query(namespace: str, name: str, metric: str) -> str:
    """PromQL over the model servers' own request metrics, all pods of the backend summed: prediction requests/s
    (every status), or the mean number of prediction requests in flight.

    The servers export no in-flight gauge; by Little's law the mean concurrency is arrival rate x mean time in the
    server, which is the rate of the latency histogram's sum (seconds spent answering per second). That histogram
    counts answered predictions (200s), so requests failing fast add nothing to it."""
    pods = f'namespace="{namespace}",pod=~"{name}-.*"'
    if metric == "rps":
        return f"sum(rate(sextant_requests_total{{{pods},route=~\"predict|predict_proba|infer\"}}[1m]))"
    if metric == "concurrency":
        return f"sum(rate(sextant_request_duration_seconds_sum{{{pods}}}[1m]))"
    raise ValueError(f"scaling.metric: {metric!r} has no Prometheus query; use rps or concurrency")


def held_requests_query(namespace: str, isvc: str) -> str:
    """PromQL: 1 while the InferenceService's routers hold any request (no variant ready), else 0. Capped at 1 so
    it wakes a variant at zero (KEDA activates on any value above 0) without asking for more than one replica;
    the request-rate trigger takes over once the variant serves."""
    return f'clamp_max(sum(sextant_router_held_requests{{namespace="{namespace}",inferenceservice="{isvc}"}}), 1)'


#: Seconds between KEDA's checks of a ScaledObject that can be at zero (its default, 30 s, would add up to 30 s
#: to the first request's wait); 1 to N replicas is the HPA's job, which asks every 15 s whatever this says.
ACTIVATION_POLLING_SECONDS = 5


def scaled_object(isvc: Mapping[str, Any], name: str, labels: Mapping[str, str], scale: Autoscaling,
                  settings: ServingSettings) -> dict[str, Any]:
    namespace = isvc["metadata"]["namespace"]
    prometheus = settings.prometheus_url or "http://prometheus.monitoring.svc:9090"
    if scale.metric == "cpu":
        triggers: list[dict[str, Any]] = [{"type": "cpu", "metricType": "Utilization",
                                           "metadata": {"value": str(scale.target)}}]
    else:
        triggers = [{"type": "prometheus", "metadata": {
            "serverAddress": prometheus, "query": keda_query(namespace, name, scale.metric),
            "threshold": str(scale.target)}}]
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": name}, "minReplicaCount": scale.min_replicas,
        "maxReplicaCount": scale.max_replicas, "cooldownPeriod": scale.scale_down_delay,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {
            "stabilizationWindowSeconds": scale.scale_down_delay}}}},
        "triggers": triggers}
    if scale.min_replicas == 0 and settings.routing == "router":
        triggers.append({"type": "prometheus", "name": "held-requests", "metadata": {
            "serverAddress": prometheus, "query": held_requests_query(namespace, isvc["metadata"]["name"]),
            "threshold": "1", "activationThreshold": "0"}})
        spec["pollingInterval"] = ACTIVATION_POLLING_SECONDS
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": object_metadata(isvc, name, labels), "spec": spec}


def autoscaler_objects(isvc: Mapping[str, Any], backend: Backend, settings: ServingSettings,
                       scale: Autoscaling) -> list[dict[str, Any]]:
    """The backend's HPA or ScaledObject (none when its replica count is fixed)."""
    isvc_name = isvc["metadata"]["name"]
    name, labels = backend_name(isvc_name, backend), backend_labels(isvc_name, backend)
    if scale.kind == "HPA":
        return [hpa(isvc, name, labels, scale)]
    if scale.kind == "KEDA":
        return [scaled_object(isvc, name, labels, scale, settings)]
    return []


def scales_from_zero(scales: list[Autoscaling]) -> bool:
    """Whether any backend may be at zero replicas, so the router should hold requests while nothing is ready."""
    return any(scale.kind == "KEDA" and scale.min_replicas == 0 for scale in scales)
