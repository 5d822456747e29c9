"""What the operator sees of an InferenceService's children: Deployments, model-server pods and the route, reduced to
the facts that decide its status (pure; built from watch bodies)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .serving_manifests import ANNOTATION_DIGEST, LABEL_COMPONENT, LABEL_MODEL_VERSION, LABEL_VARIANT

#: Waiting reasons of a container that mean its pod will not become ready by itself.
STUCK_WAITING = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull",
                           "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError"})
#: A running pod that stays unready this long without a known cause is reported as not loading its model.
SLOW_LOAD_SECONDS = 60.0


@dataclass(frozen=True)
class DeploymentView:
    """One Deployment of an InferenceService (a backend's model servers, or the router)."""

    name: str
    component: str
    variant: str = ""
    version: int = 0
    digest: str = ""
    replicas: int = 0
    ready_replicas: int = 0
    #: Pods ready for the Deployment's minReadySeconds: what the routers have had time to see (serving_manifests).
    available_replicas: int = 0
    updated_replicas: int = 0
    observed_current: bool = True


@dataclass(frozen=True)
class PodView:
    """One model-server pod: why it is not ready, when it is not."""

    name: str
    variant: str
    version: int
    ready: bool
    phase: str = "Pending"
    ip: str | None = None
    started: str | None = None
    waiting_reason: str | None = None
    waiting_message: str = ""
    last_terminated_reason: str | None = None
    termination_message: str = ""
    restarts: int = 0
    unschedulable: str | None = None
    deleting: bool = False
    #: The server's own answer on /readyz (filled in by the acting layer for running pods that are not ready).
    not_ready_reason: str | None = None


@dataclass(frozen=True)
class RouteView:
    """The stable address: the router's readiness (or a Service selecting the servers directly), or the
    HTTPRoute's acceptance by its Gateway."""

    ready_replicas: int = 0
    #: The configuration digest each ready router replica reports on /router/status (None: it did not answer).
    router_configs: tuple[str | None, ...] = ()
    accepted: bool = False
    resolved_refs: bool = False
    reason: str | None = None
    message: str = ""
    #: The InferenceService's Service selects one backend's model servers, not the router (serving_routes).
    direct: bool = False
    #: Router pods that exist, ready or not, terminating too: while any is left it may send to backends' Services.
    router_pods: int = 0


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def deployment_view(body: Mapping[str, Any]) -> DeploymentView:
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    status = body.get("status") or {}
    return DeploymentView(
        name=str(meta.get("name", "")), component=str(labels.get(LABEL_COMPONENT, "")),
        variant=str(labels.get(LABEL_VARIANT, "")), version=_int(labels.get(LABEL_MODEL_VERSION)),
        digest=str((meta.get("annotations") or {}).get(ANNOTATION_DIGEST, "")),
        replicas=_int(status.get("replicas")), ready_replicas=_int(status.get("readyReplicas")),
        available_replicas=_int(status.get("availableReplicas")),
        updated_replicas=_int(status.get("updatedReplicas")),
        observed_current=_int(status.get("observedGeneration")) >= _int(meta.get("generation")))


def pod_view(body: Mapping[str, Any]) -> PodView:
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    status = body.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    unschedulable = next((str(c.get("message", "")) for c in conditions
                          if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"), None)
    containers = status.get("containerStatuses") or []
    waiting: Mapping[str, Any] = {}
    last: Mapping[str, Any] = {}
    restarts = 0
    started = None
    for c in containers:
        state = c.get("state") or {}
        waiting = waiting or state.get("waiting") or {}
        last = last or (c.get("lastState") or {}).get("terminated") or {}
        restarts += _int(c.get("restartCount"))
        started = started or (state.get("running") or {}).get("startedAt")
    return PodView(
        name=str(meta.get("name", "")), variant=str(labels.get(LABEL_VARIANT, "")),
        version=_int(labels.get(LABEL_MODEL_VERSION)), ready=ready, phase=str(status.get("phase", "Pending")),
        ip=status.get("podIP"), started=started, waiting_reason=waiting.get("reason"),
        waiting_message=str(waiting.get("message", "")), last_terminated_reason=last.get("reason"),
        termination_message=str(last.get("message", "")).strip(), restarts=restarts, unschedulable=unschedulable,
        deleting=bool(meta.get("deletionTimestamp")))


def route_view(body: Mapping[str, Any] | None, gateway: tuple[str, str]) -> RouteView:
    """An HTTPRoute's acceptance by the parent Gateway (namespace, name) from its status.parents."""
    if body is None:
        return RouteView(reason="RouteNotCreated", message="the HTTPRoute does not exist yet")
    for parent in (body.get("status") or {}).get("parents") or []:
        ref = parent.get("parentRef") or {}
        if ref.get("name") != gateway[1]:
            continue
        conditions = {c.get("type"): c for c in parent.get("conditions") or []}
        accepted = conditions.get("Accepted", {})
        refs = conditions.get("ResolvedRefs", {})
        ok_a, ok_r = accepted.get("status") == "True", refs.get("status") == "True"
        failing = accepted if not ok_a else refs
        return RouteView(accepted=ok_a, resolved_refs=ok_r,
                         reason=None if ok_a and ok_r else f"Route{failing.get('reason', 'Pending')}",
                         message=str(failing.get("message", "")))
    return RouteView(reason="RouteNotAccepted",
                     message=f"Gateway {gateway[0]}/{gateway[1]} has not reported on the HTTPRoute yet")


def _age(start: str | None, now: str) -> float:
    if not start:
        return 0.0
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (datetime.strptime(now, fmt) - datetime.strptime(start, fmt)).total_seconds()


def readyz_reason(text: str) -> str:
    """The reason word for the server's own not-ready message."""
    lowered = text.lower()
    if "digest mismatch" in lowered or "pinned to sha256" in lowered:
        return "DigestMismatch"
    if "warm-up" in lowered:
        return "WarmUpFailed"
    return "ModelNotLoaded"


def pod_problem(pods: Sequence[PodView], now: str) -> tuple[str, str] | None:
    """The first not-ready pod's cause in the pod's own words, or None when none is stuck."""
    for pod in pods:
        if pod.ready or pod.deleting:
            continue
        if pod.last_terminated_reason == "OOMKilled":
            return "OOMKilled", (f"pod {pod.name} ran out of memory ({pod.restarts} restarts): raise "
                                 f"spec.resources.limits.memory")
        if pod.waiting_reason in STUCK_WAITING:
            detail = pod.termination_message or pod.waiting_message
            return str(pod.waiting_reason), f"pod {pod.name}: {detail}".rstrip(": ")
        if pod.unschedulable is not None:
            return "Unschedulable", f"pod {pod.name}: {pod.unschedulable}"
        if pod.not_ready_reason and (readyz_reason(pod.not_ready_reason) != "ModelNotLoaded"
                                     or _age(pod.started, now) >= SLOW_LOAD_SECONDS):
            return readyz_reason(pod.not_ready_reason), f"pod {pod.name}: {pod.not_ready_reason}"
    return None
