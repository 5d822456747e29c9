"""The InferenceService planner: pinned versions, rollouts that wait for ready pods, rollback on errors, status."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from sextant_operator.reconcile.inferenceservice import (
    Observed,
    ServingPlan,
    Unresolved,
    describe_reference,
    plan_inferenceservice,
    references,
)
from sextant_operator.reconcile.serving_autoscaling import autoscaling, keda_query
from sextant_operator.reconcile.serving_instances import DeploymentView, PodView, RouteView, pod_problem
from sextant_operator.reconcile.serving_manifests import ROUTE_PROPAGATION_SECONDS, ServingSettings
from sextant_operator.reconcile.serving_routes import router_config

T0, T1, T2, T3 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:30Z", "2026-01-01T00:01:05Z", "2026-01-01T00:02:10Z"
SETTINGS = ServingSettings(server_image="srv:1", router_image="rtr:1", store_uri="s3://models",
                           store_secret="sextant-artifact-store")
AB = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService",
      "metadata": {"name": "churn", "namespace": "ml", "uid": "u-1", "generation": 1},
      "spec": {"variants": [{"name": "current", "model": {"name": "churn", "version": "1"}, "weight": 85},
                            {"name": "challenger", "model": {"name": "churn", "alias": "staging"}, "weight": 15}]}}


def model(version: int) -> dict[str, str]:
    return {"name": "churn", "version": str(version), "digest": f"sha256:{version:064x}"}


def resolved(spec: dict[str, Any], **versions: int) -> dict[str, Any]:
    """Every reference resolved: by version to itself, by alias to versions[alias]."""
    out: dict[str, Any] = {}
    for ref in references(spec):
        version = int(ref["version"]) if "version" in ref else versions.get(ref.get("alias", "latest"), 1)
        out[describe_reference(ref)] = model(version)
    return out


def deployments(*specs: tuple[str, int, int], router: int = 2) -> list[DeploymentView]:
    views = [DeploymentView(name=f"churn-{v}-v{n}", component="model-server", variant=v, version=n, replicas=r,
                            ready_replicas=r, available_replicas=r) for v, n, r in specs]
    return [*views, DeploymentView(name="churn-router", component="router", replicas=router, ready_replicas=router)]


def observe(isvc: dict[str, Any], deps: list[DeploymentView], now: str = T0, pods: list[PodView] | None = None,
            errors: dict[str, tuple[int, int]] | None = None, **versions: int) -> Observed:
    return Observed(isvc=isvc, resolved=resolved(isvc["spec"], **versions), deployments=deps, pods=pods or [],
                    route=RouteView(ready_replicas=next((d.ready_replicas for d in deps if d.component == "router"),
                                                        0)), now=now, errors=errors or {})


def kinds(apply: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["kind"], m["metadata"]["name"]) for m in apply]


def conditions(status: Any) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def with_status(isvc: dict[str, Any], status: Any) -> dict[str, Any]:
    out = copy.deepcopy(isvc)
    out["status"] = status
    return out


def test_first_reconcile_pins_each_variant_and_creates_servers_and_the_router() -> None:
    plan = plan_inferenceservice(observe(AB, [], staging=2), SETTINGS)
    assert ("Deployment", "churn-current-v1") in kinds(plan.apply)
    assert ("Deployment", "churn-challenger-v2") in kinds(plan.apply)
    assert ("HorizontalPodAutoscaler", "churn-current-v1") not in kinds(plan.apply)  # min=max=1: fixed
    assert ("Deployment", "churn-router") in kinds(plan.apply) and ("Service", "churn") in kinds(plan.apply)
    assert ("PodDisruptionBudget", "churn-router") in kinds(plan.apply)
    status = plan.status
    assert [v["model"]["version"] for v in status["variants"]] == ["1", "2"]
    assert status["phase"] == "Pending" and status["reason"] == "RouterNotReady"
    assert status["modelVersions"] == "churn:1,churn:2" and status["routing"] == "router"
    for manifest in plan.apply:
        assert manifest["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_ready_servers_and_router_make_it_ready_with_the_weights() -> None:
    deps = deployments(("current", 1, 1), ("challenger", 2, 1))
    plan = plan_inferenceservice(observe(AB, deps, staging=2), SETTINGS)
    assert plan.status["phase"] == "Ready" and conditions(plan.status)["Ready"]["status"] == "True"
    assert plan.status["url"] == "http://churn.ml.svc.cluster.local"
    (config_map,) = [m for m in plan.apply if m["kind"] == "ConfigMap"]
    assert '"weight": 85' in config_map["data"]["router.yaml"] and '"weight": 15' in config_map["data"]["router.yaml"]


def _ready_not_yet_available(view: DeploymentView) -> DeploymentView:
    return dataclasses.replace(view, available_replicas=0) if view.component == "model-server" else view


def test_ready_servers_wait_until_the_routers_can_have_taken_them_in() -> None:
    """A pod counts only after minReadySeconds: `Ready` before the routers' first route meant 503s (CI saw 437)."""
    deps = [_ready_not_yet_available(d) for d in deployments(("current", 1, 1), ("challenger", 2, 1))]
    plan = plan_inferenceservice(observe(AB, deps, staging=2), SETTINGS)
    ready = conditions(plan.status)["Ready"]
    assert plan.status["phase"] != "Ready" and ready["status"] == "False"
    assert ready["reason"] == "RoutersCatchingUp" and "current" in ready["message"]
    assert plan.status["variants"][0]["readyReplicas"] == 1  # what kubectl shows stays the pods' readiness
    servers = [m for m in plan.apply if m["kind"] == "Deployment" and m["metadata"]["name"] != "churn-router"]
    assert servers and all(m["spec"]["minReadySeconds"] == ROUTE_PROPAGATION_SECONDS for m in servers)


