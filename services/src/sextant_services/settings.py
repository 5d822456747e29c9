"""Server settings read from SEXTANT_* environment variables, validated with errors naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sextant_contracts.serving_settings import BATCHING_ENV, batching_default

from .batching import BatchingConfig
from .model_source import ModelRef


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 1) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not an integer") from None
    if value < minimum:
        raise ValueError(f"{key}={value} must be at least {minimum}")
    return value


def _seconds(env: Mapping[str, str], key: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a number of seconds") from None
    if not value >= minimum:  # also refuses nan
        raise ValueError(f"{key}={value:g} must be at least {minimum:g}")
    return value


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{key}={raw!r} must be true or false")


@dataclass(frozen=True)
class ServerSettings:
    """What one model server serves and how."""

    store_uri: str
    model: ModelRef
    variant: str = "default"
    batching: BatchingConfig = BatchingConfig()
    max_body_bytes: int = 1 << 20
    max_rows: int = 10_000
    workers: int = 1
    # Mean requests a keep-alive connection serves before the server closes it (0: never). Several workers
    # share one listening socket and one worker often accepts a whole burst of connections; closing now and
    # then lets clients reconnect to whichever worker is free (nginx's keepalive_requests, at random).
    keepalive_requests: int = 100
    # A failed model load (store unreachable, artifact missing, digest mismatch, warm-up failure) is retried
    # after load_retry_initial seconds, doubling up to load_retry_max; the worker stays live but not ready.
    load_retry_initial: float = 1.0
    load_retry_max: float = 60.0
    # On SIGTERM: not ready at once; keep accepting for shutdown_delay seconds (probes and routers see the
    # 503 and stop sending), then stop accepting and give in-flight requests at most drain seconds.
    shutdown_delay: float = 2.0
    drain: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        """Raises ValueError naming the SEXTANT_* variable that is missing or wrong."""
        env = os.environ if env is None else env
        store = env.get("SEXTANT_STORE_URI", "")
        name = env.get("SEXTANT_MODEL_NAME", "")
        if not store or not name:
            raise ValueError("set SEXTANT_STORE_URI (file:// or s3:// artifact store) and SEXTANT_MODEL_NAME")
        version_raw = env.get("SEXTANT_MODEL_VERSION") or None
        alias = env.get("SEXTANT_MODEL_ALIAS") or None
        version = _int(env, "SEXTANT_MODEL_VERSION", 0) if version_raw else None
        if (version is None) == (alias is None):
            raise ValueError("set exactly one of SEXTANT_MODEL_VERSION or SEXTANT_MODEL_ALIAS")
        return cls(
            store_uri=store,
            model=ModelRef(name=name, version=version, alias=alias,
                           digest=env.get("SEXTANT_MODEL_DIGEST") or None),
            variant=env.get("SEXTANT_VARIANT") or "default",
            batching=batching_from_env(env),
            max_body_bytes=_int(env, "SEXTANT_MAX_BODY_BYTES", 1 << 20),
            max_rows=_int(env, "SEXTANT_MAX_ROWS", 10_000),
            workers=_int(env, "SEXTANT_WORKERS", 1),
            keepalive_requests=_int(env, "SEXTANT_KEEPALIVE_REQUESTS", 100, minimum=0),
            load_retry_initial=_seconds(env, "SEXTANT_LOAD_RETRY_INITIAL_SECONDS", 1.0, minimum=0.01),
            load_retry_max=_seconds(env, "SEXTANT_LOAD_RETRY_MAX_SECONDS", 60.0, minimum=0.01),
            shutdown_delay=_seconds(env, "SEXTANT_SHUTDOWN_DELAY_SECONDS", 2.0),
            drain=_seconds(env, "SEXTANT_DRAIN_SECONDS", 20.0),
        )


def batching_from_env(env: Mapping[str, str]) -> BatchingConfig:
    """`spec.batching` as the operator passed it (sextant_contracts.serving_settings), CRD defaults included."""
    return BatchingConfig(
        enabled=_bool(env, BATCHING_ENV["enabled"], bool(batching_default("enabled"))),
        max_batch_size=_int(env, BATCHING_ENV["maxBatchSize"], int(batching_default("maxBatchSize"))),
        max_latency_ms=float(_int(env, BATCHING_ENV["maxLatencyMs"], int(batching_default("maxLatencyMs")))),
    )


def request_timeout_from_env(env: Mapping[str, str]) -> int:
    """BentoML's per-request timeout (504 when no response has started), read where the service is declared."""
    return _int(env, "SEXTANT_REQUEST_TIMEOUT_SECONDS", 60)
