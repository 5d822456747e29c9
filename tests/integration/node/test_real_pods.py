"""Pods on the real node run for real: networking, Services, kubectl's streaming commands, tokens, OOM kills."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from typing import Any

import pytest

from tests.support.external_cluster import assert_on_a_real_node, is_local, skip_unless_local
from tests.support.polling import eventually
from tests.support.real_pods import (
    apply,
    http_server_pod,
    image_refs,
    python_pod,
    read_pod,
    wait_phase,
    wait_ready,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def image(cluster: Any) -> str:
    """Any of the project's images with Python in it: the operator's is the smallest."""
    return image_refs(cluster)["operator"]


def _service(name: str, port: int, target: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": target}]}}


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - an address in this cluster
            return str(response.status)
    except OSError:
        return None


def test_a_pod_that_chose_no_node_runs_on_the_real_node_and_answers_on_its_ip(
        cluster: Any, namespace: str, image: str) -> None:
    apply(cluster, namespace, http_server_pod("web", image))
    body = wait_ready(cluster, namespace, "web")
    assert_on_a_real_node(cluster, body)
    skip_unless_local(cluster, "reaching a pod IP from the host")
    assert eventually(lambda: _get(f"http://{body['status']['podIP']}:8000/"), what="the pod IP to answer") == "200"


def test_a_cluster_ip_answers_from_the_host_and_from_another_pod(cluster: Any, namespace: str, image: str) -> None:
    apply(cluster, namespace, http_server_pod("web", image), _service("web", 80, 8000))
    wait_ready(cluster, namespace, "web")
    ip = cluster.kubectl("get", "service", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    # By address and by name (cluster DNS); kube-proxy programs the rules about a second after the endpoint is
    # ready, so the client retries (restartPolicy OnFailure).
    probe = (f"import urllib.request as u; print('status', u.urlopen('http://{ip}/', timeout=5).status, "
             f"u.urlopen('http://web.{namespace}.svc/', timeout=5).status)")
    apply(cluster, namespace, python_pod("client", image, probe, restart="OnFailure"))
    wait_phase(cluster, namespace, "client", "Succeeded")
    assert "status 200 200" in cluster.kubectl("logs", "client", "-n", namespace).stdout
    if is_local(cluster):
        assert eventually(lambda: _get(f"http://{ip}/"), what=f"ClusterIP {ip} to answer the host") == "200"


def test_kubectl_logs_exec_and_port_forward_reach_the_container(cluster: Any, namespace: str, image: str) -> None:
    apply(cluster, namespace, http_server_pod("web", image))
    wait_ready(cluster, namespace, "web")
    assert "serving on 8000" in cluster.kubectl("logs", "web", "-n", namespace).stdout
    whoami = cluster.kubectl("exec", "web", "-n", namespace, "--", "python", "-c", "import os; print(os.getuid())")
    assert whoami.stdout.strip() == "65532"
    argv = [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", "port-forward", "-n",
            namespace, "pod/web", ":8000"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as forward:
        try:
            assert forward.stdout is not None
            line = forward.stdout.readline()
            match = re.search(r"127\.0\.0\.1:(\d+)", line)
            assert match, f"port-forward said {line!r}"
            assert eventually(lambda: _get(f"http://127.0.0.1:{match.group(1)}/"),
                              what="the forwarded port to answer") == "200"
        finally:
            forward.terminate()


SELF_REVIEW = """
import json, os, ssl, urllib.request
base = '/var/run/secrets/kubernetes.io/serviceaccount'
token = open(base + '/token').read()
url = 'https://%s:%s/apis/authentication.k8s.io/v1/selfsubjectreviews' % (
    os.environ['KUBERNETES_SERVICE_HOST'], os.environ['KUBERNETES_SERVICE_PORT'])
body = json.dumps({'apiVersion': 'authentication.k8s.io/v1', 'kind': 'SelfSubjectReview'}).encode()
request = urllib.request.Request(url, body, {'Authorization': 'Bearer ' + token,
                                             'Content-Type': 'application/json'})
context = ssl.create_default_context(cafile=base + '/ca.crt')
review = json.load(urllib.request.urlopen(request, context=context, timeout=10))
print('user', review['status']['userInfo']['username'])
"""


def test_a_pods_service_account_token_authenticates_through_the_kubernetes_service(
        cluster: Any, namespace: str, image: str) -> None:
    apply(cluster, namespace, python_pod("whoami", image, SELF_REVIEW, restart="Never"))
    body = wait_phase(cluster, namespace, "whoami", "Succeeded")
    assert_on_a_real_node(cluster, body)
    logs = cluster.kubectl("logs", "whoami", "-n", namespace).stdout
    assert f"user system:serviceaccount:{namespace}:default" in logs


def test_a_container_over_its_memory_limit_is_oom_killed(cluster: Any, namespace: str, image: str) -> None:
    hog = "chunks = [bytearray(16 * 2**20) for _ in range(32)]; print('allocated', len(chunks))"
    apply(cluster, namespace, python_pod("hog", image, hog, restart="Never",
                                         resources={"limits": {"memory": "64Mi"}}))

    def terminated() -> dict[str, Any] | None:
        statuses = read_pod(cluster, namespace, "hog")["status"].get("containerStatuses") or []
        state = statuses[0].get("state", {}) if statuses else {}
        return state.get("terminated")

    final = eventually(terminated, timeout=90, what="the memory hog to be terminated")
    assert final["reason"] == "OOMKilled", json.dumps(final)
    assert "allocated" not in cluster.kubectl("logs", "hog", "-n", namespace, check=False).stdout