def test_server_pods_are_restricted_pinned_and_get_the_store_secret_by_reference() -> None:
    plan = plan_inferenceservice(observe(AB, [], staging=2), SETTINGS)
    (dep,) = [m for m in plan.apply if m["metadata"]["name"] == "churn-challenger-v2" and m["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SEXTANT_MODEL_VERSION"] == "2" and env["SEXTANT_MODEL_DIGEST"] == model(2)["digest"]
    assert container["envFrom"] == [{"secretRef": {"name": "sextant-artifact-store"}}]
    assert not any("AWS_SECRET" in e["name"] for e in container["env"])
    assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_a_server_still_loading_its_model_is_not_killed_by_its_liveness_probe() -> None:
    plan = plan_inferenceservice(observe(AB, [], staging=2), SETTINGS)
    (dep,) = [m for m in plan.apply if m["metadata"]["name"] == "churn-challenger-v2" and m["kind"] == "Deployment"]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    startup, liveness = container["startupProbe"], container["livenessProbe"]
    assert startup["httpGet"]["path"] == liveness["httpGet"]["path"] == "/livez"
    # liveness only starts after the startup probe passed; the startup probe allows minutes, not the 60 s
    # after which liveness alone restarted servers that were loading on a busy node
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_an_autoscaler_owns_the_replica_count() -> None:
    isvc = copy.deepcopy(AB)
    isvc["spec"]["scaling"] = {"minReplicas": 2, "maxReplicas": 5, "metric": "cpu", "target": 60}
    plan = plan_inferenceservice(observe(isvc, [], staging=2), SETTINGS)
    (dep,) = [m for m in plan.apply if m["metadata"]["name"] == "churn-current-v1" and m["kind"] == "Deployment"]
    assert "replicas" not in dep["spec"]  # never fight the HPA (kserve#3768)
    (hpa,) = [m for m in plan.apply if m["kind"] == "HorizontalPodAutoscaler" and "current" in m["metadata"]["name"]]
    assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 5
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert ("PodDisruptionBudget", "churn-current-v1") in kinds(plan.apply)


def test_rps_scaling_without_keda_falls_back_to_cpu_and_says_so() -> None:
    scale = autoscaling({"minReplicas": 0, "maxReplicas": 4, "metric": "rps", "target": 50}, SETTINGS, False)
    assert scale.kind == "HPA" and scale.metric == "cpu" and scale.min_replicas == 1
    assert scale.note.startswith("KEDANotInstalled")
    keda = autoscaling({"minReplicas": 0, "maxReplicas": 4, "metric": "rps", "target": 50},
                       ServingSettings(keda_available=True), False)
    assert keda.kind == "KEDA" and keda.min_replicas == 0


def test_scale_to_zero_on_cpu_keeps_one_replica_and_says_why() -> None:
    scale = autoscaling({"minReplicas": 0, "maxReplicas": 4}, ServingSettings(keda_available=True), False)
    assert (scale.kind, scale.min_replicas, scale.metric) == ("HPA", 1, "cpu")
    assert scale.note.startswith("ScaleToZeroNeedsRequestMetric")


def test_a_variant_keda_scaled_to_zero_is_woken_by_the_requests_its_router_holds() -> None:
    isvc = {**AB, "spec": {"variants": [{"name": "current", "model": {"name": "churn", "version": "1"},
                                         "weight": 100}],
                           "scaling": {"minReplicas": 0, "maxReplicas": 2, "metric": "rps", "target": 5}}}
    keda = ServingSettings(server_image="srv:1", router_image="rtr:1", keda_available=True,
                           activation_timeout_seconds=90)
    plan = plan_inferenceservice(observe(isvc, deployments(("current", 1, 0))), keda)
    (variant,) = plan.status["variants"]
    assert (variant["autoscaler"], variant["readyReplicas"], variant["reason"]) == ("KEDA", 0, "ScaledToZero")
    assert "the router holds the next request (up to 90 s)" in variant["message"]
    assert plan.status["phase"] == "Pending" and conditions(plan.status)["Ready"]["reason"] == "ScaledToZero"
    # The router holds requests while nothing is ready, and KEDA wakes the variant on them.
    (config_map,) = [m for m in plan.apply if m["kind"] == "ConfigMap"]
    assert json.loads(config_map["data"]["router.yaml"])["activationTimeoutSeconds"] == 90
    (scaled,) = [m for m in plan.apply if m["kind"] == "ScaledObject"]
    rate, held = scaled["spec"]["triggers"]
    assert "sextant_requests_total" in rate["metadata"]["query"]
    assert held["metadata"]["query"] == ('clamp_max(sum(sextant_router_held_requests{namespace="ml",'
                                         'inferenceservice="churn"}), 1)')
    assert (held["metadata"]["threshold"], held["metadata"]["activationThreshold"]) == ("1", "0")
    assert scaled["spec"]["minReplicaCount"] == 0 and scaled["spec"]["pollingInterval"] == 5
    awake = plan_inferenceservice(observe(isvc, deployments(("current", 1, 1))), keda).status
    assert awake["phase"] == "Ready" and "reason" not in awake["variants"][0]
    # Without a variant that can reach zero nothing needs holding: one variant is served without a router.
    always_on = {**isvc, "spec": {**isvc["spec"], "scaling": {**isvc["spec"]["scaling"], "minReplicas": 1}}}
    plan = plan_inferenceservice(observe(always_on, deployments(("current", 1, 1))), keda)
    assert not [m for m in plan.apply if m["kind"] == "ConfigMap"]
    (scaled,) = [m for m in plan.apply if m["kind"] == "ScaledObject"]
    assert len(scaled["spec"]["triggers"]) == 1 and "pollingInterval" not in scaled["spec"]


def test_behind_a_gateway_a_variant_at_zero_says_a_request_alone_does_not_wake_it() -> None:
    isvc = {**AB, "spec": {"variants": [{"name": "current", "model": {"name": "churn", "version": "1"},
                                         "weight": 100}],
                           "scaling": {"minReplicas": 0, "maxReplicas": 2, "metric": "rps", "target": 5}}}
    gateway = ServingSettings(server_image="srv:1", router_image="rtr:1", keda_available=True, routing="gateway")
    plan = plan_inferenceservice(observe(isvc, deployments(("current", 1, 0))), gateway)
    (variant,) = plan.status["variants"]
    assert variant["reason"] == "ScaledToZero" and "a request alone does not wake it" in variant["message"]
    (scaled,) = [m for m in plan.apply if m["kind"] == "ScaledObject"]
    assert len(scaled["spec"]["triggers"]) == 1


def test_concurrency_is_the_rate_of_time_spent_answering_by_littles_law() -> None:
    query = keda_query("shop", "churn-current-v1", "concurrency")
    assert query == ('sum(rate(sextant_request_duration_seconds_sum{namespace="shop",pod=~"churn-current-v1-.*"}'
                     '[1m]))')
    assert "sextant_requests_total" in keda_query("shop", "churn-current-v1", "rps")
    with pytest.raises(ValueError, match="scaling.metric"):
        keda_query("shop", "churn-current-v1", "cpu")


def _pinned_status() -> dict[str, Any]:
    deps = deployments(("current", 1, 1), ("challenger", 2, 1))
    return plan_inferenceservice(observe(AB, deps, staging=2), SETTINGS).status


def test_a_moved_alias_starts_a_new_backend_and_keeps_traffic_on_the_pinned_one_until_ready() -> None:
    isvc = with_status(AB, _pinned_status())
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 0))
    plan = plan_inferenceservice(observe(isvc, deps, staging=3), SETTINGS)
    assert ("Deployment", "churn-challenger-v3") in kinds(plan.apply)
    assert ("Deployment", "churn-challenger-v2") in kinds(plan.apply)
    challenger = plan.status["variants"][1]
    assert challenger["model"]["version"] == "2" and challenger["rollout"]["model"]["version"] == "3"
    assert "waiting" in challenger["rollout"]["message"]
    (config_map,) = [m for m in plan.apply if m["kind"] == "ConfigMap"]
    assert "challenger-v3" not in config_map["data"]["router.yaml"]
    assert plan.delete == [] and plan.requeue_after is not None


