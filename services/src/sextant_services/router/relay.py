"""The shadow relay: nginx logs each sampled request to it as one UDP datagram, and the relay forwards them later.

nginx's `mirror` holds a client connection's next request until the mirror subrequest has finished, so a
slow shadow slows the primary path; even a local relay answering at once does, whenever it waits for a CPU.
So nginx does not mirror at all: in its log phase, after the response has gone to the client, it sends the
request (method, URI, Content-Type, body) as a syslog datagram to this relay on 127.0.0.1 and never waits for
anything (a datagram send does not block). The relay queues the copies, bounded in copies and bytes, and a fixed
number of senders forward them to the shadow over keep-alive connections. A copy is dropped and counted when the
queue is full, when the kernel's receive buffer overflowed (SO_RXQ_OVFL tells how many) or when nginx reported
it too large to send. `GET /metrics` on the relay's Unix socket gives the counters (nginx: `/router/metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .http1 import MAX_HEAD_BYTES, read_body, read_head
from .loop_thread import EventLoopThread

log = logging.getLogger("sextant_services.router.relay")

MIRROR_TAG = b"sextant_mirror: "  # the syslog tag nginx puts before a copy (nginx_conf.py renders it)
TOO_LARGE_TAG = b"sextant_too_large: "  # before `METHOD URI` of a sampled request too large for a datagram
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: the receive queue's drop count in each recvmsg
RECEIVE_BUFFER_BYTES = 4 << 20
BATCH_DELAY_S = 0.005  # read the copies in batches: one relay wake-up per 5 ms, not one per request
RELAY_NICENESS = 10  # under CPU pressure nginx, not the relay, gets the CPU; the relay's backlog is bounded


@dataclass(frozen=True)
class Copy:
    """One mirrored request, as nginx handed it over (the URI without the relay's prefix)."""

    method: str
    uri: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class RelayCounters:
    """What happened to the copies: counted once each, read by the status file and /metrics."""

    received: int = 0
    forwarded: int = 0
    failed: int = 0
    dropped: int = 0
    kernel_dropped: int = 0
    queued: int = 0
    queued_bytes: int = 0
    shadow_statuses: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {"received": self.received, "forwarded": self.forwarded, "failed": self.failed,
                "dropped": self.dropped, "queued": self.queued}


def parse_datagram(data: bytes) -> Copy | str:
    """A copy from nginx's syslog datagram, or the reason it carries none ("too_large", "malformed")."""
    at = data.find(MIRROR_TAG)
    if at < 0:
        return "too_large" if TOO_LARGE_TAG in data else "malformed"
    head, newline, body = data[at + len(MIRROR_TAG):].partition(b"\n")
    parts = head.decode("latin-1").split(" ", 2)
    if not newline or len(parts) < 2 or not parts[1].startswith("/"):
        return "malformed"
    content_type = parts[2] if len(parts) == 3 else ""
    return Copy(parts[0], parts[1], (("Content-Type", content_type),) if content_type else (), body)


def render_metrics(c: RelayCounters, shadow: str) -> str:
    """The counters in the Prometheus text format."""
    lines = ["# HELP sextant_router_mirror_copies_total Mirrored copies by outcome: received from nginx, "
             "forwarded to the shadow (any HTTP status), failed (shadow unreachable or timed out), dropped "
             "(relay queue or receive buffer full, or too large for a datagram).",
             "# TYPE sextant_router_mirror_copies_total counter"]
    for outcome in ("received", "forwarded", "failed", "dropped"):
        lines.append(f'sextant_router_mirror_copies_total{{shadow="{shadow}",outcome="{outcome}"}} '
                     f"{getattr(c, outcome)}")
    lines += ["# HELP sextant_router_mirror_queue_copies Copies waiting in the relay's queue.",
              "# TYPE sextant_router_mirror_queue_copies gauge",
              f'sextant_router_mirror_queue_copies{{shadow="{shadow}"}} {c.queued}',
              "# HELP sextant_router_mirror_shadow_responses_total Shadow answers by status class.",
              "# TYPE sextant_router_mirror_shadow_responses_total counter"]
    for cls in sorted(c.shadow_statuses):
        lines.append(f'sextant_router_mirror_shadow_responses_total{{shadow="{shadow}",code="{cls}xx"}} '
                     f"{c.shadow_statuses[cls]}")
    return "\n".join(lines) + "\n"


class ShadowRelay:
    """The relay's event loop side: a UDP socket for nginx's copies, `concurrency` senders to the shadow and a
    Unix-socket HTTP endpoint for the metrics."""

    def __init__(self, socket_path: Path, shadow_name: str, shadow_url: str, queue_size: int,
                 queue_bytes: int, concurrency: int, timeout_s: float = 10.0) -> None:
        u = urlparse(shadow_url)
        self.socket_path = socket_path
        self.shadow_name = shadow_name
        self._host, self._port = u.hostname or "127.0.0.1", u.port or 80
        self._host_header = f"{self._host}:{self._port}"
        self.queue_bytes = queue_bytes
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.counters = RelayCounters()
        self._queue: asyncio.Queue[Copy] = asyncio.Queue(maxsize=queue_size)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.udp.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.setblocking(False)

    @property
    def udp_port(self) -> int:
        """Where nginx sends the copies (an ephemeral port on loopback, chosen at bind)."""
        return int(self.udp.getsockname()[1])

    def offer(self, copy: Copy) -> None:
        """Queue a copy, or drop and count it when the queue is full (in copies or bytes)."""
        c = self.counters
        if self._queue.full() or c.queued_bytes + len(copy.body) > self.queue_bytes:
            self._drop("the relay's queue is full")
            return
        self._queue.put_nowait(copy)
        c.queued, c.queued_bytes = c.queued + 1, c.queued_bytes + len(copy.body)

    def _drop(self, why: str, n: int = 1) -> None:
        c = self.counters
        before, c.dropped = c.dropped, c.dropped + n
        if before == 0 or before // 1000 != c.dropped // 1000:
            log.warning("shadow %s: %d mirrored copies dropped so far (latest: %s); the primary path is not "
                        "affected", self.shadow_name, c.dropped, why)

    def _readable(self) -> None:
        """Batch the reads: stop watching the socket, drain it BATCH_DELAY_S later, then watch again. Waking for
        every datagram would take the CPU from the nginx worker that has just sent it (wake-up preemption)."""
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.udp.fileno())
        loop.call_later(BATCH_DELAY_S, self._drain_and_watch, loop)

    def _drain_and_watch(self, loop: asyncio.AbstractEventLoop) -> None:
        self.receive_datagrams()
        loop.add_reader(self.udp.fileno(), self._readable)

    def receive_datagrams(self) -> None:
        """Drain the UDP socket."""
        while True:
            try:
                data, ancdata, _, _ = self.udp.recvmsg(65536, socket.CMSG_SPACE(4))
            except (BlockingIOError, InterruptedError):
                return
            self.counters.received += 1
            for level, kind, value in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                    total = struct.unpack("=I", value[:4])[0]
                    if total > self.counters.kernel_dropped:
                        lost = total - self.counters.kernel_dropped
                        self.counters.kernel_dropped = total
                        self.counters.received += lost
                        self._drop("the receive buffer overflowed", lost)
            copy = parse_datagram(data)
            if isinstance(copy, Copy):
                self.offer(copy)
            else:
                self._drop("the request was too large for a datagram" if copy == "too_large" else
                           "nginx sent a malformed datagram")

    async def serve(self, started: threading.Event | None = None) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        server = await asyncio.start_unix_server(self._handle_http, path=str(self.socket_path),
                                                 limit=MAX_HEAD_BYTES)
        loop = asyncio.get_running_loop()
        loop.add_reader(self.udp.fileno(), self._readable)
        senders = [asyncio.create_task(self._send_forever()) for _ in range(self.concurrency)]
        if started is not None:
            started.set()
        try:
            async with server:
                await server.serve_forever()
        finally:
            loop.remove_reader(self.udp.fileno())
            self.udp.close()
            for task in senders:
                task.cancel()

    async def _handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (head := await read_head(reader)) is not None:
                start, headers = head
                method, target, _ = start.split(" ", 2)
                await read_body(reader, headers, until_eof=False)
                if method == "GET" and target == "/metrics":
                    text = render_metrics(self.counters, self.shadow_name).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(text), text))
                else:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("closing a connection to the relay's metrics endpoint after a bad message: %s", exc)
        finally:
            writer.close()

    async def _send_forever(self) -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            copy = await self._queue.get()
            self.counters.queued -= 1
            self.counters.queued_bytes -= len(copy.body)
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(self._host, self._port), 1.0)
                status, keep = await asyncio.wait_for(self._forward(conn, copy), self.timeout_s)
                self.counters.forwarded += 1
                self.counters.shadow_statuses[status // 100] = self.counters.shadow_statuses.get(status // 100, 0) + 1
                if not keep:
                    conn[1].close()
                    conn = None
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError) as exc:
                self.counters.failed += 1
                if self.counters.failed == 1 or self.counters.failed % 1000 == 0:
                    log.warning("forwarding a copy to shadow %s failed (%s): %d failed so far; the next copy "
                                "opens a new connection", self.shadow_name, exc or type(exc).__name__,
                                self.counters.failed)
                if conn is not None:
                    conn[1].close()
                conn = None

    async def _forward(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], copy: Copy) -> tuple[int, bool]:
        reader, writer = conn
        head = [f"{copy.method} {copy.uri} HTTP/1.1", f"Host: {self._host_header}",
                *(f"{k}: {v}" for k, v in copy.headers), f"Content-Length: {len(copy.body)}", "", ""]
        writer.write("\r\n".join(head).encode("latin-1") + copy.body)
        await writer.drain()
        while True:
            answer = await read_head(reader)
            if answer is None:
                raise ConnectionError("the shadow closed the connection before answering")
            start, headers = answer
            status = int(start.split(" ", 2)[1])
            if status >= 200:
                break  # 1xx interim answers carry no body
        close = any(k.lower() == "connection" and v.lower() == "close" for k, v in headers)
        has_body = copy.method != "HEAD" and status not in (204, 304)
        if has_body:
            await read_body(reader, headers, until_eof=True)
            close = close or not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers)
        return status, not close


class RelayThread(EventLoopThread):
    """Runs a ShadowRelay on its own event loop, at a lower priority than nginx."""

    def __init__(self, relay: ShadowRelay) -> None:
        super().__init__("shadow relay", relay.serve, str(relay.socket_path), RELAY_NICENESS)
        self.relay = relay

    def counters(self) -> dict[str, int]:
        return self.relay.counters.as_dict()
