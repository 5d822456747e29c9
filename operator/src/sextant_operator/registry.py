"""Builds the kopf registry: every handler of the operator, registered explicitly (nothing at import time)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, cast

import kopf

from .admission.webhook import register_admission
from .config import OperatorConfig
from .handlers.batchprediction import BatchReconciler, register_batchprediction_handlers
from .handlers.drift_monitor import DriftMonitor, DriftReports
from .handlers.heap import register_heap_trimmer
from .handlers.inferenceservice import ServingReconciler, register_inferenceservice_handlers
from .handlers.kube_actions import KubeActions
from .handlers.kubeflow_training import KubeflowTraining
from .handlers.model_registry import RegistryResolver
from .handlers.operator_metrics import OperatorMetrics
from .handlers.run_results import RunResults
from .handlers.trainingjob import OWNED_STATUS_FIELDS, TrainingReconciler, register_trainingjob_handlers
from .kubeflow.api import KubeflowApi, KubeflowSettings
from .reconcile.batch_job_manifest import BatchSettings
from .reconcile.gateway_features import MirrorSetting, mirror_decision
from .reconcile.serving_manifests import ServingSettings
from .reconcile.training_job_manifest import TrainingSettings

GATEWAY_API = "gateway.networking.k8s.io/v1"

log = logging.getLogger("sextant.operator")


def training_settings(config: OperatorConfig) -> TrainingSettings:
    """What training pods get from the operator's configuration: image, store location, Secret name."""
    return TrainingSettings(image=config.trainer_image, image_pull_policy=config.trainer_pull_policy,
                            default_backend=config.default_backend, store_uri=config.store_uri,
                            store_env=_store_env(config), store_secret=config.trainer_store_secret,
                            dask_enabled=config.dask_enabled)


def _store_env(config: OperatorConfig) -> dict[str, str]:
    store_env = {}
    if config.store_endpoint:
        store_env["AWS_ENDPOINT_URL"] = config.store_endpoint
    if config.store_region:
        store_env.update({"AWS_REGION": config.store_region, "AWS_DEFAULT_REGION": config.store_region})
    return store_env


def kubeflow_training(config: OperatorConfig, actions: KubeActions, results: RunResults) -> KubeflowTraining | None:
    """The kubeflow backend when a KFP endpoint is configured; None leaves kubeflow TrainingJobs Pending."""
    if not config.kubeflow_endpoint:
        return None
    settings = KubeflowSettings(endpoint=config.kubeflow_endpoint, namespace=config.kubeflow_namespace,
                                experiment=config.kubeflow_experiment, token_file=config.kubeflow_token_file,
                                ui_url=config.kubeflow_ui_url or "", component_image=config.trainer_image)
    return KubeflowTraining(KubeflowApi(settings), actions, results, config.store_uri or "", OWNED_STATUS_FIELDS)


def serving_settings(config: OperatorConfig) -> ServingSettings:
    """What model servers and routers get from the operator's configuration (routing decided at start-up)."""
    return ServingSettings(
        server_image=config.server_image, router_image=config.router_image,
        image_pull_policy=config.serving_pull_policy, store_uri=config.store_uri, store_env=_store_env(config),
        store_secret=config.trainer_store_secret, routing="gateway" if config.routing == "gateway" else "router",
        gateway_namespace=config.gateway[0], gateway_name=config.gateway[1], gateway_domain=config.gateway_domain,
        gateway_mirror=config.gateway_mirror == "true", prometheus_url=config.prometheus_url,
        activation_timeout_seconds=config.activation_timeout_seconds)


def batch_settings(config: OperatorConfig) -> BatchSettings:
    """What scorer pods get: the model-server image (it holds the scorer), the store and its Secret's name."""
    return BatchSettings(image=config.server_image, image_pull_policy=config.serving_pull_policy,
                         store_uri=config.store_uri, store_env=_store_env(config),
                         store_secret=config.trainer_store_secret)


