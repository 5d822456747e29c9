"""InferenceServices served by the operator installed by its chart: model-server and router pods run the images
built here on the real node, requests go through the InferenceService's own Service, and status says what
happened. Models are trained by TrainingJobs first, as a user would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.autoscaling import wait_for_replicas
from tests.support.embedded_store import BUCKET, store_client
from tests.support.external_cluster import assert_on_a_real_node
from tests.support.polling import eventually
from tests.support.real_pods import (
    helm,
    image_refs,
    install_chart,
    restricted_namespace,
)
from tests.support.request_load import RequestLoad
from tests.support.serving_models import breast_cancer_request

pytestmark = pytest.mark.integration

NAMESPACE = "sx-serving"
MODEL = "cancer"
SMALL = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
#: These tests are about rollouts and scaling, not load shedding: on 2 cores shared with starting replicas a
#: request may queue for more than the default 1 s, which the server answers 503 (Overloaded) by design.
PATIENT = {"maxLatencyMs": 15000}


FAST = {"algorithm": "logistic_regression", "params": {"max_iter": 500}}
#: A version too slow to keep up (about 0.1 s per prediction): under load its queue overflows into 503s.
SLOW = {"algorithm": "random_forest", "params": {"n_estimators": 2000, "n_jobs": 1}}


def _training(name: str, estimator: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"task": "classification", "dataset": {"uri": "builtin:breast_cancer", "target": "target"},
                     "estimator": estimator, "model": {"name": MODEL},
                     "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}}}


def _apply(cluster: Any, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))


def _get(cluster: Any, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json").stdout))


@pytest.fixture(scope="module")
def versions(cluster: Any, crds: None) -> Iterator[dict[str, int]]:
    """The chart watching one `restricted` namespace, with four versions of one model trained in it (three fast,
    one slow), by role: a, b, c, slow."""
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, NAMESPACE)
    install = install_chart(cluster, NAMESPACE, "serving.routing=router")
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        roles = {"a": FAST, "b": FAST, "c": FAST, "slow": SLOW}
        for role, estimator in roles.items():
            _apply(cluster, _training(f"train-{role}", estimator))
        trained = {}
        for role in roles:
            done = eventually(lambda role=role: _get(cluster, "trainingjob", f"train-{role}").get("status", {}).get(
                "phase") in ("Succeeded", "Failed") and _get(cluster, "trainingjob", f"train-{role}"), timeout=600,
                interval=2, what=f"TrainingJob train-{role} to finish")
            assert done["status"]["phase"] == "Succeeded", done["status"]
            trained[role] = int(done["status"]["model"]["version"])
        yield trained
    finally:
        cluster.kubectl("delete", "inferenceservices,trainingjobs", "--all", "-n", NAMESPACE, "--wait=true",
                        "--timeout=90s", check=False)
        helm(cluster, "uninstall", "sx", "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _isvc(name: str, versions: tuple[int, int], weights: tuple[int, int] = (85, 15), **spec: Any) -> dict[str, Any]:
    variants = [{"name": v, "model": {"name": MODEL, "version": str(n)}, "weight": w, "resources": SMALL}
                for v, n, w in zip(("blue", "green"), versions, weights, strict=True)]
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"variants": variants, **spec}}


def _ready(cluster: Any, name: str, timeout: float = 300) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        body = _get(cluster, "inferenceservice", name)
        status = body.get("status") or {}
        return body if status.get("phase") == "Ready" and \
            status.get("observedGeneration") == body["metadata"]["generation"] else None
    return dict(eventually(ready, timeout=timeout, interval=2, what=f"InferenceService {name} to be Ready"))


def _delete(cluster: Any, name: str) -> None:
    """Free the machine for the next test (the garbage collector removes the children)."""
    cluster.kubectl("delete", "inferenceservice", name, "-n", NAMESPACE, "--wait=false")


def _address(cluster: Any, name: str) -> str:
    return str(cluster.kubectl("get", "service", name, "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}").stdout)


def _selects(cluster: Any, name: str) -> tuple[str, str]:
    """What the InferenceService's Service selects: (component, model version)."""
    selector = json.loads(cluster.kubectl("get", "service", name, "-n", NAMESPACE, "-o",
                                          "jsonpath={.spec.selector}").stdout or "{}")
    return selector.get("ml.sextant.io/component", ""), selector.get("ml.sextant.io/model-version", "")


