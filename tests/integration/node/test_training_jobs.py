"""TrainingJobs trained by the operator installed by its chart: real Job pods run the trainer image on the real
node, write the model to the embedded store, and the TrainingJob's status says what happened."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.embedded_store import store_client
from tests.support.external_cluster import assert_on_a_real_node
from tests.support.polling import eventually
from tests.support.real_pods import chart_in_namespace

pytestmark = pytest.mark.integration

QUICK = {
    "apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "cancer"},
    "spec": {"task": "classification", "dataset": {"uri": "builtin:breast_cancer", "target": "target"},
             "estimator": {"algorithm": "logistic_regression", "params": {"max_iter": 500}},
             "objective": {"metric": "roc_auc"}, "acceptance": [{"metric": "roc_auc", "min": 0.95}],
             "model": {"name": "cancer", "promote": "staging"},
             "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}},
}


@pytest.fixture(scope="module")
def trained_ns(cluster: Any, crds: None) -> Iterator[str]:
    """The chart (operator, embedded store, trainer image) watching one `restricted` namespace."""
    with chart_in_namespace(cluster, "sx-training") as namespace:
        yield namespace


def _apply(cluster: Any, namespace: str, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc))


def _tj(cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", "trainingjob", name, "-n", namespace, "-o", "json").stdout))


def _phase_in(cluster: Any, namespace: str, name: str, phases: set[str]) -> dict[str, Any] | None:
    tj = _tj(cluster, namespace, name)
    return tj if tj.get("status", {}).get("phase") in phases else None


def _pods(cluster: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "pods", "-n", namespace, "-l", f"ml.sextant.io/trainingjob={name}", "-o", "json")
    return list(json.loads(out.stdout)["items"])


def _variant(name: str, **spec: Any) -> dict[str, Any]:
    doc = copy.deepcopy(QUICK)
    doc["metadata"]["name"] = name
    doc["spec"]["model"] = {"name": name}
    doc["spec"].update(spec)
    return doc


def test_a_trainingjob_trains_in_a_real_job_pod_and_registers_version_1(cluster: Any, trained_ns: str) -> None:
    _apply(cluster, trained_ns, QUICK)
    done = eventually(lambda: _phase_in(cluster, trained_ns, "cancer", {"Succeeded", "Failed"}), timeout=600,
                      interval=2, what="the TrainingJob to finish")
    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert status["model"]["name"] == "cancer" and status["model"]["version"] == "1"
    assert status["model"]["digest"].startswith("sha256:") and status["accepted"] is True
    assert status["best"]["metric"] == "roc_auc" and status["best"]["value"] >= 0.95
    (run,) = status["runs"]
    assert run["name"] == "cancer-g1" and run["phase"] == "Succeeded" and run["modelVersion"] == "1"
    assert status["cost"]["cpuSeconds"] > 0
    (pod,) = _pods(cluster, trained_ns, "cancer")
    assert_on_a_real_node(cluster, pod)
    assert pod["spec"]["containers"][0]["image"].startswith("sextant.local/trainer:")
    assert pod["spec"]["automountServiceAccountToken"] is False
    printed = cluster.kubectl("get", "sxtj", "cancer", "-n", trained_ns).stdout
    assert "Succeeded" in printed and "roc_auc" in printed
    jobs = json.loads(cluster.kubectl("get", "jobs", "-n", trained_ns, "-l", "ml.sextant.io/trainingjob=cancer",
                                      "-o", "json").stdout)["items"]
    assert [j["metadata"]["name"] for j in jobs] == ["cancer-g1"]  # one Job for one generation


def test_a_missing_target_column_fails_naming_it(cluster: Any, trained_ns: str) -> None:
    doc = _variant("no-target", dataset={"uri": "builtin:breast_cancer", "target": "diagnosis"})
    _apply(cluster, trained_ns, doc)
    done = eventually(lambda: _phase_in(cluster, trained_ns, "no-target", {"Succeeded", "Failed"}), timeout=300,
                      interval=2, what="the TrainingJob to fail")
    status = done["status"]
    assert status["phase"] == "Failed" and "diagnosis" in status["message"], status
    jobs = json.loads(cluster.kubectl("get", "jobs", "-n", trained_ns, "-l", "ml.sextant.io/trainingjob=no-target",
                                      "-o", "json").stdout)["items"]
    assert jobs[0]["status"].get("failed") == 1  # a data error is not retried (podFailurePolicy on exit 2)


def test_a_memory_limit_too_small_shows_oomkilled(cluster: Any, trained_ns: str) -> None:
    doc = _variant("tiny", resources={"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"memory": "32Mi"}},
                   backoffLimit=0)
    _apply(cluster, trained_ns, doc)
    done = eventually(lambda: _phase_in(cluster, trained_ns, "tiny", {"Succeeded", "Failed"}), timeout=300,
                      interval=2, what="the TrainingJob to fail")
    assert done["status"]["reason"] == "OOMKilled", done["status"]
    assert "limits.memory" in done["status"]["message"]


def test_deleting_a_trainingjob_mid_run_leaves_no_pod(cluster: Any, trained_ns: str) -> None:
    slow = {"algorithm": "random_forest", "params": {"n_estimators": 5000}}  # long enough to be mid-run
    _apply(cluster, trained_ns, _variant("doomed", estimator=slow, activeDeadlineSeconds=600))
    eventually(lambda: any(p["status"].get("phase") == "Running" for p in _pods(cluster, trained_ns, "doomed")),
               timeout=120, interval=1, what="the training pod to run")
    cluster.kubectl("delete", "trainingjob", "doomed", "-n", trained_ns, "--wait=true", "--timeout=60s")
    eventually(lambda: not _pods(cluster, trained_ns, "doomed"), timeout=90, interval=1,
               what="the garbage collector to remove the run's pods")


def _alias(cluster: Any, namespace: str, model: str, alias: str) -> int:
    key = f"models/{model}/aliases/{alias}.json"
    body = store_client(cluster, namespace).get_object(Bucket="sextant", Key=key)["Body"]
    return int(json.loads(body.read())["version"])


def _finished(cluster: Any, namespace: str, name: str, timeout: float = 300) -> dict[str, Any]:
    tj = eventually(lambda: _phase_in(cluster, namespace, name, {"Succeeded", "Failed"}), timeout=timeout,
                    interval=2, what=f"TrainingJob {name} to finish")
    return dict(tj["status"])


def test_an_acceptance_failure_registers_but_moves_no_alias(cluster: Any, trained_ns: str) -> None:
    model = {"name": "gate", "promote": "staging"}
    _apply(cluster, trained_ns, _variant("gate-1", model=model, acceptance=[{"metric": "roc_auc", "min": 0.5}]))
    assert _finished(cluster, trained_ns, "gate-1")["phase"] == "Succeeded"
    assert _alias(cluster, trained_ns, "gate", "staging") == 1
    _apply(cluster, trained_ns, _variant("gate-2", model=model, acceptance=[{"metric": "roc_auc", "min": 0.99999}]))
    status = _finished(cluster, trained_ns, "gate-2")
    assert status["phase"] == "Failed" and status["reason"] == "AcceptanceFailed", status
    assert "roc_auc" in status["message"] and status["model"]["version"] == "2"
    assert _alias(cluster, trained_ns, "gate", "staging") == 1  # the failed version was not promoted


def test_tuning_sharded_over_an_indexed_job_gives_the_same_model_as_one_pod(cluster: Any, trained_ns: str) -> None:
    tuning = {"algorithm": "logistic_regression", "strategy": "random", "maxTrials": 6, "cvFolds": 3,
              "searchSpace": {"C": {"type": "float", "min": 0.01, "max": 10.0, "log": True}},
              "params": {"max_iter": 500}}
    for name, parallel in (("one-pod", 1), ("sharded", 3)):
        doc = _variant(name, tuning={**tuning, "parallelTrials": parallel})
        del doc["spec"]["estimator"]
        _apply(cluster, trained_ns, doc)
    one, sharded = _finished(cluster, trained_ns, "one-pod"), _finished(cluster, trained_ns, "sharded")
    assert one["phase"] == sharded["phase"] == "Succeeded", (one, sharded)
    assert sharded["best"]["params"] == one["best"]["params"]
    assert sharded["metrics"] == one["metrics"] and sharded["trials"]["total"] == one["trials"]["total"] == 6
    jobs = json.loads(cluster.kubectl("get", "jobs", "-n", trained_ns, "-l", "ml.sextant.io/trainingjob=sharded",
                                      "-o", "json").stdout)["items"]
    shards = next(j for j in jobs if j["metadata"]["name"] == "sharded-g1-trials")
    assert shards["spec"]["completionMode"] == "Indexed" and shards["status"]["succeeded"] == 3


def test_suspend_stops_the_run_and_resume_finishes_it(cluster: Any, trained_ns: str) -> None:
    slow = {"algorithm": "random_forest", "params": {"n_estimators": 3000}}
    _apply(cluster, trained_ns, _variant("paused", estimator=slow))
    eventually(lambda: any(p["status"].get("phase") == "Running" for p in _pods(cluster, trained_ns, "paused")),
               timeout=120, interval=1, what="the training pod to run")
    cluster.kubectl("patch", "sxtj", "paused", "-n", trained_ns, "--type", "merge", "-p", '{"spec":{"suspend":true}}')
    eventually(lambda: _phase_in(cluster, trained_ns, "paused", {"Suspended"}), timeout=60, interval=1,
               what="phase Suspended")
    eventually(lambda: not _pods(cluster, trained_ns, "paused"), timeout=90, interval=1, what="the pods to stop")
    cluster.kubectl("patch", "sxtj", "paused", "-n", trained_ns, "--type", "merge", "-p", '{"spec":{"suspend":false}}')
    status = _finished(cluster, trained_ns, "paused", timeout=600)
    assert status["phase"] == "Succeeded" and [r["name"] for r in status["runs"]] == ["paused-g1"]  # the same run


def test_a_cron_schedule_produces_runs_and_keeps_its_history_limit(cluster: Any, trained_ns: str) -> None:
    schedule = {"cron": "* * * * *", "successfulRunsHistoryLimit": 1}
    _apply(cluster, trained_ns, _variant("nightly", schedule=schedule))

    def two_scheduled_runs() -> dict[str, Any] | None:
        status = _tj(cluster, trained_ns, "nightly").get("status", {})
        done = [r for r in status.get("runs", []) if r.get("cause") == "schedule" and r.get("phase") == "Succeeded"]
        return status if len(done) >= 2 else None

    status = eventually(two_scheduled_runs, timeout=240, interval=3, what="two scheduled runs to succeed")
    assert status["nextScheduleTime"] and int(status["model"]["version"]) >= 3

    def kept_succeeded_jobs() -> list[str]:
        jobs = json.loads(cluster.kubectl("get", "jobs", "-n", trained_ns, "-l", "ml.sextant.io/trainingjob=nightly",
                                          "-o", "json").stdout)["items"]
        return [j["metadata"]["name"] for j in jobs
                if j["status"].get("succeeded") and not j["metadata"].get("deletionTimestamp")]

    # Three runs succeeded (the first generation's and two ticks); the limit keeps the newest one's Job.
    eventually(lambda: len(kept_succeeded_jobs()) == 1, timeout=60, interval=2, what="older Jobs to be pruned")
    cluster.kubectl("patch", "sxtj", "nightly", "-n", trained_ns, "--type", "merge", "-p", '{"spec":{"suspend":true}}')


def test_a_gpu_nobody_has_is_unschedulable_and_a_missing_image_fails(cluster: Any, trained_ns: str) -> None:
    _apply(cluster, trained_ns, _variant("wants-gpu", resources={"limits": {"nvidia.com/gpu": 1}}))
    _apply(cluster, trained_ns, _variant("no-image", image="sextant.local/trainer:does-not-exist"))

    def reason(name: str, wanted: str) -> dict[str, Any] | None:
        status = _tj(cluster, trained_ns, name).get("status", {})
        return status if status.get("reason") == wanted else None

    stuck = eventually(lambda: reason("wants-gpu", "Unschedulable"), timeout=120, interval=1,
                       what="the GPU run to be reported unschedulable")
    assert stuck["phase"] == "Pending" and "nvidia.com/gpu" in stuck["message"]
    failed = eventually(lambda: reason("no-image", "ImagePullFailed"), timeout=120, interval=1,
                        what="the run with a missing image to fail")
    assert failed["phase"] == "Failed" and "does-not-exist" in failed["message"]
    eventually(lambda: not _pods(cluster, trained_ns, "no-image"), timeout=60, interval=1,
               what="the failed run's pods to be released")
