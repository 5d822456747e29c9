"""Runs Evidently's DataDriftPreset inside its own virtualenv on Parquet files the drift benchmark wrote.

Usage: python evidently_runner.py <request.json>; prints one JSON line.
  {"mode": "compare", "reference": path, "current": path}
    -> {"drifted": [...], "dataset_drift": bool, "read_seconds", "report_seconds", "cpu_seconds", "peak_rss_mb",
        "version", "methods": {method: columns}}
  {"mode": "trials", "trials": [{"reference": path, "current": {label: path}}, ...]}
    -> {"trials": [{label: {"drifted": [...], "dataset_drift": bool}}], "report_seconds": [...]}
Evidently's defaults throughout: the preset picks each column's test (Wasserstein distance normed >= 0.1 for numeric
columns when the reference has more than 1,000 rows, K-S p <= 0.05 otherwise) and calls the dataset drifted when at
least half of the columns drifted.
"""

import json
import resource
import sys
import time
from typing import Any

import evidently
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def column_drifted(method: str, threshold: float, value: float) -> bool:
    """Evidently's own rule per test: p-values drift at or under the threshold (K-S uses <=; the others <, which
    differs only on exact ties), distances and PSI at or over it."""
    return value <= threshold if "p_value" in method else value >= threshold


def run_report(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    drifted, methods, count = [], {}, None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            methods.setdefault(config["method"], []).append(config["column"])
            if column_drifted(config["method"], config["threshold"], float(metric["value"])):
                drifted.append(config["column"])
        elif config["type"].endswith("DriftedColumnsCount"):
            count, share, drift_share = metric["value"]["count"], metric["value"]["share"], config["drift_share"]
    if count is None or int(count) != len(drifted):  # our reading of the per-column rule must match Evidently's count
        raise SystemExit(f"drifted columns {drifted} disagree with Evidently's DriftedColumnsCount {count}")
    return {"drifted": sorted(drifted), "dataset_drift": bool(share >= drift_share), "methods": methods}


def compare(request: dict[str, Any]) -> dict[str, Any]:
    began = time.perf_counter()
    reference, current = pd.read_parquet(request["reference"]), pd.read_parquet(request["current"])
    read = time.perf_counter() - began
    began = time.perf_counter()
    result = run_report(reference, current)
    return {**result, "read_seconds": read, "report_seconds": time.perf_counter() - began}


def trials(request: dict[str, Any]) -> dict[str, Any]:
    out, seconds = [], []
    for trial in request["trials"]:
        reference = pd.read_parquet(trial["reference"])
        row = {}
        for label, path in trial["current"].items():
            began = time.perf_counter()
            result = run_report(reference, pd.read_parquet(path))
            seconds.append(time.perf_counter() - began)
            row[label] = {"drifted": result["drifted"], "dataset_drift": result["dataset_drift"]}
        out.append(row)
    return {"trials": out, "report_seconds": seconds}


def main() -> None:
    request = json.loads(open(sys.argv[1]).read())
    result = compare(request) if request["mode"] == "compare" else trials(request)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({**result, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "peak_rss_mb": usage.ru_maxrss / 1024, "version": evidently.__version__}))


if __name__ == "__main__":
    main()
