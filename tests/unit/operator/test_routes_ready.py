"""RoutesReady from the routers' own status: each router reports the digest of the configuration it routes by, and
the InferenceService says whether all of them have taken in the one the operator wrote (the kubelet updates a
mounted ConfigMap within about a minute), without taking Ready away from an address that still serves."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sextant_contracts.digest import config_digest
from sextant_operator.reconcile.inferenceservice import ROLLOUT_POLL_SECONDS, plan_inferenceservice
from sextant_operator.reconcile.serving_instances import RouteView
from sextant_services.router.spec import RouterSpec
from tests.unit.operator.test_serving_plan import AB, SETTINGS, conditions, deployments, observe


def _written(plan: Any) -> str:
    """The router configuration the plan writes into the ConfigMap, as the routers read it."""
    (config_map,) = [m for m in plan.apply if m["kind"] == "ConfigMap"]
    return str(config_map["data"]["router.yaml"])


def _with_routers(observed: Any, *configs: str | None) -> Any:
    return dataclasses.replace(observed, route=dataclasses.replace(observed.route, router_configs=configs))


def test_a_router_reports_the_digest_the_operator_computes_for_the_configuration_it_wrote() -> None:
    plan = plan_inferenceservice(observe(AB, deployments(("current", 1, 1), ("challenger", 2, 1)), staging=2),
                                 SETTINGS)
    text = _written(plan)
    assert RouterSpec.from_dict(json.loads(text)).config_digest == config_digest(json.loads(text))
    assert plan.apply[[m["kind"] for m in plan.apply].index("ConfigMap")]["metadata"]["annotations"][
        "ml.sextant.io/config-hash"] == config_digest(json.loads(text))


def test_routers_on_the_current_configuration_make_routes_ready() -> None:
    observed = observe(AB, deployments(("current", 1, 1), ("challenger", 2, 1)), staging=2)
    wanted = config_digest(json.loads(_written(plan_inferenceservice(observed, SETTINGS))))
    plan = plan_inferenceservice(_with_routers(observed, wanted, wanted), SETTINGS)
    routes = conditions(plan.status)["RoutesReady"]
    assert routes["status"] == "True" and routes["reason"] == "RouterReady" and wanted in routes["message"]
    assert plan.requeue_after != ROLLOUT_POLL_SECONDS  # (the alias is still polled, at its own pace)


def test_a_router_still_on_the_earlier_weights_keeps_routes_not_ready_but_the_service_ready() -> None:
    observed = observe(AB, deployments(("current", 1, 1), ("challenger", 2, 1)), staging=2)
    wanted = config_digest(json.loads(_written(plan_inferenceservice(observed, SETTINGS))))
    plan = plan_inferenceservice(_with_routers(observed, wanted, "0123456789abcdef"), SETTINGS)
    state = conditions(plan.status)
    assert state["RoutesReady"]["status"] == "False" and state["RoutesReady"]["reason"] == "RoutesUpdating"
    assert "1 of 2 router replica(s)" in state["RoutesReady"]["message"]
    assert state["Ready"]["status"] == "True" and plan.status["phase"] == "Ready"  # the address still serves
    assert plan.requeue_after == ROLLOUT_POLL_SECONDS  # looked at again until the kubelet has caught up


def test_routers_that_do_not_answer_leave_their_readiness_as_the_only_signal() -> None:
    observed = observe(AB, deployments(("current", 1, 1), ("challenger", 2, 1)), staging=2)
    plan = plan_inferenceservice(_with_routers(observed, None, None), SETTINGS)
    routes = conditions(plan.status)["RoutesReady"]
    assert routes["status"] == "True" and "2 router replica(s) ready" in routes["message"]


def test_no_ready_router_is_not_ready_whatever_was_reported() -> None:
    observed = observe(AB, deployments(("current", 1, 1), ("challenger", 2, 1), router=0), staging=2)
    plan = plan_inferenceservice(dataclasses.replace(observed, route=RouteView(ready_replicas=0)), SETTINGS)
    assert conditions(plan.status)["RoutesReady"]["status"] == "False"
    assert conditions(plan.status)["Ready"]["status"] == "False"
