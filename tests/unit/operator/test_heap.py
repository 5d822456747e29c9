"""The heap trimmer: glibc's free pages go back to the system after a burst of reconciles, never at rest or while
passes run (issue 16, P2 and P4)."""

from __future__ import annotations

import asyncio

import pytest

from sextant_operator.handlers import heap


@pytest.mark.parametrize(("last", "now", "busy", "expected"), [
    (0, 0, False, False),  # at rest: nothing to give back, and no CPU spent finding that out
    (0, 5, True, False),  # passes still running: their memory is in use
    (0, 5, False, True),  # a burst that ended
    (5, 5, False, False),  # already trimmed after that burst
])
def test_a_trim_follows_a_burst_that_ended(last: int, now: int, busy: bool, expected: bool) -> None:
    assert heap.burst_ended(last, now, busy) is expected


def test_the_trimmer_trims_once_per_burst_and_only_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    state = {"passes": 0, "busy": False}
    monkeypatch.setattr(heap, "trim", lambda: trims.append(state["passes"]) or True)

    async def ticks(count: int) -> None:
        for _ in range(count):
            await asyncio.sleep(0)

    async def scenario() -> None:
        task = asyncio.create_task(heap.trim_after_bursts(lambda: state["passes"], lambda: bool(state["busy"]),
                                                          interval=0))
        await ticks(5)
        assert trims == []  # at rest from the start
        state.update(passes=40, busy=True)
        await ticks(5)
        assert trims == []  # not while passes run
        state.update(busy=False)
        await ticks(5)
        assert trims == [40]  # once when the burst ended, not on every check after it
        state.update(passes=41)
        await ticks(5)
        assert trims == [40, 41]
        task.cancel()

    asyncio.run(scenario())


def test_the_trim_reaches_glibc_here() -> None:
    """The operator image is Debian's Python on glibc, like this machine: the call must reach glibc, not fall back
    to the no-op that musl or macOS get."""
    assert heap._glibc() is not None
    heap.trim()  # must not raise; whether pages were released depends on the heap's state
