"""Keeping the operator's resident memory near what it holds: glibc keeps most of what a burst of reconciles
freed (free pages below the top of its heaps are not returned), so the process stays near the burst's peak long
after it. `malloc_trim(0)`, called through ctypes once a burst has ended, hands those pages back to the system; a
no-op where the C library is not glibc (musl, macOS). docs/scale.md, P2."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import kopf

from .keyed_reconciler import KeyedReconciler

log = logging.getLogger(__name__)

TRIM_CHECK_SECONDS = 5.0  # how often the trimmer looks for a burst that ended: integer compares, no API calls


@cache
def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (has malloc_trim), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def trim() -> bool:
    """Return the heap's free pages to the system; True when glibc released any."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


def burst_ended(last_activity: int, activity: int, busy: bool) -> bool:
    """Whether work happened since the last trim and none is going on now: the moment a trim pays off."""
    return activity != last_activity and not busy


async def trim_after_bursts(activity: Callable[[], int], busy: Callable[[], bool],
                            interval: float = TRIM_CHECK_SECONDS) -> None:
    """Every `interval` seconds, trim the heap if `activity()` (a count of passes) moved since the last trim and
    `busy()` is false. At rest nothing moves, so nothing is trimmed: the loop costs two reads per interval."""
    trimmed_at = activity()
    while True:
        await asyncio.sleep(interval)
        now = activity()
        if burst_ended(trimmed_at, now, busy()):
            started = time.perf_counter()
            released = trim()
            log.debug("heap trimmed after %d passes in %.1f ms (pages released: %s)", now - trimmed_at,
                      (time.perf_counter() - started) * 1000, released)
            trimmed_at = now


def register_heap_trimmer(registry: kopf.OperatorRegistry, reconcilers: list[KeyedReconciler]) -> None:
    """Run `trim_after_bursts` over the reconcilers' passes from the operator's start until its stop."""
    tasks: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    async def start_heap_trimmer(**_: Any) -> None:
        tasks.append(asyncio.create_task(trim_after_bursts(lambda: sum(r.passes for r in reconcilers),
                                                           lambda: any(r.busy for r in reconcilers))))

    @kopf.on.cleanup(registry=registry)
    async def stop_heap_trimmer(**_: Any) -> None:
        for task in tasks:
            task.cancel()
