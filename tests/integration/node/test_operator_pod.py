"""The operator installed by its chart runs as a real pod: Ready under `restricted`, its webhook reached through
its Service, and back at work after its container is SIGKILLed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.external_cluster import assert_on_a_real_node, skip_unless_local
from tests.support.polling import eventually
from tests.support.real_pods import helm, image_refs, operator_image_values, read_pod, restricted_namespace
from tests.support.sextant_operator import CHART

pytestmark = pytest.mark.integration

TRAININGJOB = {
    "apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob",
    "metadata": {"name": "iris"},
    "spec": {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
             "estimator": {"algorithm": "logistic_regression"}, "model": {"name": "iris"}},
}


@pytest.fixture()
def installed(cluster: Any, crds: None, namespace: str) -> Iterator[str]:
    """The chart installed in a namespace that enforces `restricted`, running the image built here."""
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, namespace)
    install = helm(cluster, "install", "sx", str(CHART), "--namespace", namespace, "--wait", "--timeout", "180s",
                    *operator_image_values(cluster), "--set", f"watch.namespaces={{{namespace}}}",
                    "--set", "webhook.failurePolicy=Fail")
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        _wait_for_the_webhook_service(cluster, namespace)
        yield namespace
    finally:
        cluster.kubectl("delete", "trainingjobs", "--all", "-n", namespace, "--wait=true", "--timeout=60s",
                        check=False)
        helm(cluster, "uninstall", "sx", "--namespace", namespace, "--wait", "--timeout", "60s")


def _wait_for_the_webhook_service(cluster: Any, namespace: str) -> None:
    """`helm --wait` returns once the pod is Ready; kube-proxy programs its Service about a second later and
    until then the API server's calls to the webhook are refused."""
    def answers() -> bool:
        dry_run = cluster.kubectl("create", "--dry-run=server", "-n", namespace, "-f", "-",
                                  input=json.dumps(TRAININGJOB), check=False)
        return dry_run.returncode == 0 or "connection refused" not in dry_run.stderr

    eventually(answers, what="the webhook's Service to answer")


def _operator_pod(cluster: Any, namespace: str) -> dict[str, Any]:
    name = cluster.kubectl("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=operator",
                           "-o", "jsonpath={.items[0].metadata.name}").stdout
    return read_pod(cluster, namespace, name)


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _apply(cluster: Any, namespace: str, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc), check=False)


def _reconciled(cluster: Any, namespace: str, name: str) -> bool:
    generation = cluster.kubectl("get", "trainingjob", name, "-n", namespace, "-o",
                                 "jsonpath={.status.observedGeneration}", check=False).stdout
    return generation == "1"


def test_the_operator_pod_is_ready_on_the_real_node_under_restricted(cluster: Any, installed: str) -> None:
    pod = _operator_pod(cluster, installed)
    assert _ready(pod)
    assert_on_a_real_node(cluster, pod)
    assert pod["status"]["containerStatuses"][0]["image"].startswith("sextant.local/operator:")
    events = cluster.kubectl("get", "events", "-n", installed, "-o", "json").stdout
    assert "violates PodSecurity" not in events
    assert _apply(cluster, installed, TRAININGJOB).returncode == 0
    eventually(lambda: _reconciled(cluster, installed, "iris"), what="the operator pod to reconcile a TrainingJob")


def test_an_invalid_resource_is_rejected_by_the_webhook_through_its_service(cluster: Any, installed: str) -> None:
    hook = json.loads(cluster.kubectl("get", "validatingwebhookconfiguration", "-o", "json").stdout)
    ours = [w for item in hook["items"] for w in item["webhooks"]
            if w["clientConfig"].get("service", {}).get("namespace") == installed]
    assert ours and all(w["failurePolicy"] == "Fail" and "url" not in w["clientConfig"] for w in ours)
    bad = json.loads(json.dumps(TRAININGJOB))
    bad["spec"]["estimator"]["algorithm"] = "catboost"
    rejected = _apply(cluster, installed, bad)
    assert rejected.returncode != 0
    assert "denied the request" in rejected.stderr and "spec.estimator.algorithm" in rejected.stderr


def test_a_sigkilled_operator_container_is_restarted_and_resumes_work(cluster: Any, installed: str) -> None:
    skip_unless_local(cluster, "killing a container through the node's containerd")
    before = _operator_pod(cluster, installed)
    container_id = before["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    kill = subprocess.run([str(cluster.bin_dir / "ctr"), f"--address={cluster.layout.containerd_socket}",
                           "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", container_id],
                          capture_output=True, text=True, timeout=30)
    assert kill.returncode == 0, kill.stderr

    def restarted_and_ready() -> dict[str, Any] | None:
        pod = _operator_pod(cluster, installed)
        status = pod["status"]["containerStatuses"][0]
        return pod if status["restartCount"] >= 1 and _ready(pod) else None

    after = eventually(restarted_and_ready, timeout=120, what="the kubelet to restart the operator container")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # the same pod: restarted, not replaced
    last = after["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["exitCode"] == 137  # 128 + SIGKILL
    assert eventually(lambda: _apply(cluster, installed, TRAININGJOB).returncode == 0, timeout=60,
                      what="the webhook to admit again")
    eventually(lambda: _reconciled(cluster, installed, "iris"), what="the restarted operator to reconcile")
