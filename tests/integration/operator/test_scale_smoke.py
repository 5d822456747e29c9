"""The scale benchmark's correctness, kept in `make test` (issue 16, P6): 100 InferenceServices created at once,
their pods on kwok's fake nodes, through one operator: each gets every child exactly once and reports Ready, and
a pass over an unchanged InferenceService writes nothing (P4). Not timed: tests/bench/operator measures speed,
side by side with KServe's controller."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client

from sextant_contracts.resources.crd import GROUP, VERSION
from sextant_devcluster.nodes import FAKE_NODE_SELECTOR, FAKE_NODE_TOLERATION
from sextant_operator.reconcile.serving_manifests import LABEL_ISVC
from tests.support.polling import eventually
from tests.support.scale_watch import ScaleRecorder, child_counts, samples, server_side_applies
from tests.support.serving_models import register_iris
from tests.support.sextant_fixtures import start_sextant, stop_sextant
from tests.support.sextant_operator import error_lines

N = 100
PLURAL = "inferenceservices"


def operator_counter(port: int, name: str, kind: str = "InferenceService") -> float:
    """One of the operator's own counters (handlers/operator_metrics.py) from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    (value,) = [value for labels, value in samples(text, f"{name}_total") if labels == {"kind": kind}]
    return value


def _inferenceservice(name: str) -> dict[str, Any]:
    """Small pods on the fake nodes (100 servers fit the session cluster's four), HPA 1-2."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"model": {"name": "iris", "version": "1"},
                     "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                     "scaling": {"minReplicas": 1, "maxReplicas": 2},
                     "scheduling": {"tolerations": [dict(FAKE_NODE_TOLERATION)],
                                    "nodeSelector": dict(FAKE_NODE_SELECTOR)}}}


def test_a_hundred_inferenceservices_at_once_get_every_child_once_and_become_ready(
        cluster: Any, crds: None, namespace: str, tmp_path: Path) -> None:
    register_iris(tmp_path / "store", aliases=())
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False,
                                   env={"SEXTANT_STORE_URI": (tmp_path / "store").as_uri()})
    names = [f"isvc-{i:03d}" for i in range(N)]
    try:
        with cluster.api_client() as api:
            custom = client.CustomObjectsApi(api)
            recorder = ScaleRecorder(api, namespace, LABEL_ISVC, GROUP, VERSION, PLURAL).start()
            try:
                with ThreadPoolExecutor(max_workers=10) as pool:
                    list(pool.map(lambda n: custom.create_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, _inferenceservice(n)), names))
                try:
                    eventually(lambda: recorder.ready_done(names), timeout=300, interval=1,
                               what=f"{N} InferenceServices Ready")
                except AssertionError as exc:
                    raise AssertionError(f"{exc}: {recorder.progress(names)}") from None
                assert recorder.children_done(names) is not None, recorder.progress(names)
                assert recorder.duplicates() == {}, "a child was deleted and created again"
            finally:
                recorder.stop()
        # the variant's Deployment and HPA, and the InferenceService's Service, which selects the variant's
        # servers: one backend takes all the traffic, so no router runs and the backend needs no Service of its own
        assert child_counts(cluster, namespace, LABEL_ISVC) == {"deployments": N, "services": N, "hpa": N}
        # An annotation (what GitOps tools add) changes no spec: every InferenceService gets a pass, and no
        # child is applied again — before the operator remembered what it applied, each pass re-applied all.
        passes = operator_counter(operator.metrics_port, "sextant_reconcile_passes")
        applies = server_side_applies(cluster), operator_counter(operator.metrics_port, "sextant_child_applies")
        cluster.kubectl("annotate", "inferenceservices", "--all", "-n", namespace, "example.com/touched=yes")
        eventually(lambda: operator_counter(operator.metrics_port, "sextant_reconcile_passes") >= passes + N,
                   timeout=120, interval=1, what=f"{N} passes after the annotation")
        assert (server_side_applies(cluster), operator_counter(operator.metrics_port, "sextant_child_applies")) \
            == applies, "the operator applied children nobody had changed"
        errors = error_lines(operator.logs())
        assert not errors, errors[:5]
    finally:
        stop_sextant(cluster, namespace, operator, hook)
