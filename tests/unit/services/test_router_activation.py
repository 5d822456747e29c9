"""Scale from zero through the router: while no variant is ready, requests are held (and counted for KEDA) until
one is, then answered by it; a request held past the activation timeout gets 503 saying why. Real nginx, a real
router process and a real HTTP server started late."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sextant_services.router.activator import pick
from sextant_services.router.nginx_conf import render_nginx_conf
from sextant_services.router.spec import RouterSpec, Upstream
from tests.support.processes import Server, free_port, running, wait_until

from .http_client import Client

REPO = Path(__file__).resolve().parents[3]


def _spec(url: str, activation: object = 30) -> dict[str, Any]:
    return {"listen": "127.0.0.1:8080", "activationTimeoutSeconds": activation,
            "variants": [{"name": "primary", "url": url, "weight": 1}]}


def test_config_sends_requests_to_the_activator_only_while_nothing_is_ready(tmp_path: Path) -> None:
    spec = RouterSpec.from_dict(_spec("http://primary:80"))
    idle = render_nginx_conf(spec, frozenset(), tmp_path, None)
    assert "proxy_pass http://sextant_activator;" in idle and "return 503" not in idle
    assert f"server unix:{tmp_path / 'activator.sock'};" in idle
    serving = render_nginx_conf(spec, frozenset({"primary"}), tmp_path, None)
    assert "proxy_pass http://sextant_variants;" in serving
    assert "proxy_pass http://sextant_activator;" not in serving  # the upstream stays, for /router/metrics
    assert "proxy_pass http://sextant_activator/metrics;" in serving
    without = render_nginx_conf(RouterSpec.from_dict({**_spec("http://primary:80"), "activationTimeoutSeconds": None}),
                                frozenset(), tmp_path, None)
    assert "return 503" in without and "activator" not in without


@pytest.mark.parametrize("value", [0, -1, "60", True, 901])
def test_a_bad_activation_timeout_is_named(value: object) -> None:
    with pytest.raises(ValueError, match="activationTimeoutSeconds must be a number of seconds above 0"):
        RouterSpec.from_dict(_spec("http://primary:80", value))


def test_held_requests_go_to_the_variants_by_weight() -> None:
    targets = [Upstream("a", "http://a:80", 3), Upstream("b", "http://b:80", 1)]
    chosen = [pick(targets, i / 100).name for i in range(100)]
    assert chosen.count("a") == 75 and chosen.count("b") == 25


# -- real nginx, a real router, a variant that starts late ---------------------------------------------------------


@contextmanager
def activating_router(tmp: Path, variant_port: int, timeout_s: float) -> Iterator[Server]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed: apt-get install nginx-light")
    port = free_port()
    spec = {"listen": f"127.0.0.1:{port}", "probeIntervalSeconds": 0.2, "activationTimeoutSeconds": timeout_s,
            "variants": [{"name": "primary", "url": f"http://127.0.0.1:{variant_port}", "weight": 1}]}
    (tmp / "spec.json").write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "sextant_services.router", "--spec", str(tmp / "spec.json"), "--run-dir",
           str(tmp / "run")]
    with running(cmd, port, tmp / "router.log", ready_path="/router/status") as server:
        yield server


def _held(server: Server) -> dict[str, float]:
    """The activator's series from /router/metrics: the gauge as "held", the counter by outcome."""
    text = Client(server.url, timeout=5).get("/router/metrics")[1]
    values = {}
    for line in text.splitlines():
        if line.startswith("sextant_router_held_requests "):
            values["held"] = float(line.split()[1])
        elif line.startswith("sextant_router_held_requests_total{"):
            values[line.split('"')[1]] = float(line.rsplit(" ", 1)[1])
    return values


class Background:
    """One request sent on its own thread (it is held); its answer and how long it took."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.answer: tuple[int, Any] | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._send, args=(url, timeout_s), daemon=True)
        self._thread.start()

    def _send(self, url: str, timeout_s: float) -> None:
        began = time.monotonic()
        self.answer = Client(url, timeout=timeout_s).post("/predict", {"records": [{"x": 1.0}]})
        self.seconds = time.monotonic() - began

    def result(self, timeout_s: float) -> tuple[int, Any]:
        self._thread.join(timeout_s)
        assert self.answer is not None, f"no answer within {timeout_s} s"
        return self.answer


def test_a_request_is_held_until_a_variant_starts_then_answered_by_it(tmp_path: Path) -> None:
    variant_port = free_port()
    with activating_router(tmp_path, variant_port, timeout_s=60) as router:
        assert _held(router) == {"held": 0, "forwarded": 0, "timed_out": 0, "failed": 0}
        waiting = [Background(router.url, 90) for _ in range(3)]
        wait_until(lambda: _held(router).get("held") == 3, 20, "the router to hold the three requests")
        wait_until(lambda: Client(router.url, timeout=5).get("/router/status")[1]["activation"]["held"] == 3, 10,
                   "/router/status to show three held requests")
        assert all(w.answer is None for w in waiting)  # nothing listens on the variant's port yet
        cmd = [sys.executable, "-m", "tests.support.tiny_http", "--port", str(variant_port), "--name", "primary"]
        with running(cmd, variant_port, tmp_path / "variant.log", cwd=str(REPO)) as variant:
            answers = [w.result(30) for w in waiting]
            assert answers == [(200, {"variant": "primary"})] * 3
            assert _held(router) == {"held": 0, "forwarded": 3, "timed_out": 0, "failed": 0}
            # Once nginx has reloaded with the variant (a moment after the status says so), requests go to it
            # directly: the activator sees no more of them. Every request is answered either way.
            sent = 0

            def direct() -> bool:
                nonlocal sent
                before = _held(router)["forwarded"]
                sent += 1
                assert Client(router.url, timeout=5).post("/predict", {"records": [{"x": 2.0}]}) == \
                    (200, {"variant": "primary"})
                return _held(router)["forwarded"] == before

            wait_until(direct, 10, "a request to reach the variant without the activator", interval=0.2)
            assert Client(variant.url, timeout=5).get("/count")[1]["count"] == 3 + sent


def test_a_request_held_past_the_timeout_gets_503_saying_why(tmp_path: Path) -> None:
    with activating_router(tmp_path, free_port(), timeout_s=1.5) as router:
        began = time.monotonic()
        status, body = Client(router.url, timeout=30).post("/predict", {"records": [{"x": 1.0}]})
        took = time.monotonic() - began
        assert status == 503 and body["code"] == "NoVariantReady", (status, body)
        assert "within 1.5 s" in body["error"] and "activation timeout" in body["error"]
        assert 1.4 <= took < 10, took
        assert _held(router) == {"held": 0, "forwarded": 0, "timed_out": 1, "failed": 0}
