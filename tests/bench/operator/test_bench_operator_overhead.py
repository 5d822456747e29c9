"""Benchmark (needs the real node): the operator's overhead over running `sextant-train run` directly in a pod.

The operator is installed by its chart (with the embedded store and the trainer image built here) watching its
own namespace. Each repeat (SEXTANT_BENCH_OVERHEAD_REPEATS, default 3) times, from the create request:

- direct: a bare Pod with exactly the pod spec the operator would give the run's Job (built by the operator's own
  `train_job` from the chart's settings), to the pod `Succeeded` (the trainer exits 0 only after it registered
  the model and wrote its result document);
- operator: the same TrainingJob applied, to `status.phase == Succeeded` with `status.model.version` set
  (Job created, pod run, result document read back by the operator).

Both train the same spec (breast_cancer, logistic regression) under different model names, alternating. Median
of each, the ratio and the difference go to bench-results/operator-overhead.{json,md}. Skipped without a real
node: run it on a cluster that has one, e.g. a running `make cluster` with
`SEXTANT_TEST_CLUSTER_DIR=.cluster .venv/bin/pytest tests/bench/operator/test_bench_operator_overhead.py -m bench -s`.
"""

from __future__ import annotations

import copy
import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sextant_operator.config import config_from_env
from sextant_operator.reconcile.run_names import spec_run_name, training_fingerprint
from sextant_operator.reconcile.training_job_manifest import RunIdentity, train_job
from sextant_operator.registry import training_settings
from tests.bench.pipelines.common import env_int, write_results
from tests.support.polling import eventually
from tests.support.real_pods import image_refs, objectstore_image_values, operator_image_values, trainer_image_values
from tests.support.sextant_operator import CHART

NAMESPACE = "sx-bench-overhead"
SPEC = {"task": "classification", "dataset": {"uri": "builtin:breast_cancer", "target": "target"},
        "estimator": {"algorithm": "logistic_regression", "params": {"max_iter": 500}},
        "objective": {"metric": "roc_auc"}, "model": {"name": "overhead"},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}}


@pytest.fixture(scope="module")
def chart_ns(cluster: Any, crds: None) -> Iterator[str]:
    """The chart (operator, embedded store, trainer image) watching one `restricted` namespace of its own."""
    image_refs(cluster)  # skips without a real node
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    cluster.kubectl("label", "namespace", NAMESPACE, "--overwrite", "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/enforce-version=latest")
    helm = [str(cluster.bin_dir / "helm"), "--kubeconfig", str(cluster.kubeconfig)]
    install = subprocess.run(
        [*helm, "upgrade", "--install", "sx-bench", str(CHART), "--namespace", NAMESPACE, "--wait", "--timeout",
         "180s", "--set", f"watch.namespaces={{{NAMESPACE}}}", "--set", "webhook.enabled=false",
         *operator_image_values(cluster), *trainer_image_values(cluster),
         "--set", "artifactStore.embedded.enabled=true", *objectstore_image_values(cluster)],
        capture_output=True, text=True, timeout=300)
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        yield NAMESPACE
    finally:
        cluster.kubectl("delete", "trainingjobs,pods", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=60s",
                        check=False)
        subprocess.run([*helm, "uninstall", "sx-bench", "--namespace", NAMESPACE, "--wait", "--timeout", "60s"],
                       capture_output=True, timeout=120)
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _get(cluster: Any, *args: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", *args, "-n", NAMESPACE, "-o", "json").stdout))


def _operator_env(cluster: Any) -> dict[str, str]:
    """The plain environment of the chart's operator Deployment (what decides the training pods)."""
    (deployment,) = _get(cluster, "deployments", "-l", "app.kubernetes.io/component=operator")["items"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}


def _trainingjob(name: str) -> dict[str, Any]:
    spec = {**copy.deepcopy(SPEC), "model": {"name": name}}
    return {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": "direct", "generation": 1}, "spec": spec}


def _direct_pod(name: str, env: dict[str, str]) -> dict[str, Any]:
    """A bare Pod with the pod spec the operator gives a run's Job, for a TrainingJob never applied."""
    tj = _trainingjob(name)
    run = spec_run_name(name, 1)
    job = train_job(RunIdentity(tj, run, "spec", 1, training_fingerprint(tj["spec"])),
                    training_settings(config_from_env(env)), suspend=False)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "direct"}},
            "spec": job["spec"]["template"]["spec"]}


def _time_direct(cluster: Any, name: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    cluster.kubectl("create", "-n", NAMESPACE, "-f", "-", input=json.dumps(_direct_pod(name, env)))

    def done() -> bool:
        phase = _get(cluster, "pod", name)["status"].get("phase")
        assert phase != "Failed", f"pod {name} failed"
        return phase == "Succeeded"

    eventually(done, timeout=600, interval=0.25, what=f"pod {name} to succeed")
    return time.monotonic() - started


def _time_operator(cluster: Any, name: str) -> float:
    doc = _trainingjob(name)
    doc["metadata"] = {"name": name}
    started = time.monotonic()
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))

    def done() -> bool:
        status = _get(cluster, "trainingjob", name).get("status") or {}
        assert status.get("phase") != "Failed", status
        return status.get("phase") == "Succeeded" and bool((status.get("model") or {}).get("version"))

    eventually(done, timeout=600, interval=0.25, what=f"TrainingJob {name} to succeed")
    return time.monotonic() - started


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_bench_operator_overhead_against_sextant_train_in_a_pod(cluster: Any, chart_ns: str) -> None:
    env = _operator_env(cluster)
    direct, operator = [], []
    for i in range(env_int("SEXTANT_BENCH_OVERHEAD_REPEATS", 3)):
        direct.append(_time_direct(cluster, f"direct-{i}", env))
        operator.append(_time_operator(cluster, f"operator-{i}"))
    d, o = statistics.median(direct), statistics.median(operator)
    doc = {"direct": direct, "operator": operator, "direct_median": d, "operator_median": o, "ratio": o / d,
           "overhead_seconds": o - d}
    write_results("operator-overhead", doc, [
        "| how | runs | median s (apply to model registered) |", "|---|---:|---:|",
        f"| `sextant-train run` in a bare pod (same pod spec) | {len(direct)} | {d:.2f} |",
        f"| TrainingJob through the operator | {len(operator)} | {o:.2f} |",
        f"| ratio operator / direct | | {o / d:.2f} |", f"| overhead | | {o - d:.2f} s |"])