def test_all_at_once_promotes_when_the_new_pods_are_ready_and_deletes_the_old_backend() -> None:
    isvc = with_status(AB, _pinned_status())
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 1))
    plan = plan_inferenceservice(observe(isvc, deps, staging=3), SETTINGS)
    challenger = plan.status["variants"][1]
    assert challenger["model"]["version"] == "3" and "rollout" not in challenger
    assert plan.delete == ["churn-challenger-v2"]


def test_a_new_version_gets_no_traffic_until_the_routers_can_have_taken_it_in() -> None:
    isvc = with_status(AB, _pinned_status())
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 1))
    deps = [dataclasses.replace(d, available_replicas=0) if d.version == 3 else d for d in deps]
    challenger = plan_inferenceservice(observe(isvc, deps, staging=3), SETTINGS).status["variants"][1]
    assert challenger["model"]["version"] == "2" and "waiting" in challenger["rollout"]["message"]


def test_a_canary_takes_its_share_then_the_rest_after_the_interval() -> None:
    isvc = with_status(AB, _pinned_status())
    isvc["spec"]["rollout"] = {"strategy": "Canary", "canaryPercent": 20, "interval": "1m"}
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 1))
    first = plan_inferenceservice(observe(isvc, deps, T0, staging=3), SETTINGS)
    assert first.status["variants"][1]["rollout"]["percent"] == 20
    config = router_config(isvc, [], None, SETTINGS)  # the shape; weights below come from the plan
    assert config["listen"].endswith(":8080")
    (config_map,) = [m for m in first.apply if m["kind"] == "ConfigMap"]
    assert '"weight": 12' in config_map["data"]["router.yaml"] and '"weight": 3' in config_map["data"]["router.yaml"]
    during = plan_inferenceservice(observe(with_status(isvc, first.status), deps, T1, staging=3,
                                           errors={"challenger-v3": (25, 0)}), SETTINGS)
    assert during.status["variants"][1]["rollout"]["percent"] == 20
    full = plan_inferenceservice(observe(with_status(isvc, during.status), deps, T2, staging=3,
                                         errors={"challenger-v3": (30, 0)}), SETTINGS)
    assert full.status["variants"][1]["rollout"]["percent"] == 100
    assert full.status["variants"][1]["rollout"]["stepCounts"] == [30, 0]
    done = plan_inferenceservice(observe(with_status(isvc, full.status), deps, T3, staging=3,
                                         errors={"challenger-v3": (120, 0)}), SETTINGS)
    assert done.status["variants"][1]["model"]["version"] == "3" and "rollout" not in done.status["variants"][1]
    assert done.delete == ["churn-challenger-v2"]


