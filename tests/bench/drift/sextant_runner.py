"""Runs Sextant's drift engine on the Parquet files the drift benchmark wrote, as its own process (for peak RSS).

Usage: python -m tests.bench.drift.sextant_runner <request.json>; prints one JSON line.
  {"mode": "profile", "reference": path, "baseline": path}: the baseline from the reference rows as profile.py
    writes it at training time (ten equal-width bins per feature), saved as JSON.
  {"mode": "check", "baseline": path, "current": path}: what a user's check costs from raw rows: read the current
    rows in batches of 50,000, count them on the baseline's bins with the server's binner, run the default policy.
Both print {"read_seconds", "compute_seconds", "cpu_seconds", "peak_rss_mb", ...}; "check" adds "drifted".
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from sextant_services.drift import baseline_counts, drift_report, live_counts
from sextant_services.drift_bins import NumericBinner
from tests.support.drift_data import labelled, numeric_baseline_document

BATCH_ROWS = 50_000


def profile(request: dict[str, Any]) -> dict[str, Any]:
    began = time.perf_counter()
    table = pq.read_table(request["reference"])
    train = np.stack([table.column(name).to_numpy() for name in table.column_names])
    read = time.perf_counter() - began
    began = time.perf_counter()
    document = numeric_baseline_document(train)
    Path(request["baseline"]).write_text(json.dumps(document))
    return {"read_seconds": read, "compute_seconds": time.perf_counter() - began}


def check(request: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(Path(request["baseline"]).read_text())
    baseline = baseline_counts(document)
    names = list(document["features"])
    binner = NumericBinner({n: np.asarray(document["features"][n]["bins"], dtype=np.float64) for n in names})
    slots = np.zeros(binner.size, dtype=np.int64)
    read = count = 0.0
    began = time.perf_counter()
    for batch in pq.ParquetFile(request["current"]).iter_batches(batch_size=BATCH_ROWS, columns=names):
        rows = np.stack([batch.column(name).to_numpy() for name in names])
        read += time.perf_counter() - began
        began = time.perf_counter()
        slots += binner.count(rows)
        count += time.perf_counter() - began
        began = time.perf_counter()
    began = time.perf_counter()
    report = drift_report(baseline, live_counts(baseline, labelled(binner, slots)))
    decide = time.perf_counter() - began
    return {"read_seconds": read, "histogram_seconds": count, "check_seconds": decide,
            "compute_seconds": count + decide, "drifted": sorted(report.drifted_features),
            "samples": report.samples}


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    result = profile(request) if request["mode"] == "profile" else check(request)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({**result, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
