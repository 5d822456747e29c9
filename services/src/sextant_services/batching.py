"""Adaptive batching: requests that arrive while the model is busy are predicted together.

When the model is idle a request runs at once (no added latency at low load); under load the queue grows
and each batch takes everything waiting, up to `max_batch_size` rows, so the batch size follows the load.
A request that waited longer than `max_latency_ms` before its batch started is shed with 503 (Overloaded),
the same contract as BentoML's batching.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import Overloaded

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


@dataclass(frozen=True)
class BatchingConfig:
    """How requests are grouped; validated so a bad value fails at start-up, naming the setting."""

    enabled: bool = True
    max_batch_size: int = 64
    max_latency_ms: float = 1000.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"batching.maxBatchSize must be at least 1, got {self.max_batch_size}")
        if self.max_latency_ms <= 0:
            raise ValueError(f"batching.maxLatencyMs must be positive, got {self.max_latency_ms}")


@dataclass
class _Pending(Generic[I, O]):
    item: I
    rows: int
    future: asyncio.Future[O]
    enqueued: float


class AdaptiveBatcher(Generic[I, O]):
    """Runs `run_batch(items) -> outputs` (same order) on one worker thread, batching under load."""

    def __init__(self, run_batch: Callable[[Sequence[I]], Sequence[O]], config: BatchingConfig) -> None:
        self._run_batch = run_batch
        self._config = config
        self._queue: deque[_Pending[I, O]] = deque()
        self._draining = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sextant-predict")

    async def submit(self, item: I, rows: int) -> O:
        """Queue one request's item and wait for its output; raises Overloaded or the model's error."""
        loop = asyncio.get_running_loop()
        if not self._config.enabled:
            outputs = await loop.run_in_executor(self._executor, self._run_batch, [item])
            return outputs[0]
        future: asyncio.Future[O] = loop.create_future()
        self._queue.append(_Pending(item, rows, future, loop.time()))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await future

    def _take_batch(self, now: float) -> list[_Pending[I, O]]:
        budget = self._config.max_latency_ms / 1000.0
        batch: list[_Pending[I, O]] = []
        rows = 0
        while self._queue:
            head = self._queue[0]
            if batch and rows + head.rows > self._config.max_batch_size:
                break
            self._queue.popleft()
            if head.future.done():
                continue
            if now - head.enqueued > budget:
                head.future.set_exception(
                    Overloaded(f"request waited over {self._config.max_latency_ms:g} ms for the model; "
                               "retry later or add replicas"))
                continue
            batch.append(head)
            rows += head.rows
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch = self._take_batch(loop.time())
                if not batch:
                    continue
                try:
                    outputs = await loop.run_in_executor(
                        self._executor, self._run_batch, [p.item for p in batch])
                except Exception as exc:  # noqa: BLE001 - the model failed: every waiter gets the error
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    continue
                for p, out in zip(batch, outputs, strict=True):
                    if not p.future.done():
                        p.future.set_result(out)
        finally:
            self._draining = False