def test_a_canary_answering_5xx_is_rolled_back_and_not_retried() -> None:
    isvc = with_status(AB, _pinned_status())
    isvc["spec"]["rollout"] = {"strategy": "Canary", "canaryPercent": 20, "interval": "1m", "maxErrorRate": 0.05,
                               "minRequests": 20}
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 1))
    first = plan_inferenceservice(observe(isvc, deps, T0, staging=3), SETTINGS)
    bad = plan_inferenceservice(observe(with_status(isvc, first.status), deps, T1, staging=3,
                                        errors={"challenger-v3": (40, 10)}), SETTINGS)
    challenger = bad.status["variants"][1]
    assert challenger["model"]["version"] == "2" and challenger["rolledBack"]["version"] == "3"
    assert challenger["reason"] == "RolledBack" and "10 of 40" in challenger["message"]
    assert bad.status["phase"] == "Degraded" and conditions(bad.status)["Degraded"]["reason"] == "RolledBack"
    assert bad.delete == ["churn-challenger-v3"]
    again = plan_inferenceservice(observe(with_status(isvc, bad.status), deployments(("current", 1, 1),
                                          ("challenger", 2, 1)), T2, staging=3), SETTINGS)
    assert ("Deployment", "churn-challenger-v3") not in kinds(again.apply)  # not retried until a new version
    assert again.status["reason"] == "RolledBack" and "10 of 40" in again.status["message"]


def test_a_canary_no_worse_than_the_version_it_replaces_goes_on() -> None:
    isvc = with_status(AB, _pinned_status())
    isvc["spec"]["rollout"] = {"strategy": "Canary", "canaryPercent": 20, "interval": "1m", "maxErrorRate": 0.05,
                               "minRequests": 20}
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 1))
    first = plan_inferenceservice(observe(isvc, deps, T0, staging=3, errors={"challenger-v2": (100, 2)}),
                                  SETTINGS)
    assert first.status["variants"][1]["rollout"]["previousCounts"] == [100, 2]
    # Since the rollout began the old version answered 58 of 300 with 5xx; the new one 4 of 40: no worse.
    later = plan_inferenceservice(observe(with_status(isvc, first.status), deps, T1, staging=3,
                                          errors={"challenger-v3": (40, 4), "challenger-v2": (400, 60)}), SETTINGS)
    challenger = later.status["variants"][1]
    assert "rolledBack" not in challenger and challenger["rollout"]["percent"] == 20
    # Its earlier errors do not count for the old version: 2 of 300 since the rollout began, so the new is worse.
    worse = plan_inferenceservice(observe(with_status(isvc, first.status), deps, T1, staging=3,
                                          errors={"challenger-v3": (40, 4), "challenger-v2": (400, 4)}), SETTINGS)
    assert worse.status["variants"][1]["rolledBack"]["version"] == "3"


