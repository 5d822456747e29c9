"""A variant's move to a new model version: which backends serve it, which share each gets, when the next step
comes, and when the new version's error rate rolls it back (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sextant_contracts.durations import parse_duration
from sextant_contracts.resources.inferenceservice import ResolvedModel, VariantRollout, VariantStatus

from .serving_autoscaling import Autoscaling, autoscaling
from .serving_instances import DeploymentView
from .serving_manifests import Backend, ServingSettings, backend_name

if TYPE_CHECKING:
    from .inferenceservice import Observed


@dataclass
class VariantPlan:
    """One variant's decision: which backends serve it, with which share of its traffic, and its status."""

    status: VariantStatus
    routes: list[tuple[Backend, int]]  # backend, percent of the variant's traffic
    backends: list[tuple[Backend, Autoscaling]]
    problem: tuple[str, str] | None = None  # (reason, message) of a failing backend
    rolled_back: bool = False
    waiting: bool = False  # a rollout step is being watched: look again soon
    available: int = 0  # replicas ready long enough for the routers to route to them


def _seconds_since(start: str | None, now: str) -> float:
    if not start:
        return 0.0
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (datetime.strptime(now, fmt) - datetime.strptime(start, fmt)).total_seconds()


def same_model(a: ResolvedModel | None, b: ResolvedModel | None) -> bool:
    return a is not None and b is not None and a.get("version") == b.get("version") and \
        a.get("digest") == b.get("digest")


def make_backend(name: str, model: ResolvedModel, variant: Mapping[str, Any], spec: Mapping[str, Any],
             shadow: bool = False) -> Backend:
    return Backend(variant=name, model=str(model.get("name")), version=int(model.get("version", 0)),
                   digest=str(model.get("digest", "")), shadow=shadow, resources=variant.get("resources") or {},
                   scaling={**(spec.get("scaling") or {}), **(variant.get("scaling") or {})})


def deployment_of(observed: Observed, backend: Backend) -> DeploymentView | None:
    name = backend_name(observed.isvc["metadata"]["name"], backend)
    return next((d for d in observed.deployments if d.name == name), None)


def _available(observed: Observed, backend: Backend) -> int:
    """Replicas the routers have had time to see: traffic moves to a version only once they route to it."""
    view = deployment_of(observed, backend)
    return view.available_replicas if view is not None else 0


def _first_step(rollout: Mapping[str, Any]) -> int:
    strategy = rollout.get("strategy", "AllAtOnce")
    if strategy == "Canary":
        return int(rollout.get("canaryPercent", 10))
    if strategy == "Linear":
        return int(rollout.get("stepPercent", 25))
    return 100


def _next_step(rollout: Mapping[str, Any], percent: int) -> int:
    if rollout.get("strategy") == "Linear":
        return min(100, percent + int(rollout.get("stepPercent", 25)))
    return 100


def _since(now: tuple[int, int], start: list[int] | None) -> tuple[int, int]:
    """Counter growth since `start`; counters that went back (a server restarted) count whole."""
    if not start or now[0] < start[0] or now[1] < start[1]:
        return now
    return now[0] - start[0], now[1] - start[1]


def _counts(observed: Observed, backend: Backend) -> tuple[int, int]:
    """Prediction requests and 5xx answers of a backend's ready servers, read this reconcile."""
    return observed.errors.get(backend.key, (0, 0))


def _error_verdict(observed: Observed, backend: Backend, stable: Backend, policy: Mapping[str, Any],
                   rollout: Mapping[str, Any]) -> str | None:
    """Why the new version must be rolled back, or None: its 5xx rate over at least minRequests requests of
    the current step is above maxErrorRate and worse than the previous version's over the same step (a version
    no worse than the one it replaces may proceed). Each step is judged on its own requests, so errors that
    appear only at a larger share are not diluted by the quiet steps before it."""
    least = int(policy.get("minRequests", 20))
    requests, errors = _since(_counts(observed, backend), rollout.get("stepCounts"))
    if requests < least:
        return None
    rate = errors / requests
    limit = float(policy.get("maxErrorRate", 0.05))
    if rate <= limit:
        return None
    old_requests, old_errors = _since(_counts(observed, stable), rollout.get("previousCounts"))
    if old_requests >= least and rate <= old_errors / old_requests:
        return None
    return (f"version {backend.version} answered {errors} of {requests} requests with 5xx at "
            f"{rollout.get('percent')}% of the traffic ({rate:.1%}, above spec.rollout.maxErrorRate {limit:.1%}): "
            "rolled back to the previous version")


