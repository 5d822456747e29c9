"""The operator applies a child only when its manifest changed or someone else changed the child
(handlers/applied_children.py): so an edit by another writer is undone and a deleted child comes back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sextant_contracts.resources.crd import GROUP, VERSION
from sextant_devcluster.nodes import FAKE_NODE_SELECTOR, FAKE_NODE_TOLERATION
from tests.support.polling import eventually
from tests.support.serving_models import register_iris
from tests.support.sextant_fixtures import start_sextant, stop_sextant
from tests.support.sextant_operator import error_lines

NAME = "repaired"
SERVER = f"{NAME}-default-v1"


def _inferenceservice() -> str:
    return json.dumps({
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "metadata": {"name": NAME},
        "spec": {"model": {"name": "iris", "version": "1"},
                 "scaling": {"minReplicas": 2, "maxReplicas": 3},  # an HPA and a PodDisruptionBudget too
                 "scheduling": {"tolerations": [dict(FAKE_NODE_TOLERATION)],
                                "nodeSelector": dict(FAKE_NODE_SELECTOR)}}})


def _get(cluster: Any, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_children_changed_or_deleted_by_others_are_put_back(cluster: Any, crds: None, namespace: str,
                                                            tmp_path: Path) -> None:
    register_iris(tmp_path / "store", aliases=())
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False,
                                   env={"SEXTANT_STORE_URI": (tmp_path / "store").as_uri()})
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_inferenceservice())
        # One backend takes all the traffic: the InferenceService's own Service selects its servers (no router,
        # and no Service of the backend's own).
        children = [("service", NAME), ("hpa", SERVER), ("pdb", SERVER), ("deployment", SERVER)]
        first = {c: eventually(lambda c=c: _get(cluster, namespace, *c), timeout=60, what=f"{c[0]} {c[1]}")
                 for c in children}
        image = first[("deployment", SERVER)]["spec"]["template"]["spec"]["containers"][0]["image"]

        cluster.kubectl("set", "image", f"deployment/{SERVER}", "-n", namespace, "server=example.invalid/other:1")
        eventually(lambda: (_get(cluster, namespace, "deployment", SERVER) or {})["spec"]["template"]["spec"]
                   ["containers"][0]["image"] == image, timeout=30, what="the Deployment's image put back")

        for kind, name in children[:3]:
            cluster.kubectl("delete", kind, name, "-n", namespace, "--wait=true")
            uid = first[(kind, name)]["metadata"]["uid"]
            eventually(lambda k=kind, n=name, u=uid: (_get(cluster, namespace, k, n) or {"metadata": {"uid": u}})
                       ["metadata"]["uid"] != u, timeout=30, what=f"the deleted {kind} created again")
        assert error_lines(operator.logs()) == []
    finally:
        stop_sextant(cluster, namespace, operator, hook)
