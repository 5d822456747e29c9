"""A bounded load of prediction requests from the host, recording who answered each one and how.

The client behaves like Go's net/http with a replayable request: when a kept-alive connection turns out to have
been closed by the server before any response byte came back (nginx closes idle keep-alive connections when it
reloads its configuration, e.g. for new weights), the request is sent again once on a new connection, and the
retry is counted. Any other failure, and a second failure, is a lost request.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    """Statuses, answering variants and transport errors of every request sent."""

    statuses: Counter[int] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    retried: int = 0  # requests sent again after the server had closed their reused, idle connection
    rejections: Counter[str] = field(default_factory=Counter)  # "status: body" of every answer but 200, so a
    # failure says who refused (the server's JSON reason, nginx's or the Gateway's page) and why
    lost_at: list[float] = field(default_factory=list)  # seconds after the load began, of every lost request:
    # a failure says when (a burst at the start, during a change, or spread out)

    def __str__(self) -> str:
        return (f"sent={self.sent} statuses={dict(self.statuses)} variants={dict(self.variants)} "
                f"retried={self.retried} rejections={self.rejections.most_common(3)} errors={self.errors[:3]}"
                + (f" lost between {min(self.lost_at):.1f} s and {max(self.lost_at):.1f} s after the start"
                   if self.lost_at else ""))

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def lost(self) -> int:
        """Requests that did not get a 200: transport errors and every other status."""
        return self.sent - self.statuses[200]

    def share(self, variant: str) -> float:
        total = sum(self.variants.values())
        return self.variants[variant] / total if total else 0.0


class RequestLoad:
    """`concurrency` threads, each on its own keep-alive connection, POSTing `body` to host:port/path until
    `max_requests` were sent in all, `max_seconds` passed, or stop() is called."""

    def __init__(self, host: str, body: dict[str, Any], *, port: int = 80, path: str = "/predict",
                 concurrency: int = 8, max_requests: int = 10_000, max_seconds: float = 120.0,
                 host_header: str | None = None) -> None:
        self.host, self.port, self.path = host, port, path
        self.headers = {"Content-Type": "application/json", **({"Host": host_header} if host_header else {})}
        self.payload = json.dumps(body).encode()
        self.concurrency, self.max_requests, self.max_seconds = concurrency, max_requests, max_seconds
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._issued = 0
        self._began = time.monotonic()

    def _take(self) -> bool:
        with self._lock:
            if self._stop.is_set() or self._issued >= self.max_requests:
                return False
            self._issued += 1
            return True

    def _send(self, conn: http.client.HTTPConnection) -> tuple[int, bytes, bool]:
        conn.request("POST", self.path, self.payload, self.headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, resp.getheader("connection", "").lower() == "close"

    def _worker(self, deadline: float) -> None:
        conn: http.client.HTTPConnection | None = None
        reused = False
        while time.monotonic() < deadline and self._take():
            started = time.perf_counter()
            try:
                if conn is None:
                    conn, reused = http.client.HTTPConnection(self.host, self.port, timeout=30), False
                try:
                    status, data, close = self._send(conn)
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    if not reused:
                        raise
                    conn.close()  # the server closed it while idle: once more on a fresh connection
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                    with self._lock:
                        self.result.retried += 1
                    status, data, close = self._send(conn)
                reused = True
                variant = json.loads(data).get("variant", "") if status == 200 else ""
                with self._lock:
                    self.result.statuses[status] += 1
                    self.result.latencies.append(time.perf_counter() - started)
                    if variant:
                        self.result.variants[variant] += 1
                    if status != 200:
                        self.result.rejections[f"{status}: {data[:160].decode(errors='replace')}"] += 1
                        self.result.lost_at.append(time.monotonic() - self._began)
                if close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                with self._lock:
                    self.result.errors.append(f"{type(exc).__name__}: {exc}")
                    self.result.lost_at.append(time.monotonic() - self._began)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def start(self) -> RequestLoad:
        self._began = time.monotonic()
        deadline = self._began + self.max_seconds
        self._threads = [threading.Thread(target=self._worker, args=(deadline,), daemon=True)
                         for _ in range(self.concurrency)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        return self.wait()

    def wait(self) -> LoadResult:
        for thread in self._threads:
            thread.join(self.max_seconds + 60)
        return self.result

    def run(self) -> LoadResult:
        return self.start().wait()
