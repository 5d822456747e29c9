"""Real `bentoml serve` processes over HTTP: a model that appears after start-up, graceful shutdown on SIGTERM,
and request metrics that count every status (503 while loading, 404 for unknown paths, 504 on timeout)."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import serving_models
from tests.support.observable_estimators import BrokenClassifier, SlowClassifier
from tests.support.processes import Server, free_port, running, serve_command, serving_env, wait_until

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
ROUTES = {"predict", "predict_proba", "infer", "model_ready", "model_metadata", "health", "metrics",
          "server_metadata", "other"}


def _call(url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback URLs built here
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()
    except OSError:
        return 0, ""


def _requests_total(server: Server) -> dict[tuple[str, str], float]:
    """sextant_requests_total by (route, status), from the Prometheus text of /metrics."""
    status, text = _call(server.url + "/metrics")
    assert status == 200
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sextant_requests_total":
                key = (sample.labels["route"], sample.labels["status"])
                out[key] = out.get(key, 0.0) + sample.value
    return out


@contextmanager
def _serving(store: Path, tmp_path: Path, ready: bool = True, **env: str) -> Iterator[Server]:
    port = free_port()
    full_env = serving_env(store.as_uri(), "iris", alias="production", **env)
    with running(serve_command(port), port, tmp_path / "server.log", env=full_env,
                 ready_path="/readyz" if ready else None) as server:
        yield server


def test_a_model_registered_after_start_is_picked_up_and_every_status_is_counted(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()  # empty: as if the store were unreachable or the artifact not yet uploaded
    with _serving(store, tmp_path, ready=False, SEXTANT_LOAD_RETRY_INITIAL_SECONDS="0.2",
                  SEXTANT_LOAD_RETRY_MAX_SECONDS="1") as server:
        status, body = _call(server.url + "/readyz")
        assert status == 503 and "cannot resolve model 'iris'" in body and "load attempt" in body
        status, body = _call(server.url + "/v2/health/ready")
        assert status == 503 and "cannot resolve model 'iris'" in json.loads(body)["reason"]
        assert _call(server.url + "/livez")[0] == 200
        status, body = _call(server.url + "/predict", {"records": [ROW]})
        assert status == 503 and json.loads(body)["code"] == "ModelNotReady"
        for i in range(20):  # a scan of unknown paths must not create 20 label values
            assert _call(f"{server.url}/wp-admin/{i}.php")[0] == 404
        wait_until(lambda: "NOT loaded (attempt 3)" in server.log(), 30, "a third failed load attempt")
        assert "will be tried again in" in server.log()

        serving_models.register_iris(store)
        wait_until(lambda: _call(server.url + "/readyz")[0] == 200, 30, "readiness once the model exists")
        assert _call(server.url + "/predict", {"records": [ROW]})[0] == 200
        assert _call(server.url + "/v2/models/other/infer", {"inputs": []})[0] == 404

        counts = _requests_total(server)
    assert counts[("predict", "503")] == 1 and counts[("predict", "200")] == 1
    assert counts[("other", "404")] == 20 and counts[("infer", "404")] == 1
    assert counts[("health", "503")] >= 2 and counts[("health", "200")] >= 2  # /readyz, /livez, /v2/health/ready
    assert {route for route, _ in counts} <= ROUTES


def test_a_request_that_outlives_the_timeout_gets_504_and_is_counted(tmp_path: Path) -> None:
    store = tmp_path / "store"
    serving_models.register_iris_wrapped(store, lambda m: SlowClassifier(m, 2.5))
    with _serving(store, tmp_path, SEXTANT_REQUEST_TIMEOUT_SECONDS="1") as server:
        status, body = _call(server.url + "/predict", {"records": [ROW]})
        assert status == 504 and "Not able to process the request in 1 seconds" in body
        counts = _requests_total(server)
    assert counts[("predict", "504")] == 1


def test_a_model_whose_warm_up_fails_never_becomes_ready_and_says_why(tmp_path: Path) -> None:
    store = tmp_path / "store"
    serving_models.register_iris_wrapped(store, BrokenClassifier)
    with _serving(store, tmp_path, ready=False, SEXTANT_LOAD_RETRY_INITIAL_SECONDS="0.2",
                  SEXTANT_LOAD_RETRY_MAX_SECONDS="0.5") as server:
        wait_until(lambda: "NOT loaded (attempt 2)" in server.log(), 30, "a retried warm-up")
        status, body = _call(server.url + "/readyz")
    assert status == 503
    assert "warm-up prediction on an example row failed: RuntimeError: this model cannot predict" in body


@pytest.mark.parametrize("drain", [20.0])
def test_sigterm_turns_not_ready_at_once_finishes_in_flight_requests_then_exits_0(tmp_path: Path,
                                                                                  drain: float) -> None:
    delay, model_seconds = 1.5, 1.5
    calls = tmp_path / "calls"
    store = tmp_path / "store"
    serving_models.register_iris_wrapped(store, lambda m: SlowClassifier(m, model_seconds, str(calls)))
    with _serving(store, tmp_path, SEXTANT_SHUTDOWN_DELAY_SECONDS=str(delay), SEXTANT_DRAIN_SECONDS=str(drain),
                  SEXTANT_MAX_LATENCY_MS="20000") as server:  # queued requests wait for the slow model, not shed
        warmed_up = len(calls.read_text().splitlines())
        with ThreadPoolExecutor(4) as pool:
            # One request reaches the model at once; three more wait and form the next batch.
            paths = ["/predict", "/predict_proba", "/predict", "/predict_proba"]
            futures = [pool.submit(_call, server.url + p, {"records": [ROW]}) for p in paths]
            wait_until(lambda: len(calls.read_text().splitlines()) > warmed_up, 30, "a request reaching the model")
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)  # as the kubelet does: the main process only
            readiness: list[tuple[int, str]] = []
            wait_until(lambda: readiness.append(_call(server.url + "/readyz", timeout=2)) or readiness[-1][0] == 503,
                       5, "readiness 503 after SIGTERM")
            in_flight = sum(not f.done() for f in futures)
            results = [f.result() for f in futures]
        assert in_flight > 0, "every request had finished before readiness turned 503"
        assert [status for status, _ in results] == [200, 200, 200, 200]
        assert "the server is shutting down" in readiness[-1][1]
        code = server.process.wait(timeout=delay + drain + 15)
        elapsed = time.monotonic() - signalled
    assert code == 0, server.log()[-3000:]
    assert elapsed < delay + drain + 15
    assert "SIGTERM: not ready from now on" in server.log()



def test_a_request_longer_than_the_drain_bound_does_not_hold_the_exit(tmp_path: Path) -> None:
    drain, model_seconds = 1.0, 30.0
    calls = tmp_path / "calls"
    store = tmp_path / "store"
    serving_models.register_iris_wrapped(store, lambda m: SlowClassifier(m, model_seconds, str(calls), fast_calls=1))
    with _serving(store, tmp_path, SEXTANT_SHUTDOWN_DELAY_SECONDS="0", SEXTANT_DRAIN_SECONDS=str(drain),
                  SEXTANT_MAX_LATENCY_MS="60000") as server:
        with ThreadPoolExecutor(1) as pool:
            stuck = pool.submit(_call, server.url + "/predict", {"records": [ROW]}, 60)
            wait_until(lambda: len(calls.read_text().splitlines()) >= 2, 30, "the request reaching the model")
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            code = server.process.wait(timeout=drain + 20)
            elapsed = time.monotonic() - signalled
            assert stuck.result()[0] != 200  # cut off at the bound, not answered after 30 s
    assert code == 0, server.log()[-3000:]
    assert elapsed < model_seconds - 5
    assert "in-flight requests have 1 s to finish" in server.log()
