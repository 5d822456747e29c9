"""An S3 client on the chart's embedded artifact store, from the host (kube-proxy makes its ClusterIP reachable)."""

from __future__ import annotations

import base64
import json
from typing import Any

BUCKET = "sextant"


def store_client(cluster: Any, namespace: str, release: str = "sx") -> Any:
    """boto3 S3 client with the keys of the release's store credentials Secret."""
    import boto3

    data = json.loads(cluster.kubectl("get", "secret", f"{release}-sextant-objectstore-credentials", "-n", namespace,
                                      "-o", "jsonpath={.data}").stdout)
    keys = {k: base64.b64decode(v).decode() for k, v in data.items()}
    ip = cluster.kubectl("get", "service", f"{release}-sextant-objectstore", "-n", namespace,
                         "-o", "jsonpath={.spec.clusterIP}").stdout
    return boto3.client("s3", endpoint_url=f"http://{ip}:7070", region_name="us-east-1",
                        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
