"""Drift monitoring through the operator on the real node: live requests drawn from the training data are quiet,
shifted ones are reported with the shifted feature named, and drift asks the TrainingJob for a new run whose
promoted model the InferenceService then rolls out as a canary before promoting it — all seen with kubectl, as a
user would."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.embedded_store import BUCKET, store_client
from tests.support.polling import eventually
from tests.support.real_pods import (
    helm,
    image_refs,
    install_chart,
    restricted_namespace,
)

pytestmark = pytest.mark.integration

NAMESPACE = "sx-drift"
MODEL = "tumours"
SHIFTED_FEATURE = "mean radius"
SMALL = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
TRAINING = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "tumours-train"},
            "spec": {"task": "classification", "dataset": {"uri": "builtin:breast_cancer", "target": "target"},
                     "estimator": {"algorithm": "logistic_regression", "params": {"max_iter": 500}},
                     "model": {"name": MODEL, "promote": "production"},
                     "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}}}
SERVICE = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "tumours"},
           "spec": {"model": {"name": MODEL, "alias": "production"}, "resources": SMALL,
                    "rollout": {"strategy": "Canary", "canaryPercent": 20, "interval": "20s"},
                    "monitoring": {"drift": {"enabled": True, "interval": "15s", "minSamples": 200,
                                             "retrain": "tumours-train", "retrainCooldown": "1h"}}}}


def _apply(cluster: Any, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))


def _get(cluster: Any, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json").stdout))


def _finished_run(cluster: Any, generation: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = _get(cluster, "trainingjob", "tumours-train")
        status = body.get("status") or {}
        finished = status.get("phase") in ("Succeeded", "Failed") and \
            status.get("observedGeneration", 0) >= generation
        return status if finished else None
    status = dict(eventually(done, timeout=600, interval=2, what=f"generation {generation} of tumours-train to end"))
    assert status["phase"] == "Succeeded", status
    return status


@pytest.fixture(scope="module")
def trained(cluster: Any, crds: None) -> Iterator[int]:
    """The chart watching one `restricted` namespace, and the first version of the model trained there."""
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, NAMESPACE)
    install = install_chart(cluster, NAMESPACE, "serving.routing=router")
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        _apply(cluster, TRAINING)
        yield int(_finished_run(cluster, 1)["model"]["version"])
    finally:
        cluster.kubectl("delete", "inferenceservices,trainingjobs", "--all", "-n", NAMESPACE, "--wait=true",
                        "--timeout=90s", check=False)
        helm(cluster, "uninstall", "sx", "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _rows(shift_sigmas: float, count: int) -> dict[str, Any]:
    """`count` rows of the training data, with SHIFTED_FEATURE moved by `shift_sigmas` standard deviations."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).sample(count, replace=True,
                                                                                   random_state=count)
    frame[SHIFTED_FEATURE] += shift_sigmas * frame[SHIFTED_FEATURE].std()
    return {"records": frame.to_dict(orient="records")}