def test_each_step_is_judged_on_its_own_requests() -> None:
    isvc = with_status(AB, _pinned_status())
    isvc["spec"]["rollout"] = {"strategy": "Linear", "stepPercent": 25, "interval": "1m", "maxErrorRate": 0.05,
                               "minRequests": 20}
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 1))
    first = plan_inferenceservice(observe(isvc, deps, T0, staging=3, errors={"challenger-v3": (0, 0)}), SETTINGS)
    # 4 of 400 at 25%: a good step, so the next one starts from these counters.
    second = plan_inferenceservice(observe(with_status(isvc, first.status), deps, T2, staging=3,
                                           errors={"challenger-v3": (400, 4)}), SETTINGS)
    rollout = second.status["variants"][1]["rollout"]
    assert rollout["percent"] == 50 and rollout["stepCounts"] == [400, 4]
    # 10 of the next 40 at 50%: 14 of 440 overall (3.2%) would pass, the step's own 25% does not.
    bad = plan_inferenceservice(observe(with_status(isvc, second.status), deps, T3, staging=3,
                                        errors={"challenger-v3": (440, 14)}), SETTINGS)
    challenger = bad.status["variants"][1]
    assert challenger["rolledBack"]["version"] == "3" and "10 of 40" in challenger["message"]
    assert "at 50%" in challenger["message"]


def _canary_at_20_percent() -> tuple[dict[str, Any], list[DeploymentView], ServingPlan]:
    """The challenger's version 3 ready beside its pinned version 2, its canary step begun at T0."""
    isvc = with_status(AB, _pinned_status())
    isvc["spec"]["rollout"] = {"strategy": "Canary", "canaryPercent": 20, "interval": "1m", "minRequests": 20}
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 1))
    return isvc, deps, plan_inferenceservice(observe(isvc, deps, T0, staging=3), SETTINGS)


def test_a_step_without_its_minimum_requests_waits_and_says_so() -> None:
    isvc, deps, first = _canary_at_20_percent()
    idle = plan_inferenceservice(observe(with_status(isvc, first.status), deps, T3, staging=3,
                                         errors={"challenger-v3": (7, 0)}), SETTINGS)
    challenger = idle.status["variants"][1]
    assert challenger["model"]["version"] == "2" and challenger["rollout"]["percent"] == 20
    assert "answered 7 of the 20 requests" in challenger["rollout"]["message"]
    assert idle.requeue_after is not None


def test_few_requests_are_not_judged() -> None:
    isvc, deps, first = _canary_at_20_percent()
    ok = plan_inferenceservice(observe(with_status(isvc, first.status), deps, T1, staging=3,
                                       errors={"challenger-v3": (5, 5)}), SETTINGS)
    assert "rolledBack" not in ok.status["variants"][1]


def test_a_new_version_whose_pods_fail_keeps_the_old_one_and_shows_degraded_with_the_pods_reason() -> None:
    isvc = with_status(AB, _pinned_status())
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), ("challenger", 3, 0))
    pods = [PodView(name="churn-challenger-v3-x", variant="challenger", version=3, ready=False, phase="Running",
                    started=T0, not_ready_reason="model churn:3 is not ready (load attempt 2): artifact digest "
                                                 "mismatch, refusing to load it")]
    plan = plan_inferenceservice(observe(isvc, deps, T1, pods=pods, staging=3), SETTINGS)
    assert plan.status["phase"] == "Degraded" and plan.status["reason"] == "DigestMismatch"
    assert conditions(plan.status)["Ready"]["status"] == "True"  # the old version still serves
    assert plan.status["variants"][1]["model"]["version"] == "2"


@pytest.mark.parametrize(("pod", "reason"), [
    (PodView("p", "a", 1, False, waiting_reason="ImagePullBackOff", waiting_message="no such image"),
     "ImagePullBackOff"),
    (PodView("p", "a", 1, False, waiting_reason="CrashLoopBackOff", last_terminated_reason="OOMKilled"), "OOMKilled"),
    (PodView("p", "a", 1, False, waiting_reason="CrashLoopBackOff", termination_message="boom"), "CrashLoopBackOff"),
    (PodView("p", "a", 1, False, unschedulable="0/3 nodes are available"), "Unschedulable"),
])
def test_pod_reasons_are_reported_in_their_own_words(pod: PodView, reason: str) -> None:
    found = pod_problem([pod], T0)
    assert found is not None and found[0] == reason


