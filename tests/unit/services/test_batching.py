"""The adaptive batcher: immediate when idle, batched under load, load shedding past the latency budget."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from sextant_services.batching import AdaptiveBatcher, BatchingConfig
from sextant_services.errors import Overloaded


def test_concurrent_requests_are_batched_and_answered_in_order() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def run(items: Sequence[int]) -> list[int]:
        gate.wait(5)
        sizes.append(len(items))
        return [i * 10 for i in items]

    async def main() -> list[int]:
        b: AdaptiveBatcher[int, int] = AdaptiveBatcher(run, BatchingConfig(max_batch_size=8))
        tasks = [asyncio.create_task(b.submit(0, 1))]
        await asyncio.sleep(0.05)  # the first request is in the model (idle -> runs alone, at once)
        tasks += [asyncio.create_task(b.submit(i, 1)) for i in range(1, 20)]
        await asyncio.sleep(0.05)
        gate.set()
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(main()) == [i * 10 for i in range(20)]
    assert sizes == [1, 8, 8, 3]


def test_requests_waiting_past_the_budget_are_shed() -> None:
    release = threading.Event()

    def run(items: Sequence[int]) -> list[int]:
        release.wait(5)
        return list(items)

    async def main() -> list[object]:
        b: AdaptiveBatcher[int, int] = AdaptiveBatcher(run, BatchingConfig(max_batch_size=1, max_latency_ms=20))
        tasks = [asyncio.create_task(b.submit(i, 1)) for i in range(3)]
        await asyncio.sleep(0.1)
        release.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    first, *rest = asyncio.run(main())
    assert first == 0
    assert all(isinstance(r, Overloaded) for r in rest)


def test_model_errors_reach_every_waiter() -> None:
    def run(items: Sequence[int]) -> list[int]:
        raise RuntimeError("boom")

    async def main() -> object:
        b: AdaptiveBatcher[int, int] = AdaptiveBatcher(run, BatchingConfig())
        return await asyncio.gather(b.submit(1, 1), b.submit(2, 1), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(main()))  # type: ignore[attr-defined]


def test_config_names_the_bad_setting() -> None:
    with pytest.raises(ValueError, match="maxBatchSize"):
        BatchingConfig(max_batch_size=0)
