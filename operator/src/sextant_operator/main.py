"""Entry point of the operator process: parse configuration, build the registry, run kopf."""

from __future__ import annotations

import sys

import kopf

from .admission.webhook import configure_webhook_server
from .config import ConfigError, config_from_env
from .handlers.heap import limit_arenas
from .registry import build_registry
from .settings import apply_settings

#: glibc's default is 8 per core, one per thread that allocates; the threads here take turns on the GIL, so two
#: arenas cost them no waiting and keep freed memory in fewer, reusable places (docs/scale.md, P2)
MALLOC_ARENAS = 2
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
    limit_arenas(MALLOC_ARENAS)  # before kopf's loop and the API-call threads start
    kopf.run(
        registry=build_registry(config), settings=settings, standalone=True,
        clusterwide=config.clusterwide, namespaces=config.namespaces,
        liveness_endpoint=config.liveness_endpoint or None,
    )
    return 0
