"""Asks model servers and routers what their pod status cannot say: why a server is not ready, how many requests
failed, and which configuration a router routes by.

Plain HTTP to the pods' own addresses, bounded by short timeouts, only for the pods a decision needs (unready
servers, both versions' during a rollout, ready routers).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable

from ..reconcile.serving_manifests import ROUTER_PORT, SERVER_PORT

TIMEOUT_SECONDS = 1.0
_REQUESTS = re.compile(r'^sextant_requests_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)', re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
PREDICTION_ROUTES = frozenset({"predict", "predict_proba", "infer"})


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310 - http to a pod IP
            return int(resp.status), resp.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(65536).decode("utf-8", "replace")


def not_ready_reason(ip: str) -> str | None:
    """The server's own explanation on /readyz (e.g. a digest mismatch), or None when it cannot be asked."""
    try:
        code, body = _get(f"http://{ip}:{SERVER_PORT}/readyz")
    except (OSError, ValueError):
        return None
    if code == 200:
        return None
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail or body).strip()[:500] or None


def prediction_counts(metrics_text: str) -> tuple[int, int]:
    """(prediction requests, those answered 5xx) from one server's Prometheus exposition."""
    total = errors = 0
    for match in _REQUESTS.finditer(metrics_text):
        labels = dict(_LABEL.findall(match.group("labels")))
        if labels.get("route") not in PREDICTION_ROUTES:
            continue
        count = int(float(match.group("value")))
        total += count
        if labels.get("status", "").startswith("5"):
            errors += count
    return total, errors


def request_counts(ips: Iterable[str]) -> tuple[int, int]:
    """Prediction requests and 5xx answers summed over the given servers (unreachable ones count nothing)."""
    total = errors = 0
    for ip in ips:
        try:
            code, body = _get(f"http://{ip}:{SERVER_PORT}/metrics")
        except (OSError, ValueError):
            continue
        if code == 200:
            t, e = prediction_counts(body)
            total, errors = total + t, errors + e
    return total, errors


def router_config_digest(ip: str) -> str | None:
    """The configuration digest a router reports on /router/status, or None when it cannot be asked."""
    try:
        code, body = _get(f"http://{ip}:{ROUTER_PORT}/router/status")
        digest = json.loads(body).get("configDigest") if code == 200 else None
    except (OSError, ValueError, AttributeError):
        return None
    return str(digest) if digest else None