def test_a_model_still_loading_is_not_a_problem_yet() -> None:
    pod = PodView("p", "a", 1, False, phase="Running", started=T0, not_ready_reason="the model is still loading")
    assert pod_problem([pod], T1) is None
    assert pod_problem([pod], T3) is not None  # over a minute: reported


def test_unresolvable_model_is_pending_with_the_reason_and_polled_again() -> None:
    observed = Observed(isvc=AB, resolved={"churn:1": model(1), "churn@staging": Unresolved(
        "ModelNotFound", "model churn@staging: no alias")}, deployments=[], pods=[], route=RouteView(), now=T0)
    plan = plan_inferenceservice(observed, SETTINGS)
    assert conditions(plan.status)["ModelResolved"]["reason"] == "ModelNotFound"
    assert plan.requeue_after is not None
    assert [v["name"] for v in plan.status["variants"]] == ["current", "challenger"]


def test_suspend_scales_everything_to_zero() -> None:
    isvc = copy.deepcopy(AB)
    isvc["spec"]["suspend"] = True
    plan = plan_inferenceservice(observe(isvc, deployments(("current", 1, 1), ("challenger", 2, 1)), staging=2),
                                 SETTINGS)
    assert plan.status["phase"] == "Suspended"
    replicas = {m["metadata"]["name"]: m["spec"].get("replicas") for m in plan.apply if m["kind"] == "Deployment"}
    assert set(replicas.values()) == {0}


def test_a_shadow_gets_a_backend_and_a_mirror_share_but_no_weight() -> None:
    isvc = copy.deepcopy(AB)
    isvc["spec"]["shadow"] = {"name": "next", "model": {"name": "churn", "version": "3"}, "percent": 25}
    plan = plan_inferenceservice(observe(isvc, deployments(("current", 1, 1), ("challenger", 2, 1),
                                                           ("next", 3, 1)), staging=2), SETTINGS)
    (config_map,) = [m for m in plan.apply if m["kind"] == "ConfigMap"]
    assert '"percent": 25' in config_map["data"]["router.yaml"]
    shadow = plan.status["variants"][2]
    assert shadow["name"] == "next" and shadow["shadowPercent"] == 25 and "weight" not in shadow


def test_gateway_routing_makes_a_weighted_httproute_with_a_mirror() -> None:
    isvc = copy.deepcopy(AB)
    isvc["spec"]["shadow"] = {"name": "next", "model": {"name": "churn", "version": "3"}, "percent": 25}
    settings = ServingSettings(routing="gateway", store_uri="s3://m", gateway_mirror=True)
    observed = Observed(isvc=isvc, resolved=resolved(isvc["spec"], staging=2),
                        deployments=deployments(("current", 1, 1), ("challenger", 2, 1)), pods=[],
                        route=RouteView(accepted=True, resolved_refs=True), now=T0)
    plan = plan_inferenceservice(observed, settings)
    (route,) = [m for m in plan.apply if m["kind"] == "HTTPRoute"]
    assert not [m for m in plan.apply if m["metadata"]["name"] == "churn-router"]
    rule = route["spec"]["rules"][0]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [("churn-current-v1", 85),
                                                                       ("churn-challenger-v2", 15)]
    assert rule["filters"][0]["requestMirror"] == {"backendRef": {"name": "churn-next-v3", "port": 80}, "percent": 25}
    assert route["spec"]["hostnames"] == ["churn.ml.sextant.local"]
    assert plan.status["url"] == "http://churn.ml.sextant.local" and plan.status["phase"] == "Ready"


def test_a_gateway_without_mirror_support_gets_no_mirror_filter_and_the_shadow_says_so() -> None:
    isvc = copy.deepcopy(AB)
    isvc["spec"]["shadow"] = {"name": "next", "model": {"name": "churn", "version": "3"}, "percent": 25}
    observed = Observed(isvc=isvc, resolved=resolved(isvc["spec"], staging=2),
                        deployments=deployments(("current", 1, 1), ("challenger", 2, 1)), pods=[],
                        route=RouteView(accepted=True, resolved_refs=True), now=T0)
    why = "GatewayClass traefik does not list HTTPRouteRequestMirror in status.supportedFeatures"
    plan = plan_inferenceservice(observed, ServingSettings(routing="gateway", store_uri="s3://m",
                                                           gateway_mirror_note=why))
    (route,) = [m for m in plan.apply if m["kind"] == "HTTPRoute"]
    assert "filters" not in route["spec"]["rules"][0]  # Traefik would answer 500 to every request
    assert plan.status["variants"][2]["reason"] == "MirrorNotSupported"
    assert plan.status["variants"][2]["message"] == f"the shadow runs but receives no copies: {why}"


