"""Upgrading bentoml or uvicorn must not silently break our workarounds: their patched or driven code is pinned
by source fingerprint, and the attributes we rely on are checked on real objects."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import uvicorn

from sextant_services import upstream_guard
from sextant_services.shutdown import UVICORN_SERVER_ATTRIBUTES, _uvicorn_server


@pytest.mark.parametrize("fp", upstream_guard.FINGERPRINTS, ids=lambda fp: fp.symbol)
def test_patched_and_driven_upstream_code_is_what_the_workaround_was_written_for(
        fp: upstream_guard.Fingerprint) -> None:
    problem = upstream_guard.drift(fp)
    assert problem is None, problem


def test_a_changed_source_is_reported_with_the_version_and_the_symbol() -> None:
    fp = upstream_guard.Fingerprint("bentoml", "1.4.39", "bentoml._internal.server.http.traffic:TimeoutMiddleware",
                                    "0000000000000000", "a test")
    problem = upstream_guard.drift(fp) or ""
    assert problem.startswith("bentoml ")
    assert "changed bentoml._internal.server.http.traffic:TimeoutMiddleware" in problem
    gone = upstream_guard.Fingerprint("uvicorn", "0.54.0", "uvicorn.server:Server.no_such_method", "x", "a test")
    assert "missing" in (upstream_guard.drift(gone) or "")


def test_timeout_middleware_keeps_the_attributes_the_fix_reads() -> None:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    mw = TimeoutMiddleware(app, timeout=3)
    assert mw.app is app and mw.timeout == 3


def test_uvicorn_installs_a_bound_handle_exit_for_sigterm_that_shutdown_recognises() -> None:
    server = uvicorn.Server(uvicorn.Config(app=lambda *a: None, timeout_graceful_shutdown=None))
    for attribute in UVICORN_SERVER_ATTRIBUTES:
        assert hasattr(server, attribute), f"uvicorn {uvicorn.__version__}: Server.{attribute} is gone"
    assert hasattr(server.config, "timeout_graceful_shutdown")
    before = signal.getsignal(signal.SIGTERM)
    try:
        with server.capture_signals():
            assert _uvicorn_server(signal.getsignal(signal.SIGTERM)) is server
    finally:
        signal.signal(signal.SIGTERM, before)

