"""The memo of applied children: the same manifest is not applied twice unless someone else changed the object."""

from __future__ import annotations

from typing import Any

import kopf

from sextant_operator.handlers.applied_children import AppliedChildren


def _deployment(replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m-default-v1", "namespace": "ns"},
            "spec": {"replicas": replicas}}


def _service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "m-default-v1", "namespace": "ns"},
            "spec": {"ports": [{"port": 80}]}}


def _stored(manifest: dict[str, Any], resource_version: str, generation: int | None = None) -> dict[str, Any]:
    meta = {**manifest["metadata"], "resourceVersion": resource_version,
            **({"generation": generation} if generation else {})}
    return {**manifest, "metadata": meta}


def test_a_manifest_is_unchanged_only_after_it_was_applied_and_while_it_stays_the_same() -> None:
    memo = AppliedChildren()
    assert not memo.unchanged(_deployment())
    memo.record(_deployment(), _stored(_deployment(), "10", generation=1))
    assert memo.unchanged(_deployment())
    assert not memo.unchanged(_deployment(replicas=2))  # the plan changed: apply


def test_the_echo_of_the_operators_own_write_and_status_updates_change_nothing() -> None:
    memo = AppliedChildren()
    memo.record(_deployment(), _stored(_deployment(), "10", generation=1))
    assert not memo.changed_by_others("MODIFIED", _stored(_deployment(), "10", generation=1))
    assert not memo.changed_by_others("MODIFIED", _stored(_deployment(), "11", generation=1))  # status: same generation
    assert not memo.changed_by_others(None, _stored(_deployment(), "11", generation=1))  # a relist
    assert memo.unchanged(_deployment())


def test_an_edit_by_someone_else_forgets_the_child_so_the_next_pass_applies_it() -> None:
    memo = AppliedChildren()
    memo.record(_deployment(), _stored(_deployment(), "10", generation=1))
    assert memo.changed_by_others("MODIFIED", _stored(_deployment(replicas=5), "12", generation=2))
    assert not memo.unchanged(_deployment())


def _autoscaler(max_replicas: int = 3) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "m-default-v1", "namespace": "ns", "labels": {"ml.sextant.io/inferenceservice": "m"}},
            "spec": {"minReplicas": 1, "maxReplicas": max_replicas}}


def test_kinds_without_a_generation_compare_what_writers_set() -> None:
    """An HPA has no generation: the HPA controller's status writes are not edits, a changed spec or label is."""
    memo = AppliedChildren()
    memo.record(_autoscaler(), _stored(_autoscaler(), "20"))
    controller_wrote = {**_stored(_autoscaler(), "21"), "status": {"currentReplicas": 1, "desiredReplicas": 1}}
    controller_wrote["metadata"]["managedFields"] = [{"manager": "kube-controller-manager"}]
    assert not memo.changed_by_others("MODIFIED", kopf.Body(controller_wrote))
    assert memo.unchanged(_autoscaler())
    assert memo.changed_by_others("MODIFIED", _stored(_autoscaler(max_replicas=9), "22"))
    assert not memo.unchanged(_autoscaler())
    memo.record(_service(), _stored(_service(), "30"))
    relabelled = _stored(_service(), "31")
    relabelled["metadata"]["labels"] = {"team": "other"}
    assert memo.changed_by_others("MODIFIED", relabelled)


def test_a_deleted_child_is_forgotten_and_asks_for_a_pass_even_if_never_applied_by_this_process() -> None:
    memo = AppliedChildren()
    memo.record(_service(), _stored(_service(), "20"))
    assert memo.changed_by_others("DELETED", _stored(_service(), "20"))
    assert not memo.unchanged(_service())
    assert memo.changed_by_others("DELETED", _stored(_deployment(), "9", generation=1))  # e.g. after a restart
    assert not memo.changed_by_others("ADDED", _stored(_deployment(), "9", generation=1))  # its pass applies it anyway


def test_forget_drops_one_child() -> None:
    memo = AppliedChildren()
    memo.record(_service(), _stored(_service(), "20"))
    memo.record(_deployment(), _stored(_deployment(), "10", generation=1))
    memo.forget("Service", "ns", "m-default-v1")
    assert len(memo) == 1 and memo.unchanged(_deployment()) and not memo.unchanged(_service())
