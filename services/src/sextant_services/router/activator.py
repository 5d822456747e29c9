"""Scale from zero: while no variant is ready, nginx hands requests to the activator, which holds them until a
variant is, then forwards each one and passes the answer back.

A variant scaled to zero by KEDA receives no requests, so its servers' request counters cannot bring it back. The
held requests can: `/router/metrics` exports them as the gauge `sextant_router_held_requests`, and the variant's
ScaledObject has a trigger on it, so KEDA scales the variant up while anything waits. A request held longer than
the activation timeout gets `503 NoVariantReady` saying so. Once a variant is ready nginx routes to it directly
again; the activator only ever sees the requests that arrived while nothing was ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .http1 import HOP_BY_HOP, MAX_HEAD_BYTES, read_body, read_head
from .loop_thread import EventLoopThread
from .spec import Upstream

log = logging.getLogger("sextant_services.router.activator")

#: Seconds to wait for a connection to a variant that was just found ready, per try.
CONNECT_TIMEOUT_S = 2.0
#: Pause before trying again when a variant found ready refused the connection (it may be terminating).
RETRY_PAUSE_S = 0.5


@dataclass
class HeldCounters:
    """Requests held now and what became of the others: forwarded (any status from the variant), timed_out (no
    variant ready within the timeout: 503) and failed (the variant did not answer: 502)."""

    held: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"forwarded": 0, "timed_out": 0, "failed": 0})

    def as_dict(self) -> dict[str, int]:
        o = self.outcomes
        return {"held": self.held, "forwarded": o["forwarded"], "timedOut": o["timed_out"], "failed": o["failed"]}


def render_metrics(c: HeldCounters) -> str:
    """The held-requests gauge (KEDA's activation signal) and the outcomes, in the Prometheus text format."""
    lines = ["# HELP sextant_router_held_requests Requests the router holds because no variant is ready "
             "(scale from zero): KEDA wakes a variant scaled to zero while this is above 0.",
             "# TYPE sextant_router_held_requests gauge", f"sextant_router_held_requests {c.held}",
             "# HELP sextant_router_held_requests_total Held requests by outcome: forwarded to a variant once it was "
             "ready, timed_out (503 after the activation timeout), failed (502, the variant did not answer).",
             "# TYPE sextant_router_held_requests_total counter"]
    lines += [f'sextant_router_held_requests_total{{outcome="{k}"}} {v}' for k, v in c.outcomes.items()]
    return "\n".join(lines) + "\n"


def pick(targets: Sequence[Upstream], draw: float) -> Upstream:
    """The variant for a held request: by weight, as nginx would (`draw` uniform in [0, 1))."""
    total = sum(t.weight for t in targets)
    point = draw * total
    for target in targets:
        point -= target.weight
        if point < 0:
            return target
    return targets[-1]


@dataclass(frozen=True)
class Connection:
    """A new connection to a variant's Service (one per held request: they are few, and only at wake-up)."""

    host: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


def _answer(status: int, reason: str, payload: dict[str, str]) -> bytes:
    body = json.dumps(payload).encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, reason.encode(), len(body), body))


