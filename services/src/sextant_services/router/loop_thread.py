"""Runs one of the router's asyncio servers (the shadow relay, the activator) on its own event loop in a daemon
thread, beside the controller's probe loop and nginx."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

#: `serve(started)` listens, sets `started`, then serves until cancelled.
Serve = Callable[[threading.Event], Coroutine[Any, Any, None]]


class EventLoopThread:
    """An event loop (uvloop when installed) running `serve` in a daemon thread at the given niceness."""

    def __init__(self, name: str, serve: Serve, where: str, niceness: int = 0) -> None:
        self.name = name
        self._serve = serve
        self._where = where
        self._niceness = niceness
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Raises RuntimeError when the server cannot listen (the error says why)."""
        self._thread.start()
        if not self._started.wait(timeout) or self._error is not None:
            raise RuntimeError(f"the {self.name} did not start on {self._where}: {self._error}")

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the loop's thread (the server's state belongs to that thread)."""
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])
        self._thread.join(5)

    def _run(self) -> None:
        if self._niceness:
            with contextlib.suppress(OSError):  # a thread's niceness can always be raised; never fatal
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._niceness)
        try:
            import uvloop

            self._loop = uvloop.new_event_loop()
        except ImportError:
            self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve(self._started))
        except asyncio.CancelledError:
            pass
        except OSError as exc:
            self._error = exc
            self._started.set()
        finally:
            self._loop.close()
