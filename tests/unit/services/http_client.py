"""A tiny keep-alive HTTP client for tests (stdlib http.client), returning status and decoded JSON."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlparse


class Client:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        u = urlparse(url)
        self._host, self._port, self._timeout = u.hostname or "127.0.0.1", u.port or 80, timeout
        self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        for attempt in (1, 2):
            try:
                self._conn.request(method, path, body=body, headers=hdrs)
                resp = self._conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
                if attempt == 2:
                    raise
        try:
            data: Any = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        if resp.getheader("connection", "").lower() == "close":
            self._conn.close()
        return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}

    def post(self, path: str, payload: Any) -> tuple[int, Any]:
        status, data, _ = self.request("POST", path, json.dumps(payload).encode())
        return status, data

    def get(self, path: str) -> tuple[int, Any]:
        status, data, _ = self.request("GET", path)
        return status, data

    def close(self) -> None:
        self._conn.close()
