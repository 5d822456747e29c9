"""Wait for a condition in tests by polling with a deadline (never by a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 60.0, interval: float = 0.25,
               what: str = "condition") -> T:
    """Call `probe` until it returns something truthy and return that; fail the test after `timeout` s.

    The last exception `probe` raised (if any) is shown in the failure, since it usually says why.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported below if the deadline passes
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last error: {last_error!r}")
