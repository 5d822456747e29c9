"""Keep-alive clients spread over the workers: the server closes about one connection in
SEXTANT_KEEPALIVE_REQUESTS (100 by default) so a worker that accepted a burst of connections sheds them."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from tests.support.processes import Server

BODY = json.dumps({"records": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                                "petal_width": 0.2}]}).encode()


def _client(url: str, requests: int) -> tuple[int, set[str]]:
    """One keep-alive client: how often the server closed its connection, and which workers answered."""
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)
    closes, workers = 0, set()
    for _ in range(requests):
        conn.request("POST", "/predict", body=BODY, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        workers.add(resp.getheader("x-sextant-worker", ""))
        if resp.getheader("connection", "").lower() == "close":
            closes += 1
            conn.close()  # the next request() opens a new connection, as any HTTP/1.1 client does
    conn.close()
    return closes, workers


def test_connections_are_recycled_about_every_hundred_requests_and_reach_both_workers(
        iris_server: Server) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _client(iris_server.url, 250), range(8)))
    closes = sum(c for c, _ in results)
    workers = set().union(*(w for _, w in results))
    # 2,000 responses at 1/100: 20 expected; the bounds are many standard deviations wide.
    assert 3 <= closes <= 60, closes
    assert len(workers) == 2, workers
