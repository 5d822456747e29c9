"""The router's shadow: a slow shadow does not slow the primary path, gets `percent` % of the copies, and copies
the relay cannot hold are dropped and counted (real nginx, real HTTP servers on loopback)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from sextant_services.router.nginx_conf import render_nginx_conf
from sextant_services.router.spec import RouterSpec
from tests.support.processes import Server, free_port, running, wait_until
from tests.support.tiny_http import alternate_load

from .http_client import Client

REPO = Path(__file__).resolve().parents[3]
SLOW_SHADOW_MS = 300
REQUESTS = 4000
CONCURRENCY = 8


def _spec(percent: int | None, shadow: dict[str, object] | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {"variants": [{"name": "primary", "url": "http://127.0.0.1:1", "weight": 1}],
                           "shadow": {"name": "shadow", "url": "http://127.0.0.1:2", **(shadow or {})}}
    if percent is not None:
        raw["shadow"]["percent"] = percent
    return raw


def test_config_copies_sampled_requests_to_the_relay_without_waiting(tmp_path: Path) -> None:
    both = frozenset({"primary", "shadow"})
    half = render_nginx_conf(RouterSpec.from_dict(_spec(50)), both, tmp_path, None, relay_port=5555)
    assert "access_log syslog:server=127.0.0.1:5555,nohostname,tag=sextant_mirror sextant_mirror " \
           "if=$sextant_mirror_send;" in half
    assert "mirror " not in half.replace("sextant_mirror", "")  # no nginx `mirror`: it waits for the subrequest
    assert "127.0.0.1:2" not in half  # nginx never talks to the shadow itself: only the relay does
    assert "50% 1;" in half and 'map "$sextant_mirror_sampled:$content_length" $sextant_mirror_send' in half
    assert f"server unix:{tmp_path / 'relay.sock'};" in half and "location = /router/metrics" in half
    everything = render_nginx_conf(RouterSpec.from_dict(_spec(None)), both, tmp_path, None, relay_port=5555)
    assert 'map "1:$content_length" $sextant_mirror_send' in everything and "split_clients" not in everything
    nothing = render_nginx_conf(RouterSpec.from_dict(_spec(0)), both, tmp_path, None, relay_port=5555)
    assert "syslog" not in nothing and "sextant_relay" not in nothing
    assert "location = /router/metrics" in nothing and "return 200 '# no shadow variant" in nothing
    unready = render_nginx_conf(RouterSpec.from_dict(_spec(50)), frozenset({"primary"}), tmp_path, None, 5555)
    assert "syslog" not in unready and "location = /router/metrics" in unready


def test_shadow_percent_defaults_to_100_and_keeps_the_operator_keys() -> None:
    spec = RouterSpec.from_dict(_spec(None))
    assert spec.shadow is not None and spec.shadow.percent == 100
    assert RouterSpec.from_dict(_spec(15)).shadow.percent == 15  # type: ignore[union-attr]


@pytest.mark.parametrize(("shadow", "message"), [
    ({"percent": 101}, r"shadow\.percent must be an integer from 0 to 100, got 101"),
    ({"percent": -1}, r"shadow\.percent must be an integer from 0 to 100, got -1"),
    ({"percent": "50"}, r"shadow\.percent must be an integer from 0 to 100, got '50'"),
    ({"percent": 50.5}, r"shadow\.percent .* got 50\.5"),
    ({"percent": True}, r"shadow\.percent .* got True"),
    ({"queueSize": 0}, r"shadow\.queueSize must be an integer from 1"),
    ({"concurrency": 0}, r"shadow\.concurrency must be an integer from 1"),
])
def test_bad_shadow_settings_are_named_in_the_error(shadow: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RouterSpec.from_dict(_spec(None, shadow))


# -- real nginx, real servers -------------------------------------------------------------------------------


@contextmanager
def tiny_server(tmp: Path, name: str, delay_ms: float = 0) -> Iterator[Server]:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.support.tiny_http", "--port", str(port), "--name", name,
           "--delay-ms", str(delay_ms)]
    with running(cmd, port, tmp / f"{name}.log", cwd=str(REPO)) as server:
        yield server


@contextmanager
def router(tmp: Path, label: str, primary: Server, shadow: dict[str, Any] | None) -> Iterator[Server]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed: apt-get install nginx-light")
    run_dir = tmp / label
    run_dir.mkdir()
    port = free_port()
    spec: dict[str, Any] = {"listen": f"127.0.0.1:{port}", "probeIntervalSeconds": 0.2,
                            "variants": [{"name": "primary", "url": primary.url, "weight": 1}]}
    if shadow is not None:
        spec["shadow"] = shadow
    (run_dir / "spec.json").write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "sextant_services.router", "--spec", str(run_dir / "spec.json"),
           "--run-dir", str(run_dir / "run")]
    with running(cmd, port, run_dir / "router.log", ready_path="/router/status") as server:
        want = shadow["name"] if shadow else None
        wait_until(lambda: _status(server).get("shadow") == want and "primary" in _status(server)["routes"], 30,
                   f"router {label} to route to the primary" + (" and mirror to the shadow" if want else ""))
        yield server


def _status(server: Server) -> dict[str, Any]:
    status, data = Client(server.url, timeout=5).get("/router/status")
    return data if status == 200 and isinstance(data, dict) else {}


def _count(server: Server) -> int:
    return int(Client(server.url, timeout=5).get("/count")[1]["count"])


def _metrics(server: Server) -> dict[str, float]:
    text = Client(server.url, timeout=5).get("/router/metrics")[1]
    return {line.split('outcome="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("sextant_router_mirror_copies_total{")}


def run_load(servers: list[Server], requests_each: int, concurrency: int) -> list[list[float]]:
    """Bounded load (count and 120 s), alternating between `servers`; latencies in seconds, every answer 200."""
    body = json.dumps({"records": [{"x": 1.0}]}).encode()
    results = asyncio.run(alternate_load([s.url for s in servers], requests_each, concurrency, "/predict", body,
                                         deadline_s=120))
    for server, answers in zip(servers, results, strict=True):
        bad = [status for status, _ in answers if status != 200]
        assert not bad and len(answers) == requests_each, (server.url, len(answers), bad[:5])
    return [[seconds for _, seconds in answers] for answers in results]


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def test_a_slow_shadow_does_not_slow_the_primary_and_gets_its_percentage(tmp_path: Path) -> None:
    with ExitStack() as stack:
        primary = stack.enter_context(tiny_server(tmp_path, "primary"))
        shadow = stack.enter_context(tiny_server(tmp_path, "shadow", delay_ms=SLOW_SHADOW_MS))
        plain = stack.enter_context(router(tmp_path, "plain", primary, None))
        mirrored = stack.enter_context(router(tmp_path, "mirrored", primary, {
            "name": "shadow", "url": shadow.url, "percent": 50, "queueSize": REQUESTS, "concurrency": 64}))
        run_load([plain, mirrored], 200, CONCURRENCY)  # warm both paths (connections to the primary, the relay)

        def drained() -> bool:
            m = _status(mirrored)["mirror"]
            return bool(m["queued"] == 0 and m["forwarded"] + m["failed"] + m["dropped"] == m["received"])

        wait_until(drained, 30, "the warm-up copies to reach the shadow")
        received_before, shadow_before = _status(mirrored)["mirror"]["received"], _count(shadow)

        # every client connection sends to the two routers in turn: side by side, under the same machine noise
        without, with_shadow = run_load([plain, mirrored], REQUESTS, CONCURRENCY)
        p99_without, p99_with = p99(without) * 1000, p99(with_shadow) * 1000
        print(f"primary p99 without a shadow {p99_without:.2f} ms, with a {SLOW_SHADOW_MS} ms shadow at 50 % "
              f"{p99_with:.2f} ms ({len(without)} and {len(with_shadow)} requests at concurrency {CONCURRENCY}); "
              f"p50 {sorted(without)[len(without) // 2] * 1000:.2f} and "
              f"{sorted(with_shadow)[len(with_shadow) // 2] * 1000:.2f} ms")
        assert p99_with - p99_without < 5.0, (p99_without, p99_with)
        wait_until(drained, 60, "the relay to forward every queued copy to the slow shadow")
        mirror = _status(mirrored)["mirror"]
        copies = mirror["received"] - received_before
        assert abs(copies / REQUESTS - 0.50) <= 0.05, copies
        assert mirror["dropped"] == 0 and mirror["failed"] == 0, mirror
        assert _count(shadow) - shadow_before == copies  # the shadow got every sampled copy
        assert _metrics(mirrored)["forwarded"] == mirror["forwarded"]


def test_copies_beyond_the_relay_queue_are_dropped_counted_and_never_wait(tmp_path: Path) -> None:
    with ExitStack() as stack:
        primary = stack.enter_context(tiny_server(tmp_path, "primary"))
        shadow = stack.enter_context(tiny_server(tmp_path, "shadow", delay_ms=SLOW_SHADOW_MS))
        mirrored = stack.enter_context(router(tmp_path, "mirrored", primary, {
            "name": "shadow", "url": shadow.url, "queueSize": 5, "concurrency": 1}))
        started = time.monotonic()
        (latencies,) = run_load([mirrored], 200, 4)
        # one copy at a time at 300 ms each would take 60 s if the primary path waited for the shadow
        assert time.monotonic() - started < 20 and len(latencies) == 200

        def settled() -> bool:
            m = _status(mirrored)["mirror"]
            return bool(m["queued"] == 0 and m["forwarded"] + m["failed"] + m["dropped"] == m["received"] == 200)

        wait_until(settled, 30, "the relay to settle every copy")
        mirror = _status(mirrored)["mirror"]
        assert mirror["dropped"] >= 150, mirror
        assert _metrics(mirrored)["dropped"] == mirror["dropped"]
        wait_until(lambda: _count(shadow) == mirror["forwarded"], 10, "the shadow to count the forwarded copies")
