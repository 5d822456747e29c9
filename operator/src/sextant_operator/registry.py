"""Builds the kopf registry: every handler of the operator, registered explicitly (nothing at import time)."""

from __future__ import annotations

from typing import Any

import kopf

from .admission.webhook import register_admission
from .config import OperatorConfig
from .handlers.inferenceservice import register_inferenceservice_handlers
from .handlers.trainingjob import register_trainingjob_handlers
from .reconcile.inferenceservice import no_registry
from .reconcile.trainingjob import TrainingContext


def build_registry(config: OperatorConfig) -> kopf.OperatorRegistry:
    """A registry with login, the reconcilers of both kinds and, when enabled, the admission handler."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    register_trainingjob_handlers(registry, TrainingContext(default_backend=config.default_backend))
    register_inferenceservice_handlers(registry, no_registry)
    if config.webhook_enabled:
        register_admission(registry)
    return registry
