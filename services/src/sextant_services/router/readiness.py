"""Which variants the router sends to: a variant joins on one good probe and leaves after several bad ones.

The router probes each variant's Service (`/readyz`, through kube-proxy, so any one ready pod answers); a probe is
ready, not ready, or unanswered (probing.py). One failed probe says little: on a busy node a server that is serving
fine can miss a probe deadline. Like the kubelet's readiness probes, a ready variant leaves only after
`failure_threshold` refusals (answers other than 200, refused connections) without a good probe between. Probes
that get no answer at all (timeouts, names that do not resolve) are weaker evidence still: before they counted as
refusals, three late answers on every variant at once made the router answer every request 503 ("no variant is
ready") for seconds while the servers were answering traffic; now a variant leaves on silence only after
`silence_threshold` probes in a row. Meanwhile nginx passes a request that meets a refused or reset connection
to the next variant (`proxy_next_upstream`), so a variant that really went away costs retries, not errors.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)

#: Refusals before a ready variant stops getting traffic (the kubelet's default is 3 as well).
FAILURE_THRESHOLD = 3
#: Probes in a row without any answer before a ready variant stops getting traffic: about 30 s at one probe a
#: second and a 2 s timeout, the order of the node controller's 40 s before it takes a silent node's pods out.
SILENCE_THRESHOLD = 10


class ReadinessHysteresis(Generic[Key]):
    """The routed set from a stream of probe rounds (upstream -> probe succeeded); pure bookkeeping, no I/O.
    Keys are whatever identifies an upstream: the router uses (name, url), so a variant whose Service changed
    (a new version) starts unproven."""

    def __init__(self, failure_threshold: int = FAILURE_THRESHOLD, silence_threshold: int = SILENCE_THRESHOLD) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if silence_threshold < failure_threshold:
            raise ValueError("silence_threshold must be at least failure_threshold")
        self.failure_threshold = failure_threshold
        self.silence_threshold = silence_threshold
        self._refusals: dict[Key, int] = {}
        self._misses: dict[Key, int] = {}
        self._ready: set[Key] = set()

    def update(self, probes: Mapping[Key, bool | None]) -> frozenset[Key]:
        """Fold in one round of probes (True ready, False refused, None no answer) and return the upstreams to
        route to. Upstreams missing from `probes` (no longer in the spec) are forgotten."""
        for gone in set(self._misses) - set(probes):
            self._misses.pop(gone, None)
            self._refusals.pop(gone, None)
        self._ready &= set(probes)
        for name, outcome in probes.items():
            if outcome:
                self._refusals[name] = self._misses[name] = 0
                self._ready.add(name)
                continue
            self._misses[name] = self._misses.get(name, 0) + 1
            self._refusals[name] = self._refusals.get(name, 0) + (outcome is False)
            if self._refusals[name] >= self.failure_threshold or self._misses[name] >= self.silence_threshold:
                self._ready.discard(name)
        return frozenset(self._ready)
