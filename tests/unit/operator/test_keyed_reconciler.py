"""Events for an object that is being reconciled are folded into one more pass, never lost and never queued one
by one: at scale a pod's status changes would otherwise each cost a full reconcile."""

from __future__ import annotations

import asyncio
import logging

import pytest
from kubernetes.client.exceptions import ApiException

from sextant_operator.handlers.keyed_reconciler import KeyedReconciler
from sextant_operator.handlers.kube_actions import NamespaceTerminating, namespace_terminating


class Recording(KeyedReconciler):
    def __init__(self, work_seconds: float = 0.05) -> None:
        super().__init__(concurrency=2, log=logging.getLogger("test"))
        self.work_seconds = work_seconds
        self.seen: list[int] = []
        self.version = 0  # what the object looks like now; each event bumps it

    async def reconcile_once(self, namespace: str, name: str) -> float | None:
        seen = self.version
        await asyncio.sleep(self.work_seconds)
        self.seen.append(seen)
        return None


def test_events_during_a_pass_cost_one_more_pass_which_sees_the_latest_state() -> None:
    async def scenario() -> Recording:
        reconciler = Recording()
        first = asyncio.ensure_future(reconciler.reconcile("ml", "iris"))
        await asyncio.sleep(0.01)  # the first pass is running
        for _ in range(10):
            reconciler.version += 1
            await reconciler.reconcile("ml", "iris")  # returns at once: folded into the running pass's follow-up
        await first
        return reconciler

    reconciler = asyncio.run(scenario())
    assert reconciler.seen == [0, 10]
    assert reconciler.passes == 2


def test_different_objects_are_not_folded_together() -> None:
    async def scenario() -> Recording:
        reconciler = Recording()
        await asyncio.gather(*(reconciler.reconcile("ml", f"isvc-{i}") for i in range(5)))
        return reconciler

    assert asyncio.run(scenario()).passes == 5


def test_a_failing_pass_is_retried_later_and_the_object_can_be_reconciled_again() -> None:
    class Failing(Recording):
        async def reconcile_once(self, namespace: str, name: str) -> float | None:
            raise RuntimeError("API server unavailable")

    async def scenario() -> tuple[int, bool]:
        reconciler = Failing()
        await reconciler.reconcile("ml", "iris")
        await reconciler.reconcile("ml", "iris")  # not stuck as "active" after the failure
        pending = ("ml", "iris") in reconciler._requeues
        for handle in reconciler._requeues.values():
            handle.cancel()
        return reconciler.passes, pending

    assert asyncio.run(scenario()) == (2, True)


def test_enqueue_returns_at_once_and_its_pass_runs_later_with_later_events_folded_in() -> None:
    async def scenario() -> tuple[int, Recording]:
        reconciler = Recording()
        reconciler.enqueue("ml", "iris")
        passes_when_enqueue_returned = reconciler.passes
        for _ in range(5):  # events before the scheduled pass starts are already covered by it
            reconciler.version += 1
            reconciler.enqueue("ml", "iris")
        while reconciler._scheduled:
            await asyncio.sleep(0.01)
        return passes_when_enqueue_returned, reconciler

    passes_at_return, reconciler = asyncio.run(scenario())
    assert passes_at_return == 0
    assert reconciler.seen == [5]  # one pass, which saw the latest state


def test_enqueued_objects_beyond_the_concurrency_wait_for_a_slot_and_all_get_their_pass() -> None:
    class Counting(Recording):
        running = most = 0

        async def reconcile_once(self, namespace: str, name: str) -> float | None:
            self.running += 1
            self.most = max(self.most, self.running)
            await asyncio.sleep(0.02)
            self.running -= 1
            return None

    async def scenario() -> Counting:
        reconciler = Counting()
        for i in range(7):
            reconciler.enqueue("ml", f"isvc-{i}")
        while reconciler._scheduled:
            await asyncio.sleep(0.01)
        return reconciler

    reconciler = asyncio.run(scenario())
    assert (reconciler.passes, reconciler.most) == (7, 2)  # every object once, never more than 2 at once
    assert not reconciler._active


def test_a_namespace_being_deleted_is_neither_an_error_nor_retried(caplog: pytest.LogCaptureFixture) -> None:
    """The garbage collector deleting 1,000 children in a namespace being deleted started 1,000 passes whose
    applies the API server refused; each was logged with its traceback and retried every 5 s."""
    class Terminating(Recording):
        async def reconcile_once(self, namespace: str, name: str) -> float | None:
            raise NamespaceTerminating(namespace)

    async def scenario() -> bool:
        reconciler = Terminating()
        await reconciler.reconcile("ml", "iris")
        return ("ml", "iris") in reconciler._requeues

    with caplog.at_level(logging.INFO):
        assert not asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_apply_names_a_refusal_for_a_terminating_namespace() -> None:
    refused = ApiException(status=403, reason="Forbidden")
    refused.body = ('{"reason":"Forbidden","details":{"causes":[{"reason":"NamespaceTerminating",'
                    '"message":"namespace ml is being terminated"}]},"code":403}')
    assert namespace_terminating(refused)
    other = ApiException(status=403, reason="Forbidden")
    other.body = '{"reason":"Forbidden","message":"deployments.apps is forbidden: User cannot create"}'
    assert not namespace_terminating(other)