def _routes(cluster: Any, name: str) -> dict[str, int] | None:
    """The routes every router replica applied, if they agree (asked through the Service, several times)."""
    import urllib.request

    seen = set()
    for _ in range(6):
        with urllib.request.urlopen(f"http://{_address(cluster, name)}/router/status", timeout=5) as resp:
            seen.add(json.dumps(json.loads(resp.read())["routes"], sort_keys=True))
    return json.loads(seen.pop()) if len(seen) == 1 else None


def _config_hash(cluster: Any, name: str) -> str:
    """The digest of the router configuration the operator wrote last (its ConfigMap's annotation)."""
    return str(eventually(lambda: cluster.kubectl(
        "get", "configmap", "-n", NAMESPACE, "-l", f"ml.sextant.io/inferenceservice={name}", "-o",
        "jsonpath={.items[0].metadata.annotations.ml\\.sextant\\.io/config-hash}").stdout, timeout=30, interval=1,
        what=f"{name}'s router ConfigMap"))


def _routes_ready(cluster: Any, name: str, written: str) -> dict[str, Any] | None:
    """RoutesReady of a pass that saw the configuration `written` (its message names it when True; when False the
    routers have not taken it in yet), or None for a pass from before it."""
    status = _get(cluster, "inferenceservice", name).get("status") or {}
    condition = next((c for c in status.get("conditions", []) if c["type"] == "RoutesReady"), None)
    if condition is None or condition.get("observedGeneration") != _get(cluster, "inferenceservice", name)[
            "metadata"]["generation"]:
        return None
    return dict(condition) if condition["status"] == "False" or written in condition["message"] else None


def _wait_routes(cluster: Any, name: str, wanted: dict[str, int]) -> None:
    eventually(lambda: _routes(cluster, name) == wanted, timeout=180, interval=2,
               what=f"the routers of {name} to route {wanted}")


def test_an_inferenceservice_serves_two_variants_through_its_address(cluster: Any, versions: dict[str, int]) -> None:
    _apply(cluster, _isvc("ab", (versions["a"], versions["b"])))
    body = _ready(cluster, "ab")
    status = body["status"]
    assert status["url"] == f"http://ab.{NAMESPACE}.svc.cluster.local" and status["routing"] == "router"
    variants = {v["name"]: v for v in status["variants"]}
    assert variants["blue"]["model"]["version"] == str(versions["a"])
    assert variants["green"]["model"]["version"] == str(versions["b"])
    assert variants["blue"]["model"]["digest"].startswith("sha256:") and variants["blue"]["readyReplicas"] == 1
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {**conditions, "Ready": "True", "ModelResolved": "True", "RoutesReady": "True",
                          "Degraded": "False"}
    pods = json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", "ml.sextant.io/inferenceservice=ab",
                                      "-o", "json").stdout)["items"]
    assert len(pods) == 4  # two model servers, two routers
    for pod in pods:
        assert_on_a_real_node(cluster, pod)
    printed = cluster.kubectl("get", "sxis", "ab", "-n", NAMESPACE).stdout
    assert "Ready" in printed and "blue=85,green=15" in printed and f"cancer:{versions['a']}," in printed
    owners = json.loads(cluster.kubectl("get", "deployments,services,configmaps,poddisruptionbudgets", "-n", NAMESPACE,
                                        "-l", "ml.sextant.io/inferenceservice=ab", "-o", "json").stdout)["items"]
    assert owners and all(o["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"] for o in owners)
    # The routers probe the variants once a second: Ready can come a probe before they route (docs/serving.md).
    _wait_routes(cluster, "ab", {f"blue-v{versions['a']}": 85, f"green-v{versions['b']}": 15})
    result = RequestLoad(_address(cluster, "ab"), breast_cancer_request(), concurrency=2, max_requests=50,
                         max_seconds=60).run()
    assert result.statuses[200] == 50 and set(result.variants) <= {"blue", "green"}, str(result)
    _delete(cluster, "ab")