def detect_optional_apis(settings: ServingSettings, actions: KubeActions, routing: str,
                         mirror: MirrorSetting = "auto") -> ServingSettings:
    """Which optional CRDs this cluster has, read once at start-up (kopf does not see CRDs added later); behind a
    Gateway, whether it mirrors (its GatewayClass's supportedFeatures, unless the chart says)."""
    try:
        gateway = actions.has_resource(GATEWAY_API, "httproutes")
        keda = actions.has_resource("keda.sh/v1alpha1", "scaledobjects")
    except Exception as exc:  # noqa: BLE001 - discovery failing must not stop the operator: assume neither
        log.warning("cannot discover optional APIs (%s): assuming no Gateway API and no KEDA", exc)
        gateway = keda = False
    if routing == "gateway" and not gateway:
        log.warning("SEXTANT_ROUTING=gateway but the Gateway API CRDs are not installed: HTTPRoutes will fail")
    chosen = "gateway" if routing == "gateway" or (routing == "auto" and gateway) else "router"
    log.info("serving: traffic split by %s (Gateway API %s), KEDA %s", chosen,
             "installed" if gateway else "not installed", "installed" if keda else "not installed")
    mirrors, note = (_gateway_mirrors(settings, actions, mirror) if chosen == "gateway" else (False, ""))
    if chosen == "gateway":
        log.info("serving: shadow variants %s", "get mirrored copies" if mirrors else f"get no copies: {note}")
    return dataclasses.replace(settings, routing=chosen, keda_available=keda,  # type: ignore[arg-type]
                               gateway_mirror=mirrors, gateway_mirror_note=note)


def _gateway_mirrors(settings: ServingSettings, actions: KubeActions, mirror: MirrorSetting) -> tuple[bool, str]:
    ref = f"{settings.gateway_namespace}/{settings.gateway_name}"
    if mirror != "auto":
        return mirror_decision(mirror, ref, None, None)
    try:
        gateway = actions.read_object(GATEWAY_API, "Gateway", settings.gateway_namespace, settings.gateway_name)
        class_name = str(((gateway or {}).get("spec") or {}).get("gatewayClassName", ""))
        gateway_class = actions.read_object(GATEWAY_API, "GatewayClass", "", class_name) if class_name else None
    except Exception as exc:  # noqa: BLE001 - a Gateway that cannot be read must not stop the operator
        status = getattr(exc, "status", None)  # the client's ApiException: "403 Forbidden" says it all
        why = f"{status} {getattr(exc, 'reason', '')}".strip() if status else (str(exc).splitlines() or [""])[0]
        if status == 403:
            why += "; the chart grants that read only in cluster-wide mode, with watch.namespaces empty"
        return mirror_decision(mirror, ref, None, None, error=why)
    return mirror_decision(mirror, ref, gateway, gateway_class)


def build_registry(config: OperatorConfig) -> kopf.OperatorRegistry:
    """A registry with login, the reconcilers of the three kinds and, when enabled, the admission handlers."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    metrics = OperatorMetrics()
    training_actions, results = KubeActions(), RunResults(config.store_uri)
    reconciler = TrainingReconciler(training_settings(config), training_actions, results,
                                    concurrency=config.worker_limit, metrics=metrics,
                                    kubeflow=kubeflow_training(config, training_actions, results))
    register_trainingjob_handlers(registry, reconciler)
    actions = KubeActions()
    drift = DriftMonitor(actions, DriftReports(config.store_uri), metrics, config.prometheus_url)
    serving = ServingReconciler(serving_settings(config), actions, RegistryResolver(config.store_uri),
                                concurrency=config.worker_limit, drift=drift)

    @kopf.on.startup(registry=registry)
    def detect_serving_apis(**_: Any) -> None:
        serving.settings = detect_optional_apis(serving.settings, actions, config.routing,
                                                cast(MirrorSetting, config.gateway_mirror))
        if config.metrics_port:
            try:
                metrics.serve(config.metrics_port)
                log.info("serving the operator's metrics on :%d/metrics", config.metrics_port)
            except OSError as exc:
                log.warning("cannot serve metrics on :%d (%s); running without them (set SEXTANT_METRICS_PORT)",
                            config.metrics_port, exc)

    register_inferenceservice_handlers(registry, serving)
    batch = BatchReconciler(batch_settings(config), actions, RegistryResolver(config.store_uri),
                            RunResults(config.store_uri), concurrency=config.worker_limit)
    register_batchprediction_handlers(registry, batch)
    reconcilers = {"TrainingJob": reconciler, "InferenceService": serving, "BatchPrediction": batch}
    metrics.count_reconcilers(reconcilers)
    register_heap_trimmer(registry, list(reconcilers.values()))
    if config.webhook_enabled:
        register_admission(registry)
    return registry