def _predict(cluster: Any, body: dict[str, Any], address: str | None = None) -> None:
    address = address or cluster.kubectl("get", "service", "tumours", "-n", NAMESPACE, "-o",
                                         "jsonpath={.spec.clusterIP}").stdout
    request = urllib.request.Request(f"http://{address}/predict", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - the Service's ClusterIP
        assert resp.status == 200


def _drift_after(cluster: Any, checked_after: str, verdict: str, timeout: float = 120) -> dict[str, Any]:
    """status.drift of the first check after `checked_after` with the given verdict."""
    def seen() -> dict[str, Any] | None:
        drift = (_get(cluster, "inferenceservice", "tumours").get("status") or {}).get("drift") or {}
        return drift if drift.get("checkedAt", "") > checked_after and drift.get("verdict") == verdict else None
    return dict(eventually(seen, timeout=timeout, interval=2, what=f"a drift check saying {verdict}"))


def _condition(cluster: Any, type_: str) -> dict[str, Any]:
    status = _get(cluster, "inferenceservice", "tumours")["status"]
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_drift_is_reported_by_feature_and_retrains_the_model(cluster: Any, trained: int) -> None:
    _apply(cluster, SERVICE)
    eventually(lambda: (_get(cluster, "inferenceservice", "tumours").get("status") or {}).get("phase") == "Ready",
               timeout=300, interval=2, what="InferenceService tumours to be Ready")
    idle = _drift_after(cluster, "", "InsufficientSamples")
    assert "200 needed" in idle["variants"][0]["message"]

    _predict(cluster, _rows(0.0, 400))  # the training distribution
    quiet = _drift_after(cluster, idle["checkedAt"], "NoDrift")
    assert quiet["driftedFeatures"] == [] and quiet["samples"] >= 400
    assert _condition(cluster, "DriftDetected")["status"] == "False"

    _predict(cluster, _rows(1.5, 400))  # the same rows, one feature moved by 1.5 sigma
    drifted = _drift_after(cluster, quiet["checkedAt"], "Drifted")
    assert drifted["driftedFeatures"] == [f"default/{SHIFTED_FEATURE}"], drifted
    variant = drifted["variants"][0]
    assert variant["model"]["version"] == str(trained) and 400 <= variant["samples"] <= 402
    eventually(lambda: _condition(cluster, "DriftDetected")["status"] == "True", timeout=60, interval=2,
               what="the DriftDetected condition")
    events = cluster.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                             "involvedObject.name=tumours", "-o", "json").stdout
    reasons = {e["reason"] for e in json.loads(events)["items"]}
    assert {"DriftDetected", "RetrainRequested"} <= reasons, reasons

    report_key = drifted["report"].split(f"{BUCKET}/", 1)[1]
    page = store_client(cluster, NAMESPACE).get_object(Bucket=BUCKET, Key=report_key)["Body"].read().decode()
    assert f"{SHIFTED_FEATURE}: drifted" in page and "<svg" in page

    # The drift asked the TrainingJob for a new run; its promoted model is rolled out to the service.
    retrained = _finished_run(cluster, 2)
    assert int(retrained["model"]["version"]) > trained
    assert len(drifted["retrainRequests"]) == 1
    new = retrained["model"]["version"]

    def variant() -> dict[str, Any]:
        return dict(_get(cluster, "inferenceservice", "tumours")["status"]["variants"][0])
    canary = eventually(lambda: (variant().get("rollout") or {}).get("percent") == 20 and variant(), timeout=300,
                        interval=2, what="the retrained model to take the canary's 20%")
    assert canary["rollout"]["model"]["version"] == new and canary["model"]["version"] == str(trained)
    # Without requests the canary is never judged, so it is not promoted however long it waits.
    idle = eventually(lambda: "this step needs" in (variant().get("rollout") or {}).get("message", "") and variant(),
                      timeout=120, interval=2, what="the canary's interval to pass with no requests judged")
    assert idle["model"]["version"] == str(trained) and idle["rollout"]["percent"] == 20
    one_row = {"records": _rows(0.0, 20)["records"][:1]}  # (one row alone has no std to shift by: NaN)
    address = cluster.kubectl("get", "service", "tumours", "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}").stdout

    def promoted_under_traffic() -> bool:
        for _ in range(20):
            _predict(cluster, one_row, address)
        return variant()["model"]["version"] == new and "rollout" not in variant()
    eventually(promoted_under_traffic, timeout=300, interval=3, what="the retrained model, judged on requests at "
               "20% and at 100%, to be promoted")
    # One backend again: the Service selects the new version's servers, and the router that split the canary goes.
    eventually(lambda: json.loads(cluster.kubectl("get", "service", "tumours", "-n", NAMESPACE, "-o",
                                                  "jsonpath={.spec.selector}").stdout).get(
        "ml.sextant.io/model-version") == new and not cluster.kubectl(
        "get", "deployment", "tumours-router", "-n", NAMESPACE, check=False).stdout,
        timeout=120, interval=2, what="the Service to select the new version's servers and the router's removal")
    for _ in range(5):
        _predict(cluster, one_row, address)
