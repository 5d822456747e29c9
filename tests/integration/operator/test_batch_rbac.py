"""BatchPrediction grew the operator's Role by these grants: with them a BatchPrediction gets its Job and status
(and the admission webhook refuses a bad one naming the field); without one of them the operator's log shows the
403 and nothing is created."""

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


def _batch(name: str = "needs-verbs", **spec: Any) -> str:
    body = {"model": {"name": "iris", "alias": "production"}, "input": {"uri": "s3://sextant/data/in.csv"},
            "output": {"uri": "s3://sextant/out/pred.csv"}, "idColumn": "id", **spec}
    return json.dumps({"apiVersion": "ml.sextant.io/v1alpha1", "kind": "BatchPrediction",
                       "metadata": {"name": name}, "spec": body})


def _jobs(cluster: Any, namespace: str) -> list[str]:
    return sorted(cluster.kubectl("get", "jobs", "-n", namespace, "-l", "ml.sextant.io/batchprediction",
                                  "-o", "name").stdout.split())


def _status(cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    body = json.loads(cluster.kubectl("get", "sxbp", name, "-n", namespace, "-o", "json").stdout)
    return dict(body.get("status") or {})


def test_with_the_charts_role_a_batchprediction_gets_its_job_and_status(cluster: Any, crds: None, namespace: str,
                                                                          tmp_path: Path) -> None:
    register_iris(tmp_path / "store")
    operator, hook = start_sextant(cluster, namespace, tmp_path,
                                   env={"SEXTANT_STORE_URI": (tmp_path / "store").as_uri()})
    try:
        refused = cluster.kubectl("apply", "-n", namespace, "-f", "-", check=False,
                                  input=_batch("bad", output={"uri": "s3://sextant/data/in.csv"}))
        assert refused.returncode != 0 and "spec.output.uri" in refused.stderr and "must differ" in refused.stderr
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_batch())
        eventually(lambda: _jobs(cluster, namespace) == ["job.batch/needs-verbs-g1"], timeout=60, what="the Job")
        status = eventually(lambda: (s := _status(cluster, namespace, "needs-verbs")).get("modelVersion") and s,
                            timeout=60, what="the status")
        assert status["lastRun"] == "needs-verbs-g1" and status["modelVersion"] == "iris:1"
        job = json.loads(cluster.kubectl("get", "job", "needs-verbs-g1", "-n", namespace, "-o", "json").stdout)
        assert job["metadata"]["ownerReferences"][0]["kind"] == "BatchPrediction"
        assert forbidden_lines(operator.logs()) == []
    finally:
        stop_sextant(cluster, namespace, operator, hook)


@pytest.mark.parametrize("resource,verb", [("batchpredictions/finalizers", "update"),
                                           ("batchpredictions/status", "patch")])
def test_each_grant_added_for_batch_is_needed(cluster: Any, crds: None, namespace: str, tmp_path: Path,
                                              resource: str, verb: str) -> None:
    register_iris(tmp_path / "store")
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False, rbac_edit=_without_verb(resource, verb),
                                   env={"SEXTANT_STORE_URI": (tmp_path / "store").as_uri()})
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_batch())
        eventually(lambda: forbidden_lines(operator.logs()), timeout=60, what=f"a 403 without {verb} {resource}")
        assert _jobs(cluster, namespace) == []
    finally:
        apply_docs(cluster, chart_rbac(cluster, namespace))
        stop_sextant(cluster, namespace, operator, hook)
