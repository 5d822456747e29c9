"""A relist hands every object to the handlers again: only an object at a new version is news."""

from __future__ import annotations

from typing import Any

from sextant_operator.handlers.seen_versions import SeenVersions
from sextant_operator.reconcile.serving_instances import deployment_view


def _body(uid: str, version: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "resourceVersion": version}}


def test_an_object_at_a_version_already_handled_is_not_news() -> None:
    seen = SeenVersions()
    assert seen.is_news(None, _body("a", "1"))  # the first listing
    assert not seen.is_news(None, _body("a", "1"))  # the relist after the watch timed out
    assert seen.is_news("MODIFIED", _body("a", "2"))
    assert seen.is_news(None, _body("b", "2"))  # another object at the same version number


def test_deletion_is_news_and_forgets_the_object() -> None:
    seen = SeenVersions()
    seen.is_news("ADDED", _body("a", "1"))
    assert seen.is_news("DELETED", _body("a", "1"))
    assert len(seen) == 0
    assert seen.is_news("ADDED", _body("a", "1"))


def test_objects_without_uid_or_version_are_always_news() -> None:
    seen = SeenVersions()
    assert seen.is_news(None, {"metadata": {}}) and seen.is_news(None, {"metadata": {}})
    assert len(seen) == 0


def _deployment(version: str, ready: int, updated_at: str) -> dict[str, Any]:
    return {"metadata": {"uid": "d", "resourceVersion": version, "name": "m-default-v1", "generation": 1,
                         "labels": {"ml.sextant.io/component": "model-server"}},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": ready, "availableReplicas": ready,
                       "conditions": [{"type": "Available", "lastUpdateTime": updated_at}]}}


def test_a_child_whose_view_did_not_change_is_not_news() -> None:
    """The deployment controller touching only a condition's time starts no pass; a replica becoming ready does."""
    seen = SeenVersions()
    first = _deployment("1", 0, "10:00")
    assert seen.is_news("ADDED", first, hash(deployment_view(first)))
    touched = _deployment("2", 0, "10:01")
    assert not seen.is_news("MODIFIED", touched, hash(deployment_view(touched)))
    ready = _deployment("3", 1, "10:01")
    assert seen.is_news("MODIFIED", ready, hash(deployment_view(ready)))
    assert seen.is_news("DELETED", ready, hash(deployment_view(ready)))
