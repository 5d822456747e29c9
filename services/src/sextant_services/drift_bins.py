"""Per-feature histograms on the training baseline's bins, counted in bulk and flushed to Prometheus.

Counting is vectorised over all numeric features of a batch (one comparison against padded bin edges, one
bincount; from EDGE_COUNT_MIN_ROWS rows, one vectorised count per feature and edge instead), and the counts are
pushed to the Prometheus counter at most every `flush_interval_s` seconds: a multiprocess counter increment costs
microseconds under a lock, and a wide model would otherwise pay one per feature and bin on every batch. Scrapes see
counts at most one interval late.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

OTHER, MISSING, BELOW, ABOVE = "__other__", "__missing__", "below", "above"
# From this many rows a batch is counted edge by edge per feature (one vectorised count per edge): the broadcast
# comparison costs about 100 ns per value, edge counting about 7 ns plus 20-40 us per feature (see docs/drift.md).
EDGE_COUNT_MIN_ROWS = 512


class NumericBinner:
    """Maps each numeric feature's values to slots: bins 0..n-1, then below, above, missing."""

    def __init__(self, edges: Mapping[str, np.ndarray]) -> None:
        self.names = list(edges)
        nbins = np.array([len(edges[n]) - 1 for n in self.names], dtype=np.int64)
        width = int(nbins.max()) + 1 if self.names else 1
        padded = np.full((len(self.names), width), np.inf)
        for i, n in enumerate(self.names):
            padded[i, : len(edges[n])] = edges[n]
        self._edges = padded
        self._nbins = nbins
        self._last = padded[np.arange(len(self.names)), nbins] if self.names else np.zeros(0)
        self.offsets = np.concatenate([[0], np.cumsum(nbins + 3)])[:-1].astype(np.int64)
        self.size = int((nbins + 3).sum())
        # The last edge nudged up by one ulp: "reaches the last edge" then means "above", keeping the last bin closed.
        self._edges_closed = [np.append(edges[n][:-1], np.nextafter(edges[n][-1], np.inf)) for n in self.names]

    def slot_labels(self) -> list[tuple[str, str]]:
        """(feature, bin label) for every slot, in slot order."""
        out: list[tuple[str, str]] = []
        for n, nb in zip(self.names, self._nbins.tolist(), strict=True):
            out += [(n, str(i)) for i in range(nb)] + [(n, BELOW), (n, ABOVE), (n, MISSING)]
        return out

    def count(self, x: np.ndarray) -> np.ndarray:
        """Slot counts for a (features, rows) matrix in `names` order."""
        if x.shape[1] >= EDGE_COUNT_MIN_ROWS:
            return self._count_by_edges(x)
        idx = (x[:, :, None] >= self._edges[:, None, :]).sum(axis=2) - 1
        nb = self._nbins[:, None]
        idx = np.where(x == self._last[:, None], nb - 1, idx)  # the last bin is closed
        slot = np.where(idx < 0, nb, np.where(idx >= nb, nb + 1, idx))
        slot = np.where(np.isnan(x), nb + 2, slot)
        return np.bincount((slot + self.offsets[:, None]).ravel(), minlength=self.size)

    def _count_by_edges(self, x: np.ndarray) -> np.ndarray:
        """The same slot counts as `count`, from how many values reach each edge (NaN reaches none)."""
        out = np.zeros(self.size, dtype=np.int64)
        for row, edges, nb, offset in zip(x, self._edges_closed, self._nbins.tolist(), self.offsets.tolist(),
                                          strict=True):
            reached = np.array([np.count_nonzero(row >= edge) for edge in edges.tolist()], dtype=np.int64)
            missing = int(np.count_nonzero(np.isnan(row)))
            out[offset:offset + nb] = reached[:-1] - reached[1:]
            out[offset + nb:offset + nb + 3] = (row.size - missing - reached[0], reached[-1], missing)
        return out


def numeric_bin_labels(values: np.ndarray, edges: np.ndarray) -> dict[str, int]:
    """Counts of one feature's values by bin label (the same rules as NumericBinner)."""
    binner = NumericBinner({"f": np.asarray(edges, dtype=np.float64)})
    counts = binner.count(np.asarray(values, dtype=np.float64)[None, :])
    return {label: int(c) for (_, label), c in zip(binner.slot_labels(), counts.tolist(), strict=True) if c}


def categorical_bin_labels(values: list[Any], known: set[str]) -> dict[str, int]:
    """Count category values; unseen ones fold into `__other__` to keep label cardinality bounded."""
    counts: dict[str, int] = {}
    for v in values:
        key = MISSING if v is None else (str(v) if str(v) in known else OTHER)
        counts[key] = counts.get(key, 0) + 1
    return counts


class DriftHistograms:
    """Accumulates baseline-bin counts per batch and flushes them into one labelled Prometheus counter."""

    def __init__(self, counter: Any, base_labels: tuple[str, ...], baseline: Mapping[str, Any],
                 flush_interval_s: float = 0.5) -> None:
        numeric: dict[str, np.ndarray] = {}
        self._categorical: dict[str, set[str]] = {}
        for name, stats in baseline.items():
            if stats.get("type") == "numeric" and len(stats.get("bins") or []) >= 2:
                numeric[name] = np.asarray(stats["bins"], dtype=np.float64)
            elif stats.get("type") == "categorical":
                self._categorical[name] = {str(k) for k in (stats.get("frequencies") or {})}
        self._binner = NumericBinner(numeric)
        self._children = [counter.labels(*base_labels, f, b) for f, b in self._binner.slot_labels()]
        self._counter, self._base = counter, base_labels
        self._pending = np.zeros(self._binner.size, dtype=np.int64)
        self._pending_cat: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._interval = flush_interval_s
        self._last_flush = time.monotonic()
        self._timer = threading.Thread(target=self._flush_forever, name="sextant-drift-flush", daemon=True)
        self._timer.start()

    def observe(self, cols: Mapping[str, list[Any]]) -> None:
        counts = None
        if self._binner.names:
            x = np.asarray([cols[n] for n in self._binner.names], dtype=np.float64)
            counts = self._binner.count(x)
        cat = [((name, label), c) for name, known in self._categorical.items()
               for label, c in categorical_bin_labels(cols[name], known).items()]
        with self._lock:
            if counts is not None:
                self._pending += counts
            for key, c in cat:
                self._pending_cat[key] = self._pending_cat.get(key, 0) + c
        if time.monotonic() - self._last_flush >= self._interval:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, np.zeros_like(self._pending)
            pending_cat, self._pending_cat = self._pending_cat, {}
            self._last_flush = time.monotonic()
        for slot in np.flatnonzero(pending).tolist():
            self._children[slot].inc(int(pending[slot]))
        for (name, label), c in pending_cat.items():
            self._counter.labels(*self._base, name, label).inc(c)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self._interval)
            self.flush()
