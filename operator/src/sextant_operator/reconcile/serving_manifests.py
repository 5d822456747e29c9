"""The Kubernetes objects that serve an InferenceService, built from its spec and the operator's settings (pure).

Per backend (a variant's model version, or the shadow's): a Deployment of the model server, a Service, an
autoscaler (HPA, or a KEDA ScaledObject) and, from 2 replicas up, a PodDisruptionBudget. Per InferenceService:
one stable address in front of the backends, either the Sextant router (a ConfigMap, a Deployment of at least 2
replicas, a PodDisruptionBudget and a Service; while one backend takes all the traffic, only the Service, selecting
that backend's servers) or a Gateway API HTTPRoute. A variant's backend is named by its
model version, so a new version is a new Deployment beside the old one: traffic moves between them by weight
and the old pods keep serving until the new ones are ready.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sextant_contracts.resources.crd import GROUP, VERSION
from sextant_contracts.serving_settings import batching_env

if TYPE_CHECKING:
    from .serving_autoscaling import Autoscaling

GROUP_PREFIX = "ml.sextant.io"
LABEL_ISVC = f"{GROUP_PREFIX}/inferenceservice"
LABEL_VARIANT = f"{GROUP_PREFIX}/variant"
LABEL_MODEL_VERSION = f"{GROUP_PREFIX}/model-version"
LABEL_COMPONENT = f"{GROUP_PREFIX}/component"
ANNOTATION_DIGEST = f"{GROUP_PREFIX}/model-digest"
ANNOTATION_CONFIG_HASH = f"{GROUP_PREFIX}/config-hash"
COMPONENT_SERVER = "model-server"
COMPONENT_ROUTER = "router"
#: The InferenceService's Service while it selects one backend's model servers directly (no router).
COMPONENT_ADDRESS = "address"
SERVER_PORT = 3000
ROUTER_PORT = 8080
SERVER_UID = 65532
MAX_NAME = 63
Routing = Literal["router", "gateway"]


@dataclass(frozen=True)
class ServingSettings:
    """The operator's defaults for serving (chart values `serving.*` and `artifactStore.*`)."""

    server_image: str = "ghcr.io/sextant-ml/sextant-server:0.1.0"
    router_image: str = "ghcr.io/sextant-ml/sextant-router:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    store_uri: str | None = None
    store_env: Mapping[str, str] = field(default_factory=dict)
    #: Secret in the InferenceService's namespace whose AWS_* keys reach the store (envFrom, by reference).
    store_secret: str | None = None
    routing: Routing = "router"
    gateway_name: str = "sextant"
    gateway_namespace: str = "sextant-system"
    #: Host names of HTTPRoutes: <name>.<namespace>.<domain>.
    gateway_domain: str = "sextant.local"
    #: Whether the Gateway implements HTTPRoute RequestMirror with a percentage (Envoy Gateway, Istio, NGINX
    #: Gateway Fabric >= 2.1 do; Traefik answers 500 to every request of a rule that has one).
    gateway_mirror: bool = False
    #: Why a shadow behind the Gateway gets no copies (gateway_features.mirror_decision), for its status.
    gateway_mirror_note: str = ""
    keda_available: bool = False
    router_replicas: int = 2
    default_requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "250m", "memory": "512Mi"})
    default_limits: Mapping[str, str] = field(default_factory=lambda: {"memory": "1Gi"})
    cluster_domain: str = "cluster.local"
    prometheus_url: str | None = None
    #: Seconds the router holds a request while no variant is ready and one may be at zero replicas.
    activation_timeout_seconds: int = 120


@dataclass(frozen=True)
class Backend:
    """One model-server Deployment: a variant (or the shadow) at one pinned model version."""

    variant: str
    model: str
    version: int
    digest: str
    shadow: bool = False
    resources: Mapping[str, Any] = field(default_factory=dict)
    scaling: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.variant}-v{self.version}"


@dataclass(frozen=True)
class Route:
    """A backend's share of the traffic (weights sum to 100 over the non-shadow routes)."""

    backend: Backend
    weight: int


def bounded_name(*parts: str) -> str:
    """parts joined by '-', shortened with a hash when longer than a DNS label (63)."""
    name = "-".join(parts)
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9].rstrip('-')}-{digest}"


def backend_name(isvc: str, backend: Backend) -> str:
    return bounded_name(isvc, backend.variant, f"v{backend.version}")


