"""Objects that put a host process behind an aggregated API (metrics-server, KEDA's metrics adapter).

The API server resolves an APIService through its Service's EndpointSlices, so a selector-less Service whose one
EndpointSlice holds the node's address and the process's port is all a process beside the cluster needs.
"""

from __future__ import annotations

import base64
from typing import Any

from sextant_devcluster.layout import NODE_IP


def object_meta(app: str, manager: str, name: str, namespace: str | None = None,
                **extra: dict[str, str]) -> dict[str, Any]:
    """Metadata labelled with the app and its field manager; `extra` maps (labels, annotations) are merged in."""
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": app,
                                                     "app.kubernetes.io/managed-by": manager}}
    if namespace is not None:
        meta["namespace"] = namespace
    for key, value in extra.items():
        meta.setdefault(key, {}).update(value)
    return meta


def serving_objects(*, app: str, manager: str, service: str, namespace: str, api_service: str, group: str,
                    port: int, ca_pem: bytes,
                    endpoint_annotations: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The Service, its EndpointSlice (the node's address, `port`) and the v1beta1 APIService of `group`,
    its certificate checked against `ca_pem`."""
    slice_extra = {"annotations": endpoint_annotations} if endpoint_annotations else {}
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": object_meta(app, manager, service, namespace),
         "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": object_meta(app, manager, service, namespace,
                                 labels={"kubernetes.io/service-name": service,
                                         "endpointslice.kubernetes.io/managed-by": manager}, **slice_extra),
         "addressType": "IPv4",
         "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
         "ports": [{"name": "https", "port": port, "protocol": "TCP"}]},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": object_meta(app, manager, api_service),
         "spec": {"service": {"name": service, "namespace": namespace, "port": 443},
                  "group": group, "version": "v1beta1",
                  "caBundle": base64.b64encode(ca_pem).decode("ascii"),
                  "groupPriorityMinimum": 100, "versionPriority": 100}},
    ]