def test_weights_split_traffic_within_two_points_and_changes_lose_no_request(cluster: Any,
                                                                            versions: dict[str, int]) -> None:
    pair = (versions["a"], versions["b"])
    blue, green = f"blue-v{pair[0]}", f"green-v{pair[1]}"
    _apply(cluster, _isvc("split", pair, weights=(100, 0)))
    _ready(cluster, "split")
    _wait_routes(cluster, "split", {blue: 100})
    address = _address(cluster, "split")
    load = RequestLoad(address, breast_cancer_request(), concurrency=4, max_requests=100_000, max_seconds=400).start()
    try:
        before = _config_hash(cluster, "split")
        _apply(cluster, _isvc("split", pair, weights=(85, 15)))
        written = eventually(lambda: (h := _config_hash(cluster, "split")) != before and h, timeout=30, interval=0.5,
                             what="the operator to write the new router configuration")
        updating = eventually(lambda: _routes_ready(cluster, "split", written), timeout=30, interval=0.5,
                              what="the first pass after the weight change")
        _wait_routes(cluster, "split", {blue: 85, green: 15})
        # RoutesReady comes from the routers' own /router/status: True once both route by the file just written.
        live = eventually(lambda: (c := _routes_ready(cluster, "split", written)) and c["status"] == "True" and c,
                          timeout=120, interval=1, what="RoutesReady to name the new configuration")
        print(f"after the weight change RoutesReady said {updating['reason']}: {updating['message']}; then "
              f"{live['reason']}: {live['message']}")
        measured = RequestLoad(address, breast_cancer_request(), concurrency=8, max_requests=10_000,
                               max_seconds=300).run()
        _apply(cluster, _isvc("split", pair, weights=(0, 100)))
        _wait_routes(cluster, "split", {green: 100})
    finally:
        during = load.stop()
    assert measured.sent == 10_000 and measured.lost == 0, str(measured)
    assert abs(measured.share("blue") - 0.85) <= 0.02 and abs(measured.share("green") - 0.15) <= 0.02, \
        measured.variants
    assert during.sent > 100 and during.lost == 0, str(during)
    assert during.retried <= 10, during.retried  # idle keep-alive connections nginx closed at its reloads
    _delete(cluster, "split")


def test_a_tampered_artifact_never_serves_and_the_old_pods_keep_every_request(cluster: Any,
                                                                             versions: dict[str, int]) -> None:
    store = store_client(cluster, NAMESPACE)
    prefix = f"models/{MODEL}/{versions['c']}/"
    (key,) = [o["Key"] for o in store.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
              if o["Key"].endswith(".pkl")]
    original = store.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    store.put_object(Bucket=BUCKET, Key=key, Body=original + b"tampered")
    _apply(cluster, _isvc("guarded", (versions["a"], versions["b"]), batching=PATIENT))
    _ready(cluster, "guarded")
    address = _address(cluster, "guarded")
    load = RequestLoad(address, breast_cancer_request(), concurrency=4, max_requests=100_000, max_seconds=300).start()
    try:
        _apply(cluster, _isvc("guarded", (versions["a"], versions["c"]), batching=PATIENT))

        def degraded() -> dict[str, Any] | None:
            status = _get(cluster, "inferenceservice", "guarded").get("status") or {}
            return status if status.get("reason") == "DigestMismatch" else None

        status = eventually(degraded, timeout=180, interval=2, what="the tampered rollout to show DigestMismatch")
        assert status["phase"] == "Degraded" and "digest" in status["message"]
        green = next(v for v in status["variants"] if v["name"] == "green")
        assert green["model"]["version"] == str(versions["b"])
        assert green["rollout"]["model"]["version"] == str(versions["c"])
    finally:
        during = load.stop()
        store.put_object(Bucket=BUCKET, Key=key, Body=original)
    assert during.sent > 100 and during.lost == 0, str(during)
    assert set(during.variants) == {"blue", "green"}
    _delete(cluster, "guarded")


