"""The thin acting layer: server-side apply of children, suspend flags, deletions, status patches.

Blocking calls of the official client, run in a worker thread by the handlers. One field manager owns every
field Sextant sets on a child, so re-applying the same manifest is a no-op and a crash mid-apply is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from sextant_contracts.resources.crd import GROUP, VERSION

FIELD_MANAGER = "sextant-operator"
TRAININGJOBS = "trainingjobs"
#: Resource paths of the kinds Sextant applies (core kinds under /api, the rest under /apis).
PLURALS = {"Job": "jobs", "Deployment": "deployments", "Service": "services", "ConfigMap": "configmaps",
           "HorizontalPodAutoscaler": "horizontalpodautoscalers", "PodDisruptionBudget": "poddisruptionbudgets",
           "ScaledObject": "scaledobjects", "HTTPRoute": "httproutes", "Gateway": "gateways",
           "GatewayClass": "gatewayclasses", "DaskJob": "daskjobs"}


def object_path(api_version: str, kind: str, namespace: str, name: str) -> str:
    """/api/v1/namespaces/ns/services/x or /apis/apps/v1/namespaces/ns/deployments/x; a cluster-scoped kind
    (namespace "") has no namespace part."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{PLURALS[kind]}/{name}" if namespace else \
        f"{prefix}/{PLURALS[kind]}/{name}"


class NamespaceTerminating(Exception):
    """The API server refused to create a child because its namespace is being deleted: nothing is left to do
    (the namespace's deletion takes the parent too)."""


def namespace_terminating(exc: ApiException) -> bool:
    """A 403 whose cause is NamespaceTerminating (every create in a namespace being deleted)."""
    return exc.status == 403 and "NamespaceTerminating" in str(exc.body or "")


def load_client_configuration() -> client.ApiClient:
    """In a pod: the mounted ServiceAccount; elsewhere: the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


class KubeActions:
    """Reads Sextant resources, applies and deletes their children, and patches their status."""

    def __init__(self, connect: Callable[[], client.ApiClient] = load_client_configuration) -> None:
        self._connect = connect  # on first use, not at start-up: kopf logs in first and reports failures

    @cached_property
    def api_client(self) -> client.ApiClient:
        return self._connect()

    @cached_property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    @cached_property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api_client)

    def read_trainingjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The TrainingJob as stored now, or None when it is gone."""
        return self.read_custom(TRAININGJOBS, namespace, name)

    def read_custom(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A Sextant resource as stored now, or None when it is gone."""
        try:
            return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply a namespaced object (any kind in PLURALS) under Sextant's field manager; returns the
        object as stored."""
        meta = manifest["metadata"]
        try:
            return dict(self.api_client.call_api(
                object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"]), "PATCH",
                query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
                body=manifest, auth_settings=["BearerToken"], response_type="object", _return_http_data_only=True,
                _preload_content=True))
        except ApiException as exc:
            if namespace_terminating(exc):
                raise NamespaceTerminating(meta["namespace"]) from None
            raise

    def read_object(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Any object of a kind in PLURALS (namespace "" for a cluster-scoped one), or None when it does not
        exist."""
        try:
            return dict(self.api_client.call_api(
                object_path(api_version, kind, namespace, name), "GET",
                header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
                response_type="object", _return_http_data_only=True, _preload_content=True))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete_object(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        """Delete a namespaced object in the background (already gone is fine)."""
        try:
            self.api_client.call_api(
                object_path(api_version, kind, namespace, name), "DELETE",
                query_params=[("propagationPolicy", "Background")], header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"], response_type="object", _return_http_data_only=True,
                _preload_content=True)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def has_resource(self, group_version: str, plural: str) -> bool:
        """Whether the API server serves this resource (an optional CRD such as HTTPRoute or ScaledObject)."""
        try:
            found = self.api_client.call_api(
                f"/apis/{group_version}", "GET", header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"], response_type="object", _return_http_data_only=True,
                _preload_content=True)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return any(r.get("name") == plural for r in (found or {}).get("resources", []))

    def set_suspended(self, namespace: str, name: str, suspend: bool) -> None:
        """Flip a Job's spec.suspend (the one field of a running Job Sextant changes); a Job gone meanwhile is
        left alone (the index had not seen its deletion yet; the next reconcile sees it)."""
        try:
            self.batch.patch_namespaced_job(name, namespace, {"spec": {"suspend": suspend}},
                                            field_manager=FIELD_MANAGER)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def set_trainingjob_trigger(self, namespace: str, name: str, trigger: str) -> bool:
        """Ask a TrainingJob for a new run by setting its spec.trigger (a merge patch of that one field).

        Returns False when the TrainingJob does not exist."""
        try:
            self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, TRAININGJOBS, name,
                                                       {"spec": {"trigger": trigger}})
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete a Job; the garbage collector then deletes its pods (already gone is fine)."""
        try:
            self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:
                raise

    def patch_status(self, namespace: str, name: str, changes: Mapping[str, Any],
                     plural: str = TRAININGJOBS) -> bool:
        """A merge patch of the given status fields only (fields other writers own are left alone).

        Returns False when the resource was deleted since it was read: nothing is left to record."""
        try:
            self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, plural, name,
                                                              {"status": dict(changes)})
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True
