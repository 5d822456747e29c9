"""What every reconciler of a kind needs between handler calls: one reconcile at a time per object, a bound on
reconciles at once, events for an object that is being reconciled folded into one more pass, and a single pending
wake-up per object when the plan asked to look again later."""

from __future__ import annotations

import asyncio
import logging

from .kube_actions import NamespaceTerminating
from .seen_versions import SeenVersions

Key = tuple[str, str]
ERROR_RETRY_SECONDS = 5.0


class KeyedReconciler:
    """Serialises `reconcile_once(namespace, name)` per object, bounds concurrency, coalesces events and requeues
    (level-triggered: a failure is logged and tried again shortly).

    Coalescing is what a controller-runtime work queue does: a pod's five status changes while its InferenceService
    is being reconciled cost one more pass, not five. Every pass reads the object and the indexes afresh, so the
    extra pass sees everything those events announced."""

    kind = "object"

    def __init__(self, concurrency: int, log: logging.Logger) -> None:
        self._log = log
        self._slots = asyncio.Semaphore(concurrency)  # SEXTANT_WORKER_LIMIT: objects of a kind reconciled at once
        self._requeues: dict[Key, asyncio.TimerHandle] = {}
        self._active: set[Key] = set()  # waiting for a slot or being reconciled
        self._dirty: set[Key] = set()  # something changed after the active pass started: run it once more
        self.passes = 0  # reconcile_once calls so far: what folding saves is counted here
        self.applies = 0  # server-side applies sent (children: Jobs, Deployments, ...)
        self.seen = SeenVersions()  # the handlers start a pass only for news, not for an object relisted unchanged
        self._scheduled: set[asyncio.Task[None]] = set()  # passes started by enqueue, held until they end

    @property
    def busy(self) -> bool:
        """Whether a pass is waiting for a slot or running."""
        return bool(self._active)

    async def reconcile_once(self, namespace: str, name: str) -> float | None:
        """One observe-plan-act pass; returns seconds until the next look, or None."""
        raise NotImplementedError

    def _requeue(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        pending = self._requeues.get(key)
        when = loop.time() + delay
        if pending is not None and pending.when() <= when:
            return  # an earlier wake-up is already due
        if pending is not None:
            pending.cancel()
        self._requeues[key] = loop.call_at(when, self._wake, key)

    def _wake(self, key: Key) -> None:
        self._requeues.pop(key, None)  # fired: the next reconcile may ask for a new wake-up
        self.enqueue(*key)

    async def _pass(self, namespace: str, name: str) -> float | None:
        async with self._slots:
            self._dirty.discard((namespace, name))  # this pass reads everything announced until now
            self.passes += 1
            try:
                return await self.reconcile_once(namespace, name)
            except NamespaceTerminating:  # the garbage collector deleting children is not a reason to retry
                self._log.debug("%s %s/%s: its namespace is being deleted", self.kind, namespace, name)
                return None
            except Exception:  # noqa: BLE001 - logged, and tried again shortly: level-triggered
                self._log.exception("reconciling %s %s/%s failed; retrying in %.0f s", self.kind, namespace, name,
                                    ERROR_RETRY_SECONDS)
                return ERROR_RETRY_SECONDS

    def enqueue(self, namespace: str, name: str) -> None:
        """Schedule a reconcile of the object and return at once: what the watch handlers call.

        Like a controller-runtime work queue, an event only leaves the object's key behind. Awaiting the pass in
        the handler instead keeps kopf's per-object worker, with the parsed event it holds and the events queued
        behind it, alive until a slot frees: 1,000 new TrainingJobs waiting for 20 slots held 1,000 bodies at
        once, and the heap kept that peak after they were freed (239 against 207 MiB, docs/scale.md)."""
        key = (namespace, name)
        if key in self._active:
            self._dirty.add(key)
            return
        self._active.add(key)
        task = asyncio.ensure_future(self._run(key))
        self._scheduled.add(task)
        task.add_done_callback(self._scheduled.discard)

    async def reconcile(self, namespace: str, name: str) -> None:
        """Reconcile the object now, or, when a pass for it is already waiting or running, make that pass run
        once more when it ends (returns at once then)."""
        key = (namespace, name)
        if key in self._active:
            self._dirty.add(key)
            return
        self._active.add(key)
        await self._run(key)

    async def _run(self, key: Key) -> None:
        """Passes for an object marked active, until no event arrived during the last one; then its wake-up."""
        try:
            while True:
                delay = await self._pass(*key)
                if key not in self._dirty:
                    break
        finally:
            self._active.discard(key)
            self._dirty.discard(key)
        if delay is not None:
            self._requeue(key, delay)
        elif key in self._requeues:
            self._requeues.pop(key).cancel()
