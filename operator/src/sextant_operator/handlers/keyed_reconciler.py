"""What every reconciler of a kind needs between handler calls: one reconcile at a time per object, a bound on
reconciles at once, and a single pending wake-up per object when the plan asked to look again later."""

from __future__ import annotations

import asyncio
import logging

Key = tuple[str, str]
ERROR_RETRY_SECONDS = 5.0


class KeyedReconciler:
    """Serialises `reconcile_once(namespace, name)` per object, bounds concurrency, and requeues (level-triggered:
    a failure is logged and tried again shortly)."""

    kind = "object"

    def __init__(self, concurrency: int, log: logging.Logger) -> None:
        self._log = log
        self._locks: dict[Key, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(concurrency)  # SEXTANT_WORKER_LIMIT: objects of a kind reconciled at once
        self._requeues: dict[Key, asyncio.TimerHandle] = {}

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
        asyncio.ensure_future(self.reconcile(*key))

    async def reconcile(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock, self._slots:
            try:
                delay = await self.reconcile_once(namespace, name)
            except Exception:  # noqa: BLE001 - logged, and tried again shortly: level-triggered
                self._log.exception("reconciling %s %s/%s failed; retrying in %.0f s", self.kind, namespace, name,
                                    ERROR_RETRY_SECONDS)
                delay = ERROR_RETRY_SECONDS
        if delay is not None:
            self._requeue(key, delay)
        elif key in self._requeues:
            self._requeues.pop(key).cancel()
