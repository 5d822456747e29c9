"""The router's declaration (variants, weights, shadow), validated with errors naming the field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sextant_contracts.digest import config_digest


@dataclass(frozen=True)
class Upstream:
    """A variant's model server: its name, base URL and traffic weight."""

    name: str
    url: str
    weight: int = 0

    @property
    def hostport(self) -> str:
        u = urlparse(self.url)
        return f"{u.hostname}:{u.port or 80}"


@dataclass(frozen=True)
class Shadow(Upstream):
    """The shadow variant: gets copies of `percent` % of the requests through the relay, never answers clients.

    `queue_size` and `queue_bytes` bound the relay's queue (a copy beyond them is dropped and counted);
    `concurrency` is how many copies are in flight to the shadow at once.
    """

    percent: int = 100
    queue_size: int = 1000
    queue_bytes: int = 64 << 20
    concurrency: int = 16


#: The longest a request may be held for a variant to start (nginx's and clients' patience end well before).
MAX_ACTIVATION_SECONDS = 900


@dataclass(frozen=True)
class RouterSpec:
    """What the router listens on and where it sends traffic."""

    listen: str
    variants: tuple[Upstream, ...]
    shadow: Shadow | None = None
    probe_interval_s: float = 1.0
    workers: int = 1
    max_body_bytes: int = 1 << 20
    #: Seconds a request is held while no variant is ready (scale from zero, activator.py); None answers 503 at once.
    activation_timeout_s: float | None = None
    #: Digest of the declaration this spec was read from (sextant_contracts.digest.config_digest): /router/status
    #: shows it, so the operator can tell which configuration each router routes by.
    config_digest: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RouterSpec:
        """Raises ValueError naming the field at fault."""
        variants = raw.get("variants")
        if not isinstance(variants, list) or not variants:
            raise ValueError("router spec: 'variants' must be a non-empty list of {name, url, weight}")
        parsed = tuple(_upstream(v, f"variants[{i}]", weighted=True) for i, v in enumerate(variants))
        names = [v.name for v in parsed]
        if len(set(names)) != len(names):
            raise ValueError(f"router spec: variant names must be unique, got {names}")
        if sum(v.weight for v in parsed) <= 0:
            raise ValueError("router spec: at least one variant needs a positive weight")
        shadow = _shadow(raw["shadow"]) if raw.get("shadow") else None
        listen = str(raw.get("listen", "127.0.0.1:8080"))
        if ":" not in listen:
            raise ValueError(f"router spec: listen must be host:port, got {listen!r}")
        activation = raw.get("activationTimeoutSeconds")
        if activation is not None and (isinstance(activation, bool) or not isinstance(activation, int | float)
                                       or not 0 < activation <= MAX_ACTIVATION_SECONDS):
            raise ValueError(f"router spec: activationTimeoutSeconds must be a number of seconds above 0 and at most "
                             f"{MAX_ACTIVATION_SECONDS}, got {activation!r}")
        return cls(listen=listen, variants=parsed, shadow=shadow,
                   activation_timeout_s=float(activation) if activation is not None else None,
                   probe_interval_s=float(raw.get("probeIntervalSeconds", 1.0)),
                   workers=int(raw.get("workers", 1)), max_body_bytes=int(raw.get("maxBodyBytes", 1 << 20)),
                   config_digest=config_digest(raw))

    @classmethod
    def load(cls, path: Path) -> RouterSpec:
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return cls.from_dict(yaml.safe_load(text))
        return cls.from_dict(json.loads(text))


def _upstream(raw: Any, where: str, weighted: bool) -> Upstream:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ValueError(f"router spec: {where}.name is required")
    url = raw.get("url")
    u = urlparse(url) if isinstance(url, str) else None
    if u is None or u.scheme != "http" or not u.hostname or u.path not in ("", "/"):
        raise ValueError(f"router spec: {where}.url must be http://host:port, got {url!r}")
    weight = raw.get("weight", 0 if not weighted else None)
    if weighted and (not isinstance(weight, int) or isinstance(weight, bool) or weight < 0):
        raise ValueError(f"router spec: {where}.weight must be a non-negative integer, got {weight!r}")
    return Upstream(name=raw["name"], url=str(url).rstrip("/"), weight=int(weight or 0))


SHADOW_BOUNDS = {"percent": (0, 100, 100), "queueSize": (1, 1_000_000, 1000), "queueBytes": (1, 1 << 34, 64 << 20),
                 "concurrency": (1, 1024, 16)}


def _shadow(raw: Any) -> Shadow:
    base = _upstream(raw, "shadow", weighted=False)
    values = {}
    for key, (low, high, default) in SHADOW_BOUNDS.items():
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"router spec: shadow.{key} must be an integer from {low} to {high}, got {value!r}")
        values[key] = value
    return Shadow(name=base.name, url=base.url, percent=values["percent"], queue_size=values["queueSize"],
                  queue_bytes=values["queueBytes"], concurrency=values["concurrency"])