def test_a_canary_that_answers_5xx_is_rolled_back_by_itself(cluster: Any, versions: dict[str, int]) -> None:
    rollout = {"strategy": "Canary", "canaryPercent": 50, "interval": "10m", "maxErrorRate": 0.05, "minRequests": 20}
    doc = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "canary"},
           "spec": {"model": {"name": MODEL, "version": str(versions["a"])}, "rollout": rollout, "resources": SMALL,
                    "batching": {"maxLatencyMs": 20}}}  # a request queued 20 ms is shed with 503
    _apply(cluster, doc)
    _ready(cluster, "canary")
    assert _selects(cluster, "canary") == ("model-server", str(versions["a"]))  # one backend: no router yet
    address = _address(cluster, "canary")
    load = RequestLoad(address, breast_cancer_request(), concurrency=8, max_requests=200_000, max_seconds=400).start()
    try:
        doc["spec"]["model"]["version"] = str(versions["slow"])
        _apply(cluster, doc)

        def rolled_back() -> dict[str, Any] | None:
            status = _get(cluster, "inferenceservice", "canary").get("status") or {}
            return status if status.get("reason") == "RolledBack" else None

        status = eventually(rolled_back, timeout=300, interval=2, what="the failing canary to be rolled back")
    finally:
        load.stop()
    (variant,) = status["variants"]
    assert variant["model"]["version"] == str(versions["a"]) and "rollout" not in variant
    assert variant["rolledBack"]["version"] == str(versions["slow"]) and "5xx" in variant["message"]
    assert status["phase"] == "Degraded"
    eventually(lambda: not cluster.kubectl("get", "deployment", f"canary-default-v{versions['slow']}", "-n",
                                           NAMESPACE, check=False).stdout, timeout=60, what="the canary's removal")
    # One backend again: the Service selects its servers directly and the router that split the canary goes.
    eventually(lambda: _selects(cluster, "canary") == ("model-server", str(versions["a"])) and not cluster.kubectl(
        "get", "deployment", "canary-router", "-n", NAMESPACE, check=False).stdout, timeout=120,
        what="the Service to select version a's servers and the router's removal")
    # One at a time: with the 20 ms queue deadline a loaded machine sheds concurrent requests even for this model.
    after = RequestLoad(address, breast_cancer_request(), concurrency=1, max_requests=100, max_seconds=60).run()
    assert after.lost == 0 and set(after.variants) == {"default"}, str(after)
    _delete(cluster, "canary")


def test_load_scales_a_variant_out_and_its_end_scales_it_back(cluster: Any, versions: dict[str, int],
                                                              metrics_api: None) -> None:
    scaling = {"minReplicas": 1, "maxReplicas": 3, "metric": "cpu", "target": 40, "scaleDownDelaySeconds": 15}
    doc = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "elastic"},
           "spec": {"model": {"name": MODEL, "version": str(versions["a"])}, "scaling": scaling, "batching": PATIENT,
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}}}
    _apply(cluster, doc)
    status = _ready(cluster, "elastic")["status"]
    assert status["variants"][0]["autoscaler"] == "HPA"
    deployment = f"elastic-default-v{versions['a']}"
    hpa = _get(cluster, "hpa", deployment)
    assert hpa["spec"]["maxReplicas"] == 3 and hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 15
    load = RequestLoad(_address(cluster, "elastic"), breast_cancer_request(), concurrency=6, max_requests=1_000_000,
                       max_seconds=300).start()
    try:
        assert wait_for_replicas(cluster, NAMESPACE, deployment, at_least=2, timeout=240) >= 2
        eventually(lambda: (_get(cluster, "inferenceservice", "elastic")["status"]["variants"][0]
                            .get("readyReplicas", 0) >= 2), timeout=60, what="status to show the new replica")
    finally:
        during = load.stop()
    assert during.lost == 0, str(during)
    assert wait_for_replicas(cluster, NAMESPACE, deployment, at_most=1, timeout=240) == 1
    _delete(cluster, "elastic")


def test_deleting_an_inferenceservice_removes_every_child(cluster: Any, versions: dict[str, int]) -> None:
    _apply(cluster, _isvc("brief", (versions["a"], versions["b"]), weights=(100, 0)))
    _ready(cluster, "brief")
    cluster.kubectl("delete", "inferenceservice", "brief", "-n", NAMESPACE, "--wait=true", "--timeout=60s")

    def children() -> str:
        return str(cluster.kubectl("get", "deployments,services,configmaps,pods", "-n", NAMESPACE, "-l",
                                   "ml.sextant.io/inferenceservice=brief", "-o", "name").stdout.strip())

    eventually(lambda: children() == "", timeout=120, interval=2, what="the garbage collector to remove children")
