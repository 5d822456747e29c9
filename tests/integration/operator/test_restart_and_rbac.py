"""An operator killed with SIGKILL resumes every resource; its permissions are exactly what it needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.polling import eventually
from tests.support.resources import load_sample
from tests.support.sextant_fixtures import start_sextant, stop_sextant
from tests.support.sextant_operator import error_lines, forbidden_lines


def _status(cluster: Any, namespace: str, resource: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", "-n", namespace, resource, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    body = json.loads(result.stdout)
    status = body.get("status") or {}
    return body if status.get("observedGeneration") == body["metadata"]["generation"] else None


def _apply(cluster: Any, namespace: str, base: str, name: str, **spec_changes: Any) -> None:
    body = load_sample(base)
    body["metadata"]["name"] = name
    body["spec"].update(spec_changes)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(body))


def test_sigkill_and_restart_resumes_every_resource(cluster: Any, crds: None, namespace: str,
                                                     tmp_path: Path) -> None:
    # No webhook here: with the chart's failurePolicy=Fail, TrainingJobs cannot be created while the
    # operator is down, and this test creates some in that window on purpose.
    sextant, hook = start_sextant(cluster, namespace, tmp_path, webhook=False)
    try:
        _resume_after_sigkill(cluster, namespace, sextant)
    finally:
        stop_sextant(cluster, namespace, sextant, hook)


def _resume_after_sigkill(cluster: Any, namespace: str, sextant: Any) -> None:
    _apply(cluster, namespace, "trainingjob", "before-a")
    _apply(cluster, namespace, "trainingjob_automl", "before-b")
    _apply(cluster, namespace, "inferenceservice", "before-c")
    for name in ("trainingjob/before-a", "trainingjob/before-b", "inferenceservice/before-c"):
        eventually(lambda name=name: _status(cluster, namespace, name), timeout=30, what=name)
    assert sextant.kill() == -9

    # While the operator is down: new resources, a spec change and a deletion. TrainingJobs carry no finalizer
    # (their Jobs have owner references and are garbage-collected), so deleting one never waits for the operator.
    _apply(cluster, namespace, "trainingjob_clustering", "during-d")
    _apply(cluster, namespace, "inferenceservice_variants", "during-e")
    _apply(cluster, namespace, "inferenceservice", "before-c", suspend=True)
    cluster.kubectl("delete", "-n", namespace, "trainingjob/before-b", "--wait=true", "--timeout=20s")

    sextant.start()
    for name in ("trainingjob/before-a", "trainingjob/during-d", "inferenceservice/during-e"):
        eventually(lambda name=name: _status(cluster, namespace, name), timeout=30, what=f"{name} after restart")
    suspended = eventually(lambda: _status(cluster, namespace, "inferenceservice/before-c"), timeout=30)
    assert suspended["status"]["phase"] == "Suspended" and suspended["metadata"]["generation"] == 2
    logs = sextant.logs()
    assert error_lines(logs) == [] and forbidden_lines(logs) == []


def _without_status_patch(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] == "Role":
            doc["rules"] = [r for r in doc["rules"] if not any(res.endswith("/status") for res in r["resources"])]
    return docs


def test_removing_one_needed_verb_makes_the_operator_fail(cluster: Any, crds: None, namespace: str,
                                                          tmp_path: Path) -> None:
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False, rbac_edit=_without_status_patch)
    try:
        _apply(cluster, namespace, "trainingjob", "denied")
        eventually(lambda: forbidden_lines(operator.logs()), timeout=30, what="a 403 in the operator log")
        assert "status" not in json.loads(cluster.kubectl(
            "get", "-n", namespace, "trainingjob/denied", "-o", "json").stdout)
    finally:
        # Give the verb back so the operator can release its finalizer, then clean up.
        start_rbac = cluster.kubectl("auth", "can-i", "patch", "trainingjobs", "--subresource=status", "-n", namespace,
                                     f"--as=system:serviceaccount:{namespace}:sx-sextant", check=False)
        assert start_rbac.stdout.strip() == "no"
        from tests.support.sextant_operator import apply_docs, chart_rbac
        apply_docs(cluster, chart_rbac(cluster, namespace))
        stop_sextant(cluster, namespace, operator, hook)


def _without_verb(resource: str, verb: str) -> Any:
    def edit(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for doc in docs:
            if doc["kind"] == "Role":
                for rule in doc["rules"]:
                    if resource in rule["resources"]:
                        rule["verbs"] = [v for v in rule["verbs"] if v != verb]
                doc["rules"] = [rule for rule in doc["rules"] if rule["verbs"]]  # a rule needs a verb
        return docs
    return edit


@pytest.mark.parametrize("resource,verb", [
    ("jobs", "create"), ("jobs", "patch"), ("jobs", "list"), ("jobs", "watch"), ("jobs", "delete"),
    ("pods", "list"), ("pods", "watch"), ("trainingjobs/finalizers", "update")])
def test_each_verb_added_for_training_is_needed(cluster: Any, crds: None, namespace: str, tmp_path: Path,
                                                resource: str, verb: str) -> None:
    """Training grew the Role by these verbs; without any one of them a TrainingJob never gets its Job."""
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False,
                                   rbac_edit=_without_verb(resource, verb))
    try:
        _apply(cluster, namespace, "trainingjob_clustering", "needs-verbs")
        if verb == "delete":  # a spec change stops the running run: its Job is deleted
            eventually(lambda: cluster.kubectl("get", "jobs", "-n", namespace, "-o", "name").stdout, timeout=60,
                       what="the first run's Job")
            _apply(cluster, namespace, "trainingjob_clustering", "needs-verbs",
                   estimator={"algorithm": "kmeans", "params": {"n_clusters": 4}})
        eventually(lambda: forbidden_lines(operator.logs()), timeout=60, what=f"a 403 without {verb} {resource}")
        jobs = cluster.kubectl("get", "jobs", "-n", namespace, "-o", "name").stdout.split()
        assert jobs == [] or verb not in ("create", "patch", "update")
    finally:
        from tests.support.sextant_operator import apply_docs, chart_rbac
        apply_docs(cluster, chart_rbac(cluster, namespace))
        stop_sextant(cluster, namespace, operator, hook)


def test_service_account_cannot_do_more_than_it_needs(cluster: Any, crds: None, namespace: str,
                                                      sextant: Any) -> None:
    who = f"--as=system:serviceaccount:{namespace}:sx-sextant"

    def can(*args: str) -> bool:
        return cluster.kubectl("auth", "can-i", *args, who, check=False).stdout.strip() == "yes"

    assert can("watch", "trainingjobs", "-n", namespace)
    assert can("patch", "inferenceservices", "--subresource=status", "-n", namespace)
    assert can("create", "events", "-n", namespace)
    assert not can("list", "trainingjobs", "-n", "default")          # only the watched namespace
    assert not can("delete", "trainingjobs", "-n", namespace)        # never deletes user resources
    assert not can("update", "trainingjobs", "-n", namespace)        # patches only, never rewrites spec
    assert not can("get", "secrets", "-n", namespace)
    assert not can("list", "customresourcedefinitions")
    assert not can("list", "namespaces")
    assert can("patch", "jobs.batch", "-n", namespace) and can("watch", "pods", "-n", namespace)
    assert not can("create", "pods", "-n", namespace)                 # pods come from Jobs, not the operator
    assert not can("get", "pods", "-n", namespace, "--subresource=log")  # results come from the store


def test_cluster_wide_role_grants_the_same_verbs_everywhere_and_nothing_more(cluster: Any, crds: None,
                                                                              namespace: str) -> None:
    from tests.support.sextant_operator import apply_docs, helm_template

    docs = [d for d in helm_template(cluster, namespace)
            if d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]
    suffix = namespace[-6:]
    for doc in docs:
        if doc["kind"] != "ServiceAccount":
            doc["metadata"]["name"] += f"-{suffix}"  # cluster-scoped: unique per test
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] += f"-{suffix}"
    apply_docs(cluster, docs)
    who = f"--as=system:serviceaccount:{namespace}:sx-sextant"

    def can(*args: str) -> bool:
        return cluster.kubectl("auth", "can-i", *args, who, check=False).stdout.strip() == "yes"

    try:
        assert can("watch", "trainingjobs", "--all-namespaces")
        assert can("patch", "trainingjobs", "--subresource=status", "-n", "default")
        assert can("create", "events", "-n", "default")
        assert not can("delete", "inferenceservices", "--all-namespaces")
        assert not can("get", "secrets", "-n", "default")
        assert not can("list", "customresourcedefinitions")
    finally:
        for doc in docs:
            if doc["kind"] != "ServiceAccount":
                cluster.kubectl("delete", doc["kind"].lower(), doc["metadata"]["name"], "--ignore-not-found")
