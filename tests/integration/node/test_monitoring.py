"""A real Prometheus (built from the Go module proxy) scrapes Sextant on the real node with the chart's own scrape
config and rules: every dashboard query and recording rule returns data, and the alerts fire when they should
(rejected requests, a failed training run, drift) and stay quiet when they should not (server errors, latency).

The chart is installed with monitoring.scrapeConfig; Prometheus runs on the host (pod addresses are reachable from
it) and discovers the pods through the cluster's kubeconfig instead of a ServiceAccount, scraping every 2 s and
evaluating the rules every 2 s so that minutes of production behaviour take seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.embedded_store import BUCKET, store_client
from tests.support.external_cluster import skip_unless_local
from tests.support.monitoring import (
    PrometheusServer,
    dashboard_queries,
    dashboard_variable_matchers,
    rules,
    running_prometheus,
    with_kubeconfig,
)
from tests.support.polling import eventually
from tests.support.real_pods import (
    helm,
    image_refs,
    install_chart,
    restricted_namespace,
)
from tests.support.request_load import RequestLoad
from tests.support.serving_models import register_breast_cancer
from tests.support.sextant_operator import CHART

pytestmark = pytest.mark.integration

NAMESPACE = "sx-monitoring"
SMALL = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
#: Series the operator exports (drift checks, finished training runs); the rest come from servers and routers.
OPERATOR_METRICS = ("sextant_drift_", "sextant_trainingjob_")


def _apply(cluster: Any, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))


def _get(cluster: Any, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json").stdout))


def _training(name: str, dataset: str) -> dict[str, Any]:
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"task": "classification", "dataset": {"uri": dataset, "target": "target"},
                     "estimator": {"algorithm": "logistic_regression", "params": {"max_iter": 500}},
                     "model": {"name": "cancer"},
                     "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}}}


def _finished(cluster: Any, name: str) -> dict[str, Any]:
    return dict(eventually(lambda: (job := _get(cluster, "trainingjob", name)).get("status", {}).get("phase") in (
        "Succeeded", "Failed") and job, timeout=600, interval=2, what=f"TrainingJob {name} to finish"))


def _publish_model(cluster: Any, root: Path) -> int:
    """A breast_cancer model (features f0..f29) registered in a local registry, copied into the chart's embedded
    store as it is laid out there; its version. (Training it with a TrainingJob is what test_serving does.)"""
    manifest = register_breast_cancer(root)
    store = store_client(cluster, NAMESPACE)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        store.put_object(Bucket=BUCKET, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
    return int(manifest.version)


def _records(scale: float) -> dict[str, Any]:
    """Ten rows of breast_cancer as the model was trained on them (scale 1), or shifted (every value x scale)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    rows = data.data[:10] * scale
    return {"records": [{f"f{i}": float(v) for i, v in enumerate(row)} for row in rows]}


