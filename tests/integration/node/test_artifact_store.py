"""The embedded artifact store (versitygw) runs in the cluster: the host and a pod both reach it, and the pod's
keys come from the chart's Secret by reference."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.external_cluster import assert_on_a_real_node, skip_unless_local
from tests.support.polling import eventually
from tests.support.real_pods import (
    apply,
    helm,
    image_refs,
    objectstore_image_values,
    operator_image_values,
    python_pod,
    restricted_namespace,
    wait_phase,
)
from tests.support.sextant_operator import CHART

pytestmark = pytest.mark.integration

STORE = "sx-sextant-objectstore"
SECRET = f"{STORE}-credentials"


@pytest.fixture()
def store(cluster: Any, crds: None, namespace: str) -> Iterator[str]:
    """The chart with the embedded store, in a namespace that enforces `restricted`."""
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, namespace)
    install = helm(cluster, "install", "sx", str(CHART), "--namespace", namespace, "--wait", "--timeout", "180s",
                   "--set", f"watch.namespaces={{{namespace}}}", *operator_image_values(cluster),
                   "--set", "artifactStore.embedded.enabled=true", *objectstore_image_values(cluster))
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        yield namespace
    finally:
        helm(cluster, "uninstall", "sx", "--namespace", namespace, "--wait", "--timeout", "60s")


def _keys(cluster: Any, namespace: str) -> dict[str, str]:
    data = json.loads(cluster.kubectl("get", "secret", SECRET, "-n", namespace, "-o", "jsonpath={.data}").stdout)
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


READ_BACK = """
import boto3
s3 = boto3.client('s3')  # endpoint, region and keys from the environment (the Secret, by reference)
body = s3.get_object(Bucket='sextant', Key='from-host.txt')['Body'].read().decode()
s3.put_object(Bucket='sextant', Key='from-pod.txt', Body=b'written in a pod')
print('read', body)
"""


def test_the_host_and_a_pod_reach_the_store_with_keys_from_its_secret(cluster: Any, store: str) -> None:
    pods = json.loads(cluster.kubectl("get", "pods", "-n", store, "-l", "app.kubernetes.io/component=objectstore",
                                      "-o", "json").stdout)["items"]
    assert len(pods) == 1
    assert_on_a_real_node(cluster, pods[0])
    skip_unless_local(cluster, "reaching the store's ClusterIP from the host")
    ip = cluster.kubectl("get", "service", STORE, "-n", store, "-o", "jsonpath={.spec.clusterIP}").stdout
    keys = _keys(cluster, store)
    s3 = boto3.client("s3", endpoint_url=f"http://{ip}:7070", region_name="us-east-1",
                      aws_access_key_id=keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                      config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
    eventually(lambda: s3.put_object(Bucket="sextant", Key="from-host.txt", Body=b"written on the host"),
               what="the store's ClusterIP to accept a PUT from the host")

    env = [{"name": "AWS_ENDPOINT_URL", "value": f"http://{STORE}.{store}.svc:7070"},
           {"name": "AWS_REGION", "value": "us-east-1"}]
    reader = python_pod("reader", image_refs(cluster)["trainer"], READ_BACK, restart="Never", env=env)
    reader["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": SECRET}}]
    apply(cluster, store, reader)
    wait_phase(cluster, store, "reader", "Succeeded", timeout=120)
    assert "read written on the host" in cluster.kubectl("logs", "reader", "-n", store).stdout
    assert s3.get_object(Bucket="sextant", Key="from-pod.txt")["Body"].read() == b"written in a pod"
    spec = json.dumps(cluster.kubectl("get", "pod", "reader", "-n", store, "-o", "json").stdout)
    assert keys["AWS_SECRET_ACCESS_KEY"] not in spec  # the pod spec holds a reference, never the key
