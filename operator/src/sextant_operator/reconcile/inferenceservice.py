"""Decides an InferenceService's children and status from what is observed (a pure function, unit-tested).

Each variant serves a pinned model version (and its digest). When the registry resolves a variant's reference
to another version, that version gets its own backend beside the pinned one and the rollout policy moves the
variant's traffic to it once its pods are ready; the new version's error rate, read from its servers' metrics,
can roll it back. The pinned versions and the rollout in progress live in status, so a restarted operator picks
up where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sextant_contracts.digest import config_digest
from sextant_contracts.resources.inferenceservice import (
    InferenceServiceStatus,
    ResolvedModel,
    ServingPhase,
    VariantStatus,
)

from .conditions import ConditionState, merge_conditions
from .drift_monitoring import drift_condition, drift_settings
from .serving_autoscaling import autoscaler_objects, autoscaling, scales_from_zero
from .serving_instances import DeploymentView, PodView, RouteView, pod_problem
from .serving_manifests import (
    COMPONENT_ROUTER,
    ROUTE_PROPAGATION_SECONDS,
    Backend,
    Route,
    ServingSettings,
    backend_name,
    backend_objects,
    router_name,
)
from .serving_rollout import VariantPlan, deployment_of, make_backend, plan_rollout, same_model
from .serving_routes import (
    direct_service,
    http_route,
    needs_router,
    router_config,
    router_objects,
    router_retired,
    service_url,
)

DEFAULT_VARIANT = "default"
#: RoutesReady's reason while the Service selects the one backend's model servers (no router).
REASON_DIRECT = "ServesDirectly"
#: RoutesReady's reason while the router a second backend, a shadow or scale-from-zero needs starts, and callers
#: are still served directly.
REASON_ROUTER_STARTING = "RouterStarting"
#: How often a reference by alias (or to the latest version) is resolved again, to roll out a moved alias.
MODEL_POLL_SECONDS = 30.0
ROLLOUT_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Unresolved:
    """Why a model reference could not be resolved."""

    reason: str
    message: str


Resolver = Callable[[Mapping[str, Any]], ResolvedModel | Unresolved]


def no_registry(ref: Mapping[str, Any]) -> Unresolved:
    """The resolver used while the operator has no artifact store configured."""
    return Unresolved("RegistryNotConfigured",
                      f"model {describe_reference(ref)} cannot be resolved: the operator has no artifact store "
                      f"configured (chart value artifactStore)")


def describe_reference(ref: Mapping[str, Any]) -> str:
    """churn:6, churn@staging or churn@latest."""
    name = ref.get("name", "")
    if "version" in ref:
        return f"{name}:{ref['version']}"
    return f"{name}@{ref.get('alias', 'latest')}"


def requested_variants(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The variants of the spec; a single `model` is one variant named default with all the traffic."""
    if "variants" in spec:
        return list(spec["variants"])
    return [{"name": DEFAULT_VARIANT, "model": spec.get("model", {}), "weight": 100}]


