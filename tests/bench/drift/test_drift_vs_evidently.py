"""Sextant's drift engine side by side with Evidently's DataDriftPreset on the same data (issue 12, point 2).

Speed: for each size (SEXTANT_DRIFT_EVIDENTLY_ROWS, default 100,000 and 1,000,000 rows; the reference and the current
set have that many rows each) the bench writes 100 standard-normal features to Parquet once: a reference set, a
current set, and the same current set with feature f000 moved by 0.25 sigma. Each tool runs as its own process on
those files, Evidently in its own virtualenv (tests/bench/drift/setup.sh): wall time of the process (interpreter,
imports and reading included), the compute time it reports, CPU time, peak RSS, the drifted features. Sextant's check
reads the current rows, counts them on the baseline's bins with the server's binner and runs the default policy; its
baseline comes from the reference rows once, as training writes it (profile.py), timed apart.

Detection: SEXTANT_DRIFT_EVIDENTLY_REPS (default 50) repetitions of a fresh 20,000-row reference and two 1,000-row
live samples, one with f000 shifted by 0.25 sigma; both tools on the same rows with their default rules. Detection =
f000 named; false alarm = any feature named on the unshifted sample (Sextant's dataset verdict; for Evidently also
its own dataset rule, half of the columns). Results go to bench-results/drift-vs-evidently.{json,md}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sextant_services.drift import drift_report
from tests.bench.drift.test_drift_bench import rate
from tests.bench.pipelines.common import env_int, write_results
from tests.support.drift_data import feature_names, live_numeric_counts, numeric_setup

FEATURES = 100
SHIFT = 0.25
TRIAL_REFERENCE_ROWS = 20_000
TRIAL_LIVE_ROWS = 1_000
#: Repetitions per Evidently process (about 20 reports, 3-4 minutes on an idle machine): a long trial survives in
#: the log chunk by chunk, and no process comes near the per-process timeout.
TRIAL_CHUNK = 10
EVIDENTLY_PYTHON = Path(os.environ.get("SEXTANT_EVIDENTLY_VENV",
                                       Path.home() / ".cache/sextant/bench/evidently-0.7.23")) / "bin/python"
REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent


def write_parquet(path: Path, columns: np.ndarray) -> Path:
    """A (features, rows) matrix as a Parquet file with columns f000, f001, ..."""
    pq.write_table(pa.table({name: columns[i] for i, name in enumerate(feature_names(len(columns)))}), path)
    return path


def run(command: list[str], request: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run one tool's process on a request file; its JSON result plus the wall time of the whole process."""
    request_file = workdir / f"request-{time.monotonic_ns()}.json"
    request_file.write_text(json.dumps(request))
    began = time.perf_counter()
    proc = subprocess.run([*command, str(request_file)], capture_output=True, text=True, cwd=REPO, timeout=3600)
    wall = time.perf_counter() - began
    assert proc.returncode == 0, f"{command[-1]} failed:\n{proc.stderr[-3000:]}"
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_seconds": wall}


def sextant(request: dict[str, Any], workdir: Path) -> dict[str, Any]:
    return run([sys.executable, "-m", "tests.bench.drift.sextant_runner"], request, workdir)


def evidently(request: dict[str, Any], workdir: Path) -> dict[str, Any]:
    return run([str(EVIDENTLY_PYTHON), str(HERE / "evidently_runner.py")], request, workdir)


def speed_at(rows: int, workdir: Path) -> list[dict[str, Any]]:
    rng = np.random.default_rng(rows)
    reference = write_parquet(workdir / "reference.parquet", rng.standard_normal((FEATURES, rows)))
    current_rows = rng.standard_normal((FEATURES, rows))
    current = write_parquet(workdir / "current.parquet", current_rows)
    current_rows[0] += SHIFT
    shifted = write_parquet(workdir / "current-shifted.parquet", current_rows)
    del current_rows
    baseline = workdir / "baseline.json"
    profile = sextant({"mode": "profile", "reference": str(reference), "baseline": str(baseline)}, workdir)
    results = []
    for label, path in (("none", current), (f"{SHIFT} sigma on f000", shifted)):
        ours = sextant({"mode": "check", "baseline": str(baseline), "current": str(path)}, workdir)
        print(f"[drift-vs-evidently] {rows:,} rows, shift {label}: sextant {json.dumps(ours)}", flush=True)
        theirs = evidently({"mode": "compare", "reference": str(reference), "current": str(path)}, workdir)
        print(f"[drift-vs-evidently] {rows:,} rows, shift {label}: evidently {json.dumps(theirs)}", flush=True)
        results.append({"rows": rows, "shift": label, "sextant": ours, "sextant_profile": profile,
                        "evidently": theirs})
    return results


