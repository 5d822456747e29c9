"""Polling helpers: wait for a condition with a deadline, and probe component health endpoints over HTTP(S)."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


class WaitTimeout(TimeoutError):
    """A condition did not hold before its deadline."""


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2,
    on_poll: Callable[[], None] | None = None,
) -> None:
    """Poll `condition` until it is true; raise WaitTimeout naming `what` after `timeout` seconds.

    `on_poll` runs before each attempt and may raise to abort early (e.g. when a process died).
    """
    deadline = time.monotonic() + timeout
    while True:
        if on_poll is not None:
            on_poll()
        if condition():
            return
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def client_tls_context(ca: Path | None, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A TLS context trusting `ca` (or nothing: self-signed component certs) with an optional client cert."""
    if ca is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=str(ca))
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """True when GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            return int(response.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False
