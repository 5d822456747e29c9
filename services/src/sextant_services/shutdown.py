"""Graceful shutdown of a worker: not ready at once on SIGTERM, keep serving briefly, drain, then exit.

`bentoml serve` runs a circus arbiter that forwards SIGTERM to each worker, keeps the listening socket open
until the workers have exited, and waits for them (BentoML sets circus' graceful_timeout to a day). Each
worker is a uvicorn server whose own SIGTERM handler stops accepting at once and, by default, waits for
in-flight requests without a bound. Installed from the service's constructor (after uvicorn has installed its
handler), ours takes over SIGTERM: it marks the runtime draining (readiness 503 from that moment), keeps
accepting for `shutdown_delay` seconds so probes and routers stop sending, then hands the signal to uvicorn
with its graceful-shutdown timeout set to `drain`: in-flight requests get at most that long to finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType
from typing import Any

from .runtime import Runtime

log = logging.getLogger("sextant_services")

#: What this module relies on in uvicorn (checked by tests/unit/services/test_upstream_guards.py).
UVICORN_SERVER_ATTRIBUTES = ("handle_exit", "config", "should_exit")


def _uvicorn_server(handler: Any) -> Any | None:
    """The uvicorn.Server whose bound handle_exit is `handler`, or None."""
    import uvicorn

    owner = getattr(handler, "__self__", None)
    if isinstance(owner, uvicorn.Server) and getattr(handler, "__name__", "") == "handle_exit":
        return owner
    return None


def install_graceful_sigterm(runtime: Runtime, loop: asyncio.AbstractEventLoop) -> bool:
    """Take over SIGTERM in this worker (main thread, after uvicorn started); False, with a warning, if the
    current handler is not uvicorn's (then SIGTERM keeps uvicorn's or the default behaviour)."""
    previous = signal.getsignal(signal.SIGTERM)
    server = _uvicorn_server(previous)
    if server is None:
        log.warning("SIGTERM handler %r is not uvicorn's; graceful drain is not installed", previous)
        return False
    delay, drain = runtime.settings.shutdown_delay, runtime.settings.drain

    def hand_over(sig: int, frame: FrameType | None) -> None:
        log.info("stopping: no longer accepting connections; in-flight requests have %g s to finish", drain)
        server.config.timeout_graceful_shutdown = drain
        server.handle_exit(sig, frame)

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if runtime.draining:  # a second SIGTERM (circus forwards the one the process group got) changes nothing
            return
        runtime.start_draining()
        log.info("SIGTERM: not ready from now on; still serving for %g s, then draining for at most %g s",
                 delay, drain)
        loop.call_soon_threadsafe(loop.call_later, delay, hand_over, sig, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    return True
