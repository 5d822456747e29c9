"""The handlers of the three kinds are wired to their indexes the way kopf calls them (keywords named by index id)."""

from __future__ import annotations

import asyncio
from typing import Any

from sextant_operator.config import OperatorConfig
from sextant_operator.registry import build_registry


def test_every_handler_finds_the_indexes_kopf_passes_it() -> None:
    registry = build_registry(OperatorConfig(webhook_enabled=False))
    index_ids = sorted(h.id for h in registry._indexing.get_all_handlers())
    # Not `register_trainingjob_handlers.<locals>.…`: the handlers look the indexes up by these ids.
    assert index_ids == ["batch_jobs", "batch_pods", "serving_addresses", "serving_backend_services",
                         "serving_deployments", "serving_pods",
                         "serving_routers",
                         "training_jobs", "training_pods"]
    indexes: dict[str, Any] = {index_id: {} for index_id in index_ids}  # kopf: one keyword per index, by its id
    for handler_id in ("trainingjob", "inferenceservice", "batchprediction"):
        (changed,) = [h for h in registry._watching.get_all_handlers() if h.id == handler_id]
        # A DELETED event reconciles nothing, so this only checks that the handler reads the indexes it is given.
        asyncio.run(changed.fn(namespace="ml", name="iris", type="DELETED", body={"metadata": {"uid": "u"}},
                               **indexes))


def test_no_more_trainingjobs_are_reconciled_at_once_than_the_worker_limit() -> None:
    from sextant_operator.handlers.trainingjob import TrainingReconciler
    from sextant_operator.reconcile.training_job_manifest import TrainingSettings

    class Counting(TrainingReconciler):
        running = peak = 0

        async def reconcile_once(self, namespace: str, name: str) -> float | None:
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


def test_a_run_is_recorded_failed_before_its_job_is_deleted(monkeypatch: Any) -> None:
    """Killed between the two, the operator finds the run Failed and deletes the Job; in the other order it would
    find a run still going without a Job and create that Job again."""
    import kopf

    from sextant_operator.handlers.trainingjob import TrainingReconciler
    from sextant_operator.reconcile.run_observation import job_view, pod_view
    from sextant_operator.reconcile.training_job_manifest import TrainingSettings
    from sextant_operator.reconcile.trainingjob import Observed, plan_trainingjob
    from tests.unit.operator.test_training_plan import SETTINGS, T0, _applied, _job_body, _pod, _tj

    tj = _tj()
    tj = _applied(tj, plan_trainingjob(Observed(tj, now=T0), SETTINGS))
    job = plan_trainingjob(Observed(tj, now=T0), SETTINGS).apply[0]
    calls: list[str] = []

    class Actions:
        def read_trainingjob(self, namespace: str, name: str) -> dict[str, Any]:
            return tj

        def patch_status(self, namespace: str, name: str, changes: Any) -> bool:
            calls.append(f"status {changes.get('phase')}")
            return True

        def delete_job(self, namespace: str, name: str) -> None:
            calls.append(f"delete {name}")

    monkeypatch.setattr(kopf, "event", lambda *args, **kwargs: None)
    reconciler = TrainingReconciler(TrainingSettings(), Actions(), None)  # type: ignore[arg-type]
    bad = _pod("iris-g1", "iris-g1", phase="Pending", waiting={"reason": "ErrImageNeverPull", "message": "no"})
    reconciler.remember({("ml", "iris"): [job_view(_job_body(job, active=1))]},  # type: ignore[arg-type]
                        {("ml", "iris"): [pod_view(bad)]})  # type: ignore[arg-type]
    asyncio.run(reconciler.reconcile_once("ml", "iris"))
    assert calls == ["status Failed", "delete iris-g1"]


def test_suspending_a_job_deleted_meanwhile_is_not_an_error() -> None:
    from kubernetes.client.exceptions import ApiException

    from sextant_operator.handlers.kube_actions import KubeActions

    class Gone:
        def patch_namespaced_job(self, *args: Any, **kwargs: Any) -> None:
            raise ApiException(status=404, reason="Not Found")

    actions = KubeActions()
    actions.__dict__["batch"] = Gone()  # the cached property, without a cluster
    actions.set_suspended("ml", "iris-g1", True)  # no exception: the chaos test saw this race log an ERROR
