"""Fuzzing with malformed requests, and metrics that stay correct across two workers."""

from __future__ import annotations

import json
import random
import re
from concurrent.futures import ThreadPoolExecutor

from tests.support.processes import Server, wait_until

from .http_client import Client

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
JUNK: list[object] = [None, True, "x", "", -1, 1e308, 2**70, [], {}, [1, [2]], {"a": {"b": []}}, "\u0000\ud7ff",
                      float("nan")]


def _mutations(rng: random.Random) -> bytes:
    """One malformed request: broken JSON bytes, or valid JSON that does not fit the schema."""
    valid = json.dumps({"records": [ROW]})
    choice = rng.randrange(8)
    if choice == 0:  # truncated or spliced bytes
        cut = rng.randrange(1, len(valid))
        return valid[:cut].encode() + bytes(rng.randrange(256) for _ in range(rng.randrange(4)))
    if choice == 1:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if choice == 2:  # deep nesting
        depth = rng.choice([10, 1000, 100_000])
        return b"[" * depth + b"]" * rng.choice([0, depth])
    if choice == 3:  # a feature replaced by junk
        rec = dict(ROW)
        rec[rng.choice(list(ROW))] = rng.choice(JUNK)
        return json.dumps({"records": [rec]}).encode()
    if choice == 4:  # junk records / columns containers
        return json.dumps({rng.choice(["records", "columns", "inputs"]): rng.choice(JUNK)}).encode()
    if choice == 5:  # missing or extra keys
        rec = {k: v for k, v in ROW.items() if rng.random() < 0.5}
        rec[rng.choice(["x", "", "petal"])] = 1
        return json.dumps({"records": [rec]}).encode()
    if choice == 6:  # OIP tensors with wrong shapes, types and data
        tensor = {"name": rng.choice(["input-0", "sepal_length", 3]),
                  "shape": rng.choice([[1, 4], [4], [-1], "x", []]),
                  "datatype": rng.choice(["FP64", "FP99", None]),
                  "data": rng.choice([[1, 2, 3, 4], [[1]], "x", [None]])}
        return json.dumps({"inputs": [tensor], "outputs": rng.choice([None, [{"name": "nope"}], "x"])}).encode()
    return json.dumps(rng.choice(JUNK)).encode()


def test_a_thousand_malformed_requests_get_no_5xx_and_the_server_stays_up(iris_server: Server) -> None:
    rng = random.Random(5)  # noqa: S311 - fuzzing, not cryptography
    client = Client(iris_server.url)
    statuses: dict[int, int] = {}
    for i in range(1200):
        path = "/v2/models/iris/infer" if i % 3 == 0 else rng.choice(["/predict", "/predict_proba"])
        status, _, _ = client.request("POST", path, _mutations(rng))
        statuses[status] = statuses.get(status, 0) + 1
    assert not any(s >= 500 for s in statuses), statuses
    assert set(statuses) <= {200, 400, 413, 422}, statuses
    assert statuses.get(400, 0) > 100 and statuses.get(422, 0) > 300
    assert client.get("/readyz")[0] == 200
    assert client.post("/predict", {"records": [ROW]})[0] == 200


def _sample(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_every_prediction_across_two_workers(iris_server: Server) -> None:
    labels = {"model": "iris", "version": "1", "variant": "blue"}
    before = Client(iris_server.url).get("/metrics")[1]
    body = json.dumps({"records": [{**ROW, "petal_width": 1.4}] * 2}).encode()

    def one_request(_: int) -> str:
        c = Client(iris_server.url)  # a fresh connection each time: the kernel picks the worker that accepts it
        try:
            status, _, headers = c.request("POST", "/predict", body)
        finally:
            c.close()
        assert status == 200
        return str(headers["x-sextant-worker"])

    # Which worker accepts is the kernel's race on the shared socket: an idle one can win every sequential
    # reconnect, so four senders overlap (a busy worker leaves the next connection to the other), in rounds of 40
    # until both have answered (at least 120 requests, at most 1,000).
    workers: set[str] = set()
    n = 0
    with ThreadPoolExecutor(max_workers=4) as senders:
        while n < 1000 and (n < 120 or len(workers) < 2):
            workers.update(senders.map(one_request, range(40)))
            n += 40
    assert len(workers) == 2, f"both workers should have served some of {n} requests"

    def binned(text: str) -> float:  # petal_width 1.4 falls in baseline bin 5, which no other test sends
        return _sample(text, "sextant_feature_bin_total", feature="petal_width", bin="5", **labels) \
            - _sample(before, "sextant_feature_bin_total", feature="petal_width", bin="5", **labels)

    # drift histograms are flushed every 0.5 s: wait for them, then every read must agree
    wait_until(lambda: binned(Client(iris_server.url).get("/metrics")[1]) == 2 * n, 10, "drift counts flushed")
    for _ in range(6):  # every worker's /metrics shows the same, aggregated numbers
        c = Client(iris_server.url)
        text = c.get("/metrics")[1]
        c.close()
        assert _sample(text, "sextant_predictions_total", endpoint="predict", **labels) \
            - _sample(before, "sextant_predictions_total", endpoint="predict", **labels) == 2 * n
        assert _sample(text, "sextant_request_duration_seconds_count", endpoint="predict", **labels) \
            - _sample(before, "sextant_request_duration_seconds_count", endpoint="predict", **labels) == n
        assert binned(text) == 2 * n
        assert re.search(r"^bentoml_service_request_total\{", text, re.M), "BentoML's own metrics are kept"


def test_feature_histogram_uses_the_baseline_bins(iris_server: Server) -> None:
    c = Client(iris_server.url)
    # 99 is above the baseline's last edge; 0.1, iris's narrowest petal, is in its first bin.
    c.post("/predict", {"records": [{**ROW, "petal_width": 99.0}, {**ROW, "petal_width": 0.1}]})

    def above() -> float:
        return _sample(c.get("/metrics")[1], "sextant_feature_bin_total", feature="petal_width", bin="above")

    wait_until(lambda: above() >= 1, 10, "the out-of-range value to be counted as `above`")
    text = c.get("/metrics")[1]
    assert _sample(text, "sextant_feature_bin_total", feature="petal_width", bin="0") >= 1
    assert 'bin="9"' in text  # every baseline bin is exported, zero or not


def test_the_keda_triggers_read_metrics_the_server_exports(iris_server: Server) -> None:
    """Every series a KEDA ScaledObject's Prometheus query reads is on the server's /metrics, with the labels the
    query selects on (a query on a metric nobody exports scales nothing and says nothing)."""
    from sextant_operator.reconcile.serving_autoscaling import keda_query

    c = Client(iris_server.url)
    assert c.post("/predict", {"records": [ROW]})[0] == 200
    text = c.get("/metrics")[1]
    c.close()
    for metric in ("rps", "concurrency"):
        query = keda_query("ns", "iris", metric)
        for name in re.findall(r"\b(sextant_\w+)\{", query):
            assert _sample(text, name) > 0, f"{metric}: the server exports no {name} with a value"
        routes = re.search(r'route=~"([^"]+)"', query)
        if routes:
            assert _sample(text, "sextant_requests_total", route="predict") > 0
            assert "predict" in routes.group(1).split("|")
