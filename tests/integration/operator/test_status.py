"""The operator reports status the Kubernetes way: phase, observedGeneration, conditions, Events; and it
writes nothing when nothing changed."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from tests.support.polling import eventually
from tests.support.resources import load_sample, sample_files
from tests.support.sextant_operator import error_lines, forbidden_lines

PLURALS = {"TrainingJob": "trainingjob", "InferenceService": "inferenceservice", "BatchPrediction": "batchprediction"}


def get(cluster: Any, namespace: str, kind: str, name: str) -> dict[str, Any]:
    out = cluster.kubectl("get", "-n", namespace, PLURALS[kind], name, "-o", "json").stdout
    return dict(json.loads(out))


def reconciled(cluster: Any, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    """The object once its status describes its current generation, else None."""
    body = get(cluster, namespace, kind, name)
    status = body.get("status") or {}
    return body if status.get("observedGeneration") == body["metadata"]["generation"] else None


def apply_sample(cluster: Any, namespace: str, base: str) -> dict[str, Any]:
    body = load_sample(base)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(body))
    return body


def test_every_sample_is_reconciled_as_the_service_account_without_403(cluster: Any, namespace: str,
                                                                       sextant: Any) -> None:
    cluster.kubectl("apply", "-n", namespace, "-k", str(sample_files()[0].parent))
    for path in sample_files():
        body = yaml.safe_load(path.read_text())
        kind, name = body["kind"], body["metadata"]["name"]
        obj = eventually(lambda kind=kind, name=name: reconciled(cluster, namespace, kind, name),
                         timeout=30, what=f"status of {path.name}")
        status = obj["status"]
        conditions = {c["type"]: c for c in status["conditions"]}
        for cond in conditions.values():
            assert set(cond) == {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}
            assert cond["observedGeneration"] == obj["metadata"]["generation"]
        if body["kind"] == "TrainingJob" and (body["spec"].get("runtime") or {}).get("backend") == "kubeflow":
            assert status["phase"] == "Pending" and status["reason"] == "BackendNotConfigured"
            assert conditions["Succeeded"]["status"] == "Unknown"
        elif body["kind"] == "TrainingJob" and "dask" in (body["spec"].get("compute") or {}):
            # This operator runs without its Dask support (dask.enabled): held, saying which value turns it on.
            assert status["phase"] == "Pending" and status["reason"] == "DaskNotSupported"
            assert "dask.enabled" in status["message"]
        elif body["kind"] == "TrainingJob":  # the job backend: a run and its Job (its pods may not start here)
            assert status["phase"] in ("Pending", "Running") and status["runs"][0]["name"] == f"{name}-g1"
            assert conditions["Succeeded"]["status"] == "Unknown"
            eventually(lambda name=name: cluster.kubectl("get", "jobs", "-n", namespace, "-l",
                                                         f"ml.sextant.io/trainingjob={name}", "-o", "name").stdout,
                       timeout=30, what=f"the Job of {name}")
        elif body["kind"] == "BatchPrediction":  # no store configured here: no run starts, status says why
            assert status["phase"] == "Pending" and status["reason"] == "RegistryNotConfigured"
            assert conditions["Succeeded"]["status"] == "Unknown" and "runs" not in status
        else:
            assert status["phase"] == "Pending"
            assert conditions["ModelResolved"] == {**conditions["ModelResolved"], "status": "False",
                                                   "reason": "RegistryNotConfigured"}
            assert conditions["Ready"]["status"] == "False"
        # No finalizers: every child of every kind carries an owner reference and is garbage-collected.
        assert obj["metadata"].get("finalizers") is None
        assert "kopf" not in status
    assert forbidden_lines(sextant.logs()) == []
    assert error_lines(sextant.logs()) == []


def test_printer_columns_show_phase_reason_and_variants(cluster: Any, namespace: str, sextant: Any) -> None:
    apply_sample(cluster, namespace, "trainingjob_tuning")
    apply_sample(cluster, namespace, "inferenceservice_variants")
    eventually(lambda: reconciled(cluster, namespace, "TrainingJob", "diabetes-tuning"), timeout=30)
    eventually(lambda: reconciled(cluster, namespace, "InferenceService", "churn-ab"), timeout=30)
    jobs = cluster.kubectl("get", "sxtj", "-n", namespace, "-o", "wide").stdout
    assert "tuning(hist_gradient_boosting)" in jobs and ("Pending" in jobs or "Running" in jobs)
    assert "PROGRESS" in jobs and "VERSION" in jobs
    services = cluster.kubectl("get", "sxis", "-n", namespace).stdout
    assert "current=85,challenger=15" in services and "churn:6,churn@staging" in services
    everything = cluster.kubectl("get", "sextant", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(everything) == ["inferenceservice.ml.sextant.io/churn-ab",
                                  "trainingjob.ml.sextant.io/diabetes-tuning"]


def test_events_are_posted_on_transitions(cluster: Any, namespace: str, sextant: Any) -> None:
    apply_sample(cluster, namespace, "trainingjob")

    def event_reasons() -> list[str]:
        out = cluster.kubectl("get", "events", "-n", namespace, "--field-selector",
                              "involvedObject.kind=TrainingJob,involvedObject.name=churn", "-o", "json").stdout
        return [e["reason"] for e in json.loads(out)["items"]]

    reasons = eventually(event_reasons, timeout=30, what="an Event on the TrainingJob")
    assert reasons == ["BackendNotConfigured"]
    described = cluster.kubectl("describe", "trainingjob", "-n", namespace, "churn").stdout
    assert "phase is now Pending" in described


def test_applying_the_same_yaml_twice_changes_nothing(cluster: Any, namespace: str, sextant: Any) -> None:
    apply_sample(cluster, namespace, "inferenceservice")
    first = eventually(lambda: reconciled(cluster, namespace, "InferenceService", "churn"), timeout=30)
    version = first["metadata"]["resourceVersion"]
    apply_sample(cluster, namespace, "inferenceservice")
    # Give a misbehaving operator the chance to write (bounded: 3 s), then check nothing was written.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert get(cluster, namespace, "InferenceService", "churn")["metadata"]["resourceVersion"] == version
        time.sleep(0.5)


def test_spec_change_is_observed_once_and_keeps_transition_times(cluster: Any, namespace: str,
                                                                 sextant: Any) -> None:
    body = apply_sample(cluster, namespace, "trainingjob")
    first = eventually(lambda: reconciled(cluster, namespace, "TrainingJob", "churn"), timeout=30)
    body["spec"]["estimator"]["params"]["max_depth"] = 5
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(body))
    second = eventually(lambda: reconciled(cluster, namespace, "TrainingJob", "churn"), timeout=30)
    assert second["metadata"]["generation"] == 2 and second["status"]["observedGeneration"] == 2
    times = {c["type"]: c["lastTransitionTime"] for c in first["status"]["conditions"]}
    assert {c["type"]: c["lastTransitionTime"] for c in second["status"]["conditions"]} == times
    assert second["spec"]["estimator"]["params"]["max_depth"] == 5  # the operator never rewrites spec


def test_deletion_completes_promptly(cluster: Any, namespace: str, sextant: Any) -> None:
    apply_sample(cluster, namespace, "trainingjob")
    apply_sample(cluster, namespace, "inferenceservice")
    eventually(lambda: reconciled(cluster, namespace, "TrainingJob", "churn"), timeout=30)
    eventually(lambda: reconciled(cluster, namespace, "InferenceService", "churn"), timeout=30)
    started = time.monotonic()
    cluster.kubectl("delete", "-n", namespace, "trainingjob/churn", "inferenceservice/churn", "--wait=true",
                    "--timeout=20s")
    assert time.monotonic() - started < 10
