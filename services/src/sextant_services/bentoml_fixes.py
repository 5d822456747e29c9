"""A fix for a BentoML defect that costs the server its tail latency, installed before the app is built.

BentoML's TimeoutMiddleware (bentoml 1.4.x, `bentoml/_internal/server/http/traffic.py`, still so in 1.4.40)
schedules `loop.call_later(timeout, ...)` for every request and never cancels it. Each request therefore
leaves a timer, a future, a bound method and a context alive for the whole `traffic.timeout` (60 s by
default): at 3,000 requests/s per worker that is about a million objects the cyclic garbage collector walks
in every full collection, which grew to 50-100 ms stalls of the event loop (measured with gc callbacks) and
showed up as p99 latency. The timeout cannot simply be switched off: BentoML requires a positive value.

The replacement keeps BentoML's contract (504 when no response has started within the timeout; once the
response has started, the app runs to completion) and cancels the timer as soon as the response starts.
The class's source is fingerprinted in `upstream_guard`: a test fails, naming the BentoML version and the
symbol, when an upgrade changes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("sextant_services")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def _patched_call(middleware: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """`TimeoutMiddleware.__call__` with the timer cancelled once the response starts (or the app ends)."""
    if scope["type"] not in ("http", "websocket"):
        await middleware.app(scope, receive, send)
        return
    loop = asyncio.get_running_loop()
    started: asyncio.Future[None] = loop.create_future()

    def expire() -> None:
        if not started.done():
            started.set_exception(TimeoutError())

    timer = loop.call_later(middleware.timeout, expire)

    async def send_and_mark_started(message: Message) -> None:
        if not started.done():
            started.set_result(None)
        await send(message)

    def app_ended(_: asyncio.Future[None]) -> None:
        # An app that returns or fails without sending must not leave us waiting for the timer.
        if not started.done():
            started.set_result(None)

    app_task = asyncio.ensure_future(middleware.app(scope, receive, send_and_mark_started))
    app_task.add_done_callback(app_ended)
    try:
        await started
    except TimeoutError:
        if app_task.cancel():
            from starlette.responses import JSONResponse

            body = {"error": f"Not able to process the request in {middleware.timeout} seconds"}
            await JSONResponse(body, status_code=504)(scope, receive, send)
        return
    except asyncio.CancelledError:  # the server is cancelling this request: do not orphan the app
        app_task.cancel()
        raise
    finally:
        timer.cancel()
    await app_task


def install() -> bool:
    """Replace the middleware's __call__ (idempotent); False, with a warning, if BentoML changed shape."""
    try:
        from bentoml._internal.server.http.traffic import TimeoutMiddleware
    except ImportError:
        log.warning("bentoml's TimeoutMiddleware was not found; its per-request timer fix is not installed")
        return False
    from .upstream_guard import FINGERPRINTS, drift

    for fp in FINGERPRINTS:
        problem = drift(fp) if fp.package == "bentoml" else None
        if problem is not None:
            log.warning("installing the TimeoutMiddleware fix anyway: %s", problem)
    if TimeoutMiddleware.__call__ is not _patched_call:
        TimeoutMiddleware.__call__ = _patched_call  # type: ignore[method-assign,assignment]
    return True