def detection_trials(repetitions: int, workdir: Path) -> dict[str, Any]:
    rng = np.random.default_rng(20261202)
    ours: list[dict[str, list[str]]] = []
    requests = []
    for index in range(repetitions):
        train = rng.standard_normal((FEATURES, TRIAL_REFERENCE_ROWS))
        setup = numeric_setup(train)
        lives = {"shifted": rng.standard_normal((FEATURES, TRIAL_LIVE_ROWS)),
                 "unshifted": rng.standard_normal((FEATURES, TRIAL_LIVE_ROWS))}
        lives["shifted"][0] += SHIFT
        ours.append({label: list(drift_report(setup.baseline, live_numeric_counts(setup, live)).drifted_features)
                     for label, live in lives.items()})
        requests.append({"reference": str(write_parquet(workdir / f"trial-{index}-reference.parquet", train)),
                         "current": {label: str(write_parquet(workdir / f"trial-{index}-{label}.parquet", live))
                                     for label, live in lives.items()}})
    print(f"[drift-vs-evidently] trials: sextant {json.dumps(ours)}", flush=True)
    theirs: dict[str, Any] = {"trials": [], "report_seconds": [], "cpu_seconds": 0.0}
    for start in range(0, repetitions, TRIAL_CHUNK):  # one process per chunk: each result is printed as it comes
        chunk = evidently({"mode": "trials", "trials": requests[start:start + TRIAL_CHUNK]}, workdir)
        print(f"[drift-vs-evidently] trials {start}-{start + len(chunk['trials']) - 1}: evidently "
              f"{json.dumps(chunk)}", flush=True)
        theirs["trials"] += chunk["trials"]
        theirs["report_seconds"] += chunk["report_seconds"]
        theirs["cpu_seconds"] += chunk["cpu_seconds"]
        theirs["version"] = chunk["version"]
    summary: dict[str, Any] = {"repetitions": repetitions, "reference_rows": TRIAL_REFERENCE_ROWS,
                               "live_rows": TRIAL_LIVE_ROWS, "evidently_report_seconds": theirs["report_seconds"],
                               "evidently_cpu_seconds": theirs["cpu_seconds"], "evidently_version": theirs["version"]}
    for tool, trials in (("sextant", ours), ("evidently", [{k: v["drifted"] for k, v in t.items()}
                                                           for t in theirs["trials"]])):
        summary[tool] = {
            "detection": rate(sum("f000" in t["shifted"] for t in trials), repetitions),
            "false_alarm": rate(sum(bool(t["unshifted"]) for t in trials), repetitions),
            "other_features_flagged": sum(len(set(t["shifted"]) - {"f000"}) for t in trials)}
    summary["evidently"]["dataset_drift_detection"] = rate(
        sum(t["shifted"]["dataset_drift"] for t in theirs["trials"]), repetitions)
    summary["evidently"]["dataset_drift_false_alarm"] = rate(
        sum(t["unshifted"]["dataset_drift"] for t in theirs["trials"]), repetitions)
    return summary


