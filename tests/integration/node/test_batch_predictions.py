"""BatchPredictions scored by the operator installed by its chart: the scorer runs in the model-server image on
the real node, reads a CSV from the chart's in-cluster store, and publishes its predictions there, all at once;
a file with a bad row publishes nothing and the status names the row. A user sees it all with kubectl."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.support.embedded_store import BUCKET, store_client
from tests.support.external_cluster import assert_on_a_real_node
from tests.support.polling import eventually
from tests.support.real_pods import (
    helm,
    image_refs,
    install_chart,
    restricted_namespace,
)
from tests.support.serving_models import iris_frame, register_iris

pytestmark = pytest.mark.integration

NAMESPACE = "sx-batch"
ROWS = 1000
BAD_ROW = 700  # 1-based data row (the header not counted)


def _customers(rows: int) -> pd.DataFrame:
    x, _ = iris_frame()
    frame = x.sample(rows, replace=True, random_state=7).reset_index(drop=True)
    frame.insert(0, "customer_id", [f"c{i:05d}" for i in range(rows)])
    return frame


def _upload_csv(client: Any, key: str, frame: pd.DataFrame) -> None:
    client.put_object(Bucket=BUCKET, Key=key, Body=frame.to_csv(index=False).encode())


@pytest.fixture(scope="module")
def store(cluster: Any, crds: None) -> Iterator[Any]:
    """The chart watching one `restricted` namespace with its embedded store, iris v1 registered in it (aliased
    production) and two inputs: a clean CSV and one whose row 700 holds text in a numeric column."""
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, NAMESPACE)
    install = install_chart(cluster, NAMESPACE)
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        client = store_client(cluster, NAMESPACE)
        eventually(lambda: client.list_objects_v2(Bucket=BUCKET) is not None, timeout=60, what="the store")
        with tempfile.TemporaryDirectory() as tmp:  # registered by the registry contract, then copied in
            register_iris(Path(tmp), aliases=("production",))
            for path in Path(tmp).rglob("*"):
                if path.is_file():
                    client.upload_file(str(path), BUCKET, path.relative_to(tmp).as_posix())
        good = _customers(ROWS)
        bad = good.astype({"petal_width": object})
        bad.loc[BAD_ROW - 1, "petal_width"] = "broken"
        _upload_csv(client, "data/customers.csv", good)
        _upload_csv(client, "data/customers-bad.csv", bad)
        yield client
    finally:
        cluster.kubectl("delete", "batchpredictions", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=90s",
                        check=False)
        helm(cluster, "uninstall", "sx", "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _apply(cluster: Any, name: str, input_key: str, output_key: str, **extra: Any) -> None:
    doc = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "BatchPrediction", "metadata": {"name": name},
           "spec": {"model": {"name": "iris", "alias": "production"},
                    "input": {"uri": f"s3://{BUCKET}/{input_key}"}, "output": {"uri": f"s3://{BUCKET}/{output_key}"},
                    "idColumn": "customer_id", "chunkSize": 200,
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
                    **extra}}
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))


def _finished(cluster: Any, name: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = json.loads(cluster.kubectl("get", "sxbp", name, "-n", NAMESPACE, "-o", "json").stdout)
        return body if (body.get("status") or {}).get("phase") in ("Succeeded", "Failed") else None
    return dict(eventually(done, timeout=300, interval=2, what=f"BatchPrediction {name} to finish"))


def _keys(client: Any, prefix: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_a_batchprediction_scores_a_csv_from_the_store_and_publishes_every_row(cluster: Any, store: Any) -> None:
    _apply(cluster, "scores", "data/customers.csv", "predictions/customers.csv")
    status = _finished(cluster, "scores")["status"]
    assert status["phase"] == "Succeeded", status
    assert status["progress"] == {"rowsDone": ROWS, "rowsTotal": ROWS, "summary": f"{ROWS}/{ROWS}"}
    assert status["modelVersion"] == "iris:1" and status["model"]["digest"].startswith("sha256:")
    assert status["output"]["uri"] == f"s3://{BUCKET}/predictions/customers.csv" and status["output"]["rows"] == ROWS
    assert {c["type"]: c["status"] for c in status["conditions"]}["Succeeded"] == "True"
    published = pd.read_csv(io.BytesIO(store.get_object(Bucket=BUCKET, Key="predictions/customers.csv")["Body"].read()))
    assert len(published) == ROWS and list(published.columns) == ["customer_id", "prediction"]
    assert published["customer_id"].tolist() == [f"c{i:05d}" for i in range(ROWS)]
    assert set(published["prediction"]) <= {0, 1, 2}
    pods = json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", "ml.sextant.io/batchprediction=scores",
                                      "-o", "json").stdout)["items"]
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Succeeded"
    assert_on_a_real_node(cluster, pods[0])
    table = cluster.kubectl("get", "sxbp", "scores", "-n", NAMESPACE).stdout
    assert table.split("\n")[0].split() == ["NAME", "PHASE", "MODEL", "ROWS", "LAST", "RUN", "AGE"]
    assert table.split("\n")[1].split()[:4] == ["scores", "Succeeded", "iris:1", f"{ROWS}/{ROWS}"]


def test_a_bad_row_publishes_nothing_and_the_status_names_the_row(cluster: Any, store: Any) -> None:
    _apply(cluster, "scores-bad", "data/customers-bad.csv", "predictions/customers-bad.csv")
    status = _finished(cluster, "scores-bad")["status"]
    assert status["phase"] == "Failed" and status["reason"] == "BadRow", status
    assert status["badRow"]["row"] == BAD_ROW and status["badRow"]["column"] == "petal_width"
    assert f"data row {BAD_ROW} holds 'broken'" in status["message"]
    assert _keys(store, "predictions/customers-bad") == []  # nothing published, not even in part
    events = cluster.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                             "involvedObject.name=scores-bad,reason=BadRow", "-o", "json").stdout
    assert any(e["type"] == "Warning" for e in json.loads(events)["items"])


def test_a_scheduled_batchprediction_scores_again_at_each_cron_tick(cluster: Any, store: Any) -> None:
    """Every minute: the run of the applied spec, then one run per tick, each publishing the whole output; the
    status lists them newest first with their cause and says when the next tick is."""
    _apply(cluster, "nightly", "data/customers.csv", "predictions/nightly.csv",
           schedule={"cron": "* * * * *", "successfulRunsHistoryLimit": 1})
    try:
        def ticked() -> dict[str, Any] | None:
            body = json.loads(cluster.kubectl("get", "sxbp", "nightly", "-n", NAMESPACE, "-o", "json").stdout)
            runs = (body.get("status") or {}).get("runs") or []
            done = [r for r in runs if r.get("cause") == "schedule" and r.get("phase") == "Succeeded"]
            return body["status"] if done else None

        status = eventually(ticked, timeout=240, interval=3, what="a run started by a cron tick to succeed")
        causes = [(r["cause"], r["phase"]) for r in status["runs"]]
        assert ("spec", "Succeeded") in causes and causes[0] == ("schedule", "Succeeded"), causes
        assert status["runs"][0]["rowsDone"] == ROWS and status["nextScheduleTime"] > status["runs"][0]["startTime"]
        published = store.get_object(Bucket=BUCKET, Key="predictions/nightly.csv")["Body"].read()
        assert len(pd.read_csv(io.BytesIO(published))) == ROWS
        # successfulRunsHistoryLimit 1: the older succeeded run's Job goes (a running run's Job may be there too).
        eventually(lambda: len(cluster.kubectl("get", "jobs", "-n", NAMESPACE, "-l",
                                               "ml.sextant.io/batchprediction=nightly", "-o", "name").stdout.split())
                   <= 2, timeout=60, what="the older succeeded run's Job to be deleted")
    finally:
        cluster.kubectl("delete", "sxbp", "nightly", "-n", NAMESPACE, "--wait=false", check=False)
