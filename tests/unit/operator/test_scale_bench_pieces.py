"""The scale benchmark's pure pieces: KServe's configuration as the benchmark documents it, and the completion
rules it times by (every child of every InferenceService seen, every InferenceService Ready)."""

from __future__ import annotations

import json

from tests.bench.operator.test_bench_kserve_side_by_side import sextant_inferenceservice
from tests.support.kserve_anchor import kserve_inferenceservice, sklearn_runtime, standard_mode_config
from tests.support.scale_watch import CHILD_KINDS, all_seen, is_ready

SHIPPED = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inferenceservice-config", "namespace": "x"},
           "data": {"_example": "...", "deploy": '{"defaultDeploymentMode": "Serverless"}',
                    "ingress": '{"ingressClassName": "istio", "disableIngressCreation": false}'}}


def test_kserve_runs_in_standard_mode_without_ingress_objects() -> None:
    config = standard_mode_config(SHIPPED)
    assert json.loads(config["data"]["deploy"]) == {"defaultDeploymentMode": "Standard"}
    assert json.loads(config["data"]["ingress"]) == {"ingressClassName": "istio", "disableIngressCreation": True}
    assert config["metadata"] == {"name": "inferenceservice-config", "namespace": "kserve"}
    assert "_example" not in config["data"] and "_example" in SHIPPED["data"]  # the input is not changed


def test_sklearn_runtime_gets_an_image_and_keeps_its_resources() -> None:
    shipped = {"spec": {"containers": [{"image": "kserve-sklearnserver:replace",
                                        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]}}
    (container,) = sklearn_runtime(shipped)["spec"]["containers"]
    assert container["image"].startswith("kserve/sklearnserver:")
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}}


def test_both_controllers_get_the_same_pods_and_autoscaling() -> None:
    kserve = kserve_inferenceservice("a")["spec"]["predictor"]
    sextant = sextant_inferenceservice("a")["spec"]
    assert (kserve["minReplicas"], kserve["maxReplicas"]) == (sextant["scaling"]["minReplicas"],
                                                             sextant["scaling"]["maxReplicas"])
    assert sextant["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}  # KServe's sklearn runtime's
    assert sextant["model"]["version"] == "1"  # pinned, not an alias


def test_done_only_when_every_child_of_every_inferenceservice_was_seen() -> None:
    seen = {(kind, name): 1.0 + i for i, kind in enumerate(CHILD_KINDS) for name in ("a", "b")}
    assert all_seen(seen, ["a", "b"], CHILD_KINDS) == 1.0 + len(CHILD_KINDS) - 1
    del seen[("Service", "b")]
    assert all_seen(seen, ["a", "b"], CHILD_KINDS) is None


def test_ready_means_the_ready_condition_is_true() -> None:
    assert is_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert not is_ready({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert not is_ready({"status": {"conditions": [{"type": "PredictorReady", "status": "True"}]}})
    assert not is_ready({})
