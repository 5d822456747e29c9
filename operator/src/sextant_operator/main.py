"""Entry point of the operator process: parse configuration, build the registry, run kopf."""

from __future__ import annotations

import sys

import kopf

from .admission.webhook import configure_webhook_server
from .config import ConfigError, config_from_env
from .registry import build_registry
from .settings import apply_settings

LOG_FORMATS = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}


def main() -> int:
    """Run the operator until it is stopped; return a process exit code."""
    try:
        config = config_from_env()
        kopf.configure(log_format=LOG_FORMATS[config.log_format], log_prefix=True)
        settings = kopf.OperatorSettings()
        apply_settings(settings, config)
        if config.webhook_enabled:
            configure_webhook_server(settings, config)
    except (ConfigError, ValueError) as exc:
        print(f"sextant-operator: {exc}", file=sys.stderr)
        return 2
    kopf.run(
        registry=build_registry(config), settings=settings, standalone=True,
        clusterwide=config.clusterwide, namespaces=config.namespaces,
        liveness_endpoint=config.liveness_endpoint or None,
    )
    return 0