def speed_table(speed: list[dict[str, Any]]) -> list[str]:
    lines = ["| rows (each set) | shift | tool | process wall s | compute s | CPU s | peak RSS MB | drifted features |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in speed:
        for tool, compute in (("sextant check", r["sextant"]["compute_seconds"]),
                              ("evidently", r["evidently"]["report_seconds"])):
            x = r["sextant" if tool.startswith("sextant") else "evidently"]
            lines.append(f"| {r['rows']:,} | {r['shift']} | {tool} | {x['wall_seconds']:.1f} | {compute:.2f} | "
                         f"{x['cpu_seconds']:.1f} | {x['peak_rss_mb']:.0f} | {', '.join(x['drifted']) or '-'} |")
        ours, theirs = r["sextant"], r["evidently"]
        lines.append(f"| {r['rows']:,} | {r['shift']} | evidently / sextant | "
                     f"{theirs['wall_seconds'] / ours['wall_seconds']:.0f}x | "
                     f"{r['evidently']['report_seconds'] / ours['compute_seconds']:.0f}x | "
                     f"{theirs['cpu_seconds'] / ours['cpu_seconds']:.0f}x | "
                     f"{theirs['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x | |")
    profiles = {r["rows"]: r["sextant_profile"] for r in speed}
    lines += ["", "Sextant's baseline from the reference rows (once, at training; not in the check): " + "; ".join(
        f"{rows:,} rows {p['wall_seconds']:.1f} s wall, {p['peak_rss_mb']:.0f} MB" for rows, p in profiles.items())]
    return lines


def trial_table(trials: dict[str, Any]) -> list[str]:
    def cell(x: dict[str, Any]) -> str:
        return f"{x['rate']:.1%} ({x['hits']}/{x['trials']}; {x['low']:.1%}-{x['high']:.1%})"

    s, e = trials["sextant"], trials["evidently"]
    return ["", f"Detection, {trials['repetitions']} repetitions, {trials['reference_rows']:,} reference rows, "
            f"{trials['live_rows']:,} live rows, default rules:", "",
            "| tool | rule | detection of 0.25 sigma on f000 | false alarms | other features flagged |",
            "| --- | --- | --- | --- | --- |",
            f"| sextant | any feature (BH, alpha 0.05, PSI >= 0.02) | {cell(s['detection'])} | "
            f"{cell(s['false_alarm'])} | {s['other_features_flagged']} |",
            f"| evidently | per column (Wasserstein normed >= 0.1) | {cell(e['detection'])} | "
            f"{cell(e['false_alarm'])} | {e['other_features_flagged']} |",
            f"| evidently | dataset (half of the columns) | {cell(e['dataset_drift_detection'])} | "
            f"{cell(e['dataset_drift_false_alarm'])} | |",
            "", f"Evidently per report at this size: median {np.median(trials['evidently_report_seconds']):.2f} s"]


@pytest.mark.bench
@pytest.mark.timeout(4 * 3600)  # Evidently at 1M rows: about 600 s and 5 GB per report on an idle 2-core machine
def test_drift_against_evidently() -> None:
    if not EVIDENTLY_PYTHON.exists():
        pytest.skip(f"Evidently venv missing at {EVIDENTLY_PYTHON}: run bash tests/bench/drift/setup.sh")
    sizes = [int(n) for n in os.environ.get("SEXTANT_DRIFT_EVIDENTLY_ROWS", "100000,1000000").split(",") if n]
    repetitions = env_int("SEXTANT_DRIFT_EVIDENTLY_REPS", 50)
    speed: list[dict[str, Any]] = []
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="sextant-drift-vs-evidently-") as workdir:
            speed += speed_at(rows, Path(workdir))
    trials = None
    if repetitions:
        with tempfile.TemporaryDirectory(prefix="sextant-drift-trials-") as workdir:
            trials = detection_trials(repetitions, Path(workdir))
    version = speed[0]["evidently"]["version"] if speed else trials["evidently_version"] if trials else "-"
    table = [f"Sextant drift engine vs Evidently {version} DataDriftPreset, {FEATURES} features", ""]
    table += speed_table(speed) + (trial_table(trials) if trials else [])
    name = os.environ.get("SEXTANT_DRIFT_EVIDENTLY_RESULTS", "drift-vs-evidently")
    write_results(name, {"evidently_version": version, "features": FEATURES, "speed": speed,
                                         "trials": trials}, table)
    for r in speed:  # both tools must see the shift, and Sextant must stay quiet without one
        assert "f000" in r["sextant"]["drifted"] or r["shift"] == "none"
        assert r["shift"] != "none" or r["sextant"]["drifted"] == []