def _start_step(rollout: VariantRollout, observed: Observed, new: Backend, stable: Backend, percent: int) -> None:
    """Begin a step at `percent`: both versions' counters now are where the step's judgement starts."""
    rollout["percent"] = percent
    rollout["stepStartedAt"] = observed.now
    rollout["stepCounts"] = list(_counts(observed, new))
    rollout["previousCounts"] = list(_counts(observed, stable))


def plan_rollout(observed: Observed, plan: VariantPlan, variant: Mapping[str, Any], current: Mapping[str, Any],
                  target: ResolvedModel, stable: Backend, settings: ServingSettings) -> None:
    spec = observed.isvc["spec"]
    policy = spec.get("rollout") or {}
    new = make_backend(stable.variant, target, variant, spec)
    new_scale = autoscaling(new.scaling, settings, False)
    previous: Mapping[str, Any] = current.get("rollout") or {}
    same_target = same_model(previous.get("model"), target)
    rollout: VariantRollout = {"model": target, "percent": 0}
    if same_target:  # the step in progress carries over, with the counters it started from
        rollout = cast(VariantRollout, {**previous, "model": target})  # the status as stored: the same keys
        rollout.pop("message", None)
    plan.backends.append((new, new_scale))
    plan.status["rollout"] = rollout
    if _available(observed, new) == 0:
        rollout["message"] = f"waiting for version {new.version}'s pods to be ready; the previous version serves"
        if rollout["percent"]:  # its pods went away mid-rollout: traffic goes back to the pinned version
            rollout["percent"] = 0
        return
    percent = int(rollout["percent"])
    verdict = _error_verdict(observed, new, stable, policy, rollout) if percent else None
    if verdict is not None:
        plan.backends.pop()
        plan.status.pop("rollout")
        plan.status["rolledBack"] = target
        plan.status["reason"], plan.status["message"] = "RolledBack", verdict
        plan.rolled_back = True
        return
    if percent == 0:
        _start_step(rollout, observed, new, stable, _first_step(policy))
    elif _seconds_since(rollout.get("stepStartedAt"), observed.now) >= parse_duration(policy.get("interval", "1m")):
        least = int(policy.get("minRequests", 20))
        answered = _since(_counts(observed, new), rollout.get("stepCounts"))[0]
        if answered < least:  # a step passes only once it has been judged
            _watch(plan, stable, new, percent, f"version {new.version} gets {percent}% of the variant's traffic and "
                   f"has answered {answered} of the {least} requests (spec.rollout.minRequests) this step needs "
                   "before it is judged; the next step waits for them")
            return
        if percent >= 100:  # judged at 100% without a rollback
            _promote(plan, new, new_scale, target)
            return
        _start_step(rollout, observed, new, stable, _next_step(policy, percent))
    percent = int(rollout["percent"])
    if percent >= 100 and policy.get("strategy", "AllAtOnce") == "AllAtOnce":
        _promote(plan, new, new_scale, target)
        return
    _watch(plan, stable, new, percent, f"version {new.version} gets {percent}% of the variant's traffic"
           + ("" if percent >= 100 else "; next step after spec.rollout.interval and spec.rollout.minRequests"))


def _watch(plan: VariantPlan, stable: Backend, new: Backend, percent: int, message: str) -> None:
    """Both versions serve at the step's shares while the step is watched."""
    plan.status["rollout"]["message"] = message
    plan.routes = [(stable, 100 - percent), (new, percent)]
    plan.waiting = True


def _promote(plan: VariantPlan, new: Backend, new_scale: Autoscaling, target: ResolvedModel) -> None:
    """The new version takes all of the variant's traffic and becomes the pinned one; the old backend goes."""
    plan.routes = [(new, 100)]
    plan.backends = [(new, new_scale)]
    plan.status["model"] = target
    plan.status["autoscaler"] = new_scale.kind
    plan.status.pop("rollout", None)
