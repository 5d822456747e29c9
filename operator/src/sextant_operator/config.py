"""Operator configuration read once from the environment in main(), never at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sextant_contracts.errors import InvalidURI
from sextant_contracts.storage import split_uri

BACKENDS = ("job", "kubeflow")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
ROUTINGS = ("auto", "router", "gateway")
MIRROR_SETTINGS = ("auto", "true", "false")
# In a pod, probes and the API server reach the operator on the pod IP, so it listens on every interface;
# tests and local runs set SEXTANT_WEBHOOK_BIND / SEXTANT_LIVENESS to 127.0.0.1.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


class ConfigError(ValueError):
    """An environment variable has a value the operator cannot use; the message names it and the fix."""


@dataclass(frozen=True)
class OperatorConfig:
    """Everything the operator needs to know about its deployment."""

    namespaces: tuple[str, ...] = ()
    default_backend: str = "job"
    worker_limit: int = 20
    watch_server_timeout: int = 300
    liveness_endpoint: str = f"http://{ALL_INTERFACES}:8080/healthz"
    webhook_enabled: bool = True
    webhook_bind: str = ALL_INTERFACES
    webhook_port: int = 9443
    webhook_cert_dir: Path | None = None
    log_format: str = "plain"
    # The artifact store (docs/artifact-store.md): its URI, and the Secret whose AWS_* keys reach it.
    store_uri: str | None = None
    store_credentials_secret: str | None = None
    # Training pods (docs/training.md): their image, and the Secret in each TrainingJob's namespace whose
    # AWS_* keys reach the store (the operator passes its name, never its content).
    trainer_image: str = "ghcr.io/sextant-ml/sextant-trainer:0.1.0"
    trainer_pull_policy: str = "IfNotPresent"
    trainer_store_secret: str | None = "sextant-artifact-store"  # noqa: S105 - a Secret's name, not a key
    store_endpoint: str | None = None
    store_region: str | None = None
    # spec.compute.dask (docs/dask.md): run such TrainingJobs as DaskJobs of the Dask Kubernetes operator, which
    # must be installed (chart value dask.enabled).
    dask_enabled: bool = False
    # Model servers and routers (docs/serving.md): images, and what splits traffic (auto: an HTTPRoute when the
    # Gateway API CRDs are installed, else the router), the Gateway routes attach to and their host names.
    server_image: str = "ghcr.io/sextant-ml/sextant-server:0.1.0"
    router_image: str = "ghcr.io/sextant-ml/sextant-router:0.1.0"
    serving_pull_policy: str = "IfNotPresent"
    routing: str = "auto"
    gateway: tuple[str, str] = ("sextant-system", "sextant")
    gateway_domain: str = "sextant.local"
    gateway_mirror: str = "auto"
    prometheus_url: str | None = None
    activation_timeout_seconds: int = 120
    # The kubeflow training backend (docs/pipelines.md): the KFP API, the namespace and experiment runs go to, a
    # token file (a Secret's key or a projected ServiceAccount token; none in single-user KFP), the UI for links.
    kubeflow_endpoint: str | None = None
    kubeflow_namespace: str = "kubeflow"
    kubeflow_experiment: str = "sextant"
    kubeflow_token_file: Path | None = None
    kubeflow_ui_url: str | None = None
    #: Port of the operator's /metrics (drift scores, finished runs); 0 turns it off.
    metrics_port: int = 8081

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    wanted = f"a whole number >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; set it to {wanted}") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below {minimum}; set it to {wanted}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above {maximum}; set it to {wanted}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def config_from_env(env: Mapping[str, str] | None = None) -> OperatorConfig:
    """Parse SEXTANT_* variables. Raises ConfigError naming the variable when one is invalid."""
    env = os.environ if env is None else env
    namespaces = tuple(n.strip() for n in env.get("SEXTANT_NAMESPACES", "").split(",") if n.strip())
    backend = env.get("SEXTANT_DEFAULT_BACKEND", "job")
    if backend not in BACKENDS:
        raise ConfigError(f"SEXTANT_DEFAULT_BACKEND={backend!r} is unknown; use one of {', '.join(BACKENDS)}")
    cert_dir = env.get("SEXTANT_WEBHOOK_CERT_DIR")
    kubeflow = _kubeflow_endpoint(env, backend)
    token_file = env.get("SEXTANT_KFP_TOKEN_FILE")
    return OperatorConfig(
        namespaces=namespaces,
        default_backend=backend,
        worker_limit=_int(env, "SEXTANT_WORKER_LIMIT", 20, 1),
        watch_server_timeout=_int(env, "SEXTANT_WATCH_TIMEOUT", 300, 10),
        liveness_endpoint=env.get("SEXTANT_LIVENESS", f"http://{ALL_INTERFACES}:8080/healthz"),
        webhook_enabled=_bool(env, "SEXTANT_WEBHOOK_ENABLED", True),
        webhook_bind=env.get("SEXTANT_WEBHOOK_BIND", ALL_INTERFACES),
        webhook_port=_int(env, "SEXTANT_WEBHOOK_PORT", 9443, 1),
        webhook_cert_dir=Path(cert_dir) if cert_dir else None,
        log_format=_log_format(env),
        store_uri=_store_uri(env),
        store_credentials_secret=env.get("SEXTANT_STORE_CREDENTIALS_SECRET") or None,
        trainer_image=env.get("SEXTANT_TRAINER_IMAGE") or OperatorConfig.trainer_image,
        trainer_pull_policy=_choice(env, "SEXTANT_TRAINER_PULL_POLICY", "IfNotPresent", PULL_POLICIES),
        trainer_store_secret=env.get("SEXTANT_TRAINER_STORE_SECRET", OperatorConfig.trainer_store_secret or "") or None,
        store_endpoint=env.get("AWS_ENDPOINT_URL") or None,
        store_region=env.get("AWS_REGION") or None,
        dask_enabled=_bool(env, "SEXTANT_DASK_ENABLED", False),
        server_image=env.get("SEXTANT_SERVER_IMAGE") or OperatorConfig.server_image,
        router_image=env.get("SEXTANT_ROUTER_IMAGE") or OperatorConfig.router_image,
        serving_pull_policy=_choice(env, "SEXTANT_SERVING_PULL_POLICY", "IfNotPresent", PULL_POLICIES),
        routing=_choice(env, "SEXTANT_ROUTING", "auto", ROUTINGS),
        gateway=_gateway(env),
        gateway_domain=env.get("SEXTANT_GATEWAY_DOMAIN") or OperatorConfig.gateway_domain,
        gateway_mirror=_choice(env, "SEXTANT_GATEWAY_MIRROR", "auto", MIRROR_SETTINGS),
        prometheus_url=env.get("SEXTANT_PROMETHEUS_URL") or None,
        activation_timeout_seconds=_int(env, "SEXTANT_ACTIVATION_TIMEOUT_SECONDS", 120, 1, 900),
        kubeflow_endpoint=kubeflow,
        kubeflow_namespace=env.get("SEXTANT_KFP_NAMESPACE") or OperatorConfig.kubeflow_namespace,
        kubeflow_experiment=env.get("SEXTANT_KFP_EXPERIMENT") or OperatorConfig.kubeflow_experiment,
        kubeflow_token_file=Path(token_file) if token_file else None,
        kubeflow_ui_url=env.get("SEXTANT_KFP_UI_URL") or None,
        metrics_port=_int(env, "SEXTANT_METRICS_PORT", 8081, 0),
    )


def _kubeflow_endpoint(env: Mapping[str, str], backend: str) -> str | None:
    value = env.get("SEXTANT_KFP_ENDPOINT", "").strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"SEXTANT_KFP_ENDPOINT={value!r} is not an http(s) URL; set it to the KFP API, e.g. "
                          f"http://ml-pipeline.kubeflow:8888")
    if backend == "kubeflow" and not value:
        raise ConfigError("SEXTANT_DEFAULT_BACKEND=kubeflow needs SEXTANT_KFP_ENDPOINT (chart value "
                          "kubeflow.endpoint): set it to the KFP API, e.g. http://ml-pipeline.kubeflow:8888")
    return value or None


def _gateway(env: Mapping[str, str]) -> tuple[str, str]:
    value = env.get("SEXTANT_GATEWAY", "")
    if not value:
        return OperatorConfig.gateway
    namespace, _, name = value.partition("/")
    if not namespace or not name:
        raise ConfigError(f"SEXTANT_GATEWAY={value!r} is not namespace/name; set it to the Gateway HTTPRoutes "
                          f"attach to, e.g. sextant-system/sextant")
    return namespace, name


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is unknown; use one of {', '.join(allowed)}")
    return value


def _store_uri(env: Mapping[str, str]) -> str | None:
    value = env.get("SEXTANT_STORE_URI", "")
    if not value:
        return None
    try:
        split_uri(value)
    except InvalidURI as exc:
        raise ConfigError(f"SEXTANT_STORE_URI={value!r} is not a store URI: {exc}") from None
    return value


def _log_format(env: Mapping[str, str]) -> str:
    value = env.get("SEXTANT_LOG_FORMAT", "plain")
    if value not in ("plain", "full", "json"):
        raise ConfigError(f"SEXTANT_LOG_FORMAT={value!r} is unknown; use plain, full or json")
    return value
