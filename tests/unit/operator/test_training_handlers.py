"""The TrainingJob handlers are wired to their indexes the way kopf calls them (keywords named by index id)."""

from __future__ import annotations

import asyncio
from typing import Any

from sextant_operator.config import OperatorConfig
from sextant_operator.registry import build_registry


def test_every_training_handler_finds_the_job_and_pod_indexes_kopf_passes_it() -> None:
    registry = build_registry(OperatorConfig(webhook_enabled=False))
    index_ids = sorted(h.id for h in registry._indexing.get_all_handlers())
    assert index_ids == ["training_jobs", "training_pods"]  # not `register_trainingjob_handlers.<locals>.…`
    (changed,) = [h for h in registry._watching.get_all_handlers() if h.id.endswith("trainingjob_changed")]
    indexes: dict[str, Any] = {index_id: {} for index_id in index_ids}  # kopf: one keyword per index, by its id
    # A DELETED event reconciles nothing, so this only checks that the handler reads the indexes it is given.
    asyncio.run(changed.fn(namespace="ml", name="iris", type="DELETED", **indexes))


def test_no_more_trainingjobs_are_reconciled_at_once_than_the_worker_limit() -> None:
    from sextant_operator.handlers.trainingjob import TrainingReconciler
    from sextant_operator.reconcile.training_job_manifest import TrainingSettings

    class Counting(TrainingReconciler):
        running = peak = 0

        async def _reconcile_once(self, namespace: str, name: str) -> float | None:
            Counting.running += 1
            Counting.peak = max(Counting.peak, Counting.running)
            await asyncio.sleep(0.01)  # virtual work: lets the other reconciles try to run beside this one
            Counting.running -= 1
            return None

    async def many() -> None:
        reconciler = Counting(TrainingSettings(), None, None, concurrency=3)  # type: ignore[arg-type]
        await asyncio.gather(*(reconciler.reconcile("ml", f"tj-{i}") for i in range(12)))

    asyncio.run(many())
    assert Counting.peak == 3


def test_a_status_patch_for_a_trainingjob_deleted_meanwhile_is_not_an_error() -> None:
    from kubernetes.client.exceptions import ApiException

    from sextant_operator.handlers.kube_actions import KubeActions

    class Gone:
        def patch_namespaced_custom_object_status(self, *args: Any) -> None:
            raise ApiException(status=404, reason="Not Found")

    actions = KubeActions()
    actions.__dict__["custom"] = Gone()  # the cached property, without a cluster
    assert actions.patch_status("ml", "iris", {"phase": "Running"}) is False
