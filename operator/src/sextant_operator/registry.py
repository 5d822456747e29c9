"""Builds the kopf registry: every handler of the operator, registered explicitly (nothing at import time)."""

from __future__ import annotations

from typing import Any

import kopf

from .admission.webhook import register_admission
from .config import OperatorConfig
from .handlers.inferenceservice import register_inferenceservice_handlers
from .handlers.kube_actions import KubeActions
from .handlers.run_results import RunResults
from .handlers.trainingjob import TrainingReconciler, register_trainingjob_handlers
from .reconcile.inferenceservice import no_registry
from .reconcile.training_job_manifest import TrainingSettings


def training_settings(config: OperatorConfig) -> TrainingSettings:
    """What training pods get from the operator's configuration: image, store location, Secret name."""
    store_env = {}
    if config.store_endpoint:
        store_env["AWS_ENDPOINT_URL"] = config.store_endpoint
    if config.store_region:
        store_env.update({"AWS_REGION": config.store_region, "AWS_DEFAULT_REGION": config.store_region})
    return TrainingSettings(image=config.trainer_image, image_pull_policy=config.trainer_pull_policy,
                            default_backend=config.default_backend, store_uri=config.store_uri,
                            store_env=store_env, store_secret=config.trainer_store_secret)


def build_registry(config: OperatorConfig) -> kopf.OperatorRegistry:
    """A registry with login, the reconcilers of both kinds and, when enabled, the admission handler."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    reconciler = TrainingReconciler(training_settings(config), KubeActions(),
                                    RunResults(config.store_uri))
    register_trainingjob_handlers(registry, reconciler)
    register_inferenceservice_handlers(registry, no_registry)
    if config.webhook_enabled:
        register_admission(registry)
    return registry
