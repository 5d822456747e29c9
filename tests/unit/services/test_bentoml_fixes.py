"""BentoML's request timeout, with our fix installed: no per-request timer outlives its request, and the
timeout contract (504 before the response starts, never after) still holds."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from bentoml._internal.server.http.traffic import TimeoutMiddleware

from sextant_services import bentoml_fixes

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _ok_after(delay_before_start: float, delay_after_start: float = 0.0) -> App:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(delay_before_start)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(delay_after_start)
        await send({"type": "http.response.body", "body": b"done"})
    return app


async def _call(app: App, timeout: float) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
    await TimeoutMiddleware(app, timeout=timeout)(scope, receive, send)
    return sent


@pytest.fixture(autouse=True)
def _installed() -> None:
    assert bentoml_fixes.install()


def test_finished_requests_leave_no_timer_behind() -> None:
    async def many(n: int) -> int:
        await _call(_ok_after(0), timeout=60)  # warm up lazily created objects
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(n):
            await _call(_ok_after(0), timeout=60)
        gc.collect()
        return len(gc.get_objects()) - before

    # Unfixed, every request keeps a timer, a future, a bound method and more for the 60 s timeout.
    assert asyncio.run(many(2000)) < 200


def test_a_request_with_no_response_within_the_timeout_gets_504() -> None:
    sent = asyncio.run(_call(_ok_after(5.0), timeout=0.05))
    assert sent[0]["status"] == 504
    assert b"Not able to process the request in 0.05 seconds" in sent[1]["body"]


def test_a_response_that_started_in_time_runs_to_completion() -> None:
    sent = asyncio.run(_call(_ok_after(0, delay_after_start=0.2), timeout=0.05))
    assert [m.get("status") for m in sent] == [200, None]
    assert sent[1]["body"] == b"done"


def test_an_app_that_fails_before_responding_fails_at_once_not_after_the_timeout() -> None:
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("model exploded")

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(RuntimeError, match="model exploded"):
            await _call(broken, timeout=30)
        return loop.time() - start

    assert asyncio.run(timed()) < 5


def test_installing_twice_is_harmless() -> None:
    assert bentoml_fixes.install() and bentoml_fixes.install()
    assert TimeoutMiddleware.__call__ is bentoml_fixes._patched_call


def test_the_served_module_installs_the_fix_on_import() -> None:
    """What `bentoml serve sextant_services.server:Sextant` imports in each worker, in a fresh interpreter."""
    check = ("import sextant_services.server\n"
             "from bentoml._internal.server.http.traffic import TimeoutMiddleware\n"
             "from sextant_services import bentoml_fixes\n"
             "assert TimeoutMiddleware.__call__ is bentoml_fixes._patched_call\n")
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "BENTOML_DO_NOT_TRACK": "true"})
    assert proc.returncode == 0, proc.stderr[-2000:]
