"""Weighted routing through nginx: the split honours weights, unready variants get nothing, shadows are mirrored."""

from __future__ import annotations

import inspect
import json
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sextant_services.router.nginx_conf import UPSTREAM_IDLE_SECONDS, render_nginx_conf
from sextant_services.router.spec import RouterSpec
from tests.support.processes import Server, free_port, running, wait_until

from .http_client import Client

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
SPEC = {"variants": [{"name": "stable", "url": "http://127.0.0.1:1", "weight": 70},
                     {"name": "canary", "url": "http://127.0.0.1:2", "weight": 20},
                     {"name": "broken", "url": "http://127.0.0.1:3", "weight": 10}],
        "shadow": {"name": "shadow", "url": "http://127.0.0.1:4"}}


def test_config_routes_only_ready_variants_and_mirrors_a_ready_shadow(tmp_path: Path) -> None:
    spec = RouterSpec.from_dict(SPEC)
    conf = render_nginx_conf(spec, frozenset({"stable", "canary", "shadow"}), tmp_path, None, relay_port=9)
    assert "server 127.0.0.1:1 weight=70" in conf and "server 127.0.0.1:2 weight=20" in conf
    assert "127.0.0.1:3" not in conf
    assert "syslog:server=127.0.0.1:9" in conf  # copies go to the relay, see test_router_mirror.py
    assert "syslog" not in render_nginx_conf(spec, frozenset({"stable"}), tmp_path, None, relay_port=9)
    assert "return 503" in render_nginx_conf(spec, frozenset(), tmp_path, None, relay_port=9)


def test_nginx_drops_idle_upstream_connections_before_the_model_server_does(tmp_path: Path) -> None:
    import uvicorn

    server_idle = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    conf = render_nginx_conf(RouterSpec.from_dict(SPEC), frozenset({"stable"}), tmp_path, None)
    assert f"keepalive_timeout {UPSTREAM_IDLE_SECONDS}s;" in conf and UPSTREAM_IDLE_SECONDS < server_idle


@pytest.mark.parametrize(("raw", "message"), [
    ({"variants": []}, "'variants' must be a non-empty list"),
    ({"variants": [{"name": "a", "url": "ftp://x", "weight": 1}]}, r"variants\[0\].url"),
    ({"variants": [{"name": "a", "url": "http://x:1", "weight": -1}]}, r"variants\[0\].weight"),
    ({"variants": [{"name": "a", "url": "http://x:1", "weight": 1}] * 2}, "unique"),
])
def test_spec_errors_name_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RouterSpec.from_dict(raw)


@pytest.fixture(scope="module")
def router(variant_servers: dict[str, Server], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed: apt-get install nginx-light")
    run_dir = tmp_path_factory.mktemp("router")
    port = free_port()
    spec = {"listen": f"127.0.0.1:{port}", "probeIntervalSeconds": 0.5,
            "variants": [{"name": n, "url": variant_servers[n].url, "weight": w}
                         for n, w in (("stable", 70), ("canary", 20), ("broken", 10))],
            "shadow": {"name": "shadow", "url": variant_servers["shadow"].url, "queueSize": 10_000}}
    (run_dir / "spec.json").write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "sextant_services.router", "--spec", str(run_dir / "spec.json"),
           "--run-dir", str(run_dir / "run")]
    with running(cmd, port, run_dir / "router.log", ready_path="/router/status") as server:
        def shadow_routed() -> bool:
            status = Client(server.url).get("/router/status")[1]
            return isinstance(status, dict) and status.get("shadow") == "shadow"

        wait_until(shadow_routed, 30, "the router to see the shadow ready")
        yield server


def _predictions_total(server: Server) -> float:
    text = Client(server.url).get("/metrics")[1]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("sextant_predictions_total{"))


def test_split_honours_weights_over_10000_requests_and_skips_the_unready_variant(
        router: Server, variant_servers: dict[str, Server]) -> None:
    shadow_before = _predictions_total(variant_servers["shadow"])
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    body = json.dumps({"records": [ROW]}).encode()

    def worker(n: int) -> None:
        client, local = Client(router.url), Counter[str]()
        for _ in range(n):
            status, data, _ = client.request("POST", "/predict", body)
            local[data["variant"] if status == 200 else f"HTTP {status}"] += 1
        with lock:
            counts.update(local)

    threads = [threading.Thread(target=worker, args=(2500,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sum(counts.values()) == 10_000
    assert set(counts) == {"stable", "canary"}, counts  # no errors, no broken, never the shadow
    assert abs(counts["stable"] / 10_000 - 70 / 90) < 0.02
    assert abs(counts["canary"] / 10_000 - 20 / 90) < 0.02
    wait_until(lambda: _predictions_total(variant_servers["shadow"]) - shadow_before >= 10_000, 60,
               "the shadow to have seen every mirrored request (the relay queues up to 10,000)")
    assert _predictions_total(variant_servers["shadow"]) - shadow_before == 10_000
    assert Client(router.url).get("/router/status")[1]["mirror"]["dropped"] == 0
