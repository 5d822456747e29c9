"""A TrainingJob with spec.compute.dask on the real node: the operator (installed by its chart with dask.enabled)
makes a DaskJob, the Dask Kubernetes operator (installed from its wheel's chart, image built here) runs the
scheduler, two workers and the runner from the trainer image, and the model is registered in the embedded store."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.churn_data import churn_part
from tests.support.dask_operator import sextant_with_dask
from tests.support.embedded_store import store_client
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
NAMESPACE = "sx-dask"
DASK_TJ = {
    "apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "churn"},
    "spec": {"task": "classification", "dataset": {"uri": "s3://sextant/data/churn/part-*.parquet",
                                                   "target": "churned"},
             "estimator": {"algorithm": "xgboost", "params": {"n_estimators": 30, "max_depth": 4}},
             "acceptance": [{"metric": "roc_auc", "min": 0.8}], "model": {"name": "churn"},
             "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
             "compute": {"dask": {"workers": 2, "resources": {"requests": {"cpu": "100m", "memory": "700Mi"},
                                                              "limits": {"memory": "700Mi"}}}}},
}


@pytest.fixture(scope="module")
def dask_ns(cluster: Any, crds: None) -> Iterator[str]:
    with sextant_with_dask(cluster, NAMESPACE) as namespace:
        yield namespace


def _get(cluster: Any, kind: str, name: str) -> dict[str, Any] | None:
    out = cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def test_a_dask_trainingjob_trains_on_two_worker_pods_and_registers_a_model(cluster: Any, dask_ns: str) -> None:
    s3 = store_client(cluster, dask_ns)
    for part in range(6):
        body = io.BytesIO()
        churn_part(part, rows=20_000, noise_columns=4).to_parquet(body)
        s3.put_object(Bucket="sextant", Key=f"data/churn/part-{part}.parquet", Body=body.getvalue())
    cluster.kubectl("apply", "-n", dask_ns, "-f", "-", input=json.dumps(DASK_TJ))

    def pods_by_role() -> dict[str, int] | None:
        out = cluster.kubectl("get", "pods", "-n", dask_ns, "-l", "ml.sextant.io/run=churn-g1", "-o", "json")
        roles: dict[str, int] = {}
        for pod in json.loads(out.stdout)["items"]:
            role = pod["metadata"]["labels"].get("dask.org/component", "?")
            roles[role] = roles.get(role, 0) + 1
        return roles if roles.get("worker") == 2 and roles.get("scheduler") == 1 else None

    roles = eventually(pods_by_role, timeout=300, interval=2, what="the scheduler and two worker pods")
    print(f"\npods of run churn-g1 by Dask component: {roles}")
    done = eventually(lambda: (tj := _get(cluster, "trainingjob", "churn")) and
                      tj.get("status", {}).get("phase") in ("Succeeded", "Failed") and tj,
                      timeout=900, interval=3, what="the TrainingJob to finish")
    status = done["status"]
    print(json.dumps({k: status.get(k) for k in ("phase", "reason", "message", "run", "model", "metrics")}))
    assert status["phase"] == "Succeeded", status
    assert status["run"]["backend"] == "dask" and status["model"]["version"] == "1"
    assert status["metrics"]["roc_auc"] >= 0.8
    assert status["compute"]["workers"] == 2 and 50 < int(status["compute"]["workerPeakMemory"][:-2]) < 700
    daskjob = _get(cluster, "daskjob", "churn-g1")
    assert daskjob is not None and daskjob["metadata"]["ownerReferences"][0]["kind"] == "TrainingJob"

    cluster.kubectl("delete", "trainingjob", "churn", "-n", dask_ns, "--wait=true", "--timeout=120s")
    eventually(lambda: _get(cluster, "daskjob", "churn-g1") is None, timeout=120, what="the DaskJob to go")
