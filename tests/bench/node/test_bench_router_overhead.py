"""The router's overhead on the in-cluster path (issue 11, point 9), on the real node.

The operator is installed by its chart (router mode), the quickstart TrainingJob (`make demo`'s model) trains in
the cluster, and an InferenceService serves it with the defaults: one variant, one model-server pod, the router's
two nginx replicas in front. wrk on the host then sends the same /predict body, side by side in one run, to

* the InferenceService's own Service (what a user calls: kube-proxy -> a router pod -> kube-proxy -> the server), and
* the variant's Service (kube-proxy -> the server; what the router itself forwards to),

at each concurrency, alternating which goes first, SEXTANT_BENCH_ROUNDS times (default 2) for
SEXTANT_BENCH_SECONDS (default 10) each. The overhead is the ratio of successful requests/s (router / direct) and
the difference in p50 and p99. Results go to bench-results/router-overhead.{json,md}. Everything, wrk included, shares
the machine's two cores, so the router's nginx competes with the server for CPU exactly as it would on a full node.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bench.pipelines.common import env_int, median, write_results
from tests.bench.services.wrk_runner import WrkResult, run_wrk
from tests.support.polling import eventually
from tests.support.real_pods import (
    helm,
    image_refs,
    install_chart,
    restricted_namespace,
)
from tests.support.serving_models import breast_cancer_request

NAMESPACE = "sx-router-bench"
REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "manifests/samples"
CONCURRENCY = (1, 16, 64)
SERVICE = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "overhead"},
           "spec": {"variants": [{"name": "default", "model": {"name": "breast-cancer", "alias": "staging"},
                                  "weight": 100}]}}


def _kubectl_json(cluster: Any, *args: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl(*args, "-n", NAMESPACE, "-o", "json").stdout))


def _phase(cluster: Any, kind: str, name: str) -> str | None:
    return (_kubectl_json(cluster, "get", kind, name).get("status") or {}).get("phase")


@pytest.fixture(scope="module")
def addresses(cluster: Any, crds: None) -> Iterator[dict[str, str]]:
    """{'router': the InferenceService's Service URL, 'direct': its variant's Service URL}."""
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, NAMESPACE)
    install = install_chart(cluster, NAMESPACE, "serving.routing=router")
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        cluster.kubectl("apply", "-n", NAMESPACE, "-f",
                        str(SAMPLES / "ml.sextant.io_v1alpha1_trainingjob_quickstart.yaml"))
        eventually(lambda: _phase(cluster, "trainingjob", "breast-cancer") in ("Succeeded", "Failed"), timeout=600,
                   interval=2, what="the quickstart TrainingJob to finish")
        job = _kubectl_json(cluster, "get", "trainingjob", "breast-cancer")
        assert job["status"]["phase"] == "Succeeded", job["status"]
        cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(SERVICE))
        eventually(lambda: _phase(cluster, "inferenceservice", "overhead") == "Ready", timeout=300, interval=2,
                   what="InferenceService overhead to be Ready")
        services = _kubectl_json(cluster, "get", "services", "-l", "ml.sextant.io/inferenceservice=overhead")
        by_component = {s["metadata"]["labels"].get("ml.sextant.io/component"): s for s in services["items"]}
        yield {"router": f"http://{by_component['router']['spec']['clusterIP']}/predict",
               "direct": f"http://{by_component['model-server']['spec']['clusterIP']}/predict"}
    finally:
        cluster.kubectl("delete", "inferenceservices,trainingjobs", "--all", "-n", NAMESPACE, "--wait=true",
                        "--timeout=90s", check=False)
        helm(cluster, "uninstall", "sx", "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _summary(runs: list[WrkResult]) -> dict[str, float]:
    return {"ok_rps": median([r.ok_rps for r in runs]), "p50_ms": median([r.p50_ms for r in runs]),
            "p99_ms": median([r.p99_ms for r in runs]), "errors": float(sum(r.errors for r in runs))}


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_router_overhead_on_the_in_cluster_path(addresses: dict[str, str]) -> None:
    body = json.dumps(breast_cancer_request())
    seconds = float(os.environ.get("SEXTANT_BENCH_SECONDS", "10"))
    rounds = env_int("SEXTANT_BENCH_ROUNDS", 2)
    results: dict[str, dict[int, list[WrkResult]]] = {"router": {}, "direct": {}}
    with tempfile.TemporaryDirectory(prefix="sextant-router-bench-") as workdir:
        for target, url in addresses.items():  # warm both paths (connections, the model's first batches)
            run_wrk(target, url, body, 16, 3, Path(workdir))
        for index in range(rounds):
            for c in CONCURRENCY:
                order = ("router", "direct") if index % 2 == 0 else ("direct", "router")
                for target in order:
                    result = run_wrk(target, addresses[target], body, c, seconds, Path(workdir))
                    print(f"[router-overhead] round {index + 1} {json.dumps(result.as_dict())}", flush=True)
                    results[target].setdefault(c, []).append(result)
    table = ["Router overhead on the in-cluster path (real node; quickstart model, default InferenceService)", "",
             "| c | via router ok req/s | direct ok req/s | router / direct | p50 ms router / direct | "
             "p99 ms router / direct |", "|---|---|---|---|---|---|"]
    doc: dict[str, Any] = {"seconds": seconds, "rounds": rounds, "levels": {}}
    for c in CONCURRENCY:
        via, direct = _summary(results["router"][c]), _summary(results["direct"][c])
        doc["levels"][c] = {"router": via, "direct": direct, "runs": {t: [r.as_dict() for r in results[t][c]]
                                                                      for t in results}}
        table.append(f"| {c} | {via['ok_rps']:,.0f} | {direct['ok_rps']:,.0f} | "
                     f"{via['ok_rps'] / direct['ok_rps']:.2f} | {via['p50_ms']:.1f} / {direct['p50_ms']:.1f} | "
                     f"{via['p99_ms']:.1f} / {direct['p99_ms']:.1f} |")
    write_results("router-overhead", doc, table)
    for c in CONCURRENCY:  # a run with errors does not count (wrk_runner voids runs above 0.1%)
        assert all(r.counts for t in results for r in results[t][c]), doc["levels"][c]
