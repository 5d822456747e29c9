"""Which variants the router sends to: a variant joins on one good probe and leaves after several bad ones.

The router probes each variant's Service (`/readyz`, through kube-proxy, so any one ready pod answers). A single
failed probe says little: on a busy node a server that is serving fine can miss a 1 s probe deadline, and before
this rule one such miss on every variant at once made the router answer every request 503 ("no variant is
ready") until the next probe. Like the kubelet's readiness probes, a ready variant now leaves only after
`failure_threshold` failed probes in a row (a few seconds); meanwhile nginx passes a request that meets a refused
or reset connection to the next variant (`proxy_next_upstream`), so a variant that really went away costs retries,
not errors.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)

#: Failed probes in a row before a ready variant stops getting traffic (the kubelet's default is 3 as well).
FAILURE_THRESHOLD = 3


class ReadinessHysteresis(Generic[Key]):
    """The routed set from a stream of probe rounds (upstream -> probe succeeded); pure bookkeeping, no I/O.
    Keys are whatever identifies an upstream: the router uses (name, url), so a variant whose Service changed
    (a new version) starts unproven."""

    def __init__(self, failure_threshold: int = FAILURE_THRESHOLD) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self._failures: dict[Key, int] = {}
        self._ready: set[Key] = set()

    def update(self, probes: Mapping[Key, bool]) -> frozenset[Key]:
        """Fold in one round of probes and return the upstreams to route to. Upstreams missing from `probes`
        (no longer in the spec) are forgotten."""
        for gone in set(self._failures) - set(probes):
            del self._failures[gone]
        self._ready &= set(probes)
        for name, ok in probes.items():
            if ok:
                self._failures[name] = 0
                self._ready.add(name)
                continue
            self._failures[name] = self._failures.get(name, 0) + 1
            if self._failures[name] >= self.failure_threshold:
                self._ready.discard(name)
        return frozenset(self._ready)