def router_name(isvc: str) -> str:
    return bounded_name(isvc, "router")


def owner_reference(isvc: Mapping[str, Any]) -> dict[str, Any]:
    meta = isvc["metadata"]
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def object_metadata(isvc: Mapping[str, Any], name: str, labels: Mapping[str, str],
              annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": isvc["metadata"]["namespace"],
                            "labels": {"app.kubernetes.io/managed-by": "sextant-operator", **labels},
                            "ownerReferences": [owner_reference(isvc)]}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def backend_labels(isvc: str, backend: Backend) -> dict[str, str]:
    return {LABEL_ISVC: isvc, LABEL_VARIANT: backend.variant, LABEL_MODEL_VERSION: str(backend.version),
            LABEL_COMPONENT: COMPONENT_SERVER}


def service_host(isvc: Mapping[str, Any], name: str, settings: ServingSettings) -> str:
    return f"{name}.{isvc['metadata']['namespace']}.svc.{settings.cluster_domain}"


def disruption_budget(isvc: Mapping[str, Any], name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """At most one pod of the set evicted at a time (node drains, cluster upgrades)."""
    return {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": object_metadata(isvc, name, labels),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(labels)}},
    }


# ---- model servers -----------------------------------------------------------------------------------------

def _resources(wanted: Mapping[str, Any], settings: ServingSettings) -> dict[str, Any]:
    requests = {**settings.default_requests, **(wanted.get("requests") or {})}
    limits = {**settings.default_limits, **(wanted.get("limits") or {})}
    return {"requests": {k: str(v) for k, v in requests.items()}, "limits": {k: str(v) for k, v in limits.items()}}


def restricted_container() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": SERVER_UID, "runAsGroup": SERVER_UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def pod_scheduling(spec: Mapping[str, Any]) -> dict[str, Any]:
    scheduling = spec.get("scheduling") or {}
    return {k: scheduling[k] for k in ("nodeSelector", "tolerations", "affinity", "priorityClassName")
            if scheduling.get(k)}


def server_env(isvc: Mapping[str, Any], backend: Backend, settings: ServingSettings) -> list[dict[str, Any]]:
    """The model server's environment: the pinned digest, where the store is, and the spec's own env."""
    spec = isvc["spec"]
    env: list[dict[str, Any]] = [
        {"name": "SEXTANT_MODEL_NAME", "value": backend.model},
        {"name": "SEXTANT_MODEL_VERSION", "value": str(backend.version)},
        {"name": "SEXTANT_MODEL_DIGEST", "value": backend.digest},
        {"name": "SEXTANT_VARIANT", "value": backend.variant},
    ]
    if settings.store_uri:
        env.append({"name": "SEXTANT_STORE_URI", "value": settings.store_uri})
    env += [{"name": k, "value": v} for k, v in sorted(settings.store_env.items())]
    return env + [dict(item) for item in spec.get("env") or []]


def server_args(isvc: Mapping[str, Any], backend: Backend, settings: ServingSettings) -> list[str]:
    """`python -m sextant_services serve` arguments (the image's entrypoint), spec.batching included."""
    batching = batching_env(isvc["spec"].get("batching"))
    args = ["--store", settings.store_uri or "", "--model", backend.model, "--version", str(backend.version),
            "--variant", backend.variant, "--host", "0.0.0.0", "--port", str(SERVER_PORT),  # noqa: S104
            "--max-batch-size", batching["SEXTANT_MAX_BATCH_SIZE"],
            "--max-latency-ms", batching["SEXTANT_MAX_LATENCY_MS"]]
    if batching["SEXTANT_BATCHING"] == "false":
        args.append("--no-batching")
    return args


#: Seconds a model server's pod must stay ready before its Deployment counts it available, and the operator
#: routes traffic to it or calls the InferenceService Ready: a pod enters its Service's endpoints when ready, then
#: kube-proxy programs it and the routers' next probe (one a second) takes it in. Without the wait, `Ready` came
#: before the routers' first route and a CI run's first requests got 437 answers `503 NoVariantReady`.
ROUTE_PROPAGATION_SECONDS = 5

#: Startup probes (every 2 s) a model server gets before the kubelet restarts it: 10 minutes to load its model.
STARTUP_PROBE_FAILURES = 300


def server_deployment(isvc: Mapping[str, Any], backend: Backend, settings: ServingSettings,
                      scale: Autoscaling) -> dict[str, Any]:
    """The model server of one backend. Its pods are ready only once the model is loaded, its digest matches
    the pin and a warm-up prediction passed; a rolling update never removes a ready pod before its successor
    is ready (maxUnavailable 0), so a new pod that cannot load leaves the old ones serving."""
    spec = isvc["spec"]
    isvc_name = isvc["metadata"]["name"]
    name = backend_name(isvc_name, backend)
    labels = backend_labels(isvc_name, backend)
    account = spec.get("serviceAccountName")
    env_from = ([{"secretRef": {"name": settings.store_secret}}] if settings.store_secret else []) + \
        [dict(item) for item in spec.get("envFrom") or []]
    container: dict[str, Any] = {
        "name": "server",
        "image": spec.get("image") or settings.server_image,
        "imagePullPolicy": settings.image_pull_policy,
        # The image's entrypoint is `python -m sextant_services serve`; the model comes from SEXTANT_* env.
        "args": server_args(isvc, backend, settings),
        "ports": [{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}],
        "env": server_env(isvc, backend, settings),
        "resources": _resources(backend.resources or spec.get("resources") or {}, settings),
        # Three misses in a row (the kubelet's default), not one: on a busy node a serving pod can miss one
        # 2 s deadline, and with one replica that emptied the variant's endpoints. A draining pod leaves the
        # endpoints at its deletion, whatever this probe says.
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2,
                           "timeoutSeconds": 2, "failureThreshold": 3},
        # A worker answers only after its first load attempt, which on a busy node (a 100m CPU request buys
        # little under contention) took over a minute: without a startup probe the liveness probe killed
        # servers that were still loading, over and over. Liveness starts once /livez first answers.
        "startupProbe": {"httpGet": {"path": "/livez", "port": "http"}, "periodSeconds": 2,
                         "timeoutSeconds": 2, "failureThreshold": STARTUP_PROBE_FAILURES},
        "livenessProbe": {"httpGet": {"path": "/livez", "port": "http"}, "periodSeconds": 10,
                          "timeoutSeconds": 5, "failureThreshold": 6},
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": restricted_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own emptyDir
    }
    if env_from:
        container["envFrom"] = env_from
    pod: dict[str, Any] = {
        "automountServiceAccountToken": bool(account),
        "securityContext": pod_security(),
        # The server stops being ready at SIGTERM, keeps serving 2 s, then drains for up to 20 s.
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        **pod_scheduling(spec),
    }
    if account:
        pod["serviceAccountName"] = account
    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "revisionHistoryLimit": 3,
        "progressDeadlineSeconds": 600,
        "minReadySeconds": ROUTE_PROPAGATION_SECONDS,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {"metadata": {"labels": labels, "annotations": {ANNOTATION_DIGEST: backend.digest}},
                     "spec": pod},
    }
    if scale.kind == "fixed":  # an autoscaler owns the count otherwise: never fight it (kserve#3768)
        deployment_spec["replicas"] = scale.min_replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": object_metadata(isvc, name, labels, {ANNOTATION_DIGEST: backend.digest}),
            "spec": deployment_spec}


def server_service(isvc: Mapping[str, Any], backend: Backend) -> dict[str, Any]:
    isvc_name = isvc["metadata"]["name"]
    labels = backend_labels(isvc_name, backend)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": object_metadata(isvc, backend_name(isvc_name, backend), labels),
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                                   "protocol": "TCP"}]}}


def backend_objects(isvc: Mapping[str, Any], backend: Backend, settings: ServingSettings,
                    scale: Autoscaling, addressed: bool = True) -> list[dict[str, Any]]:
    """Deployment, Service (when `addressed`: a router or an HTTPRoute sends it traffic) and (from 2 replicas up)
    PodDisruptionBudget of one backend; its autoscaler comes from serving_autoscaling.autoscaler_objects."""
    isvc_name = isvc["metadata"]["name"]
    name = backend_name(isvc_name, backend)
    labels = backend_labels(isvc_name, backend)
    objects = [server_deployment(isvc, backend, settings, scale), *([server_service(isvc, backend)] if addressed
                                                                    else [])]
    if scale.min_replicas >= 2:
        objects.append(disruption_budget(isvc, name, labels))
    return objects