GATEWAY = ServingSettings(routing="gateway", store_uri="s3://m")
ROUTER_OBJECTS = [("apps/v1", "Deployment", "churn-router"), ("policy/v1", "PodDisruptionBudget", "churn-router"),
                  ("v1", "ConfigMap", "churn-router"), ("v1", "Service", "churn")]


def test_switched_to_the_gateway_the_router_goes_only_once_the_httproute_is_accepted() -> None:
    isvc = with_status(AB, {"routing": "router"})
    deps = deployments(("current", 1, 1), ("challenger", 2, 1))  # the router of the earlier mode still runs

    def plan(route: RouteView) -> Any:
        return plan_inferenceservice(Observed(isvc=isvc, resolved=resolved(isvc["spec"], staging=2),
                                              deployments=deps, pods=[], route=route, now=T0), GATEWAY)
    waiting = plan(RouteView())
    assert waiting.retire == [] and ("HTTPRoute", "churn") in kinds(waiting.apply)
    accepted = plan(RouteView(accepted=True, resolved_refs=True))
    assert accepted.retire == ROUTER_OBJECTS and accepted.status["routing"] == "gateway"
    gone = plan_inferenceservice(Observed(isvc=isvc, resolved=resolved(isvc["spec"], staging=2), deployments=deps[:-1],
                                          pods=[], route=RouteView(accepted=True, resolved_refs=True), now=T0), GATEWAY)
    assert gone.retire == []


def test_switched_to_the_gateway_a_service_selecting_the_servers_goes_once_the_httproute_is_accepted() -> None:
    isvc = with_status(ONE, {"routing": "router"})
    deps = deployments(("current", 1, 1), router=0)[:-1]
    accepted = plan_inferenceservice(Observed(isvc=isvc, resolved=resolved(isvc["spec"]), deployments=deps, pods=[],
                                              route=RouteView(accepted=True, resolved_refs=True, direct=True), now=T0),
                                     GATEWAY)
    assert accepted.retire == [("v1", "Service", "churn")] and ("HTTPRoute", "churn") in kinds(accepted.apply)


def test_switched_back_to_the_router_the_httproute_goes() -> None:
    deps = deployments(("current", 1, 1), ("challenger", 2, 1), router=0)
    switched = plan_inferenceservice(observe(with_status(AB, {"routing": "gateway"}), deps, staging=2), SETTINGS)
    assert switched.retire == [("gateway.networking.k8s.io/v1", "HTTPRoute", "churn")]
    assert ("Deployment", "churn-router") in kinds(switched.apply) and switched.status["routing"] == "router"
    settled = plan_inferenceservice(observe(with_status(AB, {"routing": "router"}), deps, staging=2), SETTINGS)
    assert settled.retire == []


ONE = {**AB, "spec": {"model": {"name": "churn", "alias": "prod"}}}


def observe_route(isvc: dict[str, Any], deps: list[DeploymentView], route: RouteView, **versions: int) -> Observed:
    return Observed(isvc=isvc, resolved=resolved(isvc["spec"], **versions), deployments=deps, pods=[], route=route,
                    now=T0)


def servers_only(*specs: tuple[str, int, int]) -> list[DeploymentView]:
    return [d for d in deployments(*specs) if d.component != "router"]


def test_one_backend_taking_all_the_traffic_is_served_by_its_service_without_a_router() -> None:
    """A router would only add a hop and two pods: 1,000 single-model services would run 2,000 routers."""
    first = plan_inferenceservice(observe_route(ONE, [], RouteView(), prod=1), SETTINGS)
    assert not [k for k in kinds(first.apply) if k[1] == "churn-router"]
    (service,) = [m for m in first.apply if m["kind"] == "Service" and m["metadata"]["name"] == "churn"]
    assert service["spec"]["selector"] == {"ml.sextant.io/inferenceservice": "churn", "ml.sextant.io/variant":
                                           "default", "ml.sextant.io/model-version": "1",
                                           "ml.sextant.io/component": "model-server"}
    assert service["metadata"]["labels"]["ml.sextant.io/component"] == "address"
    assert first.status["phase"] == "Pending" and conditions(first.status)["RoutesReady"]["reason"] == "ServesDirectly"
    ready = plan_inferenceservice(observe_route(ONE, servers_only(("default", 1, 1)), RouteView(direct=True), prod=1),
                                  SETTINGS)
    assert ready.status["phase"] == "Ready" and ready.status["url"] == "http://churn.ml.svc.cluster.local"
    assert ready.unroute == [] and ready.retire == [] and ready.requeue_after == 30.0  # an alias: polled


