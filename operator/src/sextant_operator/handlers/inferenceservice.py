"""kopf handlers for InferenceService: observe (the object, its Deployments and pods from indexes), plan, act.

Every trigger — an InferenceService event, an event of one of its Deployments or model-server pods, or a
requeue the plan asked for (rollout steps, re-resolving an alias) — ends in the same `reconcile(namespace,
name)`, serialised per InferenceService. No finalizer: every child carries an owner reference, so deleting the
InferenceService lets the garbage collector remove them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf

from sextant_contracts.resources.crd import GROUP, VERSION
from sextant_contracts.resources.inferenceservice import ResolvedModel

from ..reconcile.conditions import now_rfc3339
from ..reconcile.inferenceservice import (
    Observed,
    Resolver,
    Unresolved,
    describe_reference,
    plan_inferenceservice,
    references,
)
from ..reconcile.serving_instances import (
    DeploymentView,
    PodView,
    RouteView,
    deployment_view,
    pod_view,
    route_view,
)
from ..reconcile.serving_manifests import (
    COMPONENT_ADDRESS,
    COMPONENT_ROUTER,
    COMPONENT_SERVER,
    LABEL_COMPONENT,
    LABEL_ISVC,
    ServingSettings,
)
from ..reconcile.transitions import status_changes, transition_events
from . import server_probes
from .applied_children import AppliedChildren
from .drift_monitor import DriftMonitor
from .keyed_reconciler import Key, KeyedReconciler
from .kube_actions import KubeActions

PLURAL = "inferenceservices"
#: What the reconciler writes; `drift` belongs to the drift monitor.
OWNED_STATUS_FIELDS = frozenset({"phase", "reason", "message", "observedGeneration", "url", "routing", "conditions",
                                 "variants", "variantWeights", "modelVersions"})
WARNING_REASONS = frozenset({"RolledBack", "DigestMismatch", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
                             "OOMKilled", "Unschedulable", "ModelNotFound", "WarmUpFailed", "ModelNotLoaded"})
log = logging.getLogger("sextant.operator.serving")
#: Kinds a backend is made of (all share the backend's name); ScaledObject only where KEDA is installed.
BACKEND_KINDS = (("apps/v1", "Deployment"), ("v1", "Service"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                 ("policy/v1", "PodDisruptionBudget"))
#: Children the operator watches (group, version, plural, kind): applied only when their manifest changed or
#: someone else changed them (applied_children.py). HTTPRoutes and ScaledObjects, optional CRDs, are applied
#: on every pass. Deployments have their own handler: their status is the InferenceService's.
WATCHED_CHILDREN = (("", "v1", "services", "Service"), ("", "v1", "configmaps", "ConfigMap"),
                    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
                    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"))
MEMO_KINDS = frozenset({"Deployment", *(kind for *_, kind in WATCHED_CHILDREN)})


class ServingReconciler(KeyedReconciler):
    """Holds what outlives one handler call: the indexes (KeyedReconciler runs one pass at a time per InferenceService,
    folds the events that arrive meanwhile into one more pass, and keeps one pending requeue)."""

    kind = "InferenceService"

    def __init__(self, settings: ServingSettings, actions: KubeActions, resolve: Resolver,
                 concurrency: int = 20, drift: DriftMonitor | None = None) -> None:
        self.settings, self.actions, self.resolve, self.drift = settings, actions, resolve, drift
        self.deployments: kopf.Index[Key, DeploymentView] | None = None
        self.pods: kopf.Index[Key, PodView] | None = None
        self.routers: kopf.Index[Key, PodView] | None = None
        self.addresses: kopf.Index[Key, bool] | None = None
        self.backend_services: kopf.Index[Key, str] | None = None
        self.applied = AppliedChildren()
        super().__init__(concurrency, log)

    def remember(self, indexes: Mapping[str, Any]) -> None:
        self.deployments, self.pods = indexes["serving_deployments"], indexes["serving_pods"]
        self.routers = indexes["serving_routers"]
        self.addresses = indexes["serving_addresses"]
        self.backend_services = indexes["serving_backend_services"]

    async def _resolve_all(self, spec: Mapping[str, Any]) -> dict[str, ResolvedModel | Unresolved]:
        resolved: dict[str, ResolvedModel | Unresolved] = {}
        for ref in references(spec):
            key = describe_reference(ref)
            if key not in resolved:
                resolved[key] = await asyncio.to_thread(self.resolve, ref)
        return resolved

    async def _route(self, namespace: str, name: str, deployments: list[DeploymentView]) -> RouteView:
        s = self.settings
        direct = bool(self.addresses.get((namespace, name))) if self.addresses is not None else False
        if s.routing == "gateway":
            body = await asyncio.to_thread(self.actions.read_object, "gateway.networking.k8s.io/v1", "HTTPRoute",
                                           namespace, name)
            return dataclasses.replace(route_view(body, (s.gateway_namespace, s.gateway_name)), direct=direct)
        router = next((d for d in deployments if d.component == COMPONENT_ROUTER), None)
        every_router = list(self.routers.get((namespace, name), [])) if self.routers is not None else []
        pods = [p for p in every_router if p.ready and p.ip and not p.deleting]
        configs = await asyncio.gather(*(asyncio.to_thread(server_probes.router_config_digest, str(p.ip))
                                         for p in pods))
        return RouteView(ready_replicas=router.ready_replicas if router else 0, router_configs=tuple(configs),
                         direct=direct, router_pods=len(every_router))

    async def _explain(self, pods: list[PodView]) -> list[PodView]:
        """Ask each running, unready model server why it is not ready."""
        out = []
        for pod in pods:
            if not pod.ready and pod.ip and pod.phase == "Running" and not pod.deleting:
                reason = await asyncio.to_thread(server_probes.not_ready_reason, pod.ip)
                pod = dataclasses.replace(pod, not_ready_reason=reason)
            out.append(pod)
        return out

    async def _rollout_errors(self, body: Mapping[str, Any], pods: list[PodView]) -> dict[str, tuple[int, int]]:
        """Requests and 5xx answers of each version being rolled out, and of the version it replaces (read before
        the first step too, so that step is judged from its own start)."""
        errors: dict[str, tuple[int, int]] = {}
        for variant in (body.get("status") or {}).get("variants", []):
            rollout = variant.get("rollout") or {}
            if not rollout:
                continue
            new = int((rollout.get("model") or {}).get("version", 0))
            old = int((variant.get("model") or {}).get("version", 0))
            for version in (new, old):  # the previous version's rate is what the new one must not be worse than
                ips = [p.ip for p in pods if p.variant == variant["name"] and p.version == version and p.ip and p.ready]
                errors[f"{variant['name']}-v{version}"] = await asyncio.to_thread(server_probes.request_counts, ips)
        return errors

    async def _apply(self, manifest: Mapping[str, Any]) -> None:
        """Server-side apply a child unless the same manifest is already in place (applied_children.py)."""
        memo = manifest["kind"] in MEMO_KINDS
        if memo and self.applied.unchanged(manifest):
            return
        answer = await asyncio.to_thread(self.actions.apply, manifest)
        self.applies += 1
        if memo:
            self.applied.record(manifest, answer)

    async def reconcile_once(self, namespace: str, name: str) -> float | None:
        body = await asyncio.to_thread(self.actions.read_custom, PLURAL, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        key = (namespace, name)
        deployments = list(self.deployments.get(key, [])) if self.deployments is not None else []
        pods = await self._explain(list(self.pods.get(key, [])) if self.pods is not None else [])
        observed = Observed(
            isvc=body, resolved=await self._resolve_all(body.get("spec") or {}), deployments=deployments,
            pods=pods, route=await self._route(namespace, name, deployments), now=now_rfc3339(),
            errors=await self._rollout_errors(body, pods),
            backend_services=list(self.backend_services.get(key, [])) if self.backend_services is not None else [])
        plan = plan_inferenceservice(observed, self.settings)
        for api_version, kind, child in plan.retire:  # before status forgets which mode made them
            await asyncio.to_thread(self.actions.delete_object, api_version, kind, namespace, child)
            self.applied.forget(kind, namespace, child)
            log.info("deleted %s %s/%s: the operator now routes with %s", kind, namespace, child,
                     self.settings.routing)
        # Status first: the pinned versions and the rollout step are recorded before the objects follow them.
        current = body.get("status") or {}
        changes = status_changes(current, plan.status, OWNED_STATUS_FIELDS)
        written = bool(changes) and await asyncio.to_thread(self.actions.patch_status, namespace, name, changes,
                                                            PLURAL)
        if written:
            for event in transition_events(current, plan.status, WARNING_REASONS):
                kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)
        for manifest in plan.apply:
            await self._apply(manifest)
        for api_version, kind, child in plan.unroute:  # the Service selects the servers now
            await asyncio.to_thread(self.actions.delete_object, api_version, kind, namespace, child)
            self.applied.forget(kind, namespace, child)
            log.info("deleted %s %s/%s: one backend takes all the traffic, the Service selects its servers",
                     kind, namespace, child)
        for backend in plan.delete:
            kinds = [*BACKEND_KINDS, *([("keda.sh/v1alpha1", "ScaledObject")] if self.settings.keda_available
                                       else [])]
            for api_version, kind in kinds:
                await asyncio.to_thread(self.actions.delete_object, api_version, kind, namespace, backend)
                self.applied.forget(kind, namespace, backend)
            log.info("deleted backend %s/%s (a version no longer served)", namespace, backend)
        drift_due = await self.drift.check_if_due(body, pods, observed.now) if self.drift is not None else None
        waits = [w for w in (plan.requeue_after, drift_due) if w is not None]
        return min(waits) if waits else None


def _owner_key(namespace: str | None, labels: Mapping[str, str]) -> Key:
    return (namespace or "", labels.get(LABEL_ISVC, ""))


def register_inferenceservice_handlers(registry: kopf.OperatorRegistry, reconciler: ServingReconciler) -> None:
    """Register the InferenceService handlers and the indexes of its children into registry."""
    children = {LABEL_ISVC: kopf.PRESENT}
    servers: dict[str, Any] = {LABEL_ISVC: kopf.PRESENT, LABEL_COMPONENT: COMPONENT_SERVER}
    routers: dict[str, Any] = {LABEL_ISVC: kopf.PRESENT, LABEL_COMPONENT: COMPONENT_ROUTER}
    addresses: dict[str, Any] = {LABEL_ISVC: kopf.PRESENT, LABEL_COMPONENT: COMPONENT_ADDRESS}

    @kopf.on.startup(registry=registry, id="serving-label-selectors")
    def watch_only_labelled_children(settings: kopf.OperatorSettings, **_: Any) -> None:
        """Only serving watches these kinds: the API server filters their streams by the InferenceService label
        (kopf's handler filters alone would receive every Service and ConfigMap of the cluster). Pods are also
        watched by training and batch, under other labels, so their stream stays unfiltered."""
        for group, plural in (("apps", "deployments"), *((g, p) for g, _, p, _ in WATCHED_CHILDREN)):
            settings.watching.label_selectors[(group, plural)] = LABEL_ISVC

    @kopf.index("apps", "v1", "deployments", labels=children, registry=registry, id="serving_deployments")
    def serving_deployments(namespace: str | None, labels: kopf.Labels, body: kopf.Body,
                            **_: Any) -> dict[Key, DeploymentView]:
        return {_owner_key(namespace, labels): deployment_view(body)}

    @kopf.index("", "v1", "pods", labels=servers, registry=registry, id="serving_pods")
    def serving_pods(namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Key, PodView]:
        return {_owner_key(namespace, labels): pod_view(body)}

    @kopf.index("", "v1", "pods", labels=routers, registry=registry, id="serving_routers")
    def serving_routers(namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Key, PodView]:
        return {_owner_key(namespace, labels): pod_view(body)}

    @kopf.index("", "v1", "services", labels=addresses, registry=registry, id="serving_addresses")
    def serving_addresses(namespace: str | None, labels: kopf.Labels, **_: Any) -> dict[Key, bool]:
        """InferenceServices whose Service selects the model servers directly (no router in between)."""
        return {_owner_key(namespace, labels): True}

    @kopf.index("", "v1", "services", labels=servers, registry=registry, id="serving_backend_services")
    def serving_backend_services(namespace: str | None, name: str, labels: kopf.Labels, **_: Any) -> dict[Key, str]:
        """The backends' own Services (only while a router or an HTTPRoute sends them traffic)."""
        return {_owner_key(namespace, labels): name}

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="inferenceservice")
    async def inferenceservice_changed(namespace: str | None, name: str, type: str | None, body: kopf.Body,
                                       **indexes: Any) -> None:
        reconciler.remember(indexes)
        if reconciler.seen.is_news(type, body) and type != "DELETED":
            reconciler.enqueue(namespace or "", name)

    @kopf.on.event("apps", "v1", "deployments", labels=children, registry=registry, id="serving-deployment")
    async def deployment_changed(namespace: str | None, labels: kopf.Labels, type: str | None, body: kopf.Body,
                                 **indexes: Any) -> None:
        reconciler.remember(indexes)
        news = reconciler.seen.is_news(type, body, hash(deployment_view(body)))  # its status counts, not its times
        if reconciler.applied.changed_by_others(type, body) or news:
            reconciler.enqueue(*_owner_key(namespace, labels))

    for group, version, plural, kind in WATCHED_CHILDREN:
        @kopf.on.event(group, version, plural, labels=children, registry=registry, id=f"serving-{kind.lower()}")
        async def child_changed(namespace: str | None, labels: kopf.Labels, type: str | None, body: kopf.Body,
                                **_: Any) -> None:
            """Another writer changed or deleted a child: one pass applies it again."""
            if reconciler.applied.changed_by_others(type, body):
                reconciler.enqueue(*_owner_key(namespace, labels))

    @kopf.on.event("", "v1", "pods", labels=servers, registry=registry, id="serving-pod")
    async def pod_changed(namespace: str | None, labels: kopf.Labels, type: str | None, body: kopf.Body,
                          **indexes: Any) -> None:
        reconciler.remember(indexes)
        if reconciler.seen.is_news(type, body, hash(pod_view(body))):  # what a pass reads of it changed
            reconciler.enqueue(*_owner_key(namespace, labels))
