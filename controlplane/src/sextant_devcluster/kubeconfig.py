"""Kubeconfig documents for the local cluster's users: people, tests, components and ServiceAccounts."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def build_kubeconfig(
    server: str,
    ca_pem: bytes,
    user: str,
    *,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    token: str | None = None,
    namespace: str = "default",
    context: str = "sextant-local",
) -> dict[str, Any]:
    """A self-contained kubeconfig (credentials inline) authenticating by client certificate or bearer token."""
    if token is None and (cert_pem is None or key_pem is None):
        raise ValueError("a kubeconfig user needs either a token or both a client certificate and key")
    credentials: dict[str, str] = {"token": token} if token is not None else {
        "client-certificate-data": _b64(cert_pem or b""),
        "client-key-data": _b64(key_pem or b""),
    }
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sextant-local", "cluster": {
            "server": server, "certificate-authority-data": _b64(ca_pem)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": {
            "cluster": "sextant-local", "user": user, "namespace": namespace}}],
        "current-context": context,
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    """Write `config` readable only by its owner (it holds credentials) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