class Activator:
    """The event loop side: a Unix-socket HTTP server that nginx proxies to while no variant is ready.

    `extra_metrics` adds to `/metrics` what else the router exports (the shadow relay's counters)."""

    def __init__(self, socket_path: Path, timeout_s: float,
                 extra_metrics: Callable[[], str] | None = None) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        self.counters = HeldCounters()
        self._extra_metrics = extra_metrics
        self._targets: tuple[Upstream, ...] = ()
        self._changed: asyncio.Event | None = None

    def set_targets(self, targets: Sequence[Upstream]) -> None:
        """The ready variants with a positive weight (call on the activator's loop: EventLoopThread.call_soon)."""
        self._targets = tuple(targets)
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def serve(self, started: threading.Event | None = None) -> None:
        self._changed = asyncio.Event()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        server = await asyncio.start_unix_server(self._handle, path=str(self.socket_path), limit=MAX_HEAD_BYTES)
        if started is not None:
            started.set()
        async with server:
            await server.serve_forever()

    async def _wait_for_targets(self, deadline: float) -> tuple[Upstream, ...]:
        loop = asyncio.get_running_loop()
        while not self._targets and self._changed is not None and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return self._targets

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (head := await read_head(reader)) is not None:
                start, headers = head
                body = await read_body(reader, headers, until_eof=False)
                method, target, _ = start.split(" ", 2)
                if method == "GET" and target == "/metrics":
                    text = (render_metrics(self.counters) + (self._extra_metrics() if self._extra_metrics else ""))
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(text), text.encode()))
                else:
                    writer.write(await self._hold_and_forward(method, target, headers, body))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("closing a connection from nginx after a bad message: %s", exc)
        finally:
            writer.close()

    async def _hold_and_forward(self, method: str, uri: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        c = self.counters
        c.held += 1
        if c.held == 1:
            log.info("holding requests: no variant is ready; KEDA wakes a variant at zero while any are held")
        try:
            while targets := await self._wait_for_targets(deadline):
                chosen = pick(targets, random.random())  # noqa: S311 - load spreading, not security
                try:
                    connection = await self._connect(chosen)
                except (OSError, TimeoutError) as exc:  # nothing was sent: safe to try again
                    if loop.time() + RETRY_PAUSE_S >= deadline:
                        break
                    log.info("variant %s refused a held request (%s); trying again", chosen.name, exc)
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                try:
                    answer = await self._forward(connection, method, uri, headers, body, deadline)
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                    c.outcomes["failed"] += 1
                    return _answer(502, "Bad Gateway", {
                        "error": f"variant {chosen.name} became ready but did not answer a held request: {exc}",
                        "code": "VariantUnreachable"})
                c.outcomes["forwarded"] += 1
                return answer
            c.outcomes["timed_out"] += 1
            return _answer(503, "Service Unavailable", {
                "error": f"no model variant became ready within {self.timeout_s:g} s (the router's activation "
                         "timeout) while the request was held; a variant scaled to zero may still be starting, or "
                         "its pods may be failing: see the InferenceService's status",
                "code": "NoVariantReady"})
        finally:
            c.held -= 1

    @staticmethod
    async def _connect(variant: Upstream) -> Connection:
        u = urlparse(variant.url)
        host, port = u.hostname or "127.0.0.1", u.port or 80
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=MAX_HEAD_BYTES),
                                                CONNECT_TIMEOUT_S)
        return Connection(f"{host}:{port}", reader, writer)

    @staticmethod
    async def _forward(connection: Connection, method: str, uri: str, headers: list[tuple[str, str]], body: bytes,
                       deadline: float) -> bytes:
        """One request over a new connection to the variant; its answer re-framed with Content-Length."""
        reader, writer = connection.reader, connection.writer
        try:
            kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "host"]
            head = [f"{method} {uri} HTTP/1.1", f"Host: {connection.host}", *(f"{k}: {v}" for k, v in kept),
                    f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(head).encode("latin-1") + body)
            await writer.drain()
            left = max(0.1, deadline - asyncio.get_running_loop().time())
            while True:
                answer = await asyncio.wait_for(read_head(reader), left)
                if answer is None:
                    raise ConnectionError("the variant closed the connection before answering")
                start, answer_headers = answer
                status = int(start.split(" ", 2)[1])
                if status >= 200:
                    break
            payload = b"" if method == "HEAD" or status in (204, 304) else \
                await asyncio.wait_for(read_body(reader, answer_headers, until_eof=True), left)
        finally:
            writer.close()
        kept_answer = [(k, v) for k, v in answer_headers if k.lower() not in HOP_BY_HOP]
        lines = [start, *(f"{k}: {v}" for k, v in kept_answer), f"Content-Length: {len(payload)}", "", ""]
        return "\r\n".join(lines).encode("latin-1") + payload


class ActivatorThread(EventLoopThread):
    """Runs an Activator on its own event loop (at nginx's priority: it is on the request path)."""

    def __init__(self, activator: Activator) -> None:
        super().__init__("activator", activator.serve, str(activator.socket_path))
        self.activator = activator

    def route_to(self, targets: Sequence[Upstream]) -> None:
        """Tell the activator which variants are ready (from the controller's thread)."""
        chosen = tuple(targets)
        self.call_soon(lambda: self.activator.set_targets(chosen))

    def counters(self) -> dict[str, int]:
        return self.activator.counters.as_dict()
