"""Serving grew the operator's Role by exactly these verbs: without any one of them an InferenceService's
children are not created, changed or removed, and the operator's log shows the 403."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.operator.test_restart_and_rbac import _without_verb
from tests.support.polling import eventually
from tests.support.serving_models import register_iris
from tests.support.sextant_fixtures import start_sextant, stop_sextant
from tests.support.sextant_operator import apply_docs, chart_rbac, forbidden_lines

VERBS = [(resource, v) for resource in ("deployments", "services", "horizontalpodautoscalers", "poddisruptionbudgets")
         for v in ("create", "patch", "list", "watch", "delete")] + \
    [("configmaps", v) for v in ("create", "patch", "list", "watch", "delete")] + \
    [("inferenceservices/finalizers", "update")]


def _isvc(variants: list[str]) -> str:
    spec = {"variants": [{"name": v, "model": {"name": "iris", "version": "1"}, "weight": 100 // len(variants)}
                         for v in variants],
            "scaling": {"minReplicas": 2, "maxReplicas": 3}}  # an HPA and a PodDisruptionBudget too
    return json.dumps({"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService",
                       "metadata": {"name": "needs-verbs"}, "spec": spec})


def _children(cluster: Any, namespace: str) -> list[str]:
    out = cluster.kubectl("get", "deployments,services,configmaps,hpa,pdb", "-n", namespace, "-l",
                          "ml.sextant.io/inferenceservice=needs-verbs", "-o", "name").stdout
    return sorted(out.split())


@pytest.mark.parametrize("resource,verb", VERBS)
def test_each_verb_added_for_serving_is_needed(cluster: Any, crds: None, namespace: str, tmp_path: Path,
                                               resource: str, verb: str) -> None:
    register_iris(tmp_path / "store", aliases=())
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False, rbac_edit=_without_verb(resource, verb),
                                   env={"SEXTANT_STORE_URI": (tmp_path / "store").as_uri()})
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_isvc(["a", "b"]))
        if verb in ("patch", "delete"):  # the first apply creates; a change patches, a removed variant deletes
            eventually(lambda: len(_children(cluster, namespace)) >= 9 or forbidden_lines(operator.logs()),
                       timeout=60, what="the children of two variants")
            cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_isvc(["a"]))
        eventually(lambda: forbidden_lines(operator.logs()), timeout=60, what=f"a 403 without {verb} {resource}")
    finally:
        apply_docs(cluster, chart_rbac(cluster, namespace))
        stop_sextant(cluster, namespace, operator, hook)


def test_with_every_verb_the_children_exist_and_a_removed_variant_is_deleted(cluster: Any, crds: None, namespace: str,
                                                                             tmp_path: Path) -> None:
    register_iris(tmp_path / "store", aliases=())
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False,
                                   env={"SEXTANT_STORE_URI": (tmp_path / "store").as_uri()})
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_isvc(["a", "b"]))
        expected = sorted([f"{kind}/needs-verbs-{v}-v1" for v in ("a", "b") for kind in (
            "deployment.apps", "service", "horizontalpodautoscaler.autoscaling", "poddisruptionbudget.policy")] +
            ["configmap/needs-verbs-router", "deployment.apps/needs-verbs-router", "service/needs-verbs",
             "poddisruptionbudget.policy/needs-verbs-router"])
        eventually(lambda: _children(cluster, namespace) == expected, timeout=60, what="every child")
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_isvc(["a"]))
        # Variant a alone takes all the traffic: b's objects go, the Service selects a's servers, the router's
        # objects go too and then a's own Service (nothing routes to it).
        alone = sorted([f"{kind}/needs-verbs-a-v1" for kind in (
            "deployment.apps", "horizontalpodautoscaler.autoscaling", "poddisruptionbudget.policy")] +
            ["service/needs-verbs"])
        eventually(lambda: _children(cluster, namespace) == alone, timeout=60,
                   what="variant b's and the router's objects to be deleted")
        selector = json.loads(cluster.kubectl("get", "service", "needs-verbs", "-n", namespace, "-o",
                                              "jsonpath={.spec.selector}").stdout)
        assert selector["ml.sextant.io/variant"] == "a", selector
        assert forbidden_lines(operator.logs()) == []
    finally:
        stop_sextant(cluster, namespace, operator, hook)