def test_a_backends_own_service_exists_only_while_a_router_or_an_httproute_sends_to_it() -> None:
    """One backend served directly needs one Service (the InferenceService's), as KServe's Standard mode has; two
    backends behind the router, or any backend behind an HTTPRoute, get their own."""
    direct = plan_inferenceservice(observe_route(ONE, [], RouteView(), prod=1), SETTINGS)
    assert [k for k in kinds(direct.apply) if k[0] == "Service"] == [("Service", "churn")]
    routed = plan_inferenceservice(observe_route(AB, [], RouteView(), staging=2), SETTINGS)
    assert {("Service", "churn-current-v1"), ("Service", "churn-challenger-v2")} <= set(kinds(routed.apply))
    gateway = plan_inferenceservice(observe_route(ONE, [], RouteView(), prod=1), GATEWAY)
    assert ("Service", "churn-default-v1") in kinds(gateway.apply)


def test_a_backends_service_left_from_routing_goes_once_no_router_pod_is_left() -> None:
    """After a rollout the router's pods drain while they still send to the backends' Services: those go only
    after the last router pod (in a later pass)."""
    isvc = with_status(ONE, {"variants": [{"name": "default", "model": model(1), "weight": 100}],
                             "routing": "router"})
    left = Observed(isvc=isvc, resolved=resolved(isvc["spec"], prod=1), deployments=servers_only(("default", 1, 1)),
                    pods=[], route=RouteView(direct=True, router_pods=1), now=T0,
                    backend_services=["churn-default-v1"])
    assert plan_inferenceservice(left, SETTINGS).unroute == []
    drained = dataclasses.replace(left, route=RouteView(direct=True))
    assert plan_inferenceservice(drained, SETTINGS).unroute == [("v1", "Service", "churn-default-v1")]


def test_a_rollout_starts_the_router_while_the_service_keeps_serving_the_pinned_version() -> None:
    isvc = with_status(ONE, {"variants": [{"name": "default", "model": model(1), "weight": 100}],
                             "routing": "router"})
    deps = servers_only(("default", 1, 1), ("default", 2, 0))
    starting = plan_inferenceservice(observe_route(isvc, deps, RouteView(direct=True), prod=2), SETTINGS)
    assert ("Deployment", "churn-router") in kinds(starting.apply) and ("ConfigMap", "churn-router") in \
        kinds(starting.apply)
    assert ("Service", "churn") not in kinds(starting.apply)  # it selects version 1's servers until the router is up
    routes = conditions(starting.status)["RoutesReady"]
    assert (starting.status["phase"], routes["status"], routes["reason"]) == ("Ready", "False", "RouterStarting")
    assert starting.requeue_after == 2.0
    router_up = [*deps, DeploymentView(name="churn-router", component="router", replicas=2, ready_replicas=1)]
    routed = plan_inferenceservice(observe_route(isvc, router_up, RouteView(ready_replicas=1, direct=True), prod=2),
                                   SETTINGS)
    (service,) = [m for m in routed.apply if m["kind"] == "Service" and m["metadata"]["name"] == "churn"]
    assert service["spec"]["selector"]["ml.sextant.io/component"] == "router"
    assert conditions(routed.status)["RoutesReady"]["reason"] == "RouterReady"


def test_a_new_service_with_two_backends_gets_the_routers_service_at_once() -> None:
    plan = plan_inferenceservice(observe_route(AB, [], RouteView(), staging=2), SETTINGS)
    (service,) = [m for m in plan.apply if m["kind"] == "Service" and m["metadata"]["name"] == "churn"]
    assert service["spec"]["selector"]["ml.sextant.io/component"] == "router"


def test_once_one_backend_is_left_the_service_selects_it_and_then_the_router_goes() -> None:
    isvc = with_status(ONE, {"variants": [{"name": "default", "model": model(2), "weight": 100}],
                             "routing": "router"})
    deps = deployments(("default", 2, 1))  # the rollout to version 2 is over; its router still runs
    plan = plan_inferenceservice(observe_route(isvc, deps, RouteView(ready_replicas=2), prod=2), SETTINGS)
    (service,) = [m for m in plan.apply if m["kind"] == "Service" and m["metadata"]["name"] == "churn"]
    assert service["spec"]["selector"]["ml.sextant.io/model-version"] == "2"
    assert plan.unroute == [("apps/v1", "Deployment", "churn-router"),
                            ("policy/v1", "PodDisruptionBudget", "churn-router"), ("v1", "ConfigMap", "churn-router")]
    assert plan.retire == [] and "churn-router" not in plan.delete and plan.status["phase"] == "Ready"


def test_a_shadow_or_a_variant_at_zero_keeps_the_router() -> None:
    shadowed = {**ONE, "spec": {**ONE["spec"], "shadow": {"name": "next", "model": {"name": "churn", "version": "3"},
                                                          "percent": 10}}}
    plan = plan_inferenceservice(observe_route(shadowed, [], RouteView(), prod=1), SETTINGS)
    assert ("Deployment", "churn-router") in kinds(plan.apply)