def references(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every model reference the operator must resolve: the variants' and the shadow's."""
    refs = [v.get("model", {}) for v in requested_variants(spec)]
    if spec.get("shadow"):
        refs.append(spec["shadow"].get("model", {}))
    return refs


@dataclass(frozen=True)
class Observed:
    """What one reconcile sees."""

    isvc: Mapping[str, Any]
    resolved: Mapping[str, ResolvedModel | Unresolved]  # describe_reference(ref) -> result
    deployments: Sequence[DeploymentView]
    pods: Sequence[PodView]
    route: RouteView
    now: str
    #: (requests, 5xx answers) of each backend's servers, by backend key, for rollout judgement.
    errors: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: Names of the backends' own Services that exist (a router or an HTTPRoute sends traffic to them).
    backend_services: Sequence[str] = ()


@dataclass(frozen=True)
class ServingPlan:
    """What to write: status, objects to apply, backends to delete, and when to look again."""

    status: InferenceServiceStatus
    apply: list[dict[str, Any]]
    delete: list[str]  # backend object names (Deployment, Service, autoscaler, PDB share the name)
    requeue_after: float | None
    #: Objects of the routing mode the operator no longer uses: (apiVersion, kind, name), deleted before the
    #: status is written (status.routing is how the HTTPRoute of an earlier gateway mode is known).
    retire: list[tuple[str, str, str]] = field(default_factory=list)
    #: The router's objects once one backend takes all the traffic: deleted after `apply` has pointed the Service
    #: at that backend's servers, so callers are never left without endpoints.
    unroute: list[tuple[str, str, str]] = field(default_factory=list)


def plan_variant(observed: Observed, name: str, variant: Mapping[str, Any], current: Mapping[str, Any],
                 settings: ServingSettings, shadow: bool = False) -> VariantPlan:
    """Pin, roll out or roll back one variant."""
    spec = observed.isvc["spec"]
    suspended = bool(spec.get("suspend"))
    ref = variant.get("model", {})
    result = observed.resolved.get(describe_reference(ref))
    target: ResolvedModel | None = result if isinstance(result, dict) else None
    pinned: ResolvedModel | None = current.get("model")
    rolled_back: ResolvedModel | None = current.get("rolledBack")
    status: VariantStatus = {"name": name}
    if shadow:
        status["shadowPercent"] = int(variant.get("percent", 100))
    else:
        status["weight"] = int(variant.get("weight", 0))
    if rolled_back is not None and not same_model(rolled_back, target):
        rolled_back = None  # a newer version: roll it out
    if pinned is None or (shadow and target is not None):
        pinned = target  # first deployment (no traffic to protect), or a shadow (its answers are discarded)
    if pinned is None:
        return VariantPlan(status, [], [])
    stable = make_backend(name, pinned, variant, spec, shadow)
    stable_scale = autoscaling(stable.scaling, settings, suspended)
    plan = VariantPlan(status, [(stable, 100)], [(stable, stable_scale)])
    status["model"] = pinned
    status["autoscaler"] = stable_scale.kind
    if stable_scale.note:
        status["reason"], status["message"] = stable_scale.note.split(": ", 1)
    if rolled_back is not None:
        status["rolledBack"] = rolled_back
        status["reason"] = "RolledBack"
        status["message"] = str(current.get("message") or f"version {rolled_back.get('version')} was rolled back")
        plan.rolled_back = True
    moving = target is not None and not same_model(target, pinned) and rolled_back is None and not suspended
    if moving and target is not None:
        plan_rollout(observed, plan, variant, current, target, stable, settings)
    failing = [b for b, _ in plan.backends if deployment_of(observed, b) is not None]
    for backend in failing:
        problem = pod_problem([p for p in observed.pods if p.variant == name and p.version == backend.version],
                              observed.now)
        if problem is not None:
            plan.problem = problem
            status["reason"], status["message"] = problem[0], f"version {backend.version}: {problem[1]}"
            break
    views = [deployment_of(observed, b) for b, _ in plan.backends]
    status["replicas"] = sum(v.replicas for v in views if v is not None)
    status["readyReplicas"] = sum(v.ready_replicas for v in views if v is not None)
    plan.available = sum(v.available_replicas for v in views if v is not None)
    if (stable_scale.kind == "KEDA" and stable_scale.min_replicas == 0 and plan.problem is None
            and "reason" not in status and views and all(v is not None and v.replicas == 0 for v in views)):
        status["reason"] = "ScaledToZero"
        status["message"] = (
            f"KEDA scaled the variant to zero while it had no requests; the router holds the next request (up to "
            f"{settings.activation_timeout_seconds} s) while KEDA starts a replica" if settings.routing == "router"
            else "KEDA scaled the variant to zero while it had no requests; the Gateway answers 503 until "
                 "scaling.minReplicas is raised (nothing holds a request there, so a request alone does not wake it)")
    return plan


def _split(variant_weight: int, routes: Sequence[tuple[Backend, int]]) -> list[Route]:
    """A variant's weight shared among its backends by percent (largest remainder keeps the sum exact)."""
    if not routes:
        return []
    shares = [variant_weight * pct // 100 for _, pct in routes]
    shares[-1] += variant_weight - sum(shares)
    return [Route(b, w) for (b, _), w in zip(routes, shares, strict=True)]


def _conditions(failures: Sequence[Unresolved], variants: Sequence[VariantPlan], routes_ok: tuple[bool, str, str],
                serving: bool, drift_state: ConditionState, routes_now: tuple[bool, str, str]) -> list[ConditionState]:
    if failures:
        resolved = ConditionState("ModelResolved", "False", failures[0].reason,
                                  "; ".join(f.message for f in failures))
    else:
        versions = ", ".join(f"{v.status['name']}={v.status['model'].get('name')}:{v.status['model'].get('version')}"
                             for v in variants if "model" in v.status)
        resolved = ConditionState("ModelResolved", "True", "ModelsPinned", f"serving {versions}")
    troubled = [v for v in variants if v.problem is not None or v.rolled_back]
    if troubled:
        first = troubled[0].status
        degraded = ConditionState("Degraded", "True", str(first.get("reason", "RolloutFailed")),
                                  f"variant {first['name']}: {first.get('message', '')}")
    else:
        degraded = ConditionState("Degraded", "False", "AsExpected", "every variant serves its pinned version")
    routes = ConditionState("RoutesReady", "True" if routes_now[0] else "False", routes_now[1], routes_now[2])
    if serving:
        ready = ConditionState("Ready", "True", "Serving", "every variant has ready model servers behind the "
                               "service's address")
    elif failures and not any("model" in v.status for v in variants):
        ready = ConditionState("Ready", "False", resolved.reason, resolved.message)
    elif not routes_ok[0]:
        ready = ConditionState("Ready", "False", routes_ok[1], routes_ok[2])
    else:
        waiting = next((v.status for v in variants if v.status.get("weight", 0) and not v.available), None)
        name = waiting["name"] if waiting else "?"
        if waiting and waiting.get("readyReplicas"):
            reason, message = "RoutersCatchingUp", (f"variant {name}'s model servers are ready; they take traffic "
                                                    f"once ready for {ROUTE_PROPAGATION_SECONDS} s (the time the "
                                                    "routers, or kube-proxy without one, take to route to them)")
        else:
            why = waiting.get("message", "its model servers are starting") if waiting else ""
            reason = str(waiting.get("reason", "ServersNotReady")) if waiting else "ServersNotReady"
            message = f"variant {name} has no ready model server: {why}"
        ready = ConditionState("Ready", "False", reason, message)
    return [resolved, routes, degraded, drift_state, ready]


def _routes_state(observed: Observed, settings: ServingSettings, variants: Sequence[VariantPlan],
                  routed: bool) -> tuple[bool, str, str]:
    """Whether the address serves (for Ready). `routed`: the router has work (serving_routes.needs_router)."""
    route = observed.route
    if not any(v.routes for v in variants):
        return False, "NoModelPinned", "no variant has a model to route to yet"
    if settings.routing == "gateway":
        if route.accepted and route.resolved_refs:
            return True, "RouteAccepted", f"HTTPRoute accepted by Gateway {settings.gateway_namespace}/" \
                                          f"{settings.gateway_name}"
        return False, route.reason or "RouteNotAccepted", route.message or \
            f"the HTTPRoute is not accepted by Gateway {settings.gateway_namespace}/{settings.gateway_name} yet"
    if not routed:
        return True, REASON_DIRECT, ("the service's address selects the model servers of the one backend that takes "
                                     "all the traffic: no router is needed")
    if route.ready_replicas >= 1:
        return True, "RouterReady", f"{route.ready_replicas} router replica(s) ready"
    if route.direct:
        return True, REASON_ROUTER_STARTING, ("the router starts (a second backend, a shadow or scale-from-zero needs "
                                              "it); until it is ready the address serves the earlier backend directly")
    return False, route.reason or "RouterNotReady", route.message or "the router's pods are not ready yet"


def _routes_current(observed: Observed, config: Mapping[str, Any] | None,
                    routes_ok: tuple[bool, str, str]) -> tuple[bool, str, str]:
    """RoutesReady: the address serves, and every router replica that answered routes by the configuration written
    now. The kubelet updates a mounted ConfigMap within about a minute, and until then a router keeps the earlier
    weights: Ready stays as it is (the address still serves), RoutesReady says the new routes are not live yet."""
    if not routes_ok[0] or config is None:
        return routes_ok
    if routes_ok[1] == REASON_ROUTER_STARTING:  # the address serves, but not by the routes written now
        return False, *routes_ok[1:]
    reported = observed.route.router_configs
    known = [d for d in reported if d is not None]
    wanted = config_digest(config)
    stale = [d for d in known if d != wanted]
    if stale:
        return False, "RoutesUpdating", (f"{len(stale)} of {len(reported)} router replica(s) still route by an "
                                         f"earlier configuration than {wanted}; the kubelet updates their mounted "
                                         "ConfigMap within about a minute")
    if known:
        return True, "RouterReady", f"{len(known)} router replica(s) route by the current configuration {wanted}"
    return routes_ok  # no router answered on /router/status: their readiness is all there is to go on


def retired_routing(observed: Observed, settings: ServingSettings, routes_ready: bool) -> list[tuple[str, str, str]]:
    """What the other routing mode left when the operator restarted with this one (e.g. the Gateway API was
    installed and `routing: auto` now picks it). The router goes once the HTTPRoute is accepted, so callers of its
    address keep being answered until the new one works; an HTTPRoute goes at once (the router starts in seconds
    and the Gateway would route to backends the operator no longer reconciles for it)."""
    name = observed.isvc["metadata"]["name"]
    if settings.routing == "gateway":
        if not routes_ready:
            return []
        router = any(d.component == COMPONENT_ROUTER for d in observed.deployments)
        return [*(router_retired(observed.isvc) if router else []),
                *([("v1", "Service", name)] if router or observed.route.direct else [])]
    if (observed.isvc.get("status") or {}).get("routing") == "gateway":
        return [("gateway.networking.k8s.io/v1", "HTTPRoute", name)]
    return []


def plan_inferenceservice(observed: Observed, settings: ServingSettings) -> ServingPlan:
    """The status to report and the objects to apply for this InferenceService."""
    isvc = observed.isvc
    spec = isvc["spec"]
    generation = int(isvc["metadata"].get("generation", 0))
    current: Mapping[str, Any] = isvc.get("status") or {}
    previous = {v.get("name"): v for v in current.get("variants", [])}
    suspended = bool(spec.get("suspend"))
    variants = requested_variants(spec)
    failures = [r for r in (observed.resolved.get(describe_reference(ref)) for ref in references(spec))
                if isinstance(r, Unresolved)]
    plans = [plan_variant(observed, str(v["name"]), v, previous.get(v["name"], {}), settings) for v in variants]
    shadow_spec = spec.get("shadow")
    shadow_plan = plan_variant(observed, str(shadow_spec["name"]), shadow_spec, previous.get(shadow_spec["name"], {}),
                               settings, shadow=True) if shadow_spec else None
    routes: list[Route] = []
    for variant, plan in zip(variants, plans, strict=True):
        routes += _split(int(variant.get("weight", 0)), plan.routes)
    shadow = (shadow_plan.routes[0][0], int(shadow_spec.get("percent", 100))) \
        if shadow_plan is not None and shadow_plan.routes and shadow_spec else None
    if shadow_plan is not None and settings.routing == "gateway" and not settings.gateway_mirror:
        shadow_plan.status["reason"] = "MirrorNotSupported"
        shadow_plan.status["message"] = (f"the shadow runs but receives no copies: "
                                         f"{settings.gateway_mirror_note or 'the Gateway does not mirror'}")
    holds = scales_from_zero([scale for p in plans for _, scale in p.backends])
    routed = settings.routing != "gateway" and needs_router(sum(len(p.backends) for p in plans), bool(shadow_spec),
                                                            holds)
    addressed = routed or settings.routing == "gateway"  # a backend's own Service only when traffic is sent to it
    apply: list[dict[str, Any]] = []
    for plan in [*plans, *([shadow_plan] if shadow_plan else [])]:
        for backend, scale in plan.backends:
            apply += [*backend_objects(isvc, backend, settings, scale, addressed),
                      *autoscaler_objects(isvc, backend, settings, scale)]
    config = router_config(isvc, routes, shadow, settings, holds) if routes and routed else None
    unroute: list[tuple[str, str, str]] = []
    if routes and settings.routing == "gateway":
        apply.append(http_route(isvc, routes, shadow, settings))
    elif routes and config is None:
        apply.append(direct_service(isvc, routes[0].backend))
        if any(d.component == COMPONENT_ROUTER for d in observed.deployments):
            unroute = router_retired(isvc)
        elif not observed.route.router_pods:  # no router left that might still send to a backend's Service
            unroute = [("v1", "Service", name) for name in observed.backend_services]
    elif routes and config is not None:
        objects = router_objects(isvc, config, settings, suspended)
        if observed.route.direct and observed.route.ready_replicas < 1:
            objects = [o for o in objects if o["kind"] != "Service"]  # it selects the servers until the router is ready
        apply += objects
    keep = {backend_name(isvc["metadata"]["name"], b) for p in [*plans, *([shadow_plan] if shadow_plan else [])]
            for b, _ in p.backends}
    delete = sorted({d.name for d in observed.deployments if d.name not in keep and d.name !=
                     router_name(isvc["metadata"]["name"])})
    all_plans = [*plans, *([shadow_plan] if shadow_plan else [])]
    routes_ok = _routes_state(observed, settings, plans, routed)
    serving = not suspended and routes_ok[0] and all(
        p.available > 0 for p, v in zip(plans, variants, strict=True) if v.get("weight", 0))
    drift_state = drift_condition(current.get("drift") or {}, drift_settings(spec).enabled)
    routes_now = _routes_current(observed, config, routes_ok)
    states = _conditions(failures, all_plans, routes_ok, serving, drift_state, routes_now)
    degraded = states[2].status == "True"
    phase: ServingPhase
    if suspended:
        phase, reason, message = "Suspended", "Suspended", "spec.suspend is true: every variant is scaled to zero"
    elif serving:
        phase = "Degraded" if degraded else "Ready"
        reason, message = (states[2].reason, states[2].message) if degraded else ("Serving", states[-1].message)
    elif failures and not any("model" in p.status for p in plans):  # e.g. the model is not trained yet
        phase, reason, message = "Pending", failures[0].reason, states[0].message
    elif degraded:
        phase, reason, message = "Degraded", states[2].reason, states[2].message
    else:
        phase, reason, message = "Pending", states[-1].reason, states[-1].message
    status: InferenceServiceStatus = {
        "phase": phase, "reason": reason, "message": message, "observedGeneration": generation,
        "routing": settings.routing,
        "conditions": merge_conditions(current.get("conditions", []), states, generation, observed.now),
        "variants": [p.status for p in all_plans],
        "variantWeights": ",".join(f"{v['name']}={v.get('weight', 0)}" for v in variants),
        "modelVersions": ",".join(
            f"{p.status['model'].get('name')}:{p.status['model'].get('version')}" if "model" in p.status
            else describe_reference(v.get("model", {})) for p, v in zip(plans, variants, strict=True)),
    }
    if routes_ok[0]:
        status["url"] = service_url(isvc, settings)
    requeue: float | None = None
    if any(p.waiting or p.status.get("rollout") for p in all_plans) or \
            routes_now[1] in ("RoutesUpdating", REASON_ROUTER_STARTING):
        requeue = ROLLOUT_POLL_SECONDS
    elif any(not ref.get("version") for ref in references(spec)) or failures:
        requeue = MODEL_POLL_SECONDS
    return ServingPlan(status=status, apply=apply, delete=delete, requeue_after=requeue,
                       retire=retired_routing(observed, settings, routes_ok[0]), unroute=unroute)