@pytest.fixture(scope="module")
def served(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, str]]:
    """The chart in one namespace, Prometheus scraping it with the chart's config and rules, and a model served by
    an InferenceService with a shadow, behind the router; yields Prometheus and the InferenceService's address."""
    image_refs(cluster)  # skips without a real node
    skip_unless_local(cluster, "Prometheus on the host scraping pod addresses")
    restricted_namespace(cluster, NAMESPACE)
    install = install_chart(cluster, NAMESPACE, "serving.routing=router", "monitoring.scrapeConfig.enabled=true")
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        jobs = yaml.safe_load(_get(cluster, "configmap", "sx-sextant-scrape-config")["data"]["scrape-configs.yaml"])
        for job in jobs:
            job["scrape_interval"] = "2s"
        config = {"global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
                  "rule_files": [str(CHART / "files" / "prometheus-rules.yaml")],
                  "scrape_configs": with_kubeconfig(jobs, Path(cluster.kubeconfig))}
        with running_prometheus(tmp_path_factory.mktemp("prometheus"), config) as prometheus:
            model = {"name": "cancer", "version": str(_publish_model(cluster, tmp_path_factory.mktemp("store")))}
            _apply(cluster, {
                "apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "watched"},
                "spec": {"model": model, "resources": SMALL,
                         "shadow": {"name": "shadow", "model": model, "percent": 50, "resources": SMALL},
                         "monitoring": {"drift": {"enabled": True, "interval": "20s", "minSamples": 50}}}})
            eventually(lambda: _get(cluster, "inferenceservice", "watched").get("status", {}).get("phase") == "Ready",
                       timeout=300, interval=2, what="InferenceService watched to be Ready")
            address = cluster.kubectl("get", "service", "watched", "-n", NAMESPACE, "-o",
                                      "jsonpath={.spec.clusterIP}").stdout
            # Ready is the operator's verdict; the routers apply their routes (and kube-proxy the ClusterIP) soon
            # after: the tests' load starts once a prediction is answered through the address.
            eventually(lambda: RequestLoad(address, _records(1.0), concurrency=1, max_requests=1,
                                           max_seconds=10).run().statuses[200] == 1,
                       timeout=120, interval=1, what="a prediction through the InferenceService's address")
            yield prometheus, address
    finally:
        cluster.kubectl("delete", "inferenceservices,trainingjobs", "--all", "-n", NAMESPACE, "--wait=true",
                        "--timeout=90s", check=False)
        helm(cluster, "uninstall", "sx", "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _up_targets(prometheus: PrometheusServer) -> dict[str, list[dict[str, Any]]]:
    by_job: dict[str, list[dict[str, Any]]] = {}
    for target in prometheus.targets():
        if target["labels"].get("namespace") == NAMESPACE and target["health"] == "up":
            by_job.setdefault(target["labels"]["job"], []).append(target["labels"])
    return by_job


def test_prometheus_scrapes_every_model_server_and_router_with_the_charts_config(
        cluster: Any, served: tuple[PrometheusServer, str]) -> None:
    prometheus, _ = served
    try:
        up = eventually(lambda: (t := _up_targets(prometheus)) and len(t.get("sextant-model-servers", [])) == 2
                        and len(t.get("sextant-routers", [])) == 2 and t, timeout=120, interval=2,
                        what="Prometheus to scrape two model servers (variant and shadow) and two routers")
    except AssertionError as exc:
        seen = [(t["labels"].get("job"), t["labels"].get("pod"), t["health"], t.get("lastError"))
                for t in prometheus.targets()]
        raise AssertionError(f"{exc}; targets: {seen}") from None
    for labels in up["sextant-model-servers"] + up["sextant-routers"]:
        assert labels["inferenceservice"] == "watched" and labels["pod"].startswith("watched-"), labels
    assert {labels["component"] for labels in up["sextant-routers"]} == {"router"}


def _returns_data(prometheus: PrometheusServer, expr: str) -> bool:
    return bool(prometheus.series(expr))


def test_dashboard_queries_and_rules_return_data_and_rejected_requests_fire(
        cluster: Any, served: tuple[PrometheusServer, str]) -> None:
    prometheus, address = served
    # rate() needs a sample from before the load: on a quiet machine all 300 requests once fell between two
    # scrapes, the latency histogram's first sample already held them, and its 5-minute rate stayed 0 (p95 NaN).
    eventually(lambda: prometheus.series(f'sextant_request_duration_seconds_count{{namespace="{NAMESPACE}",'
                                         'variant="default"}'), timeout=60, interval=1,
               what="Prometheus to have scraped the variant's latency histogram before the load")
    good = RequestLoad(address, _records(1.0), concurrency=2, max_requests=300, max_seconds=120).start()
    bad = RequestLoad(address, {"records": [{"not_a_feature": 1}]}, concurrency=1, max_requests=150,
                      max_seconds=120).run()
    sent = good.wait()
    assert sent.statuses[200] == 300, (sent.statuses, sent.rejections.most_common(3), sent.errors[:3])
    assert all(400 <= code < 500 for code in bad.statuses) and sum(bad.statuses.values()) == 150, bad.statuses
    # Every recording rule has a value for the variant (the error ratio 0, not absent); the rejection alert's
    # condition holds and Prometheus's own rule engine holds the alert pending (`for: 10m` keeps it from firing).
    for rule in rules():
        if "record" in rule:
            eventually(lambda r=rule: _returns_data(prometheus, f'{r["record"]}{{namespace="{NAMESPACE}"}}'),
                       timeout=90, interval=2, what=f"recording rule {rule['record']} to have a value")
    alerts = {r["alert"]: r["expr"] for r in rules() if "alert" in r}
    # (the shadow gets copies of the bad requests too, so its condition holds as well)
    eventually(lambda: "default" in {s["metric"]["variant"] for s in prometheus.series(
        alerts["SextantModelServerRejectingRequests"])}, timeout=60, interval=2,
        what="SextantModelServerRejectingRequests' condition to hold for the variant")
    eventually(lambda: prometheus.series('ALERTS{alertname="SextantModelServerRejectingRequests"}'), timeout=60,
               interval=2, what="the rule engine to hold SextantModelServerRejectingRequests pending")
    assert not prometheus.series(alerts["SextantModelServerErrors"]), "no request failed on the server's side"
    assert not prometheus.series(alerts["SextantModelServerSlow"]), "the model answers in milliseconds"
    assert set(prometheus.rule_health().values()) == {"ok"}, prometheus.rule_health()
    # The dashboard: every panel's query (but the operator's, below) and every variable has data.
    for query in dashboard_queries():
        if not any(m in query.expr for m in OPERATOR_METRICS):
            eventually(lambda q=query: _returns_data(prometheus, q.runnable()), timeout=60, interval=2,
                       what=f"panel {query.panel!r} to show data: {query.runnable()}")
    for name, selector in dashboard_variable_matchers().items():
        label = {"namespace": "namespace", "inferenceservice": "inferenceservice", "feature": "feature"}[name]
        assert prometheus.label_values(label, selector), f"variable {name} offers no value"


def test_operator_metrics_fire_the_drift_and_failed_training_alerts(
        cluster: Any, served: tuple[PrometheusServer, str]) -> None:
    prometheus, address = served
    operator_up = eventually(lambda: [t for t in prometheus.targets() if t["labels"]["job"] == "sextant-operator"],
                             timeout=60, interval=2, what="Prometheus to discover the operator's metrics Service")
    if operator_up[0]["health"] != "up" and os.environ.get("SEXTANT_REQUIRE_MONITORING") != "1":
        pytest.skip(f"the operator serves no metrics here ({operator_up[0].get('lastError')}); "
                    "SEXTANT_REQUIRE_MONITORING=1 makes this a failure")
    _apply(cluster, _training("broken", "s3://sextant/datasets/missing.csv"))  # no such object: the run fails
    assert _finished(cluster, "broken")["status"]["phase"] == "Failed"
    alerts = {r["alert"]: r["expr"] for r in rules() if "alert" in r}
    failed = eventually(lambda: prometheus.series(alerts["SextantTrainingRunFailed"]), timeout=120, interval=2,
                        what="SextantTrainingRunFailed to fire for the broken TrainingJob")
    assert {s["metric"]["trainingjob"] for s in failed} == {"broken"}, failed
    # Inputs far outside the training data (every feature x 3): the operator's check reports drift.
    RequestLoad(address, _records(3.0), concurrency=2, max_requests=200, max_seconds=120).run()
    drifted = eventually(lambda: prometheus.series(alerts["SextantDataDrift"]), timeout=240, interval=2,
                         what="SextantDataDrift to fire for the shifted inputs")
    assert {(s["metric"]["inferenceservice"], s["metric"]["variant"]) for s in drifted} >= {("watched", "default")}
    for query in dashboard_queries():
        if any(m in query.expr for m in OPERATOR_METRICS):
            eventually(lambda q=query: _returns_data(prometheus, q.runnable()), timeout=60, interval=2,
                       what=f"panel {query.panel!r} to show data: {query.runnable()}")
